// Paths inside a container's root filesystem, resolved the way the container sees them: symlinks
// are followed relative to the container's root (an absolute link means the container's /, not the
// host's), and `..` stops at the root. Nothing outside the rootfs can be reached. With the
// container's mounts given, a path under a volume or bind mount resolves into its source, as the
// container sees it (`docker cp` of a volume's files, whether the container runs or not).
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { InvalidParameterError, NotFoundError, isErrnoException } from '../util/errors.js';

const MAX_SYMLINKS = 40;

/** A volume or bind mount as the resolver needs it: where it appears, where its files are. */
export interface MountedPath {
  Destination: string;
  Source: string;
  RW: boolean;
}

/** The host path of a container path (as components): in the deepest mount that holds it, else the rootfs. */
function hostPathOf(root: string, mounts: readonly MountedPath[], parts: readonly string[]): string {
  let best: { mount: MountedPath; depth: number } | undefined;
  for (const mount of mounts) {
    const destination = mount.Destination.split('/').filter(Boolean);
    if (destination.length > parts.length || (best && destination.length <= best.depth)) continue;
    if (destination.every((part, i) => parts[i] === part)) best = { mount, depth: destination.length };
  }
  return best ? path.join(best.mount.Source, ...parts.slice(best.depth)) : path.join(root, ...parts);
}

/** The mount a resolved host path lies in, if any (for refusing writes into read-only ones). */
export function mountHolding(hostPath: string, mounts: readonly MountedPath[]): MountedPath | undefined {
  return mounts
    .filter((m) => hostPath === m.Source || hostPath.startsWith(m.Source.endsWith('/') ? m.Source : `${m.Source}/`))
    .sort((a, b) => b.Source.length - a.Source.length)[0];
}

/**
 * The host path of `containerPath` inside `root`, with every symlink resolved inside the root.
 * With `followLast` false the final component is not followed (an lstat-style answer).
 */
export async function resolveInRoot(root: string, containerPath: string, followLast = true, mounts: readonly MountedPath[] = []): Promise<string> {
  const pending = containerPath.split('/').filter(Boolean);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = hostPathOf(root, mounts, [...resolved, part]);
    let stat;
    try {
      stat = await fs.lstat(candidate);
    } catch (err) {
      if (isErrnoException(err, 'ENOENT') || isErrnoException(err, 'ENOTDIR')) {
        // Keep walking: the parts after a missing one may hold `..` (from the request, or from a
        // symlink the container planted: `/missing/../../../tmp`), and joining them unresolved
        // would climb out of the root onto the host.
        resolved.push(part);
        continue;
      }
      throw err;
    }
    if (stat.isSymbolicLink() && (pending.length > 0 || followLast)) {
      if (++links > MAX_SYMLINKS) throw new InvalidParameterError(`too many levels of symbolic links: ${containerPath}`);
      const target = await fs.readlink(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    resolved.push(part);
  }
  return hostPathOf(root, mounts, resolved);
}

/** The stat the archive API reports in X-Docker-Container-Path-Stat. */
export async function pathStat(root: string, containerPath: string, mounts: readonly MountedPath[] = []): Promise<{ name: string; size: number; mode: number; mtime: string; linkTarget: string; hostPath: string }> {
  const hostPath = await resolveInRoot(root, containerPath, false, mounts);
  let stat;
  try {
    stat = await fs.lstat(hostPath);
  } catch (err) {
    if (isErrnoException(err, 'ENOENT') || isErrnoException(err, 'ENOTDIR')) throw new NotFoundError(`Could not find the file ${containerPath} in container`);
    throw err;
  }
  // Go's os.FileMode bits: directory 1<<31, symlink 1<<27.
  const goMode = (stat.mode & 0o777) + (stat.isDirectory() ? 2 ** 31 : 0) + (stat.isSymbolicLink() ? 2 ** 27 : 0);
  const linkTarget = stat.isSymbolicLink() ? await fs.readlink(hostPath) : '';
  return { name: path.basename(hostPath) || '/', size: stat.size, mode: goMode, mtime: stat.mtime.toISOString(), linkTarget, hostPath };
}
