// From a container record to the OCI spec runc receives: process, mounts, namespaces, resources.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';

import { DEFAULT_CAPABILITIES, DEFAULT_DEVICE_RULES, MASKED_PATHS, READONLY_PATHS, capabilitySets, defaultMounts, type LinuxResources, type OciMount, type OciSpec, type OciUser } from '../oci/spec.js';
import { seccompFor } from '../oci/seccomp.js';
import { InvalidParameterError } from '../util/errors.js';
import { cgroupPathOf, type ContainerRecord } from '../vocabulary/container-record.js';
import type { NamespaceChoice } from './namespace-modes.js';

const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
const CGROUP_V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
const CPU_PERIOD = 100_000;

export interface SpecInputs {
  record: ContainerRecord;
  rootfs: string;
  user: OciUser;
  env: string[];
  /** /etc/hostname, /etc/hosts and /etc/resolv.conf written for this container. */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  initPath?: string;
  /** A new network namespace, the host's, or another container's (`--network container:x`). */
  network: { kind: 'new' } | { kind: 'host' } | { kind: 'join'; path: string };
  /** Volumes, binds and --mount tmpfs, in mount order. */
  mounts?: OciMount[];
  /** Sysctls the network setup needs on top of --sysctl. */
  networkSysctls?: Record<string, string>;
  /** The pid, ipc and uts namespaces (namespace-modes.ts); default: new ones of its own. */
  namespaces?: NamespaceChoice[];
}

