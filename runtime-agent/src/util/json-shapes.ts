// The types of the Engine API's JSON bodies, checked the way dockerd's Go decoder checks them
// before any handler runs: a string where an int64 belongs, an object where a list belongs, a
// fraction where an integer belongs is a 400 that names the field ("json: cannot unmarshal string
// into Go struct field HostConfig.Memory of type int64"). Without this, a wrong type got stored
// (a container with `"MacAddress": 5` broke `docker ps` for every container) or surfaced as a 500
// such as "spec.split is not a function". As in Go, null is allowed anywhere and unknown fields
// are ignored; only fields the API defines are listed.

import { InvalidParameterError } from './errors.js';

export type Shape =
  | { kind: 'string' | 'bool' | 'any' }
  | { kind: 'int'; go: string; min: number; max: number }
  /** strslice.StrSlice (Cmd, Entrypoint, Shell, CapAdd): one string or a list of them. */
  | { kind: 'strslice' }
  /** struct{} (the values of ExposedPorts and Volumes): any object. */
  | { kind: 'empty' }
  | { kind: 'list'; of: Shape; go: string }
  | { kind: 'map'; of: Shape; go: string }
  | { kind: 'struct'; go: string; fields: Record<string, Shape> };

const str: Shape = { kind: 'string' };
const bool: Shape = { kind: 'bool' };
const any: Shape = { kind: 'any' };
const strslice: Shape = { kind: 'strslice' };
const empty: Shape = { kind: 'empty' };
const int64: Shape = { kind: 'int', go: 'int64', min: -(2 ** 63), max: 2 ** 63 - 1 };
const int: Shape = { ...int64, go: 'int' };
const uint64: Shape = { kind: 'int', go: 'uint64', min: 0, max: 2 ** 64 - 1 };
const uint16: Shape = { kind: 'int', go: 'uint16', min: 0, max: 65535 };
const uint32: Shape = { kind: 'int', go: 'uint32', min: 0, max: 2 ** 32 - 1 };
const uint: Shape = { ...uint64, go: 'uint' };

function goName(shape: Shape): string {
  switch (shape.kind) {
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'strslice':
      return 'strslice.StrSlice';
    case 'empty':
      return 'struct {}';
    case 'any':
      return 'interface {}';
    default:
      return shape.go;
  }
}

const list = (of: Shape): Shape => ({ kind: 'list', of, go: `[]${goName(of)}` });
const map = (of: Shape): Shape => ({ kind: 'map', of, go: `map[string]${goName(of)}` });
const struct = (go: string, fields: Record<string, Shape>): Shape => ({ kind: 'struct', go, fields });

const throttleDevice = struct('blkiodev.ThrottleDevice', { Path: str, Rate: uint64 });
const resources: Record<string, Shape> = {
  CpuShares: int64,
  Memory: int64,
  NanoCpus: int64,
  CgroupParent: str,
  BlkioWeight: uint16,
  BlkioWeightDevice: list(struct('blkiodev.WeightDevice', { Path: str, Weight: uint16 })),
  BlkioDeviceReadBps: list(throttleDevice),
  BlkioDeviceWriteBps: list(throttleDevice),
  BlkioDeviceReadIOps: list(throttleDevice),
  BlkioDeviceWriteIOps: list(throttleDevice),
  CpuPeriod: int64,
  CpuQuota: int64,
  CpuRealtimePeriod: int64,
  CpuRealtimeRuntime: int64,
  CpusetCpus: str,
  CpusetMems: str,
  Devices: list(struct('container.DeviceMapping', { PathOnHost: str, PathInContainer: str, CgroupPermissions: str })),
  DeviceCgroupRules: list(str),
  DeviceRequests: list(struct('container.DeviceRequest', { Driver: str, Count: int, DeviceIDs: list(str), Capabilities: list(list(str)), Options: map(str) })),
  KernelMemory: int64,
  KernelMemoryTCP: int64,
  MemoryReservation: int64,
  MemorySwap: int64,
  MemorySwappiness: int64,
  OomKillDisable: bool,
  PidsLimit: int64,
  Ulimits: list(struct('units.Ulimit', { Name: str, Hard: int64, Soft: int64 })),
  CpuCount: int64,
  CpuPercent: int64,
  IOMaximumIOps: uint64,
  IOMaximumBandwidth: uint64,
};
const restartPolicy = struct('container.RestartPolicy', { Name: str, MaximumRetryCount: int });

