// Network records on disk, one JSON file each under networks/, written atomically. Lookups accept
// a full ID, a name, or a unique ID prefix, in that order (as dockerd resolves them).
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { readJsonIfExists, removeTempFiles, writeJsonAtomic } from '../util/atomic-file.js';
import { InvalidParameterError, NotFoundError } from '../util/errors.js';
import { log } from '../util/log.js';
import type { NetworkRecord } from '../vocabulary/network-record.js';

export class NetworkStore {
  private readonly records = new Map<string, NetworkRecord>();

  constructor(readonly root: string) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await removeTempFiles(this.root);
    for (const name of await fs.readdir(this.root)) {
      if (!name.endsWith('.json')) continue;
      const record = await readJsonIfExists<NetworkRecord>(path.join(this.root, name)).catch((err: unknown) => {
        log.warn('unreadable network record, skipped', { name, error: String(err) });
        return undefined;
      });
      if (record) this.records.set(record.Id, record);
    }
  }

  all(): NetworkRecord[] {
    return [...this.records.values()];
  }

  async save(record: NetworkRecord): Promise<void> {
    await writeJsonAtomic(path.join(this.root, `${record.Id}.json`), record);
    this.records.set(record.Id, record);
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
    await fs.rm(path.join(this.root, `${id}.json`), { force: true });
  }

  byName(name: string): NetworkRecord | undefined {
    return this.all().find((n) => n.Name === name);
  }

  find(idOrName: string): NetworkRecord | undefined {
    const exact = this.records.get(idOrName) ?? this.byName(idOrName);
    if (exact) return exact;
    if (/^[a-f0-9]+$/.test(idOrName)) {
      const matches = this.all().filter((n) => n.Id.startsWith(idOrName));
      if (matches.length > 1) throw new InvalidParameterError(`network ${idOrName} is ambiguous (${matches.length} matches found based on ID prefix)`);
      return matches[0];
    }
    return undefined;
  }

  get(idOrName: string): NetworkRecord {
    const found = this.find(idOrName);
    if (!found) throw new NotFoundError(`network ${idOrName} not found`);
    return found;
  }
}
