// One stage of a build: its ARGs and ENV, variable expansion, and the instructions that only
// change the image's config. RUN (run-step.ts) and COPY/ADD (copy-step.ts) get their own modules.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { ContainerService } from '../containers/container-service.js';
import type { ImageService } from '../images/image-service.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../images/platform.js';
import type { ImageRecord } from '../vocabulary/image-record.js';
import type { ContainerConfig } from '../vocabulary/media-types.js';
import type { ProgressReporter } from '../vocabulary/progress.js';
import { parseNormalizedNamed } from '../vocabulary/reference.js';
import { DEFAULT_SHELL, PROXY_ARGS, type BuildOptions, type BuildOutput, type StepHandle } from './build-types.js';
import { copyStep } from './copy-step.js';
import { DockerfileError, parseDockerfile, parseKeyValues, splitWords, type Instruction } from './dockerfile.js';
import { cachedStep, commitConfig, scratchState, stateOf, stepFromCacheSource, type BuildState } from './image-steps.js';
import { runStep } from './run-step.js';
import type { BuildEngine, Stage, StepContext, StepSource } from './step-context.js';
import { NOP, shortId } from './step-text.js';
import { expandWord, referencedVariables, SubstitutionError, type Lookup } from './variables.js';


/**
 * FROM --platform: only the engine's own platform can run here (no emulator is registered for
 * another); any other is refused, never ignored. The builder checks every stage before any runs.
 */
export function checkStagePlatform(stage: Stage, globalArgs: Map<string, string | undefined>, escape: string): void {
  const flag = stage.from.flags.platform;
  if (flag === undefined) return;
  const wanted = expandWord(flag, (n) => globalArgs.get(n), escape);
  const host = formatPlatform(hostPlatform());
  let asked: string;
  try {
    asked = formatPlatform(parsePlatform(wanted));
  } catch {
    throw new DockerfileError(stage.from.line, `invalid platform ${JSON.stringify(wanted)} in FROM --platform`);
  }
  if (asked !== host) throw new DockerfileError(stage.from.line, `FROM --platform=${wanted}: berthd builds for ${host} only (no emulator runs ${asked} binaries here)`);
}


/** What the stages of one build share. */
export interface BuildRun {
  builder: BuildEngine;
  options: BuildOptions;
  out: BuildOutput;
  say(line: string): void;
  escape: string;
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
  /** Build args some stage used (the rest are reported as not consumed). */
  consumed: Set<string>;
  /** A stage's result, when the build runs that stage. */
  stageResult(index: number): Promise<BuildState> | undefined;
  /** Work that need not hold up the next step (removing a RUN's container); the build waits for it at its end. */
  afterwards(work: Promise<unknown>): void;
}

/** One stage being built: its variables and the execution of each instruction. */
export class StageRun implements StepContext {
  private readonly args = new Map<string, string | undefined>();
  /** The step running now, for its cache hit, output and end. */
  handle: StepHandle | undefined;

  constructor(
    private readonly build: BuildRun,
    readonly stage: Stage,
  ) {}

  get builder(): BuildEngine {
    return this.build.builder;
  }

  get containers(): ContainerService {
    return this.build.builder.containerService;
  }

  get options(): BuildOptions {
    return this.build.options;
  }

  get out(): BuildOutput {
    return this.build.out;
  }

  get escape(): string {
    return this.build.escape;
  }

  get images(): ImageService {
    return this.builder.imageService;
  }

  say(line: string): void {
    this.build.say(line);
  }

  afterwards(work: Promise<unknown>): void {
    this.build.afterwards(work);
  }

  /** An earlier stage's result, once it is built (stages may run side by side). */
  stageResult(stage: Stage, line: number): Promise<BuildState> {
    const result = this.build.stageResult(stage.index);
    if (!result) throw new DockerfileError(line, `stage ${stage.name ?? stage.index} was not built`);
    return result;
  }

  /** Reports a step whose result came from the cache. */
  reuse(cached: BuildState): BuildState {
    this.say(' ---> Using cache');
    this.handle?.cached();
    this.say(` ---> ${shortId(cached.imageId)}`);
    return cached;
  }

  /** Whether this stage's steps may come from the cache (not with --no-cache, nor a --no-cache-filter naming it). */
  get cacheAllowed(): boolean {
    return !this.options.noCache && !(this.stage.name && this.options.noCacheStages?.includes(this.stage.name));
  }

