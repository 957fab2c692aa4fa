// The Engine API's objects as Berth reads and sends them, one type per object, named after the
// schemas of moby's api/swagger.yaml (the names of API 1.43, which berthd speaks, are noted where
// they differ). Types only, shared by the renderer's Engine API client and the dashboard's host
// side. They list the fields Berth uses and the ones that identify an object, not every field the
// schema has: the API's schema is open (engines add fields), and nothing here is checked at run
// time — an answer is taken to be what the engine documents.

import type { MachineUsage } from './host-api.js';

// ---- shared pieces ----------------------------------------------------------------------------

/** Labels, options and other string maps; engines send `null` for an empty one at times. */
export type StringMap = Record<string, string>;

/** `{"80/tcp": {}}`: a set of ports (or, for volumes, of paths), written as an object. */
export type EmptyObjectSet = Record<string, Record<string, never>>;

/** The Docker API's `{"message": ...}` error body. */
export interface ErrorResponse {
  message: string;
}

/** `{"Id": ...}` (IdResponse in API 1.43): what exec create answers. */
export interface IDResponse {
  Id: string;
}

// ---- containers -------------------------------------------------------------------------------

/** The states a container goes through (ContainerState.Status, ContainerSummary.State). */
export type ContainerStateStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** A published or exposed port of a listed container (Port in API 1.43). */
export interface PortSummary {
  /** The host address the port is published on; absent when it is only exposed. */
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: 'tcp' | 'udp' | 'sctp';
}

/** A mount as a container reports it (list and inspect). */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  /** The volume's name, for a volume. */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode?: string;
  RW: boolean;
  Propagation?: string;
}

/** A container's place on one network. */
export interface EndpointSettings {
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Aliases: string[] | null;
  DNSNames?: string[] | null;
}

/** One row of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  /** With a leading slash: `/web-1`. */
  Names: string[];
  /** As the container was created from it: a tag, or an image ID. */
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  Ports: PortSummary[];
  /** Only with `size=1`. */
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: StringMap | null;
  State: ContainerStateStatus;
  /** For people: "Up 3 minutes", "Exited (0) 2 hours ago". */
  Status: string;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> | null };
  Mounts?: MountPoint[];
}

/** A container's state in its inspect answer. */
export interface ContainerState {
  Status: ContainerStateStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

/** What a container runs: the part of its configuration that does not depend on the host. */
export interface ContainerConfig {
  Hostname?: string;
  User?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Image?: string;
  WorkingDir?: string;
  Labels?: StringMap | null;
  ExposedPorts?: EmptyObjectSet | null;
  /** Anonymous volumes, by the path they are mounted at. */
  Volumes?: EmptyObjectSet | null;
  NetworkDisabled?: boolean;
  StopSignal?: string;
}

/** `HostIp` empty: every address; `HostPort` empty: a port the engine picks. */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** A mount asked for at create time (HostConfig.Mounts). */
export interface Mount {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  VolumeOptions?: { NoCopy?: boolean; Labels?: StringMap };
}

/** The host-dependent part of a container's configuration; the fields Berth sets or reads. */
export interface HostConfig {
  Binds?: string[] | null;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  Mounts?: Mount[] | null;
  NetworkMode?: string;
  AutoRemove?: boolean;
  RestartPolicy?: { Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number };
}

/** `GET /containers/{id}/json` (the body is shown whole on the container's page). */
export interface ContainerInspectResponse {
  Id: string;
  /** ISO 8601. */
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  /** The image's ID. */
  Image: string;
  /** With a leading slash. */
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: HostConfig;
  Config: ContainerConfig;
  Mounts: MountPoint[];
  NetworkSettings: { Networks?: Record<string, EndpointSettings> | null; Ports?: Record<string, PortBinding[] | null> | null };
}

/** The body of `POST /containers/create`: ContainerConfig with the host part beside it. */
export interface ContainerCreateRequest extends ContainerConfig {
  Image: string;
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, Partial<EndpointSettings>> };
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[] | null;
}