const mount = struct('mount.Mount', {
  Type: str,
  Source: str,
  Target: str,
  ReadOnly: bool,
  Consistency: str,
  BindOptions: struct('mount.BindOptions', { Propagation: str, NonRecursive: bool, CreateMountpoint: bool, ReadOnlyNonRecursive: bool, ReadOnlyForceRecursive: bool }),
  VolumeOptions: struct('mount.VolumeOptions', { NoCopy: bool, Labels: map(str), Subpath: str, DriverConfig: struct('mount.Driver', { Name: str, Options: map(str) }) }),
  TmpfsOptions: struct('mount.TmpfsOptions', { SizeBytes: int64, Mode: uint32, Options: list(list(str)) }),
});

const hostConfig = struct('container.HostConfig', {
  ...resources,
  Binds: list(str),
  ContainerIDFile: str,
  LogConfig: struct('container.LogConfig', { Type: str, Config: map(str) }),
  NetworkMode: str,
  PortBindings: map(list(struct('nat.PortBinding', { HostIp: str, HostPort: str }))),
  RestartPolicy: restartPolicy,
  AutoRemove: bool,
  VolumeDriver: str,
  VolumesFrom: list(str),
  ConsoleSize: list(uint),
  Annotations: map(str),
  CapAdd: strslice,
  CapDrop: strslice,
  CgroupnsMode: str,
  Dns: list(str),
  DnsOptions: list(str),
  DnsSearch: list(str),
  ExtraHosts: list(str),
  GroupAdd: list(str),
  IpcMode: str,
  Cgroup: str,
  Links: list(str),
  OomScoreAdj: int,
  PidMode: str,
  Privileged: bool,
  PublishAllPorts: bool,
  ReadonlyRootfs: bool,
  SecurityOpt: list(str),
  StorageOpt: map(str),
  Tmpfs: map(str),
  UTSMode: str,
  UsernsMode: str,
  ShmSize: int64,
  Sysctls: map(str),
  Runtime: str,
  Isolation: str,
  Mounts: list(mount),
  MaskedPaths: list(str),
  ReadonlyPaths: list(str),
  Init: bool,
});

const endpointSettings = struct('network.EndpointSettings', {
  IPAMConfig: struct('network.EndpointIPAMConfig', { IPv4Address: str, IPv6Address: str, LinkLocalIPs: list(str) }),
  Links: list(str),
  Aliases: list(str),
  DriverOpts: map(str),
  GwPriority: int,
  MacAddress: str,
  NetworkID: str,
  EndpointID: str,
  Gateway: str,
  IPAddress: str,
  IPPrefixLen: int,
  IPv6Gateway: str,
  GlobalIPv6Address: str,
  GlobalIPv6PrefixLen: int,
  DNSNames: list(str),
});

const containerConfigFields: Record<string, Shape> = {
  Hostname: str,
  Domainname: str,
  User: str,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  ExposedPorts: map(empty),
  Tty: bool,
  OpenStdin: bool,
  StdinOnce: bool,
  Env: list(str),
  Cmd: strslice,
  Healthcheck: struct('container.HealthConfig', { Test: list(str), Interval: int64, Timeout: int64, StartPeriod: int64, StartInterval: int64, Retries: int }),
  ArgsEscaped: bool,
  Image: str,
  Volumes: map(empty),
  WorkingDir: str,
  Entrypoint: strslice,
  NetworkDisabled: bool,
  MacAddress: str,
  OnBuild: list(str),
  Labels: map(str),
  StopSignal: str,
  StopTimeout: int,
  Shell: strslice,
};

