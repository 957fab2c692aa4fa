// Containers as the Engine API shows them: `GET /containers/json` rows and `GET /containers/{id}/json`.
import { existsSync } from 'node:fs';

import { portSummary } from '../networks/port-bindings.js';
import { MASKED_PATHS, READONLY_PATHS } from '../oci/spec.js';
import type { ContainerRecord, HostConfig } from '../vocabulary/container-record.js';
import { mountsView } from './mounts.js';

const CGROUP_V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

/** "Up 3 seconds", "Exited (3) 2 minutes ago", "Created": the STATUS column of `docker ps`. */
export function humanStatus(record: ContainerRecord, now = Date.now()): string {
  const s = record.State;
  const health = s.Health ? (s.Health.Status === 'starting' ? ' (health: starting)' : ` (${s.Health.Status})`) : '';
  if (s.Status === 'running') return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${health}`;
  if (s.Status === 'paused') return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
  if (s.Status === 'exited') return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  if (s.Status === 'created') return 'Created';
  return s.Status.charAt(0).toUpperCase() + s.Status.slice(1);
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

function commandLine(record: ContainerRecord): string {
  return [record.Path, ...record.Args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

export function containerSummary(record: ContainerRecord, imageLabel: string): Record<string, unknown> {
  return {
    Id: record.Id,
    Names: [record.Name],
    Image: imageLabel,
    ImageID: record.Image,
    Command: commandLine(record),
    Created: Math.floor(Date.parse(record.Created) / 1000),
    Ports: portSummary(record.NetworkSettings?.Ports),
    Labels: record.Config.Labels ?? {},
    State: record.State.Status,
    Status: humanStatus(record),
    HostConfig: { NetworkMode: record.HostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: record.NetworkSettings?.Networks ?? {} },
    Mounts: mountsView(record.MountPoints),
  };
}

/**
 * HostConfig as dockerd's inspect shows it: every field, with dockerd's defaults for those the
 * request left out (SDKs read HostConfig.Runtime, IpcMode, ShmSize ... and fail on a missing key).
 */
export function hostConfigView(hc: HostConfig): Record<string, unknown> {
  const defaults: Record<string, unknown> = {
    Binds: null, ContainerIDFile: '', LogConfig: { Type: 'json-file', Config: {} }, NetworkMode: 'default', PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [0, 0],
    CapAdd: null, CapDrop: null, CgroupnsMode: CGROUP_V2 ? 'private' : 'host', Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null,
    GroupAdd: null, IpcMode: 'private', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false,
    ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 64 * 1024 * 1024, Runtime: 'runc', Isolation: '',
    CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [], BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '', Devices: [], DeviceCgroupRules: null, DeviceRequests: null,
    MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: null, OomKillDisable: null, PidsLimit: null, Ulimits: null, CpuCount: 0,
    CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0,
  };
  const view: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(hc)) if (value !== undefined && !(value === null && Array.isArray(defaults[key]))) view[key] = value;
  // Empty or zero means dockerd's default for these.
  if (!hc.IpcMode) view.IpcMode = 'private';
  if (!hc.ShmSize) view.ShmSize = defaults.ShmSize;
  if (!hc.Privileged) Object.assign(view, { MaskedPaths: MASKED_PATHS, ReadonlyPaths: READONLY_PATHS });
  return view;
}

export function containerInspect(record: ContainerRecord, paths: { logPath: string; dir: string }): Record<string, unknown> {
  const s = record.State;
  return {
    Id: record.Id,
    Created: record.Created,
    Path: record.Path,
    Args: record.Args,
    State: {
      Status: s.Status,
      Running: s.Status === 'running' || s.Status === 'paused',
      Paused: s.Status === 'paused',
      Restarting: s.Status === 'restarting',
      OOMKilled: s.OOMKilled,
      Dead: s.Status === 'dead',
      Pid: s.Pid,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
      ...(s.Health ? { Health: s.Health } : {}),
    },
    Image: record.Image,
    ResolvConfPath: `${paths.dir}/resolv.conf`,
    HostnamePath: `${paths.dir}/hostname`,
    HostsPath: `${paths.dir}/hosts`,
    LogPath: paths.logPath,
    Name: record.Name,
    RestartCount: record.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(record.HostConfig),
    GraphDriver: { Data: { UpperDir: `${paths.dir}/fs/upper`, WorkDir: `${paths.dir}/fs/work`, MergedDir: `${paths.dir}/rootfs` }, Name: 'overlay2' },
    Mounts: mountsView(record.MountPoints),
    Config: record.Config,
    NetworkSettings: networkSettings(record),
  };
}

/** NetworkSettings of inspect: the top-level address fields describe the default bridge endpoint. */
function networkSettings(record: ContainerRecord): Record<string, unknown> {
  const running = record.State.Status === 'running' || record.State.Status === 'paused';
  const networks = record.NetworkSettings?.Networks ?? {};
  const bridge = networks.bridge;
  return {
    Bridge: '',
    SandboxID: running ? record.Id : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: record.NetworkSettings?.Ports ?? {},
    SandboxKey: running && record.HostConfig.NetworkMode !== 'host' ? `/proc/${record.State.Pid}/ns/net` : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: networks,
  };
}
