// COPY and ADD as build steps: sources resolved in the context (or another stage, image or named
// context), the destination looked up in the image, the cache consulted, and the layer written
// (copy-layer.ts makes the tar).
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { copyLayerTar, planChecksum, resolveSources, type CopyPlan } from './copy-layer.js';
import { DockerfileError, type Instruction } from './dockerfile.js';
import { commitLayer, kindInLayers, withStateFs, withStateView, type BuildState } from './image-steps.js';
import { NOP, shortId, type StageRun } from './stage-run.js';

export async function copyStep(stage: StageRun, instruction: Instruction, state: BuildState): Promise<BuildState> {
  const k = instruction.keyword;
  const words = stage.words(instruction, state);
  if (instruction.heredocs.length) throw new DockerfileError(instruction.line, `${k} with a heredoc source is not supported by this builder`);
  if (words.length < 2) throw new DockerfileError(instruction.line, `${k} requires at least two arguments, but only one was provided. Destination could not be determined.`);
  const sourcesArgs = words.slice(0, -1);
  const destArg = words[words.length - 1]!;
  if (k === 'ADD' && sourcesArgs.some((s) => /^https?:\/\//.test(s))) throw new DockerfileError(instruction.line, 'ADD from a URL needs network access to the internet, which this builder does not use; download the file into the build context instead');
  const workdir = state.config.config?.WorkingDir || '/';
  const destination = path.posix.resolve(workdir, destArg);
  const from = instruction.flags.from ? stage.expand(instruction.flags.from, state) : undefined;
  const chmod = instruction.flags.chmod ? parseInt(instruction.flags.chmod, 8) : undefined;
  if (instruction.flags.chmod && (chmod === undefined || Number.isNaN(chmod) || !/^[0-7]{3,4}$/.test(instruction.flags.chmod))) throw new DockerfileError(instruction.line, `invalid chmod parameter: ${instruction.flags.chmod}`);

  const source = from ? await stage.mountSource(from, instruction.line) : undefined;
  const sourceState = source?.kind === 'state' ? source.state : undefined;
  const ignored = source?.kind === 'directory' ? source.ignored : source ? () => false : stage.options.ignored;
  const knownDigests = source?.kind === 'directory' ? source.digests : source ? undefined : stage.options.contextDigests;
  // The target's filesystem is mounted once per step: destination checks, --chown names, and
  // which parent directories the new layer must create.
  // The target's layers are looked at without mounting them when that is enough (a mount and an
  // unmount are two processes per step); user names in --chown, and paths the layers alone cannot
  // settle (symlinks, opaque directories), need it.
  const run = (root: string) => withStateView(stage.images, state, async ({ lowerDirs, root: targetRoot }) => {
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
    const owner = instruction.flags.chown ? await stage.owner(instruction.flags.chown, state, targetRoot, instruction) : undefined;
    const plan: CopyPlan = { sources, destination, intoDirectory: destIsDir || sources.length > 1, ...(owner ? { owner } : {}), ...(chmod !== undefined ? { mode: chmod } : {}), extractArchives: k === 'ADD' };
    const checksum = await planChecksum(plan, ignored, knownDigests);
    const kind = sources.length === 1 && sources[0]!.stat.isFile() ? 'file' : 'dir';
    const createdBy = `${NOP}${k} ${kind}:${checksum} in ${destination} `;
    const key = `copy:${createdBy}:${from ?? ''}`;
    const cached = await stage.cached(state, { createdBy, makesLayer: true, config: state.config.config ?? {}, cacheKey: key });
    if (cached) return stage.reuse(cached);
    const dirExists = async (name: string) => {
      for (const dir of lowerDirs) {
        const stat = await fs.lstat(path.join(dir, name)).catch(() => undefined);
        if (stat) return stat.isDirectory();
      }
      return false;
    };
    const next = await commitLayer(stage.images, state, copyLayerTar(plan, ignored, dirExists), createdBy, state.config.config ?? {}, key);
    stage.say(` ---> ${shortId(next.imageId)}`);
    return next;
  });
  if (sourceState) return withStateFs(stage.images, sourceState, (root) => run(root));
  return run(source?.kind === 'directory' ? source.dir : stage.options.contextDir);
}
