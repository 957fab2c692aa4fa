// COPY and ADD as build steps: sources resolved in the context (or another stage, image or named
// context) and heredocs, the destination looked up in the image, the cache consulted, and the layer
// written (copy-layer.ts makes the tar). BuildKit's flags: --link (a layer that does not depend on
// the layers below it, reused on a changed base), symbolic --chmod, --exclude, --parents, heredoc
// sources, and ADD's remote sources (--checksum, git, --keep-git-dir), which fail offline.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { ImageService } from '../images/image-service.js';
import type { ContainerConfig } from '../vocabulary/media-types.js';
import type { BuildOptions } from './build-types.js';
import { ChmodError, checkChecksum, excludeMatcher, isGitSource, isOctalMode, isUrlSource, parseChmod, type ModeChange } from './copy-flags.js';
import { copyLayerTar, planChecksum, resolveSources, type CopyPlan, type CopySource, type KnownDigests } from './copy-layer.js';
import { DockerfileError, splitWords, type Heredoc, type Instruction } from './dockerfile.js';
import { commitExistingLayer, commitLayer, kindInLayers, layerOfLinkStep, withStateFs, withStateView, type BuildState } from './image-steps.js';
import type { StepSource } from './step-context.js';
import { NOP, shortId } from './step-text.js';

/**
 * What COPY and ADD need of the stage they run in. StageRun (stage-run.ts) is one; naming it here
 * rather than importing it keeps this module from importing the one that imports it.
 */
export interface CopyStage {
  readonly options: BuildOptions;
  readonly images: ImageService;
  readonly escape: string;
  /** Whether the stage's steps may come from the cache (--no-cache, --no-cache-filter). */
  readonly cacheAllowed: boolean;
  words(instruction: Instruction, state: BuildState): string[];
  expand(text: string, state: BuildState): string;
  checkDeclared(instruction: Instruction, text: string): void;
  /** What --from names: a stage's or image's state, or a named context's directory. */
  mountSource(from: string, line: number): Promise<StepSource>;
  owner(spec: string, state: BuildState, root: () => Promise<string>, instruction: Instruction): Promise<{ uid: number; gid: number }>;
  cached(state: BuildState, step: { createdBy: string; makesLayer: boolean; config: ContainerConfig; cacheKey: string }): Promise<BuildState | undefined>;
  /** Reports a step whose result came from the cache (CACHED). */
  reuse(cached: BuildState): BuildState;
  say(line: string): void;
}

const REQUIRES_BUILDKIT = 'Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled';
const HEREDOC_WORD = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/;

/** A boolean flag (`--link`, `--link=true`, `--link=false`), as BuildKit's flag parser takes it. */
function boolFlag(instruction: Instruction, name: string): boolean {
  const value = instruction.flags[name];
  if (value === undefined) return false;
  if (value === 'true' || value === '') return true;
  if (value === 'false') return false;
  throw new DockerfileError(instruction.line, `${instruction.keyword} --${name}: expecting boolean value for flag ${name}, not: ${value}`);
}

/**
 * A heredoc's content with the stage's variables expanded, as BuildKit expands COPY's heredocs: a
 * word whose quotes are kept as written, while `$VAR`, `${VAR...}` and the escape work as in a word.
 */
