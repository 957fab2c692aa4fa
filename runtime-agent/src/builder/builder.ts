// `docker build` (the classic builder behind POST /build): stages, steps, the layer cache, and
// the output the CLI renders (`Step N/M : ...`, ` ---> id`, `Successfully built`).
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { ContainerService } from '../containers/container-service.js';
import { changesTar } from '../containers/changes.js';
import { ContainerRootfs } from '../containers/rootfs.js';
import { readJsonLog } from '../containers/json-log.js';
import type { ImageService } from '../images/image-service.js';
import type { ImageRecord } from '../vocabulary/image-record.js';
import type { ContainerConfig } from '../vocabulary/media-types.js';
import type { Puller } from '../images/pull.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../images/platform.js';
import { parseNormalizedNamed, type Reference } from '../vocabulary/reference.js';
import type { AuthConfig } from '../registry/auth-config.js';
import type { ProgressReporter } from '../vocabulary/progress.js';
import { MAX_DOCKERFILE } from './build-context.js';
import { copyLayerTar, planChecksum, resolveSources, type CopyPlan, type KnownDigests } from './copy-layer.js';
import { DockerfileError, parseDockerfile, parseKeyValues, splitWords, type Instruction } from './dockerfile.js';
import { cachedStep, commitConfig, commitLayer, kindInLayers, scratchState, stateOf, stepFromCacheSource, withStateFs, withStateView, type BuildState } from './image-steps.js';
import { expandWord, referencedVariables, SubstitutionError, type Lookup } from './variables.js';

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
   * own Dockerfile frontend (berthd's stands in for it), and BuildKit's platform ARGs are predefined.
   */
  buildkit?: boolean;
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
   * output goes here instead of to stream().
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

export interface StepObserver {
  /** A step begins; the previous one, if any, has ended well. */
  started(step: StepInfo): void;
  /** The current step's result came from the cache. */
  cached(): void;
  /** Output of the current step's process. */
  output(text: string, stream: 'stdout' | 'stderr'): void;
}

/** A RUN command as an error message quotes it: a 200,000-line RUN makes a 200 KB message otherwise. */
function quoteCommand(command: string[]): string {
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

/** The client cancelled the build (Ctrl-C in buildx). */
export class BuildCancelledError extends Error {
  constructor() {
    super('the build was cancelled');
  }
}

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

/** ARGs every build knows without a declaration, and keeps out of the image's history. */
const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NOP = '/bin/sh -c #(nop) ';

interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

export class Builder {
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
    const needed = this.neededStages(stages, targetIndex, escape, globalArgs);
    const totalSteps = stages.filter((s) => needed.has(s.index)).reduce((n, s) => n + 1 + s.instructions.length, 0);
    const consumed = new Set<string>();
    const results = new Map<number, BuildState>();
    let step = 0;
    const say = (line: string) => {
      if (!options.quiet) out.stream(line.endsWith('\n') ? line : `${line}\n`);
    };

    for (const stage of stages) {
      if (!needed.has(stage.index)) continue;
      const run = new StageRun(this, stage, options, out, say, escape, globalArgs, results, stages, consumed);
      // BuildKit's numbering: a FROM of an image, then each step that changes files.
      const stageName = stages.length > 1 ? (stage.name ?? `stage-${stage.index}`) : undefined;
      const fromImage = this.fromImage(stage, stages, escape, globalArgs);
      const count = (fromImage ? 1 : 0) + stage.instructions.filter((i) => FILE_STEPS.has(i.keyword)).length;
      let number = 0;
      step += 1;
      say(`Step ${step}/${totalSteps} : ${stage.from.original}`);
      out.steps?.started({ stage: stageName, number: fromImage ? ++number : 0, count, keyword: 'FROM', text: stage.from.original });
      let state = await run.from();
      say(` ---> ${shortId(state.imageId)}`);
      for (const instruction of stage.instructions) {
        step += 1;
        say(`Step ${step}/${totalSteps} : ${instruction.original}`);
        if (options.signal?.aborted) throw new BuildCancelledError();
        out.steps?.started({ stage: stageName, number: FILE_STEPS.has(instruction.keyword) ? ++number : 0, count, keyword: instruction.keyword, text: instruction.original });
        state = await run.step(instruction, state);
      }
      results.set(stage.index, state);
      if (state.imageId) options.onStageBuilt?.(state.imageId);
    }

    let final = results.get(targetIndex)!;
    if (Object.keys(options.labels).length) {
      const config = { ...final.config.config, Labels: { ...(final.config.config?.Labels ?? {}), ...options.labels } };
      final = await commitConfig(this.images, final, `${NOP} LABEL ${Object.entries(options.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`, config, `label:${JSON.stringify(options.labels)}:${Date.now()}`);
    }
    if (!final.imageId) {
      // FROM scratch and nothing else: still an image, as dockerd makes one.
      final = await commitConfig(this.images, final, `${NOP} FROM scratch`, final.config.config ?? {}, 'scratch');
    }
    const unused = Object.keys(options.buildArgs).filter((a) => !consumed.has(a) && !PROXY_ARGS.includes(a));
    if (unused.length) say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
    return final.imageId!;
  }

  /** Whether a stage starts from an image (not scratch, not an earlier stage). */
  private fromImage(stage: Stage, stages: Stage[], escape: string, globalArgs: Map<string, string | undefined>): boolean {
    const base = expandWord(splitWords(stage.from.rest, escape)[0] ?? '', (n) => globalArgs.get(n), escape).toLowerCase();
    return base !== 'scratch' && !stages.some((s) => s.index < stage.index && s.name === base);
  }

  /** The target and every stage it needs (FROM <stage>, COPY --from=<stage>), transitively. */
  private neededStages(stages: Stage[], target: number, escape: string, globalArgs: Map<string, string | undefined>): Set<number> {
    const needed = new Set<number>();
    const lookupStage = (ref: string): Stage | undefined => (/^\d+$/.test(ref) ? stages[Number(ref)] : stages.find((s) => s.name === ref.toLowerCase()));
    const visit = (index: number) => {
      if (needed.has(index)) return;
      needed.add(index);
      const stage = stages[index]!;
      const base = expandWord(splitWords(stage.from.rest, escape)[0] ?? '', (n) => globalArgs.get(n), escape);
      const fromStage = lookupStage(base);
      if (fromStage && fromStage.index < index) visit(fromStage.index);
      for (const instruction of stage.instructions) {
        const from = instruction.flags.from;
        if ((instruction.keyword === 'COPY' || instruction.keyword === 'ADD') && from) {
          const dep = lookupStage(from);
          if (dep && dep.index < index) visit(dep.index);
        }
      }
    };
    visit(target);
    return needed;
  }

  // ---- helpers the stage runs use ----

  /** `auth` is asked for only when the image must be pulled (asking can run a credential helper). */
  async baseImage(name: string, pull: boolean, out: BuildOutput, auth?: () => AuthConfig | undefined | Promise<AuthConfig | undefined>): Promise<BuildState> {
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
      const id = await this.puller.pull(ref, { progress: out.progress, ...(credentials ? { auth: credentials } : {}) });
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

/** One stage being built: its variables and the execution of each instruction. */
class StageRun {
  private readonly args = new Map<string, string | undefined>();

  constructor(
    private readonly builder: Builder,
    private readonly stage: Stage,
    private readonly options: BuildOptions,
    private readonly out: BuildOutput,
    private readonly say: (line: string) => void,
    private readonly escape: string,
    private readonly globalArgs: Map<string, string | undefined>,
    private readonly results: Map<number, BuildState>,
    private readonly stages: Stage[],
    private readonly consumed: Set<string>,
  ) {}

  private get images(): ImageService {
    return this.builder.imageService;
  }

  /** A previous result for this step: the local build cache first, then the --cache-from images. */
  private async cached(state: BuildState, step: { createdBy: string; makesLayer: boolean; config: ContainerConfig; cacheKey: string }): Promise<BuildState | undefined> {
    if (this.options.noCache) return undefined;
    const local = cachedStep(this.images, state.imageId, step.cacheKey);
    if (local) return stateOf(this.images, local);
    const sources = (this.options.cacheFrom ?? []).map((name) => this.images.images.find(name)).filter((i): i is ImageRecord => Boolean(i));
    return sources.length ? stepFromCacheSource(this.images, sources, state, step) : undefined;
  }

  private env(state: BuildState): Map<string, string> {
    const map = new Map<string, string>();
    for (const e of state.config.config?.Env ?? []) {
      const eq = e.indexOf('=');
      map.set(eq === -1 ? e : e.slice(0, eq), eq === -1 ? '' : e.slice(eq + 1));
    }
    return map;
  }

  /** ENV wins over ARG of the same name; proxy args are known without a declaration. */
  private lookup(state: BuildState): Lookup {
    const env = this.env(state);
    return (name) => env.get(name) ?? this.argValue(name);
  }

  private argValue(name: string): string | undefined {
    if (this.args.has(name)) return this.args.get(name);
    if (PROXY_ARGS.includes(name) && name in this.options.buildArgs) return this.options.buildArgs[name] ?? undefined;
    return undefined;
  }

  /** Refuses a variable this stage declares as ARG only further down (a common ordering slip). */
  private checkDeclared(instruction: Instruction, text: string): void {
    for (const name of referencedVariables(text)) {
      if (this.args.has(name)) continue;
      const later = this.stage.instructions.find((i) => i.keyword === 'ARG' && i.line > instruction.line && parseKeyValues(i.rest, 'ARG', i.line, this.escape).some(([n]) => n === name));
      if (later) throw new DockerfileError(instruction.line, `${instruction.keyword} uses $${name}, but ARG ${name} is declared only later, on line ${later.line}`);
    }
  }

  private expand(text: string, state: BuildState): string {
    try {
      return expandWord(text, this.lookup(state), this.escape);
    } catch (err) {
      if (err instanceof SubstitutionError) throw new DockerfileError(this.stage.from.line, err.message);
      throw err;
    }
  }

  private words(instruction: Instruction, state: BuildState): string[] {
    this.checkDeclared(instruction, instruction.rest);
    if (instruction.json) return instruction.json.map((w) => this.expand(quoteForExpand(w), state));
    return splitWords(instruction.rest, this.escape).map((w) => this.expand(w, state));
  }

  async from(): Promise<BuildState> {
    const lookup: Lookup = (n) => this.globalArgs.get(n);
    const raw = splitWords(this.stage.from.rest, this.escape)[0] ?? '';
    const name = expandWord(raw, lookup, this.escape);
    const platformFlag = this.stage.from.flags.platform;
    if (platformFlag !== undefined) {
      // Only the engine's own platform can run here: another is refused, never ignored.
      const wanted = expandWord(platformFlag, lookup, this.escape);
      const host = formatPlatform(hostPlatform());
      let asked: string;
      try {
        asked = formatPlatform(parsePlatform(wanted));
      } catch {
        throw new DockerfileError(this.stage.from.line, `invalid platform ${JSON.stringify(wanted)} in FROM --platform`);
      }
      if (asked !== host) throw new DockerfileError(this.stage.from.line, `FROM --platform=${wanted}: berthd builds for ${host} only (nothing here runs ${asked} binaries)`);
    }
    for (const n of referencedVariables(raw)) if (this.globalArgs.has(n)) this.consumed.add(n);
    if (!name) throw new DockerfileError(this.stage.from.line, `base name (${raw}) should not be blank`);
    const previous = /^\d+$/.test(name) ? undefined : this.stages.find((s) => s.name === name.toLowerCase() && s.index < this.stage.index);
    let state: BuildState;
    if (name.toLowerCase() === 'scratch') state = scratchState();
    else if (previous) state = this.results.get(previous.index)!;
    else state = await this.builder.baseImage(name, this.options.pull, this.out, () => this.options.registryAuth?.(parseNormalizedNamed(name).domain));
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length) {
      this.say(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}`);
      for (const trigger of triggers) {
        const [instruction] = parseDockerfile(trigger).instructions;
        if (instruction) state = await this.step({ ...instruction, line: this.stage.from.line }, state);
      }
      state = await commitConfig(this.images, state, `${NOP} ONBUILD triggers ran`, { ...state.config.config, OnBuild: null }, `onbuild-clear:${state.imageId}`);
    }
    return state;
  }

  async step(instruction: Instruction, state: BuildState): Promise<BuildState> {
    const config: ContainerConfig = { ...(state.config.config ?? {}) };
    const k = instruction.keyword;
    switch (k) {
      case 'RUN':
        return this.run(instruction, state);
      case 'COPY':
      case 'ADD':
        return this.copy(instruction, state);
      case 'ARG': {
        for (const [name, value] of parseKeyValues(instruction.rest, 'ARG', instruction.line, this.escape, true)) {
          const fromBuild = name in this.options.buildArgs ? (this.options.buildArgs[name] ?? undefined) : undefined;
          const fromGlobal = this.globalArgs.get(name);
          this.args.set(name, fromBuild ?? (value ? this.expand(value, state) : fromGlobal));
          if (name in this.options.buildArgs) this.consumed.add(name);
        }
        // ARG changes no config; dockerd still reports the step.
        this.say(` ---> ${shortId(state.imageId)}`);
        return state;
      }
      case 'ENV': {
        this.checkDeclared(instruction, instruction.rest);
        const env = this.env(state);
        const pairs = parseKeyValues(instruction.rest, 'ENV', instruction.line, this.escape, true).map(([n, v]) => [n, this.expand(v, state)] as [string, string]);
        for (const [n, v] of pairs) env.set(n, v);
        config.Env = [...env.entries()].map(([n, v]) => `${n}=${v}`);
        return this.metadata(state, config, `ENV ${pairs.map(([n, v]) => `${n}=${v}`).join(' ')}`);
      }
      case 'LABEL': {
        this.checkDeclared(instruction, instruction.rest);
        const pairs = parseKeyValues(instruction.rest, 'LABEL', instruction.line, this.escape, true).map(([n, v]) => [this.expand(n, state), this.expand(v, state)] as [string, string]);
        config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(pairs) };
        return this.metadata(state, config, `LABEL ${pairs.map(([n, v]) => `${n}=${v}`).join(' ')}`);
      }
      case 'MAINTAINER':
        return this.metadata(state, config, `MAINTAINER ${instruction.rest}`, { author: instruction.rest });
      case 'WORKDIR': {
        this.checkDeclared(instruction, instruction.rest);
        const dir = this.expand(instruction.rest.trim(), state);
        config.WorkingDir = path.posix.resolve(config.WorkingDir || '/', dir);
        return this.metadata(state, config, `WORKDIR ${config.WorkingDir}`);
      }
      case 'USER': {
        this.checkDeclared(instruction, instruction.rest);
        config.User = this.expand(instruction.rest.trim(), state);
        return this.metadata(state, config, `USER ${config.User}`);
      }
      case 'EXPOSE': {
        const ports = this.words(instruction, state).flatMap((p) => expandPortRange(p, instruction.line));
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) };
        return this.metadata(state, config, `EXPOSE ${ports.join(' ')}`);
      }
      case 'VOLUME': {
        const volumes = this.words(instruction, state);
        if (volumes.length === 0 || volumes.some((v) => !v)) throw new DockerfileError(instruction.line, 'VOLUME specified can not be an empty string');
        config.Volumes = { ...(config.Volumes ?? {}), ...Object.fromEntries(volumes.map((v) => [v, {}])) };
        return this.metadata(state, config, `VOLUME [${volumes.join(' ')}]`);
      }
      case 'STOPSIGNAL':
        config.StopSignal = this.expand(instruction.rest.trim(), state);
        return this.metadata(state, config, `STOPSIGNAL ${config.StopSignal}`);
      case 'CMD':
      case 'ENTRYPOINT': {
        const command = instruction.json ?? [...(config.Shell ?? DEFAULT_SHELL), instruction.rest];
        if (k === 'CMD') config.Cmd = command;
        else {
          config.Entrypoint = command;
          // An ENTRYPOINT drops a CMD inherited from the base image (not one set in this stage).
          if (!this.stage.instructions.some((i) => i.keyword === 'CMD' && i.line < instruction.line)) config.Cmd = null;
        }
        return this.metadata(state, config, `${k} ${JSON.stringify(command).replace(/","/g, '" "')}`);
      }
      case 'SHELL': {
        if (!instruction.json) throw new DockerfileError(instruction.line, 'SHELL requires the arguments to be in JSON form');
        config.Shell = instruction.json;
        return this.metadata(state, config, `SHELL ${JSON.stringify(instruction.json)}`);
      }
      case 'HEALTHCHECK':
        config.Healthcheck = healthcheck(instruction);
        return this.metadata(state, config, `HEALTHCHECK ${JSON.stringify(config.Healthcheck)}`);
      case 'ONBUILD': {
        const inner = instruction.rest.trim();
        const keyword = inner.split(/\s+/)[0]?.toUpperCase() ?? '';
        if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(keyword)) throw new DockerfileError(instruction.line, `${keyword} isn't allowed as an ONBUILD trigger`);
        config.OnBuild = [...(config.OnBuild ?? []), inner];
        return this.metadata(state, config, `ONBUILD ${inner}`);
      }
      default:
        throw new DockerfileError(instruction.line, `unknown instruction: ${k}`);
    }
  }

  private async metadata(state: BuildState, config: ContainerConfig, description: string, extra: { author?: string } = {}): Promise<BuildState> {
    const createdBy = `${NOP} ${description}`;
    const key = `meta:${createdBy}`;
    const cached = await this.cached(state, { createdBy, makesLayer: false, config, cacheKey: key });
    if (cached) {
      this.say(' ---> Using cache');
      this.out.steps?.cached();
      this.say(` ---> ${shortId(cached.imageId)}`);
      return cached;
    }
    const next = await commitConfig(this.images, state, createdBy, config, key, extra);
    this.say(` ---> ${shortId(next.imageId)}`);
    return next;
  }

  /** Build args in scope, as dockerd prefixes RUN's history with them (`|2 A=1 B=2 /bin/sh -c ...`). */
  private runArgs(): [string, string][] {
    const pairs: [string, string][] = [];
    for (const [name, value] of this.args) if (value !== undefined && !PROXY_ARGS.includes(name)) pairs.push([name, value]);
    return pairs;
  }

  private async run(instruction: Instruction, state: BuildState): Promise<BuildState> {
    const config: ContainerConfig = state.config.config ?? {};
    const shell = config.Shell ?? DEFAULT_SHELL;
    const heredoc = instruction.heredocs[0];
    let command: string[];
    if (heredoc) command = [...shell, heredoc.content];
    else command = instruction.json ?? [...shell, instruction.rest];
    if (!instruction.json && !heredoc && !instruction.rest.trim()) throw new DockerfileError(instruction.line, 'RUN requires at least one argument');
    const args = this.runArgs();
    const argPrefix = args.length ? `|${args.length} ${args.map(([n, v]) => `${n}=${v}`).join(' ')} ` : '';
    const createdBy = `${argPrefix}${command.join(' ')}`;
    const key = `run:${JSON.stringify([createdBy, this.options.networkMode ?? '', this.options.extraHosts])}`;
    const cached = await this.cached(state, { createdBy, makesLayer: true, config, cacheKey: key });
    if (cached) {
      this.say(' ---> Using cache');
      this.out.steps?.cached();
      this.say(` ---> ${shortId(cached.imageId)}`);
      return cached;
    }
    if (!state.imageId) throw new StepFailedError(`The command '${quoteCommand(command)}' returned a non-zero code: 127`, 127, quoteCommand(command));
    const env = [...(config.Env ?? [DEFAULT_PATH])];
    for (const [name, value] of args) if (!env.some((e) => e.startsWith(`${name}=`))) env.push(`${name}=${value}`);
    for (const name of PROXY_ARGS) if (name in this.options.buildArgs && this.options.buildArgs[name] !== null) env.push(`${name}=${this.options.buildArgs[name]}`);

    const containers = this.builder.containerService;
    const { Id } = await containers.create(
      {
        Image: state.imageId,
        Cmd: command,
        Entrypoint: [],
        Env: env,
        ...(config.User ? { User: config.User } : {}),
        ...(config.WorkingDir ? { WorkingDir: config.WorkingDir } : {}),
        Labels: {},
        HostConfig: { ...(this.options.runResources ?? {}), NetworkMode: this.options.networkMode || 'default', ExtraHosts: this.options.extraHosts },
      },
      undefined,
    );
    this.say(` ---> Running in ${Id.slice(0, 12)}`);
    const kill = () => void containers.kill(Id, 'SIGKILL').catch(() => undefined);
    this.options.signal?.addEventListener('abort', kill, { once: true });
    try {
      if (this.options.signal?.aborted) throw new BuildCancelledError();
      const record = containers.store.get(Id);
      const exited = containers.wait(Id, 'next-exit');
      await containers.start(Id);
      for await (const entry of readJsonLog(containers.logPath(record), { follow: true, stopped: exited, maxFile: 1 })) {
        if (this.out.steps) this.out.steps.output(entry.text, entry.stream);
        else if (!this.options.quiet) this.out.stream(entry.text);
      }
      const code = await exited;
      if (this.options.signal?.aborted) throw new BuildCancelledError();
      if (code !== 0) throw new StepFailedError(`The command '${quoteCommand(command)}' returned a non-zero code: ${code}`, code, quoteCommand(command));
      const upper = new ContainerRootfs(containers.store.dir(Id)).upper;
      const next = await commitLayer(this.images, state, changesTar(upper), createdBy, config, key);
      this.say(`Removing intermediate container ${Id.slice(0, 12)}`);
      this.say(` ---> ${shortId(next.imageId)}`);
      return next;
    } finally {
      this.options.signal?.removeEventListener('abort', kill);
      await containers.remove(Id, { force: true }).catch(() => undefined);
    }
  }

  private async copy(instruction: Instruction, state: BuildState): Promise<BuildState> {
    const k = instruction.keyword;
    const words = this.words(instruction, state);
    if (instruction.heredocs.length) throw new DockerfileError(instruction.line, `${k} with a heredoc source is not supported by this builder`);
    if (words.length < 2) throw new DockerfileError(instruction.line, `${k} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const sourcesArgs = words.slice(0, -1);
    const destArg = words[words.length - 1]!;
    if (k === 'ADD' && sourcesArgs.some((s) => /^https?:\/\//.test(s))) throw new DockerfileError(instruction.line, 'ADD from a URL needs network access to the internet, which this builder does not use; download the file into the build context instead');
    const workdir = state.config.config?.WorkingDir || '/';
    const destination = path.posix.resolve(workdir, destArg);
    const from = instruction.flags.from ? this.expand(instruction.flags.from, state) : undefined;
    const chmod = instruction.flags.chmod ? parseInt(instruction.flags.chmod, 8) : undefined;
    if (instruction.flags.chmod && (chmod === undefined || Number.isNaN(chmod) || !/^[0-7]{3,4}$/.test(instruction.flags.chmod))) throw new DockerfileError(instruction.line, `invalid chmod parameter: ${instruction.flags.chmod}`);

    const sourceState = from ? await this.sourceState(from, instruction) : undefined;
    const ignored = sourceState ? () => false : this.options.ignored;
    // The target's filesystem is mounted once per step: destination checks, --chown names, and
    // which parent directories the new layer must create.
    // The target's layers are looked at without mounting them when that is enough (a mount and an
    // unmount are two processes per step); user names in --chown, and paths the layers alone cannot
    // settle (symlinks, opaque directories), need it.
    const run = (root: string) => withStateView(this.images, state, async ({ lowerDirs, root: targetRoot }) => {
      const sources = await resolveSources(root, sourcesArgs, instruction.line, k, ignored);
      const isDirectory = async () => {
        const kind = await kindInLayers(lowerDirs, destination);
        if (kind !== 'unknown') return kind === 'dir';
        return (await fs.stat(path.join(await targetRoot(), destination)).catch(() => undefined))?.isDirectory() ?? false;
      };
      const destIsDir = destArg.endsWith('/') || destArg === '.' || destArg.endsWith('/.') || (await isDirectory());
      if (sources.length > 1 && !destIsDir) {
        throw new DockerfileError(instruction.line, `When using ${k} with more than one source file, the destination must be a directory and end with a /`);
      }
      const owner = instruction.flags.chown ? await this.owner(instruction.flags.chown, state, targetRoot, instruction) : undefined;
      const plan: CopyPlan = { sources, destination, intoDirectory: destIsDir || sources.length > 1, ...(owner ? { owner } : {}), ...(chmod !== undefined ? { mode: chmod } : {}), extractArchives: k === 'ADD' };
      const checksum = await planChecksum(plan, ignored, sourceState ? undefined : this.options.contextDigests);
      const kind = sources.length === 1 && sources[0]!.stat.isFile() ? 'file' : 'dir';
      const createdBy = `${NOP}${k} ${kind}:${checksum} in ${destination} `;
      const key = `copy:${createdBy}:${from ?? ''}`;
      const cached = await this.cached(state, { createdBy, makesLayer: true, config: state.config.config ?? {}, cacheKey: key });
      if (cached) {
        this.say(' ---> Using cache');
      this.out.steps?.cached();
        this.say(` ---> ${shortId(cached.imageId)}`);
        return cached;
      }
      const dirExists = async (name: string) => {
        for (const dir of lowerDirs) {
          const stat = await fs.lstat(path.join(dir, name)).catch(() => undefined);
          if (stat) return stat.isDirectory();
        }
        return false;
      };
      const next = await commitLayer(this.images, state, copyLayerTar(plan, ignored, dirExists), createdBy, state.config.config ?? {}, key);
      this.say(` ---> ${shortId(next.imageId)}`);
      return next;
    });
    if (sourceState) return withStateFs(this.images, sourceState, (root) => run(root));
    return run(this.options.contextDir);
  }

  /** COPY --from: an earlier stage (by name or index) or an image. */
  private async sourceState(from: string, instruction: Instruction): Promise<BuildState> {
    const stage = /^\d+$/.test(from) ? this.stages[Number(from)] : this.stages.find((s) => s.name === from.toLowerCase());
    if (stage) {
      if (stage.index >= this.stage.index) throw new DockerfileError(instruction.line, `invalid from flag value ${from}: refers to current or later build stage`);
      const result = this.results.get(stage.index);
      if (!result) throw new DockerfileError(instruction.line, `stage ${from} was not built`);
      return result;
    }
    return this.builder.baseImage(from, false, this.out, () => this.options.registryAuth?.(parseNormalizedNamed(from).domain)).catch((err: unknown) => {
      throw new DockerfileError(instruction.line, `invalid from flag value ${from}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** --chown=user[:group], by number or by name from the target's /etc/passwd and /etc/group. */
  private async owner(spec: string, state: BuildState, root: () => Promise<string>, instruction: Instruction): Promise<{ uid: number; gid: number }> {
    const [user = '', group] = this.expand(spec, state).split(':');
    // Numbers need no lookup, and so no mounted filesystem.
    const numeric = /^\d+$/.test(user) && (group === undefined || /^\d+$/.test(group));
    const read = async (file: string) => (numeric ? [] : (await fs.readFile(path.join(await root(), file), 'utf8').catch(() => '')).split('\n').map((l) => l.split(':')));
    const passwd = await read('etc/passwd');
    const groups = await read('etc/group');
    const uidOf = (name: string) => (/^\d+$/.test(name) ? Number(name) : Number(passwd.find((p) => p[0] === name)?.[2] ?? NaN));
    const gidOf = (name: string) => (/^\d+$/.test(name) ? Number(name) : Number(groups.find((g) => g[0] === name)?.[2] ?? NaN));
    const uid = uidOf(user);
    if (Number.isNaN(uid)) throw new DockerfileError(instruction.line, `unable to convert uid/gid chown string to host mapping: can't find uid for user ${user}: no such user: ${user}`);
    const gid = group !== undefined ? gidOf(group) : /^\d+$/.test(user) ? uid : Number(passwd.find((p) => p[0] === user)?.[3] ?? uid);
    if (Number.isNaN(gid)) throw new DockerfileError(instruction.line, `unable to convert uid/gid chown string to host mapping: can't find gid for group ${group}: no such group: ${group}`);
    return { uid, gid };
  }
}

/** A value taken from parseKeyValues is already unquoted: escape it so expansion keeps it as is. */
function quoteForExpand(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/'/g, "\\'");
}

function shortId(id: string | undefined): string {
  return id ? id.replace(/^sha256:/, '').slice(0, 12) : 'scratch';
}

/** "8000-8002/tcp" -> ["8000/tcp", "8001/tcp", "8002/tcp"] */
function expandPortRange(spec: string, line: number): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw new DockerfileError(line, `invalid containerPort: ${spec}`);
  const first = Number(m[1]);
  const last = m[2] ? Number(m[2]) : first;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const ports: string[] = [];
  for (let p = first; p <= last; p++) ports.push(`${p}/${proto}`);
  return ports;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go durations ("30s", "1m30s", "500ms") in nanoseconds. */
function parseDuration(text: string, line: number): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== text) throw new DockerfileError(line, `time: invalid duration "${text}"`);
  return parts.reduce((n, p) => n + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
}

function healthcheck(instruction: Instruction): Record<string, unknown> {
  const rest = instruction.rest.trim();
  if (/^NONE$/i.test(rest)) return { Test: ['NONE'] };
  const m = /^CMD\s+([\s\S]*)$/i.exec(rest);
  if (!m) throw new DockerfileError(instruction.line, 'HEALTHCHECK requires CMD or NONE');
  const json = m[1]!.trim().startsWith('[') ? (JSON.parse(m[1]!) as string[]) : undefined;
  const test = json ? ['CMD', ...json] : ['CMD-SHELL', m[1]!.trim()];
  const f = instruction.flags;
  return {
    Test: test,
    ...(f.interval ? { Interval: parseDuration(f.interval, instruction.line) } : {}),
    ...(f.timeout ? { Timeout: parseDuration(f.timeout, instruction.line) } : {}),
    ...(f['start-period'] ? { StartPeriod: parseDuration(f['start-period'], instruction.line) } : {}),
    ...(f['start-interval'] ? { StartInterval: parseDuration(f['start-interval'], instruction.line) } : {}),
    ...(f.retries ? { Retries: Number(f.retries) } : {}),
  };
}