/** The body of `POST /containers/{id}/exec`. */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  /** "ctrl-p,ctrl-q" style; the engine's default when absent. */
  DetachKeys?: string;
  Env?: string[];
  Cmd: string[];
  User?: string;
  WorkingDir?: string;
  Privileged?: boolean;
}

/** The body of `POST /exec/{id}/start`. */
export interface ExecStartConfig {
  Detach: boolean;
  Tty: boolean;
}

// ---- container stats (one JSON object per line of `GET /containers/{id}/stats`) ---------------

export interface ContainerCPUUsage {
  /** Nanoseconds of CPU time, all CPUs together. */
  total_usage: number;
  percpu_usage?: number[] | null;
  usage_in_kernelmode?: number;
  usage_in_usermode?: number;
}

export interface ContainerCPUStats {
  cpu_usage: ContainerCPUUsage;
  /** Nanoseconds the whole machine's CPUs ran; absent on some platforms. */
  system_cpu_usage?: number;
  online_cpus?: number;
}

export interface ContainerMemoryStats {
  usage?: number;
  max_usage?: number;
  limit?: number;
  /** The cgroup's memory.stat; its keys differ between cgroup v1 and v2. */
  stats?: Record<string, number>;
}

export interface ContainerNetworkStats {
  rx_bytes: number;
  rx_packets?: number;
  rx_errors?: number;
  rx_dropped?: number;
  tx_bytes: number;
  tx_packets?: number;
  tx_errors?: number;
  tx_dropped?: number;
}

export interface ContainerBlkioStatEntry {
  major: number;
  minor: number;
  /** "Read", "Write" (cgroup v1) or "read", "write" (v2), and others. */
  op: string;
  value: number;
}

export interface ContainerBlkioStats {
  io_service_bytes_recursive?: ContainerBlkioStatEntry[] | null;
  io_serviced_recursive?: ContainerBlkioStatEntry[] | null;
}

export interface ContainerPidsStats {
  current?: number;
  limit?: number;
}

/** One sample of the stats stream; `precpu_stats` is the sample before, for CPU deltas. */
export interface ContainerStatsResponse {
  id?: string;
  name?: string;
  /** ISO 8601 time of the sample. */
  read?: string;
  preread?: string;
  cpu_stats: ContainerCPUStats;
  precpu_stats: ContainerCPUStats;
  memory_stats: ContainerMemoryStats;
  networks?: Record<string, ContainerNetworkStats> | null;
  blkio_stats?: ContainerBlkioStats;
  pids_stats?: ContainerPidsStats;
  num_procs?: number;
}

// ---- images -----------------------------------------------------------------------------------

/** One row of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  /** `repo:tag`; older engines send `["<none>:<none>"]` or `null` for an untagged image. */
  RepoTags: string[] | null;
  RepoDigests?: string[] | null;
  /** Unix seconds. */
  Created: number;
  Size: number;
  SharedSize?: number;
  Labels?: StringMap | null;
  /** -1 when the engine did not count. */
  Containers?: number;
}

/** The configuration an image gives its containers (ContainerConfig in API 1.43). */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: EmptyObjectSet | null;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: EmptyObjectSet | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  Labels?: StringMap | null;
  StopSignal?: string;
}

/** `GET /images/{name}/json`. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Comment?: string;
  /** ISO 8601; may be absent or empty for an image built without a date. */
  Created?: string;
  Author?: string;
  Config: ImageConfig | null;
  Architecture?: string;
  Variant?: string;
  Os?: string;
  Size: number;
  /** The uncompressed layers' digests, bottom first. */
  RootFS?: { Type: string; Layers?: string[] };
}

