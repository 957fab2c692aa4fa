// `docker build`: the Dockerfile's stages, which of them the target needs, and the order they
// run in: one after another for the classic builder (its `Step N/M : ...` output is one story),
// side by side through BuildKit, each stage as soon as the stages it uses are built.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { ContainerService } from '../containers/container-service.js';
import type { ImageService } from '../images/image-service.js';
import type { Puller } from '../images/pull.js';
import { formatPlatform, hostPlatform } from '../images/platform.js';
import type { AuthConfig } from '../registry/auth-config.js';
import type { ProgressReporter } from '../vocabulary/progress.js';
import { parseNormalizedNamed } from '../vocabulary/reference.js';
import { MAX_DOCKERFILE } from './build-context.js';
import { BuildCancelledError, FILE_STEPS, PROXY_ARGS, type BuildOptions, type BuildOutput, type StepHandle } from './build-types.js';
import { DockerfileError, parseDockerfile, parseKeyValues, splitWords } from './dockerfile.js';
import { commitConfig, stateOf, type BuildState } from './image-steps.js';
import { checkStagePlatform, StageRun, type BuildRun } from './stage-run.js';
import type { BuildEngine, Stage } from './step-context.js';
import { NOP, shortId } from './step-text.js';
import { expandWord } from './variables.js';

export * from './build-types.js';

/** BuildKit's predefined platform ARGs: build and target are this engine's platform. */
function platformArgs(): Record<string, string> {
  const p = hostPlatform();
  const platform = formatPlatform(p);
  return { BUILDPLATFORM: platform, BUILDOS: p.os, BUILDARCH: p.architecture, BUILDVARIANT: p.variant ?? '', TARGETPLATFORM: platform, TARGETOS: p.os, TARGETARCH: p.architecture, TARGETVARIANT: p.variant ?? '' };
}

/**
 * `# syntax=` names the frontend image BuildKit would run. BuildKit's own Dockerfile frontend
 * (docker/dockerfile:1, 1.x, 1.x-labs, pinned by digest or not) is what berthd's builder is; any
 * other image would have to be pulled and run as a frontend, which berthd does not do.
 */
function checkSyntax(syntax: string): void {
  const image = syntax.trim().replace(/@sha256:[0-9a-f]{64}$/, '');
  if (/^(docker\.io\/)?docker\/dockerfile(-upstream)?:1(\.\d+){0,2}(-labs)?$/.test(image)) return;
  throw new DockerfileError(1, `unsupported frontend ${JSON.stringify(syntax)} in # syntax=: berthd builds Dockerfiles itself (as docker/dockerfile:1) and does not run frontend images`);
}

/** A step handle for a build whose output is lines, not steps. */
const NO_HANDLE: StepHandle = { cached: () => undefined, output: () => undefined, done: () => undefined, failed: () => undefined };

export class Builder implements BuildEngine {
  constructor(
    private readonly images: ImageService,
    private readonly containers: ContainerService,
    private readonly puller: Puller,
  ) {}

