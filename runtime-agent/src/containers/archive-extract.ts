// `docker cp` into a container: a tar extracted under a directory of the rootfs with every
// entry's parent resolved inside the rootfs (symlinks followed as the container sees them), files
// created without following a symlink at their own name, and links checked the same way.
import { createWriteStream, constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

import { layerPath } from '../snapshots/layer-unpack.js';
import { InvalidParameterError } from '../util/errors.js';
import { mountHolding, resolveInRoot, type MountedPath } from './rootfs-paths.js';

/** Refuses a write that would land in a read-only volume or bind mount, with dockerd's words. */
function checkWritable(hostPath: string, mounts: readonly MountedPath[]): void {
  if (mountHolding(hostPath, mounts)?.RW === false) throw new InvalidParameterError('mounted volume is marked read-only');
}

export async function extractIntoRootfs(root: string, destDir: string, source: Readable, mounts: readonly MountedPath[] = []): Promise<void> {
  const target = await resolveInRoot(root, destDir, true, mounts);
  const stat = await fs.stat(target).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InvalidParameterError(`extraction point is not a directory: ${destDir}`);
  checkWritable(target, mounts);
  const extract = tarStream.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const { header } = entry;
      const rel = layerPath(header.name);
      if (rel === '') {
        entry.resume();
        continue;
      }
      const containerPath = path.posix.join(destDir, rel);
      const parent = await resolveInRoot(root, path.posix.dirname(containerPath), true, mounts);
      checkWritable(parent, mounts);
      await fs.mkdir(parent, { recursive: true });
      const dest = path.join(parent, path.posix.basename(rel));
      const existing = await fs.lstat(dest).catch(() => undefined);
      const mode = (header.mode ?? 0o644) & 0o7777;
      switch (header.type) {
        case 'directory':
          if (existing && !existing.isDirectory()) await fs.rm(dest, { recursive: true, force: true });
          if (!existing?.isDirectory()) await fs.mkdir(dest, { mode });
          entry.resume();
          break;
        case 'file':
        case 'contiguous-file': {
          if (existing && !existing.isFile()) await fs.rm(dest, { recursive: true, force: true });
          // O_NOFOLLOW: a symlink planted at this name cannot redirect the write.
          const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
          await pipeline(entry, createWriteStream(dest, { flags: flags as unknown as string, mode }));
          break;
        }
        case 'symlink':
          if (existing) await fs.rm(dest, { recursive: true, force: true });
          await fs.symlink(header.linkname ?? '', dest);
          entry.resume();
          break;
        case 'link': {
          const linkTarget = await resolveInRoot(root, path.posix.join(destDir, layerPath(header.linkname ?? '')), false, mounts);
          if (existing) await fs.rm(dest, { recursive: true, force: true });
          await fs.link(linkTarget, dest);
          entry.resume();
          break;
        }
        default:
          entry.resume();
          throw new InvalidParameterError(`unsupported entry type in archive: ${header.type} (${header.name})`);
      }
      if (header.type !== 'symlink') {
        await fs.lchown(dest, header.uid ?? 0, header.gid ?? 0);
        if (header.type !== 'link') await fs.chmod(dest, mode);
        if (header.mtime) await fs.utimes(dest, header.mtime, header.mtime).catch(() => undefined);
      }
    }
  })();
  try {
    await Promise.all([pipeline(source, extract), consume]);
  } catch (err) {
    if (err instanceof InvalidParameterError) throw err;
    throw new InvalidParameterError(`failed to extract archive: ${err instanceof Error ? err.message : String(err)}`);
  }
}
