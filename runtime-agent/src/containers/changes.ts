// What a container changed: its overlay upper dir, read as a list (`docker diff`) or as a layer
// tar in the OCI form (`docker commit`): 0/0 character devices become `.wh.NAME` files and
// directories marked trusted.overlay.opaque become `DIR/.wh..wh..opq`.
import { execFile } from 'node:child_process';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

import tarStream from 'tar-stream';

import { SystemError } from '../util/errors.js';

export type ChangeKind = 0 | 1 | 2; // modified, added, deleted (the Engine API's numbers)

export interface Change {
  Path: string;
  Kind: ChangeKind;
}

/**
 * Mount points the runtime creates in the upper dir when the image lacks them. dockerd keeps
 * them in a hidden init layer, so neither `diff` nor `commit` shows them: empty ones are skipped.
 */
const RUNTIME_MOUNT_POINTS = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab', 'dev', 'dev/pts', 'dev/shm', 'dev/console', 'proc', 'sys']);

function isRuntimeMountPoint(rel: string, stat: Stats): boolean {
  return RUNTIME_MOUNT_POINTS.has(rel) && ((stat.isFile() && stat.size === 0) || stat.isDirectory());
}

function isWhiteout(stat: Stats): boolean {
  return stat.isCharacterDevice() && stat.rdev === 0;
}

async function* walk(root: string, rel = ''): AsyncGenerator<{ rel: string; stat: Stats }> {
  const entries = await fs.readdir(path.join(root, rel));
  entries.sort();
  for (const name of entries) {
    const childRel = rel ? `${rel}/${name}` : name;
    const stat = await fs.lstat(path.join(root, childRel));
    yield { rel: childRel, stat };
    if (stat.isDirectory()) yield* walk(root, childRel);
  }
}

async function existsInLower(lowerDirs: string[], rel: string): Promise<boolean> {
  for (const dir of lowerDirs) {
    try {
      await fs.lstat(path.join(dir, rel));
      return true;
    } catch {
      // not in this layer
    }
  }
  return false;
}

/** Directories of the upper dir marked opaque (read with getfattr: Node has no xattr API). */
export function opaqueDirs(upper: string): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    execFile('getfattr', ['-R', '-h', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', upper], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // A failed read would report a deleted-and-recreated directory as merely changed.
      if (err) return reject(new SystemError(`getfattr ${upper}: ${stderr.trim() || err.message}`));
      const dirs = new Set<string>();
      let current = '';
      for (const line of stdout.split('\n')) {
        if (line.startsWith('# file: ')) current = line.slice('# file: '.length);
        else if (line.startsWith('trusted.overlay.opaque="y"')) dirs.add(path.relative(upper, current));
      }
      resolve(dirs);
    });
  });
}

export async function listChanges(upper: string, lowerDirs: string[]): Promise<Change[]> {
  const changes: (Change & { dir: boolean })[] = [];
  for await (const { rel, stat } of walk(upper)) {
    if (isRuntimeMountPoint(rel, stat)) continue;
    const kind: ChangeKind = isWhiteout(stat) ? 2 : (await existsInLower(lowerDirs, rel)) ? 0 : 1;
    changes.push({ Path: `/${rel}`, Kind: kind, dir: stat.isDirectory() });
  }
  // A directory that is only "modified" because the runtime put a mount point in it is not a change.
  return changes
    .filter((c) => !(c.dir && c.Kind === 0 && !changes.some((o) => o.Path.startsWith(`${c.Path}/`))))
    .map(({ Path, Kind }) => ({ Path, Kind }));
}

/**
 * Streams the upper dir as an OCI layer tar. `mountPoints` are paths a build step's mounts made
 * (RUN --mount): left out when empty, like the runtime's own.
 */
export function changesTar(upper: string, mountPoints: ReadonlySet<string> = new Set()): Readable {
  const pack = tarStream.pack();
  void (async () => {
    const opaque = await opaqueDirs(upper);
    const links = new Map<string, string>();
    const add = (header: Partial<tarStream.Header> & { name: string }, body?: Readable): Promise<void> =>
      new Promise((resolve, reject) => {
        if (body) {
          const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          body.on('error', reject);
          body.pipe(sink);
        } else pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      });
    for await (const { rel, stat } of walk(upper)) {
      if (isRuntimeMountPoint(rel, stat)) continue;
      if (mountPoints.has(rel) && (stat.isDirectory() || (stat.isFile() && stat.size === 0) || stat.isSocket())) continue;
      const base = { uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777, mtime: stat.mtime };
      if (isWhiteout(stat)) {
        const dir = path.posix.dirname(rel);
        await add({ ...base, name: `${dir === '.' ? '' : `${dir}/`}.wh.${path.posix.basename(rel)}`, type: 'file', size: 0, mode: 0o600 });
      } else if (stat.isDirectory()) {
        await add({ ...base, name: `${rel}/`, type: 'directory' });
        if (opaque.has(rel)) await add({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o600 });
      } else if (stat.isSymbolicLink()) {
        await add({ ...base, name: rel, type: 'symlink', linkname: await fs.readlink(path.join(upper, rel)) });
      } else if (stat.isFile()) {
        const key = `${stat.dev}:${stat.ino}`;
        const first = stat.nlink > 1 ? links.get(key) : undefined;
        if (first) await add({ ...base, name: rel, type: 'link', linkname: first });
        else {
          if (stat.nlink > 1) links.set(key, rel);
          await add({ ...base, name: rel, type: 'file', size: stat.size }, createReadStream(path.join(upper, rel)));
        }
      } else if (stat.isFIFO()) {
        await add({ ...base, name: rel, type: 'fifo' });
      } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
        const devmajor = Math.floor(stat.rdev / 256);
        const devminor = stat.rdev % 256;
        await add({ ...base, name: rel, type: stat.isCharacterDevice() ? 'character-device' : 'block-device', devmajor, devminor });
      }
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return pack as unknown as Readable;
}
