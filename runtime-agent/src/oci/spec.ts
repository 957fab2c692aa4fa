// The OCI runtime spec (config.json) berthd hands to runc/crun, with dockerd's defaults: the same
// capability set, masked and read-only /proc paths, device list and mounts.
import type { OciSeccomp } from './seccomp.js';

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: OciUser;
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>;
    rlimits?: { type: string; hard: number; soft: number }[];
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
    consoleSize?: { height: number; width: number };
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  annotations?: Record<string, string>;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    resources?: LinuxResources;
    cgroupsPath?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    devices?: unknown[];
    sysctl?: Record<string, string>;
    seccomp?: OciSeccomp;
  };
}

export interface LinuxResources {
  devices?: { allow: boolean; access?: string; type?: string; major?: number; minor?: number }[];
  memory?: { limit?: number; swap?: number; reservation?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
}

/** dockerd's default capabilities (oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * A process's capability sets from its capability list, as dockerd makes them since 20.10.14
 * (CVE-2022-24769): bounding, effective and permitted only. An inheritable set would let a
 * non-root user gain those capabilities by running a file that carries them as inheritable file
 * capabilities; the kernel clears effective and permitted on its own for a non-root user.
 */
export function capabilitySets(caps: string[]): OciSpec['process']['capabilities'] {
  return { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] };
}

/** dockerd's masked and read-only /proc paths (oci/defaults.go). */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * The mounts every container gets. /sys and the cgroup tree are read-only, except that
 * --privileged gets them read-write as with dockerd (daemon/oci_linux.go clears "ro" on /sys
 * unless the root is read-only, and on the cgroup mount): that is what lets a privileged
 * container run its own engine or systemd.
 */
export function defaultMounts(shmSize: number, options: { privileged?: boolean; readonlyRootfs?: boolean } = {}): OciMount[] {
  const sysRo = options.privileged && !options.readonlyRootfs ? [] : ['ro'];
  const cgroupRo = options.privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...sysRo] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...cgroupRo, 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] },
  ];
}

/** Device access every container gets (dockerd's default allow list: null, zero, full, tty, random...). */
export const DEFAULT_DEVICE_RULES: NonNullable<LinuxResources['devices']> = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 200, access: 'rwm' },
];