  /** A previous result for this step: the local build cache first, then the --cache-from images. */
  async cached(state: BuildState, step: { createdBy: string; makesLayer: boolean; config: ContainerConfig; cacheKey: string }): Promise<BuildState | undefined> {
    if (!this.cacheAllowed) return undefined;
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
  checkDeclared(instruction: Instruction, text: string): void {
    for (const name of referencedVariables(text)) {
      if (this.args.has(name)) continue;
      const later = this.stage.instructions.find((i) => i.keyword === 'ARG' && i.line > instruction.line && parseKeyValues(i.rest, 'ARG', i.line, this.escape).some(([n]) => n === name));
      if (later) throw new DockerfileError(instruction.line, `${instruction.keyword} uses $${name}, but ARG ${name} is declared only later, on line ${later.line}`);
    }
  }

  expand(text: string, state: BuildState): string {
    try {
      return expandWord(text, this.lookup(state), this.escape);
    } catch (err) {
      if (err instanceof SubstitutionError) throw new DockerfileError(this.stage.from.line, err.message);
      throw err;
    }
  }

  words(instruction: Instruction, state: BuildState): string[] {
    this.checkDeclared(instruction, instruction.rest);
    if (instruction.json) return instruction.json.map((w) => this.expand(quoteForExpand(w), state));
    return splitWords(instruction.rest, this.escape).map((w) => this.expand(w, state));
  }

  async from(): Promise<BuildState> {
    const lookup: Lookup = (n) => this.build.globalArgs.get(n);
    const raw = splitWords(this.stage.from.rest, this.escape)[0] ?? '';
    const name = expandWord(raw, lookup, this.escape);
    checkStagePlatform(this.stage, this.build.globalArgs, this.escape);
    for (const n of referencedVariables(raw)) if (this.build.globalArgs.has(n)) this.build.consumed.add(n);
    if (!name) throw new DockerfileError(this.stage.from.line, `base name (${raw}) should not be blank`);
    const previous = /^\d+$/.test(name) ? undefined : this.build.stages.find((s) => s.name === name.toLowerCase() && s.index < this.stage.index);
    // --build-context NAME=...: a named context stands in for the image or stage of that name.
    const named = this.options.namedContexts?.get(name.toLowerCase()) ?? this.options.namedContexts?.get(name);
    let state: BuildState;
    if (named?.kind === 'directory') throw new DockerfileError(this.stage.from.line, `FROM ${name}: the build context ${name} is a directory, which COPY --from=${name} can use but FROM cannot`);
    if (named?.kind === 'image') state = await this.builder.baseImage(named.ref, this.options.pull, this.progress, () => this.options.registryAuth?.(parseNormalizedNamed(named.ref).domain));
    else if (name.toLowerCase() === 'scratch') state = scratchState();
    else if (previous) state = await this.stageResult(previous, this.stage.from.line);
    else state = await this.builder.baseImage(name, this.options.pull, this.progress, () => this.options.registryAuth?.(parseNormalizedNamed(name).domain));
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
        return runStep(this, instruction, state);
      case 'COPY':
      case 'ADD':
        return copyStep(this, instruction, state);
      case 'ARG': {
        for (const [name, value] of parseKeyValues(instruction.rest, 'ARG', instruction.line, this.escape, true)) {
          const fromBuild = name in this.options.buildArgs ? (this.options.buildArgs[name] ?? undefined) : undefined;
          const fromGlobal = this.build.globalArgs.get(name);
          this.args.set(name, fromBuild ?? (value ? this.expand(value, state) : fromGlobal));
          if (name in this.options.buildArgs) this.build.consumed.add(name);
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
    if (cached) return this.reuse(cached);
    const next = await commitConfig(this.images, state, createdBy, config, key, extra);
    this.say(` ---> ${shortId(next.imageId)}`);
    return next;
  }

  /** Build args in scope, as dockerd prefixes RUN's history with them (`|2 A=1 B=2 /bin/sh -c ...`). */
  runArgs(): [string, string][] {
    const pairs: [string, string][] = [];
    for (const [name, value] of this.args) if (value !== undefined && !PROXY_ARGS.includes(name)) pairs.push([name, value]);
    return pairs;
  }

  /**
   * What COPY --from and RUN --mount from= name: a named build context (a directory or an
   * image), an earlier stage (by name or index), or an image.
   */
  async mountSource(from: string, line: number): Promise<StepSource> {
    const named = this.options.namedContexts?.get(from.toLowerCase()) ?? this.options.namedContexts?.get(from);
    if (named?.kind === 'directory') return { kind: 'directory', dir: named.dir, ignored: named.ignored, ...(named.digests ? { digests: named.digests } : {}) };
    if (named?.kind === 'image') return { kind: 'state', state: await this.image(named.ref, line, `--from=${from}`) };
    const stage = /^\d+$/.test(from) ? this.build.stages[Number(from)] : this.build.stages.find((s) => s.name === from.toLowerCase());
    if (stage) {
      if (stage.index >= this.stage.index) throw new DockerfileError(line, `invalid from flag value ${from}: refers to current or later build stage`);
      return { kind: 'state', state: await this.stageResult(stage, line) };
    }
    return { kind: 'state', state: await this.image(from, line, `invalid from flag value ${from}`) };
  }

  /** An image a step names, pulled when it is not here. */
  private image(ref: string, line: number, what: string): Promise<BuildState> {
    return this.builder.baseImage(ref, false, this.progress, () => this.options.registryAuth?.(parseNormalizedNamed(ref).domain)).catch((err: unknown) => {
      throw new DockerfileError(line, `${what}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Where a pull's progress goes: the step's own display when it has one. */
  get progress(): ProgressReporter {
    return this.handle?.progress ?? this.out.progress;
  }

  /** --chown=user[:group], by number or by name from the target's /etc/passwd and /etc/group. */
  async owner(spec: string, state: BuildState, root: () => Promise<string>, instruction: Instruction): Promise<{ uid: number; gid: number }> {
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
export function quoteForExpand(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/'/g, "\\'");
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