function expandHeredoc(stage: CopyStage, instruction: Instruction, heredoc: Heredoc, state: BuildState): string {
  if (heredoc.quoted) return heredoc.content;
  stage.checkDeclared(instruction, heredoc.content);
  return stage.expand(heredoc.content.replace(/["']/g, (quote) => stage.escape + quote), state);
}

export async function copyStep(stage: CopyStage, instruction: Instruction, state: BuildState): Promise<BuildState> {
  const k = instruction.keyword;
  const line = instruction.line;
  const flags = instruction.flags;
  const buildkit = Boolean(stage.options.buildkit);
  const fail = (message: string): never => {
    throw new DockerfileError(line, message);
  };
  const words = stage.words(instruction, state);
  if (words.length < 2) fail(`${k} requires at least two arguments, but only one was provided. Destination could not be determined.`);
  // Which words name heredocs (`<<EOF`, `<<-"EOF"`): told apart before expansion, as written.
  const raw = instruction.json ? [] : splitWords(instruction.rest, stage.escape);
  const heredocName = (index: number) => (raw.length === words.length ? HEREDOC_WORD.exec(raw[index] ?? '')?.[2] : undefined);
  if (heredocName(words.length - 1)) fail(`${k} cannot accept a heredoc as a destination`);
  const destArg = words[words.length - 1]!;
  const pathArgs: string[] = [];
  const heredocs: Heredoc[] = [];
  words.slice(0, -1).forEach((word, i) => {
    const name = heredocName(i);
    const heredoc = name !== undefined ? instruction.heredocs.find((h) => h.name === name) : undefined;
    if (heredoc) heredocs.push(heredoc);
    else pathArgs.push(word);
  });

  // What the classic builder (dockerd's, without BuildKit) does not have. --link only changes how
  // the layer is cached: dockerd's classic builder accepts and ignores it, and so does this one.
  const link = buildkit && boolFlag(instruction, 'link');
  const parents = boolFlag(instruction, 'parents');
  const excludes = instruction.flagValues.exclude ?? [];
  const chmodText = flags.chmod !== undefined ? stage.expand(flags.chmod, state) : undefined;
  if (!buildkit) {
    if (parents) fail(`the --parents option requires BuildKit. ${REQUIRES_BUILDKIT}`);
    if (excludes.length) fail(`the --exclude option requires BuildKit. ${REQUIRES_BUILDKIT}`);
    if (chmodText !== undefined && !isOctalMode(chmodText)) fail(`${k} --chmod=${chmodText}: a symbolic mode requires BuildKit (the classic builder takes octal modes only). ${REQUIRES_BUILDKIT}`);
  }
  if (excludes.some((p) => p.trim() === '')) fail(`${k} --exclude: a pattern must not be empty`);

  // ADD's remote sources: BuildKit fetches them; berthd's builder works offline and says so.
  const remote = pathArgs.filter((s) => isUrlSource(s) || isGitSource(s));
  if (k === 'COPY' && remote.length) fail(isGitSource(remote[0]!) ? `source can't be a git ref for COPY: ${remote[0]}` : `source can't be a URL for COPY: ${remote[0]}`);
  if (flags.checksum !== undefined) {
    if (pathArgs.length + heredocs.length !== 1) fail(`ADD --checksum=${flags.checksum}: checksum can't be specified for multiple sources`);
    if (!remote.length) fail(`ADD --checksum=${flags.checksum}: checksum requires HTTP(S) or Git sources, and ${pathArgs[0] ?? '<<' + heredocs[0]?.name} is a local source`);
    const bad = isUrlSource(remote[0]!) ? checkChecksum(flags.checksum) : /^[a-f0-9]{7,64}$/.test(flags.checksum) ? undefined : `invalid commit checksum: '${flags.checksum}' (want the commit's hex digits)`;
    if (bad) fail(`ADD --checksum: ${bad}`);
  }
  const keepGitDir = boolFlag(instruction, 'keep-git-dir');
  for (const source of remote) {
    if (isGitSource(source)) fail(`ADD ${source}: berthd's builder does not clone git repositories from the network${keepGitDir ? ' (--keep-git-dir included)' : ''}; clone it into the build context and COPY it instead`);
    fail(`ADD ${source}: berthd's builder does not download sources from the network${flags.checksum ? ' (--checksum included)' : ''}; download it into the build context and COPY it instead`);
  }

  let chmod: ModeChange | undefined;
  if (chmodText !== undefined) {
    try {
      chmod = parseChmod(chmodText);
    } catch (err) {
      if (err instanceof ChmodError) fail(`${k} --chmod: ${err.message}`);
      throw err;
    }
  }
  if (flags.chown !== undefined && stage.expand(flags.chown, state).trim() === '') fail(`${k} --chown: the user must not be empty (--chown=user[:group])`);
  const exclude = excludes.length ? { patterns: excludes, matches: (await excludeMatcher(excludes))! } : undefined;

  const workdir = state.config.config?.WorkingDir || '/';
  const destination = path.posix.resolve(workdir, destArg);
  const from = flags.from ? stage.expand(flags.from, state) : undefined;
  const source = from ? await stage.mountSource(from, line) : undefined;
  const sourceState = source?.kind === 'state' ? source.state : undefined;
  const ignored = source?.kind === 'directory' ? source.ignored : source ? () => false : stage.options.ignored;
  const knownDigests = source?.kind === 'directory' ? source.digests : source ? undefined : stage.options.contextDigests;

  // Heredocs become files of their own for the step (mode 0644, as BuildKit writes them).
  const inlineDir = heredocs.length ? await fs.mkdtemp(path.join(os.tmpdir(), 'berth-heredoc-')) : undefined;
  const inline = async (): Promise<CopySource[]> => {
    const out: CopySource[] = [];
    for (const [i, heredoc] of heredocs.entries()) {
      const file = path.join(inlineDir!, String(i), heredoc.name);
      await fs.mkdir(path.dirname(file));
      await fs.writeFile(file, expandHeredoc(stage, instruction, heredoc, state), { mode: 0o644 });
      await fs.chmod(file, 0o644);
      out.push({ absolute: file, relative: heredoc.name, stat: await fs.lstat(file), inline: true });
    }
    return out;
  };

  // The target's layers are looked at without mounting them when that is enough (a mount and an
  // unmount are two processes per step); user names in --chown, and paths the layers alone cannot
  // settle (symlinks, opaque directories), need it.
  const run = (root: string) => withStateView(stage.images, state, async ({ lowerDirs, root: targetRoot }) => {
    const sources = [...(pathArgs.length ? await resolveSources(root, pathArgs, line, k, ignored, { parents }) : []), ...(await inline())];
    const isDirectory = async () => {
      const kind = await kindInLayers(lowerDirs, destination);
      if (kind !== 'unknown') return kind === 'dir';
      return (await fs.stat(path.join(await targetRoot(), destination)).catch(() => undefined))?.isDirectory() ?? false;
    };
    const destIsDir = parents || destArg.endsWith('/') || destArg === '.' || destArg.endsWith('/.') || (await isDirectory());
    if (sources.length > 1 && !destIsDir) {
      fail(`When using ${k} with more than one source file, the destination must be a directory and end with a /`);
    }
    const owner = flags.chown ? await stage.owner(flags.chown, state, targetRoot, instruction) : undefined;
    const plan: CopyPlan = { sources, destination, intoDirectory: destIsDir || sources.length > 1, ...(owner ? { owner } : {}), ...(chmod ? { chmod } : {}), ...(exclude ? { exclude } : {}), extractArchives: k === 'ADD' };
    const checksum = await planChecksum(plan, ignored, knownDigests);
    const kind = sources.length === 1 && sources[0]!.stat.isFile() ? 'file' : 'dir';
    const createdBy = `${NOP}${k} ${kind}:${checksum} in ${destination} `;
    // A linked step's key leaves the parent out: the same key on another base finds its layer.
    const key = `${link ? 'copy-link' : 'copy'}:${createdBy}:${from ?? ''}`;
    const step = { createdBy, makesLayer: true, config: state.config.config ?? {}, cacheKey: key };
    const cached = await stage.cached(state, step);
    if (cached) return stage.reuse(cached);
    if (link && stage.cacheAllowed) {
      const layer = await layerOfLinkStep(stage.images, key);
      if (layer) return stage.reuse(await commitExistingLayer(stage.images, state, layer, createdBy, step.config, key));
    }
    // --link: the layer is made as if on an empty filesystem, so it creates every parent directory.
    const existingDir = async (name: string) => {
      if (link) return undefined;
      for (const dir of lowerDirs) {
        const stat = await fs.lstat(path.join(dir, name)).catch(() => undefined);
        if (stat) return stat.isDirectory() ? stat : undefined;
      }
      return undefined;
    };
    const next = await commitLayer(stage.images, state, copyLayerTar(plan, ignored, existingDir), createdBy, step.config, key);
    stage.say(` ---> ${shortId(next.imageId)}`);
    return next;
  });
  try {
    if (sourceState) return await withStateFs(stage.images, sourceState, (root) => run(root));
    return await run(source?.kind === 'directory' ? source.dir : stage.options.contextDir);
  } finally {
    if (inlineDir) await fs.rm(inlineDir, { recursive: true, force: true });
  }
}
