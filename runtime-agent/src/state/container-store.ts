// Container records on disk, one directory per container:
//   containers/<id>/container.json   the record, replaced atomically on every change
//   containers/<id>/...              bundle, rootfs mount points, logs, conmon files
// Names are unique; lookups accept a full ID, a unique ID prefix, or a name (with or without "/").
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { fsyncDir, readJsonIfExists, removeTempFiles, writeJsonAtomic } from '../util/atomic-file.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { log } from '../util/log.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class ContainerStore {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly writes = new KeyedLock();

  constructor(readonly root: string) {}

  /** `clearLeftover`: unmounts what a create a crash cut short may have left in its directory. */
  async init(clearLeftover: (dir: string) => Promise<void>): Promise<ContainerRecord[]> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o710 });
    for (const id of await fs.readdir(this.root)) {
      const dir = path.join(this.root, id);
      await removeTempFiles(dir);
      const record = await readJsonIfExists<ContainerRecord>(path.join(dir, 'container.json')).catch((err: unknown) => {
        log.warn('unreadable container record, skipped', { dir, error: String(err) });
        return undefined;
      });
      if (record) {
        this.records.set(record.Id, record);
        continue;
      }
      // A create that a crash cut short. Whatever is wrong with it must not stop the engine.
      await clearLeftover(dir).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true }).catch((err: unknown) => log.warn('could not remove leftover container directory', { dir, error: String(err) }));
    }
    return this.all();
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  all(): ContainerRecord[] {
    return [...this.records.values()];
  }

  async save(record: ContainerRecord): Promise<void> {
    await this.writes.run(record.Id, async () => {
      await fs.mkdir(this.dir(record.Id), { recursive: true, mode: 0o710 });
      await writeJsonAtomic(path.join(this.dir(record.Id), 'container.json'), record);
    });
    this.records.set(record.Id, record);
  }

  /**
   * The container stops existing: its record file is unlinked (and the unlink made durable). The
   * rest of its directory goes with removeDir; a crash in between leaves a directory without a
   * record, which init sweeps.
   */
  async forget(id: string): Promise<void> {
    this.records.delete(id);
    await this.writes.run(id, async () => {
      await fs.rm(path.join(this.dir(id), 'container.json'), { force: true });
      await fsyncDir(this.dir(id)).catch(() => undefined);
    });
  }

  async removeDir(id: string): Promise<void> {
    await this.writes.run(id, () => fs.rm(this.dir(id), { recursive: true, force: true }));
  }

  /** Throws dockerd's conflict if `name` is taken (by a container other than `exceptId`). */
  assertNameFree(name: string, exceptId?: string): void {
    if (!NAME_RE.test(name)) throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const wanted = '/' + name.replace(/^\//, '');
    const owner = this.all().find((c) => c.Name === wanted && c.Id !== exceptId);
    if (owner) {
      throw new ConflictError(`Conflict. The container name "${wanted}" is already in use by container "${owner.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
  }

  find(idOrName: string): ContainerRecord | undefined {
    const exact = this.records.get(idOrName);
    if (exact) return exact;
    const name = '/' + idOrName.replace(/^\//, '');
    const byName = this.all().find((c) => c.Name === name);
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(idOrName)) {
      const matches = this.all().filter((c) => c.Id.startsWith(idOrName));
      if (matches.length > 1) throw new InvalidParameterError(`multiple IDs found with provided prefix: ${idOrName}`);
      return matches[0];
    }
    return undefined;
  }

  get(idOrName: string): ContainerRecord {
    const found = this.find(idOrName);
    if (!found) throw new NotFoundError(`No such container: ${idOrName}`);
    return found;
  }
}