export const Shapes = {
  /** POST /containers/create */
  containerCreate: struct('ContainerConfig', {
    ...containerConfigFields,
    HostConfig: hostConfig,
    NetworkingConfig: struct('network.NetworkingConfig', { EndpointsConfig: map(endpointSettings) }),
  }),
  /** POST /commit */
  containerConfig: struct('container.Config', containerConfigFields),
  /** POST /containers/{id}/update */
  containerUpdate: struct('container.UpdateConfig', { ...resources, RestartPolicy: restartPolicy }),
  /** POST /containers/{id}/exec */
  execCreate: struct('types.ExecConfig', {
    User: str,
    Privileged: bool,
    Tty: bool,
    ConsoleSize: list(uint),
    AttachStdin: bool,
    AttachStderr: bool,
    AttachStdout: bool,
    Detach: bool,
    DetachKeys: str,
    Env: list(str),
    WorkingDir: str,
    Cmd: list(str),
  }),
  /** POST /exec/{id}/start */
  execStart: struct('types.ExecStartCheck', { Detach: bool, Tty: bool, ConsoleSize: list(uint) }),
  /** POST /networks/create */
  networkCreate: struct('types.NetworkCreateRequest', {
    Name: str,
    CheckDuplicate: bool,
    Driver: str,
    Scope: str,
    EnableIPv4: bool,
    EnableIPv6: bool,
    IPAM: struct('network.IPAM', {
      Driver: str,
      Options: map(str),
      Config: list(struct('network.IPAMConfig', { Subnet: str, IPRange: str, Gateway: str, AuxiliaryAddresses: map(str) })),
    }),
    Internal: bool,
    Attachable: bool,
    Ingress: bool,
    ConfigOnly: bool,
    ConfigFrom: struct('network.ConfigReference', { Network: str }),
    Options: map(str),
    Labels: map(str),
  }),
  /** POST /networks/{id}/connect */
  networkConnect: struct('types.NetworkConnect', { Container: str, EndpointConfig: endpointSettings }),
  /** POST /networks/{id}/disconnect */
  networkDisconnect: struct('types.NetworkDisconnect', { Container: str, Force: bool }),
  /** POST /volumes/create */
  volumeCreate: struct('volume.CreateOptions', { Name: str, Driver: str, DriverOpts: map(str), Labels: map(str), ClusterVolumeSpec: any }),
  /** An image's config (config.json of `docker load`): what the engine reads from it when it runs the image. */
  imageConfig: struct('image.Image', {
    architecture: str,
    os: str,
    variant: str,
    created: str,
    author: str,
    config: struct('container.Config', containerConfigFields),
    rootfs: struct('image.RootFS', { type: str, diff_ids: list(str) }),
    history: list(struct('image.History', { created: str, created_by: str, author: str, comment: str, empty_layer: bool })),
  }),
  /** POST /auth */
  auth: struct('registry.AuthConfig', { username: str, password: str, auth: str, email: str, serveraddress: str, identitytoken: str, registrytoken: str }),
} as const;

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value; // string, number, boolean
}

/**
 * Throws a 400 naming the first field whose JSON type does not fit `shape`. `path` is the field
 * path so far ("HostConfig.PortBindings"), as Go's decoder reports it.
 */
export function checkShape(value: unknown, shape: Shape, path = ''): void {
  if (value === null || value === undefined || shape.kind === 'any') return;
  const wrong = (what: string = jsonType(value)): never => {
    const where = path ? `Go struct field ${path}` : 'Go value';
    throw new InvalidParameterError(`json: cannot unmarshal ${what} into ${where} of type ${goName(shape)}`);
  };
  switch (shape.kind) {
    case 'string':
      if (typeof value !== 'string') wrong();
      return;
    case 'bool':
      if (typeof value !== 'boolean') wrong();
      return;
    case 'int':
      if (typeof value !== 'number') wrong();
      if (!Number.isInteger(value) || (value as number) < shape.min || (value as number) > shape.max) wrong(`number ${String(value)}`);
      return;
    case 'strslice':
      if (typeof value === 'string') return;
      if (!Array.isArray(value)) wrong();
      (value as unknown[]).forEach((item) => checkShape(item, str, path));
      return;
    case 'empty':
      if (typeof value !== 'object' || Array.isArray(value)) wrong();
      return;
    case 'list':
      if (!Array.isArray(value)) wrong();
      (value as unknown[]).forEach((item) => checkShape(item, shape.of, path));
      return;
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) wrong();
      for (const item of Object.values(value as object)) checkShape(item, shape.of, path);
      return;
    case 'struct':
      if (typeof value !== 'object' || Array.isArray(value)) wrong();
      for (const [field, fieldShape] of Object.entries(shape.fields)) {
        if (Object.hasOwn(value as object, field)) checkShape((value as Record<string, unknown>)[field], fieldShape, path ? `${path}.${field}` : field);
      }
      return;
  }
}