  async build(options: BuildOptions, out: BuildOutput): Promise<string> {
    const dockerfilePath = path.join(options.dockerfileDir ?? options.contextDir, options.dockerfile);
    const stat = await fs.stat(dockerfilePath).catch(() => undefined);
    if (!stat?.isFile()) throw new DockerfileError(0, `Cannot locate specified Dockerfile: ${options.dockerfile}`);
    // A context tar can hold a Dockerfile of any size; read into one string it would take the
    // engine's memory with it.
    if (stat.size > MAX_DOCKERFILE) throw new DockerfileError(0, `the Dockerfile is too large (${stat.size} bytes, at most ${MAX_DOCKERFILE})`);
    const text = await fs.readFile(dockerfilePath, 'utf8').catch(() => {
      throw new DockerfileError(0, `Cannot locate specified Dockerfile: ${options.dockerfile}`);
    });
    const parsed = parseDockerfile(text);
    const escape = parsed.escape;
    if (options.buildkit && parsed.syntax !== undefined) checkSyntax(parsed.syntax);
    // BuildKit predefines the platform ARGs in the global scope (a stage sees one after `ARG NAME`).
    const globalArgs = new Map<string, string | undefined>(options.buildkit ? Object.entries(platformArgs()) : []);
    const stages: Stage[] = [];
    for (const instruction of parsed.instructions) {
      if (instruction.keyword === 'FROM') {
        const words = splitWords(instruction.rest, escape);
        if (words.length !== 1 && !(words.length === 3 && words[1]?.toLowerCase() === 'as')) throw new DockerfileError(instruction.line, 'FROM requires either one or three arguments');
        stages.push({ index: stages.length, ...(words[2] ? { name: words[2].toLowerCase() } : {}), from: instruction, instructions: [] });
      } else if (stages.length === 0) {
        if (instruction.keyword !== 'ARG') throw new DockerfileError(instruction.line, `no build stage in current context: ${instruction.keyword} needs a FROM before it`);
        for (const [name, value] of parseKeyValues(instruction.rest, 'ARG', instruction.line, escape)) {
          globalArgs.set(name, name in options.buildArgs ? (options.buildArgs[name] ?? undefined) : value || undefined);
        }
      } else {
        stages[stages.length - 1]!.instructions.push(instruction);
      }
    }
    if (stages.length === 0) throw new DockerfileError(0, 'the Dockerfile has no FROM: there is nothing to build');

    const targetIndex = options.target ? stages.findIndex((s) => s.name === options.target!.toLowerCase()) : stages.length - 1;
    if (targetIndex < 0) throw new DockerfileError(0, `failed to reach build target ${options.target} in Dockerfile`);
    const dependencies = (stage: Stage) => stageDependencies(stage, stages, escape, globalArgs);
    const needed = neededStages(stages, targetIndex, dependencies);
    // A platform the engine cannot run fails the build before any stage starts.
    for (const stage of stages) if (needed.has(stage.index)) checkStagePlatform(stage, globalArgs, escape);
    const say = (line: string) => {
      if (!options.quiet) out.stream(line.endsWith('\n') ? line : `${line}\n`);
    };

    // One failing stage cancels the others, as BuildKit does.
    const failed = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
    const results = new Map<number, Promise<BuildState>>();
    const background: Promise<unknown>[] = [];
    const run: BuildRun = {
      builder: this,
      options: { ...options, signal },
      out,
      say,
      escape,
      globalArgs,
      stages,
      consumed: new Set(),
      stageResult: (index) => results.get(index),
      afterwards: (work) => void background.push(work.catch(() => undefined)),
    };

    // The classic builder's step numbers run through the whole build.
    let firstStep = 1;
    const totalSteps = stages.filter((s) => needed.has(s.index)).reduce((n, s) => n + 1 + s.instructions.length, 0);
    let previous: Promise<unknown> = Promise.resolve();
    for (const stage of stages) {
      if (!needed.has(stage.index)) continue;
      const stageRun = new StageRun(run, stage);
      const numbering = { first: firstStep, total: totalSteps };
      firstStep += 1 + stage.instructions.length;
      const after = options.buildkit ? Promise.all(dependencies(stage).map((d) => results.get(d)?.catch(() => undefined))) : previous;
      const result = after.then(async () => {
        if (signal.aborted) throw new BuildCancelledError();
        return this.runStage(stageRun, stages, numbering, run);
      });
      result.catch(() => failed.abort());
      results.set(stage.index, result);
      previous = result;
    }
    // Every stage settles before the build ends: none is left running after an error.
    const settled = await Promise.allSettled(results.values());
    await Promise.all(background);
    const firstError = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !(s.reason instanceof BuildCancelledError)) ?? settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (firstError) throw firstError.reason;

