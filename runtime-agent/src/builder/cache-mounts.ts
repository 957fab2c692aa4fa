// RUN --mount=type=cache: directories that outlive a build (a package manager's downloads), by id.
// They live beside the image store, are shared, locked or private as the mount asks, and show
// up as build cache (`exec.cachemount`) that `docker builder prune` removes when no step uses them.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-file.js';
import { dirSize } from '../util/dir-size.js';
import { removeTree } from '../util/remove-tree.js';

export type Sharing = 'shared' | 'private' | 'locked';

interface CacheMeta {
  id: string;
  description: string;
  sharing: Sharing;
  created: string;
  lastUsed: string;
  usageCount: number;
}

export interface CacheMountEntry extends CacheMeta {
  /** The entry's key in the store (its directory's name): what `docker builder prune --filter id=` matches. */
  key: string;
  size: number;
  inUse: boolean;
}

export interface HeldCache {
  dir: string;
  release(): void;
}

/** One directory per data root: the locks must be shared by every build of the engine. */
const stores = new Map<string, CacheMounts>();

export class CacheMounts {
  /** Users of each instance now (its key -> count). */
  private readonly users = new Map<string, number>();
  /** `sharing=locked`: the users waiting for each id, in order. */
  private readonly locks = new Map<string, Promise<void>>();

  private constructor(private readonly root: string) {}

  static of(dataRoot: string): CacheMounts {
    const root = path.join(dataRoot, 'build-cache-mounts');
    let store = stores.get(root);
    if (!store) stores.set(root, (store = new CacheMounts(root)));
    return store;
  }

  /**
   * The cache `id` for a step; a new one is created empty with `init`'s owner and mode (or
   * seeded with `seed`'s content: `from=`). Private caches in use give the next user a copy of
   * its own; locked ones make it wait.
   */
  async acquire(id: string, sharing: Sharing, init: { mode: number; uid: number; gid: number; seed?: string }, description: string): Promise<HeldCache> {
    const base = createHash('sha256').update(id).digest('hex').slice(0, 25);
    let unlock = () => undefined as void;
    if (sharing === 'locked') {
      const previous = this.locks.get(base) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const chained = previous.then(() => mine);
      this.locks.set(base, chained);
      await previous;
      unlock = () => {
        release();
        if (this.locks.get(base) === chained) this.locks.delete(base);
      };
    }
    let key = base;
    if (sharing === 'private') for (let n = 1; (this.users.get(key) ?? 0) > 0; n++) key = `${base}-${n}`;
    const dir = path.join(this.root, key);
    const meta = await readJsonIfExists<CacheMeta>(path.join(dir, 'meta.json'));
    const now = new Date().toISOString();
    if (!meta) {
      // Made aside and renamed: a half-made cache never appears under its key.
      await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
      const staging = path.join(this.root, `.new-${randomBytes(8).toString('hex')}`);
      await fs.mkdir(path.join(staging, 'data'), { recursive: true });
      if (init.seed) await fs.cp(init.seed, path.join(staging, 'data'), { recursive: true, verbatimSymlinks: true });
      await fs.chmod(path.join(staging, 'data'), init.mode);
      await fs.chown(path.join(staging, 'data'), init.uid, init.gid);
      await writeJsonAtomic(path.join(staging, 'meta.json'), { id, description, sharing, created: now, lastUsed: now, usageCount: 1 } satisfies CacheMeta);
      await fs.rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
        // Another step made it meanwhile (shared): theirs is as good.
        await removeTree(staging);
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } else {
      await writeJsonAtomic(path.join(dir, 'meta.json'), { ...meta, description, lastUsed: now, usageCount: meta.usageCount + 1 });
    }
    this.users.set(key, (this.users.get(key) ?? 0) + 1);
    let released = false;
    return {
      dir: path.join(dir, 'data'),
      release: () => {
        if (released) return;
        released = true;
        this.users.set(key, (this.users.get(key) ?? 1) - 1);
        unlock();
      },
    };
  }

  async list(): Promise<CacheMountEntry[]> {
    const names = await fs.readdir(this.root).catch(() => [] as string[]);
    const entries: CacheMountEntry[] = [];
    for (const key of names) {
      if (key.startsWith('.')) continue;
      const meta = await readJsonIfExists<CacheMeta>(path.join(this.root, key, 'meta.json'));
      if (!meta) continue;
      entries.push({ ...meta, key, size: await dirSize(path.join(this.root, key, 'data')).catch(() => 0), inUse: (this.users.get(key) ?? 0) > 0 });
    }
    return entries;
  }

  /** Removes a cache no step uses now; false when one does. */
  async remove(key: string): Promise<boolean> {
    if ((this.users.get(key) ?? 0) > 0 || !/^[0-9a-f]{25}(-\d+)?$/.test(key)) return false;
    // Renamed first, so a build starting now makes a new one rather than using a half-removed one.
    const doomed = path.join(this.root, `.gone-${randomBytes(8).toString('hex')}`);
    await fs.rename(path.join(this.root, key), doomed);
    await removeTree(doomed);
    return true;
  }
}
