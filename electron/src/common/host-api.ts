// The host API the GUI talks to, typed once for both ends: the renderer and the dashboard's
// WebSocket bridge (the Electron window loads the same dashboard, so it is one API everywhere).
// Requests carry an id; answers, stream data and stream ends refer to it. Types only: this file is
// imported by the renderer and by Node.

/** What the host side knows about the machine the engine runs on and the engine itself. */
export interface HostStatus {
  /** `vm`: Berth's VM behind the forwarded socket; `socket`: any engine socket given with --host. */
  mode: 'vm' | 'socket';
  engineSocket: string;
  vm?: {
    state: 'starting' | 'running' | 'stopping' | 'stopped';
    provider?: string;
    accel?: string;
    bootMs?: number;
    startedAt?: string;
    forwardedPorts?: number;
    /** The QEMU process's resident memory on this computer, MiB: what the VM costs the host. */
    residentMiB?: number;
    /** The guest's uptime in seconds at each boot milestone (initStarted, berthdStarting, guestConfigured, engineReady). */
    bootMilestones?: Record<string, number>;
  };
  engine: { reachable: boolean; version?: string; apiVersion?: string; os?: string; kernel?: string; error?: string };
  usage?: MachineUsage;
  berthVersion: string;
}

/** CPU, memory and disk of the machine the engine runs on (the guest, or this host natively). */
export interface MachineUsage {
  cpus: number;
  /** Busy share of all CPUs since the previous sample, 0–100. */
  cpuPercent: number;
  memoryTotal: number;
  memoryUsed: number;
  diskTotal: number;
  diskUsed: number;
  /** The engine's own data: images, containers' writable layers, volumes, build cache. */
  engineData?: { images: number; containers: number; volumes: number; buildCache: number };
}

export interface SettingsView {
  settings: HostSettings;
  /** Settings changed since the VM started, which take effect after a restart. */
  restartNeeded: string[];
  limits: { cpus: number; memoryMiB: number };
  /** The data disk's file: what it takes on this computer's disk, against the limit (diskGiB). */
  dataDisk?: { fileBytes: number; limitBytes: number };
}

export interface HostSettings {
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  sharedFolders: string[];
  autoStart: boolean;
  /** The guest's architecture; the one that is not the host's runs under emulation. */
  arch: 'amd64' | 'arm64';
}

export interface Check {
  id: 'vm' | 'engine' | 'socket' | 'context' | 'disk' | 'shares';
  title: string;
  state: 'ok' | 'warning' | 'failed' | 'skipped';
  detail: string;
  /** What to do about it, when something is wrong. */
  fix?: string;
}

/** One-shot host calls: name → arguments and result. */
export interface HostCalls {
  status: { args: undefined; result: HostStatus };
  'settings.get': { args: undefined; result: SettingsView };
  'settings.set': { args: Partial<HostSettings>; result: SettingsView };
  checks: { args: undefined; result: Check[] };
  /** Deletes the VM's disk and the settings, after stopping the VM. */
  'factory-reset': { args: undefined; result: null };
  'terminal.resize': { args: { target: number; cols: number; rows: number }; result: null };
  /** A directory of a volume, read through a stopped helper container's archive. */
  'volume.browse': { args: { volume: string; path: string }; result: VolumeEntry[] };
}

export interface VolumeEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  modified: string;
  linkTarget?: string;
}

/** Streaming host calls: progress lines for the VM lifecycle, raw bytes for a terminal. */
export interface HostStreams {
  'vm.start': undefined;
  'vm.stop': undefined;
  'vm.restart': undefined;
  /** A shell on the host, in a pseudo-terminal, with DOCKER_HOST pointing at the engine. */
  'terminal.open': { cols: number; rows: number };
}

export type HostCallName = keyof HostCalls;
export type HostStreamName = keyof HostStreams;

export type HostRequest =
  /** One Engine API call: its status and JSON (or text) body. */
  | { id: number; method: 'engine.request'; params: { method: string; path: string; body?: unknown } }
  /** A streaming Engine API call (events, logs, pull progress): one message per line. */
  | { id: number; method: 'engine.stream'; params: { method?: string; path: string; body?: unknown } }
  /**
   * An Engine API call that upgrades to a raw stream (exec start, attach): bytes both ways,
   * base64 in `bytes` messages; write with `write`.
   */
  | { id: number; method: 'engine.hijack'; params: { path: string; body?: unknown } }
  /** A host call; answered with `result` (status 200 and the value) or `error`. */
  | { id: number; method: 'host.call'; params: { name: HostCallName; args?: unknown } }
  /** A host stream: lines (`data`) or bytes, then `end`, or `error`. */
  | { id: number; method: 'host.stream'; params: { name: HostStreamName; args?: unknown } }
  /** Bytes for a hijacked stream or a terminal (base64). */
  | { id: number; method: 'write'; params: { target: number; bytes: string } }
  /** Stops a stream. */
  | { id: number; method: 'cancel'; params: { target: number } };

export interface EngineResult {
  status: number;
  body: unknown;
}

export type HostMessage =
  | { id: number; result: EngineResult }
  | { id: number; error: string }
  /**
   * Lines of a stream, batched: all that arrived together from one stream (logs are
   * demultiplexed: `stream` says stdout or stderr). One message per line cost the page more than
   * the lines at 10,000 lines a second.
   */
  | { id: number; lines: string[]; stream?: 'stdout' | 'stderr' }
  /** Raw bytes of a hijacked stream or terminal (base64). */
  | { id: number; bytes: string }
  | { id: number; end: true };
