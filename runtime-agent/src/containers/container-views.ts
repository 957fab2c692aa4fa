// Containers as the Engine API shows them: `GET /containers/json` rows and `GET /containers/{id}/json`.
import { portSummary } from '../networks/port-bindings.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import { mountsView } from './mounts.js';

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
    HostConfig: record.HostConfig,
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
