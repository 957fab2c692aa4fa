// What berthd keeps about a container: the create request as normalized (Config, HostConfig),
// the image it came from, and its state. Field names follow the Engine API so inspect can show them.
import { InvalidParameterError } from '../util/errors.js';
import type { ContainerConfig } from './media-types.js';
import type { NetworkSettings, PortMap } from './network-record.js';

/** A mount as the container's record keeps it and inspect shows it (planned once, at create). */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name (volumes only). */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Not shown by the API: skip copying image content into the volume (volume-nocopy). */
  NoCopy?: boolean;
  /** Not shown by the API: tmpfs size and mode (--mount type=tmpfs). */
  TmpfsSize?: number;
  TmpfsMode?: number;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

/** The subset of HostConfig this engine acts on (the rest is kept and shown as given). */
export interface HostConfig {
  Binds?: string[] | null;
  AutoRemove?: boolean;
  Init?: boolean | null;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[] | null;
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
  PidsLimit?: number | null;
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  ShmSize?: number;
  Tmpfs?: Record<string, string> | null;
  Sysctls?: Record<string, string> | null;
  RestartPolicy?: RestartPolicy;
  NetworkMode?: string;
  PortBindings?: PortMap | null;
  PublishAllPorts?: boolean;
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  /** --mount entries (checked by the mount planner). */
  Mounts?: unknown[] | null;
  VolumesFrom?: string[] | null;
  LogConfig?: { Type: string; Config: Record<string, string> };
  /** --ipc: '' or private, shareable, host, none, container:<name>. */
  IpcMode?: string;
  /** --pid: '' (its own), host, container:<name>. */
  PidMode?: string;
  /** --uts: '' or host. */
  UTSMode?: string;
  /** --group-add: group names (of the image) or IDs. */
  GroupAdd?: string[] | null;
  OomScoreAdj?: number;
  /** The OCI runtime; only the engine's own is accepted. */
  Runtime?: string;
  /** --cgroup-parent: the cgroup the container's goes under (default /berth). */
  CgroupParent?: string;
  /** Initial terminal size with -t: [height, width]. */
  ConsoleSize?: number[] | null;
  Links?: string[] | null;
  [key: string]: unknown;
}

/** Running or paused: its process exists (endpoints live, ports published, an image in use). */
export function isRunning(record: Pick<ContainerRecord, 'State'>): boolean {
  return record.State.Status === 'running' || record.State.Status === 'paused';
}

/** Where a container's cgroup lives, relative to each hierarchy's root. */
export function cgroupPathOf(record: Pick<ContainerRecord, 'Id' | 'HostConfig'>): string {
  const parent = (record.HostConfig.CgroupParent || '/berth').replace(/\/+$/, '');
  return `${parent.startsWith('/') ? parent : `/${parent}`}/${record.Id}`;
}

export interface ContainerState {
  Status: ContainerStatus;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  /** Present when the container has a healthcheck. */
  Health?: { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Log: { Start: string; End: string; ExitCode: number; Output: string }[] };
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  /** Image ID (sha256:...) and the name the user gave (`busybox`). */
  Image: string;
  ImageName: string;
  Config: ContainerConfig & { Hostname: string; Domainname?: string; Image: string; Tty?: boolean; OpenStdin?: boolean; StdinOnce?: boolean; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean };
  HostConfig: HostConfig;
  /** The command the runtime starts, after ENTRYPOINT + CMD and --init. */
  Path: string;
  Args: string[];
  State: ContainerState;
  RestartCount: number;
  /** Set by `stop`/`kill`: restart policies (unless-stopped, always on engine start) respect it. */
  ManuallyStopped?: boolean;
  /** The image's top snapshot, which the container's overlay stacks on. */
  SnapshotChainId?: string;
  /** Its networks (endpoints filled in while it runs) and published ports. */
  NetworkSettings?: NetworkSettings;
  /** Volumes, binds and tmpfs mounts, as planned at create. */
  MountPoints?: MountPoint[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** A legacy link (`--link db:alias`), kept in HostConfig.Links as "/db:/web/alias". */
export interface Link {
  /** The linked container's name, with its slash: "/db". */
  child: string;
  /** The alias the linking container uses: "alias". */
  alias: string;
}

/** "db:alias", "db", or the stored "/db:/web/alias". */
export function parseLink(entry: string): Link {
  const [name = '', aliasPart] = entry.split(':');
  if (!name) throw new InvalidParameterError(`invalid link: ${JSON.stringify(entry)}`);
  const alias = (aliasPart ?? name).split('/').pop() ?? '';
  if (!alias) throw new InvalidParameterError(`invalid link: ${JSON.stringify(entry)}`);
  return { child: name.startsWith('/') ? name : `/${name}`, alias };
}
