// What a build is asked (BuildOptions), where its output goes (BuildOutput and the step observer
// a BuildKit-style display uses), and how it fails.
import type { AuthConfig } from '../registry/auth-config.js';
import type { Reference } from '../vocabulary/reference.js';
import type { ProgressReporter } from '../vocabulary/progress.js';
import type { KnownDigests } from './copy-layer.js';

/** ARGs every build knows without a declaration, and keeps out of the image's history. */
export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];
/** The shell of RUN's shell form when the image sets none (SHELL). */
export const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** The PATH a step gets when the image sets no environment. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a build's session can hand a step and never keeps in an image: secrets and ssh agents. */
export interface BuildSecrets {
  /** The secret's bytes; undefined when the client has no secret by that id. */
  secret(id: string): Promise<Buffer | undefined>;
  /** A unix socket forwarded to the client's ssh agent `id`; rejects when there is none. */
  sshAgent(id: string): Promise<{ socketPath: string; close(): Promise<void> }>;
}

/** A named build context (`--build-context name=...`): a directory of the client's, or an image. */
export type NamedContext = { kind: 'directory'; dir: string; ignored: (relative: string) => boolean; digests?: KnownDigests } | { kind: 'image'; ref: string };

export interface BuildOptions {
  contextDir: string;
  /** The Dockerfile's path, relative to dockerfileDir if set (BuildKit sends it apart), else to the context. */
  dockerfile: string;
  dockerfileDir?: string;
  tags: Reference[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  /** --no-cache-filter: the stages (by name) that are rebuilt while the others may come from the cache. */
  noCacheStages?: string[];
  pull: boolean;
  quiet: boolean;
  networkMode?: string;
  extraHosts: string[];
  ignored: (relative: string) => boolean;
  /** --memory, --cpu-shares, --shm-size, --ulimit ... of `docker build`: the RUN containers' HostConfig. */
  runResources?: Record<string, unknown>;
  /** --cache-from: images whose history may stand in for steps (local images, by name or ID). */
  cacheFrom?: string[];
  /**
   * The build comes through BuildKit's dockerfile.v0 frontend: `# syntax=` must name BuildKit's
   * own Dockerfile frontend (berthd's stands in for it), BuildKit's platform ARGs are predefined,
   * independent stages run at the same time, and RUN takes --mount, --network and --security.
   */
  buildkit?: boolean;
  /** What the client granted (`network.host`, `security.insecure`), for RUN --network=host and --security=insecure. */
  entitlements?: string[];
  /** Secrets and ssh agents for RUN --mount=type=secret|ssh (BuildKit's session). */
  secrets?: BuildSecrets;
  /** --build-context: names FROM and COPY --from (and RUN --mount from=) may use. */
  namedContexts?: Map<string, NamedContext>;
  /** Cancels the build: no step starts after it, and a running RUN is killed. */
  signal?: AbortSignal;
  /** Digests of context files already known (absolute path -> sha256 hex), so COPY need not read them twice. */
  contextDigests?: KnownDigests;
  /** Credentials for the registries FROM images come from (the X-Registry-Config header, or BuildKit's session). */
  registryAuth?: (domain: string) => AuthConfig | undefined | Promise<AuthConfig | undefined>;
  /** Each stage's result as it is built (a cache export keeps them all). */
  onStageBuilt?: (imageId: string) => void;
}

export interface BuildOutput {
  /** A line of build output (`{"stream": ...}`). */
  stream(text: string): void;
  /** The progress of a pull a FROM needs. */
  progress: ProgressReporter;
  /**
   * Step by step, for a display that shows steps rather than lines (BuildKit's): when set, RUN's
   * output goes to the step's handle instead of to stream().
   */
  steps?: StepObserver;
}

/** The steps BuildKit counts and shows, besides a FROM of an image: those that change files. */
export const FILE_STEPS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

/** One step of a stage as BuildKit names it: `[build 2/4] RUN make`. */
export interface StepInfo {
  /** The stage's name (`stage-N` when unnamed); none when the Dockerfile has one stage. */
  stage: string | undefined;
  /** Its place among the stage's counted steps; 0 for a step BuildKit neither counts nor shows. */
  number: number;
  count: number;
  keyword: string;
  /** The instruction as written (FROM with its base resolved). */
  text: string;
}

/** Steps as they begin; stages may run side by side, so each step reports through its own handle. */
export interface StepObserver {
  started(step: StepInfo): StepHandle;
}

export interface StepHandle {
  /** The step's result came from the cache. */
  cached(): void;
  /** Output of the step's process. */
  output(text: string, stream: 'stdout' | 'stderr'): void;
  /** The progress of a pull (a FROM's), when the display shows it per step. */
  progress?: ProgressReporter;
  /** The step ended well. */
  done(): void;
  /** The step failed (or was cancelled because another stage failed). */
  failed(err: unknown): void;
}

/** A RUN command as an error message quotes it: a 200,000-line RUN makes a 200 KB message otherwise. */
export function quoteCommand(command: string[]): string {
  const text = command.join(' ');
  return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}

export class StepFailedError extends Error {
  constructor(
    message: string,
    readonly code: number,
    /** The RUN's command as BuildKit quotes it in its error (`/bin/sh -c make`). */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** The client cancelled the build (Ctrl-C in buildx), or another stage failed. */
export class BuildCancelledError extends Error {
  constructor() {
    super('the build was cancelled');
  }
}
