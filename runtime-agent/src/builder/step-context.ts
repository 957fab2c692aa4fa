// What a stage's steps see of it, and what a stage sees of the builder: interfaces, so that the
// modules of the steps (run-step.ts, run-mounts.ts), the stage that runs them (stage-run.ts) and
// the builder that schedules stages (builder.ts) import each other in one direction only.
import type { ContainerService } from '../containers/container-service.js';
import type { ImageService } from '../images/image-service.js';
import type { AuthConfig } from '../registry/auth-config.js';
import type { ContainerConfig } from '../vocabulary/media-types.js';
import type { ProgressReporter } from '../vocabulary/progress.js';
import type { BuildOptions, BuildOutput, StepHandle } from './build-types.js';
import type { KnownDigests } from './copy-layer.js';
import type { Instruction } from './dockerfile.js';
import type { BuildState } from './image-steps.js';

export interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

/** What a step reads files from: an image's or stage's filesystem, or a directory (a named context). */
export type StepSource = { kind: 'state'; state: BuildState } | { kind: 'directory'; dir: string; ignored: (relative: string) => boolean; digests?: KnownDigests };

/** The builder as its stages use it. */
export interface BuildEngine {
  readonly imageService: ImageService;
  readonly containerService: ContainerService;
  /** An image by name, pulled when it is not here (or when `pull`); `auth` is asked only for a pull. */
  baseImage(name: string, pull: boolean, progress: ProgressReporter, auth?: () => AuthConfig | undefined | Promise<AuthConfig | undefined>): Promise<BuildState>;
}

/** A RUN step's view of its stage (StageRun is the one). */
export interface StepContext {
  readonly stage: Stage;
  readonly options: BuildOptions;
  readonly out: BuildOutput;
  readonly images: ImageService;
  readonly containers: ContainerService;
  /** The step running now, for its output. */
  readonly handle: StepHandle | undefined;
  say(line: string): void;
  /** Work the next step need not wait for; the build waits for it at its end. */
  afterwards(work: Promise<unknown>): void;
  expand(text: string, state: BuildState): string;
  /** Build args in scope, as RUN's history and environment get them. */
  runArgs(): [string, string][];
  cached(state: BuildState, step: { createdBy: string; makesLayer: boolean; config: ContainerConfig; cacheKey: string }): Promise<BuildState | undefined>;
  /** Reports a step whose result came from the cache (CACHED). */
  reuse(cached: BuildState): BuildState;
  /** What `from=` names: a named context, an earlier stage, or an image. */
  mountSource(from: string, line: number): Promise<StepSource>;
}