function capabilities(record: ContainerRecord): string[] {
  const hc = record.HostConfig;
  if (hc.Privileged) return ALL_CAPABILITIES;
  const normalize = (c: string) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
  const drops = (hc.CapDrop ?? []).map(normalize);
  const adds = (hc.CapAdd ?? []).map(normalize);
  let caps = drops.includes('CAP_ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c));
  if (adds.includes('CAP_ALL')) caps = [...ALL_CAPABILITIES];
  for (const cap of adds) {
    if (cap === 'CAP_ALL') continue;
    if (!CAPABILITY_NAMES.includes(cap)) throw new InvalidParameterError(`unknown capability: "${cap}"`);
    if (!caps.includes(cap)) caps.push(cap);
  }
  return caps;
}

function resources(record: ContainerRecord, extraDeviceRules: NonNullable<LinuxResources['devices']>): LinuxResources {
  const hc = record.HostConfig;
  const res: LinuxResources = { devices: hc.Privileged ? [{ allow: true, access: 'rwm' }] : [...DEFAULT_DEVICE_RULES, ...extraDeviceRules] };
  if (hc.Memory) res.memory = { limit: hc.Memory, ...(hc.MemorySwap ? { swap: hc.MemorySwap } : {}) };
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (hc.NanoCpus) {
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.round((hc.NanoCpus / 1e9) * CPU_PERIOD);
  }
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (Object.keys(cpu).length) res.cpu = cpu;
  if (hc.PidsLimit && hc.PidsLimit > 0) res.pids = { limit: hc.PidsLimit };
  return res;
}

interface DeviceMapping {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

interface LinuxDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** A host device node as the OCI spec describes it (`--device`, and every device for --privileged). */
function hostDevice(hostPath: string, containerPath: string): LinuxDevice | undefined {
  let stat;
  try {
    stat = statSync(hostPath);
  } catch {
    throw new InvalidParameterError(`error gathering device information while adding custom device "${hostPath}": no such file or directory`);
  }
  if (!stat.isCharacterDevice() && !stat.isBlockDevice()) return undefined;
  const rdev = stat.rdev;
  return {
    path: containerPath,
    type: stat.isCharacterDevice() ? 'c' : 'b',
    major: Math.floor(rdev / 256) & 0xfff,
    minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    fileMode: stat.mode & 0o777,
    uid: stat.uid,
    gid: stat.gid,
  };
}

function devices(record: ContainerRecord): { nodes: LinuxDevice[]; rules: NonNullable<LinuxResources['devices']> } {
  const hc = record.HostConfig;
  const nodes: LinuxDevice[] = [];
  const rules: NonNullable<LinuxResources['devices']> = [];
  if (hc.Privileged) {
    for (const name of readdirSync('/dev')) {
      const device = (() => {
        try {
          return hostDevice(`/dev/${name}`, `/dev/${name}`);
        } catch {
          return undefined;
        }
      })();
      if (device && !['console', 'tty', 'ptmx'].includes(name)) nodes.push(device);
    }
  }
  for (const mapping of (hc.Devices as DeviceMapping[] | undefined) ?? []) {
    const device = hostDevice(mapping.PathOnHost, mapping.PathInContainer || mapping.PathOnHost);
    if (!device) throw new InvalidParameterError(`${mapping.PathOnHost} is not a device`);
    nodes.push(device);
    rules.push({ allow: true, type: device.type, major: device.major, minor: device.minor, access: mapping.CgroupPermissions || 'rwm' });
  }
  return { nodes, rules };
}

function networkNamespace(network: SpecInputs['network']): { type: 'network'; path?: string }[] {
  if (network.kind === 'host') return [];
  return [network.kind === 'join' ? { type: 'network', path: network.path } : { type: 'network' }];
}

export function buildSpec(inputs: SpecInputs): OciSpec {
  const { record } = inputs;
  const hc = record.HostConfig;
  const caps = capabilities(record);
  const args = hc.Init && inputs.initPath ? [inputs.initPath, '--', record.Path, ...record.Args] : [record.Path, ...record.Args];
  // --ipc none: no /dev/shm at all; --ipc host: the host's.
  const mounts: OciMount[] = defaultMounts(hc.ShmSize || DEFAULT_SHM_SIZE, { privileged: Boolean(hc.Privileged), readonlyRootfs: Boolean(hc.ReadonlyRootfs) })
    .filter((m) => m.destination !== '/dev/shm' || (hc.IpcMode !== 'none' && hc.IpcMode !== 'host'));
  if (hc.IpcMode === 'host') mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  for (const [dest, source] of [
    ['/etc/hostname', inputs.etcFiles.hostname],
    ['/etc/hosts', inputs.etcFiles.hosts],
    ['/etc/resolv.conf', inputs.etcFiles.resolvConf],
  ] as const) {
    mounts.push({ destination: dest, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  if (hc.Init && inputs.initPath) mounts.push({ destination: inputs.initPath, type: 'bind', source: inputs.initPath, options: ['bind', 'ro'] });
  for (const [dest, options] of Object.entries(hc.Tmpfs ?? {})) {
    mounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(options ? options.split(',') : [])] });
  }
  mounts.push(...(inputs.mounts ?? []));
  const deviceSetup = devices(record);
  const seccomp = seccompFor(hc.SecurityOpt ?? [], Boolean(hc.Privileged), caps);
  const noNewPrivileges = (hc.SecurityOpt ?? []).some((o) => o === 'no-new-privileges' || o === 'no-new-privileges:true' || o === 'no-new-privileges=true');
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: Boolean(record.Config.Tty),
      user: inputs.user,
      args,
      env: inputs.env,
      cwd: record.Config.WorkingDir || '/',
      capabilities: capabilitySets(caps),
      rlimits: (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })),
      noNewPrivileges,
      oomScoreAdj: hc.OomScoreAdj ?? 0,
      ...(record.Config.Tty && hc.ConsoleSize?.[0] && hc.ConsoleSize[1] ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
    },
    root: { path: inputs.rootfs, readonly: Boolean(hc.ReadonlyRootfs) },
    // --annotation (API 1.43): handed to the runtime, as dockerd does.
    ...(hc.Annotations && typeof hc.Annotations === 'object' ? { annotations: hc.Annotations as Record<string, string> } : {}),
    // With the host's UTS namespace the container has the host's name: the spec may not set one.
    ...(hc.UTSMode === 'host' ? {} : { hostname: record.Config.Hostname }),
    mounts,
    linux: {
      // On cgroup v2 a container gets its own cgroup namespace, as with dockerd: /sys/fs/cgroup is
      // then its own cgroup (memory.max and friends), not the host's tree.
      namespaces: [...(inputs.namespaces ?? [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }]), { type: 'mount' }, ...networkNamespace(inputs.network), ...(CGROUP_V2 ? [{ type: 'cgroup' }] : [])],
      resources: resources(record, deviceSetup.rules),
      ...(deviceSetup.nodes.length ? { devices: deviceSetup.nodes } : {}),
      cgroupsPath: cgroupPathOf(record),
      ...(hc.Privileged ? {} : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
      ...(hc.Sysctls || inputs.networkSysctls ? { sysctl: { ...(inputs.networkSysctls ?? {}), ...(hc.Sysctls ?? {}) } } : {}),
      ...(seccomp ? { seccomp } : {}),
    },
  };
}

/** Capability names by number (linux/capability.h). */
const CAPABILITY_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * "All capabilities" as dockerd means it for --privileged: those this engine's own bounding set
 * holds (a sandboxed root may lack some, and runc fails on any it cannot grant).
 */
export const ALL_CAPABILITIES: string[] = (() => {
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (!hex) return CAPABILITY_NAMES;
    const mask = BigInt(`0x${hex}`);
    return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
  } catch {
    return CAPABILITY_NAMES;
  }
})();