    let final = await results.get(targetIndex)!;
    if (Object.keys(options.labels).length) {
      const config = { ...final.config.config, Labels: { ...(final.config.config?.Labels ?? {}), ...options.labels } };
      final = await commitConfig(this.images, final, `${NOP} LABEL ${Object.entries(options.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`, config, `label:${JSON.stringify(options.labels)}:${Date.now()}`);
    }
    if (!final.imageId) {
      // FROM scratch and nothing else: still an image, as dockerd makes one.
      final = await commitConfig(this.images, final, `${NOP} FROM scratch`, final.config.config ?? {}, 'scratch');
    }
    const unused = Object.keys(options.buildArgs).filter((a) => !run.consumed.has(a) && !PROXY_ARGS.includes(a));
    if (unused.length) say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
    return final.imageId!;
  }

  /** A stage's steps in order; each reports through its own handle. */
  private async runStage(stageRun: StageRun, stages: Stage[], numbering: { first: number; total: number }, run: BuildRun): Promise<BuildState> {
    const { stage } = stageRun;
    const { options, out, say } = run;
    // BuildKit's numbering: a FROM of an image, then each step that changes files.
    const stageName = stages.length > 1 ? (stage.name ?? `stage-${stage.index}`) : undefined;
    const fromImage = startsFromImage(stage, stages, run.escape, run.globalArgs, options);
    const count = (fromImage ? 1 : 0) + stage.instructions.filter((i) => FILE_STEPS.has(i.keyword)).length;
    let number = 0;
    let step = numbering.first;
    const begin = (keyword: string, text: string, counted: boolean) => {
      stageRun.handle?.done();
      stageRun.handle = out.steps?.started({ stage: stageName, number: counted ? ++number : 0, count, keyword, text }) ?? NO_HANDLE;
    };
    try {
      say(`Step ${step}/${numbering.total} : ${stage.from.original}`);
      begin('FROM', stage.from.original, fromImage);
      let state = await stageRun.from();
      say(` ---> ${shortId(state.imageId)}`);
      for (const instruction of stage.instructions) {
        step += 1;
        say(`Step ${step}/${numbering.total} : ${instruction.original}`);
        if (run.options.signal?.aborted) throw new BuildCancelledError();
        begin(instruction.keyword, instruction.original, FILE_STEPS.has(instruction.keyword));
        state = await stageRun.step(instruction, state);
      }
      stageRun.handle?.done();
      stageRun.handle = undefined;
      if (state.imageId) options.onStageBuilt?.(state.imageId);
      return state;
    } catch (err) {
      stageRun.handle?.failed(err);
      stageRun.handle = undefined;
      throw err;
    }
  }

  // ---- helpers the stage runs use ----

  /** `auth` is asked for only when the image must be pulled (asking can run a credential helper). */
  async baseImage(name: string, pull: boolean, progress: ProgressReporter, auth?: () => AuthConfig | undefined | Promise<AuthConfig | undefined>): Promise<BuildState> {
    const ref = parseNormalizedNamed(name);
    const local = (() => {
      try {
        return this.images.images.resolve(name);
      } catch {
        return undefined;
      }
    })();
    if (local && !pull) return stateOf(this.images, local);
    try {
      const credentials = await auth?.();
      const id = await this.puller.pull(ref, { progress, ...(credentials ? { auth: credentials } : {}) });
      return stateOf(this.images, this.images.images.get(id)!);
    } catch (err) {
      if (local) return stateOf(this.images, local);
      throw err;
    }
  }

  get imageService(): ImageService {
    return this.images;
  }

  get containerService(): ContainerService {
    return this.containers;
  }
}

function lookupStage(stages: Stage[], ref: string): Stage | undefined {
  return /^\d+$/.test(ref) ? stages[Number(ref)] : stages.find((s) => s.name === ref.toLowerCase());
}

/** Whether a stage starts from an image (not scratch, not an earlier stage, not a named context's directory). */
function startsFromImage(stage: Stage, stages: Stage[], escape: string, globalArgs: Map<string, string | undefined>, options: BuildOptions): boolean {
  const base = expandWord(splitWords(stage.from.rest, escape)[0] ?? '', (n) => globalArgs.get(n), escape).toLowerCase();
  if (options.namedContexts?.get(base)?.kind === 'directory') return false;
  return base !== 'scratch' && !stages.some((s) => s.index < stage.index && s.name === base);
}

/** The earlier stages a stage uses: its FROM, COPY/ADD --from, RUN --mount from=. */
function stageDependencies(stage: Stage, stages: Stage[], escape: string, globalArgs: Map<string, string | undefined>): number[] {
  const deps = new Set<number>();
  const use = (ref: string | undefined) => {
    if (!ref) return;
    const dep = lookupStage(stages, expandWord(ref, (n) => globalArgs.get(n), escape));
    if (dep && dep.index < stage.index) deps.add(dep.index);
  };
  use(splitWords(stage.from.rest, escape)[0]);
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'COPY' || instruction.keyword === 'ADD') use(instruction.flags.from);
    if (instruction.keyword === 'RUN') for (const spec of instruction.flagValues.mount ?? []) use(/(?:^|,)from=([^,]+)/.exec(spec)?.[1]);
  }
  return [...deps];
}

/** The target and every stage it needs, transitively. */
function neededStages(stages: Stage[], target: number, dependencies: (stage: Stage) => number[]): Set<number> {
  const needed = new Set<number>();
  const visit = (index: number) => {
    if (needed.has(index)) return;
    needed.add(index);
    for (const dep of dependencies(stages[index]!)) visit(dep);
  };
  visit(target);
  return needed;
}