/** One step of `GET /images/{name}/history`, newest first (HistoryResponseItem). */
export interface ImageHistoryResponseItem {
  /** The image that step made, or "<missing>" for steps of a pulled image. */
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One entry of `DELETE /images/{name}`'s answer: a tag removed, or an image deleted. */
export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ProgressDetail {
  current?: number;
  total?: number;
}

export interface ErrorDetail {
  code?: number;
  message?: string;
}

/** One JSON line of `POST /images/create` (the pull's progress). */
export interface CreateImageInfo {
  /** A layer's short ID, or the tag in "Pulling from …" lines; absent on summary lines. */
  id?: string;
  status?: string;
  progressDetail?: ProgressDetail;
  /** Deprecated in the schema, still sent by engines beside `errorDetail`. */
  error?: string;
  errorDetail?: ErrorDetail;
}

// ---- volumes ----------------------------------------------------------------------------------

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  /** ISO 8601. */
  CreatedAt?: string;
  Labels: StringMap | null;
  Scope?: 'local' | 'global';
  Options?: StringMap | null;
  /** Only in `GET /system/df`; -1 for both when the engine did not measure. */
  UsageData?: { Size: number; RefCount: number } | null;
}

export interface VolumeListResponse {
  Volumes: Volume[] | null;
  Warnings?: string[] | null;
}

/** The body of `POST /volumes/create` (VolumeCreateOptions in API 1.43); no name: the engine picks one. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: StringMap;
  Labels?: StringMap;
}

// ---- networks ---------------------------------------------------------------------------------

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: StringMap | null;
}

/** A network's address management. */
export interface IPAM {
  Driver?: string;
  Config: IPAMConfig[] | null;
  Options?: StringMap | null;
}

/** A container on a network, as the network's inspect lists it (NetworkContainer in API 1.43). */
export interface EndpointResource {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  /** CIDR: `172.18.0.2/16`; empty when the network gave no address. */
  IPv4Address: string;
  IPv6Address: string;
}

/** What list and inspect share. */
export interface Network {
  Name: string;
  Id: string;
  /** ISO 8601. */
  Created?: string;
  Scope: string;
  Driver: string;
  EnableIPv6?: boolean;
  IPAM: IPAM;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  Options?: StringMap | null;
  Labels?: StringMap | null;
}

/**
 * One row of `GET /networks`. API 1.43 answers the same object as inspect; dockerd leaves the
 * containers out of the list, so the GUI reads them from inspect.
 */
export type NetworkSummary = Network;

/** `GET /networks/{id}`: the network with its containers, by container ID. */
export interface NetworkInspect extends Network {
  Containers?: Record<string, EndpointResource> | null;
}

/** The body of `POST /networks/create`. */
export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  /** Refuse a name already taken (API < 1.44; later engines always do). */
  CheckDuplicate?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: IPAM;
  Options?: StringMap;
  Labels?: StringMap;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning?: string;
}

// ---- events -----------------------------------------------------------------------------------

/** The object an event is about: its ID and attributes (name, image, labels…). */
export interface EventActor {
  ID: string;
  Attributes?: StringMap;
}

/** One JSON line of `GET /events`. */
export interface EventMessage {
  Type: 'builder' | 'config' | 'container' | 'daemon' | 'image' | 'network' | 'node' | 'plugin' | 'secret' | 'service' | 'volume';
  /** "start", "die", "pull", "exec_start: sh" and so on. */
  Action: string;
  Actor: EventActor;
  scope?: 'local' | 'swarm';
  /** Unix seconds. */
  time: number;
  timeNano: number;
}

// ---- system -----------------------------------------------------------------------------------

/** `GET /version`. */
export interface SystemVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime?: string;
}

/** A build cache record, as `GET /system/df` lists it. */
export interface BuildCache {
  ID: string;
  Type?: string;
  Size: number;
  InUse?: boolean;
  Shared?: boolean;
  CreatedAt?: string;
  LastUsedAt?: string | null;
}

/** `GET /system/df`; with `type=…` only the lists asked for come back. */
export interface SystemDataUsageResponse {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: Volume[] | null;
  BuildCache?: BuildCache[] | null;
  /** Not in the schema; dockerd and berthd still send it. */
  BuilderSize?: number;
}

/** What `GET /system/df?type=` may ask for. */
export type DataUsageType = 'container' | 'image' | 'volume' | 'build-cache';

/** berthd's own `GET /_berth/usage`: the machine the engine runs on (other engines answer 404). */
export type BerthUsageResponse = Omit<MachineUsage, 'engineData'>;
