// A container's files as tar streams: `docker export` (the whole root filesystem) and
// GET/HEAD /containers/{id}/archive (`docker cp` out of it), read from its mounted root with GNU
// tar. What tar reports on failure is the error; a stream cut short is never passed off as whole.
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { pipeCommandOutput } from '../util/command.js';
import { InvalidParameterError } from '../util/errors.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import { extractIntoRootfs } from './archive-extract.js';
import type { ContainerService } from './container-service.js';
import { hostReachableMounts } from './mounts.js';
import { pathStat, resolveInRoot, type MountedPath } from './rootfs-paths.js';

/** What the X-Docker-Container-Path-Stat header carries. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** `docker export`: the whole root filesystem, numeric owners and xattrs kept. */
export async function exportRootfs(containers: ContainerService, record: ContainerRecord, begin: () => Writable): Promise<void> {
  await containers.withRootfs(record, async (rootfs) => {
    await tarInto(begin(), ['-C', rootfs, '--numeric-owner', '--xattrs', '-cf', '-', '.']);
  });
}

/**
 * The archive of one path in the container, as `docker cp` reads it. `begin` is handed the path's
 * stat and returns where the tar goes, or nothing when only the stat was asked for (HEAD).
 */
export async function archivePath(containers: ContainerService, record: ContainerRecord, containerPath: string, begin: (stat: PathStat) => Writable | undefined): Promise<void> {
  if (!containerPath) throw new InvalidParameterError('path is required');
  await containers.withRootfs(record, async (rootfs) => {
    const mounts = hostReachableMounts(record);
    const { hostPath, ...stat } = await pathStat(rootfs, containerPath, mounts);
    // A mount's root has its source's name on the host (a volume's is _data): the container knows
    // it by the name of the path it is mounted at.
    if (mounts.some((m) => m.Source === hostPath)) stat.name = path.posix.basename(path.posix.normalize(containerPath));
    const out = begin(stat);
    if (!out) return;
    // The archive holds the resolved path under its own name; the CLI renames as `cp` requires.
    const followed = containerPath.endsWith('/') || containerPath.endsWith('/.') ? await resolveInRoot(rootfs, containerPath, true, mounts) : hostPath;
    // `--`: the name comes from the container (a symlink's target, with `docker cp c:/link/ .`),
    // and one that starts with `-` must not be read as one of tar's options.
    await tarInto(out, ['-C', path.dirname(followed), '--numeric-owner', ...renameMountRoot(followed, containerPath, mounts), '-cf', '-', '--', path.basename(followed)]);
  });
}

/** `docker cp` into the container: the tar `body` unpacked at `containerPath`, confined to the container. */
export async function extractArchive(containers: ContainerService, record: ContainerRecord, containerPath: string, body: Readable): Promise<void> {
  const mounts = hostReachableMounts(record);
  await containers.withRootfs(record, (rootfs) => extractIntoRootfs(rootfs, containerPath, body, mounts));
}

/** tar options that name a mount root's top entry as the container sees it (`data`, not `_data`). */
function renameMountRoot(hostPath: string, containerPath: string, mounts: readonly MountedPath[]): string[] {
  const mount = mounts.find((m) => m.Source === hostPath);
  const name = path.posix.basename(path.posix.normalize(containerPath));
  if (!mount || !name || name === path.basename(hostPath)) return [];
  const literal = (text: string) => text.replace(/[\\.[\]*^$|]/g, (c) => `\\${c}`);
  // Every member starts with that one top entry; `rh`: member names and hard-link targets, not
  // symlink targets (those are the user's data).
  return [`--transform=s|^${literal(path.basename(hostPath))}|${name.replace(/[\\&|]/g, (c) => `\\${c}`)}|rh`];
}

/**
 * tar's output into `out`. When tar fails after the answer began, `out` is destroyed, so that the
 * client sees a broken transfer rather than a short archive that looks complete.
 */
async function tarInto(out: Writable, args: string[]): Promise<void> {
  try {
    await pipeCommandOutput('tar', args, out);
  } catch (err) {
    out.destroy();
    throw err;
  }
}
