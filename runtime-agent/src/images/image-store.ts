// Image records and the names that point at them.
//   image/images/<id hex>.json  one record per image (its layers, where its blobs came from)
//   image/repositories.json     reference -> image ID, for tags (`name:tag`) and digests (`name@sha256:`)
// Records are written before the references that name them, each atomically, so a crash can leave
// an untagged image but never a name that points at nothing.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { readJsonIfExists, removeTempFiles, writeJsonAtomic } from '../util/atomic-file.js';
import { digestHex } from '../util/digest.js';
import { InvalidParameterError, NotFoundError } from '../util/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { log } from '../util/log.js';
import type { ImageRecord } from '../vocabulary/image-record.js';
import { familiarString, parseNormalizedNamed, parseReference, referenceString, type Reference } from '../vocabulary/reference.js';

const FULL_ID_RE = /^(?:sha256:)?([a-f0-9]{64})$/;
const SHORT_ID_RE = /^[a-f0-9]{1,63}$/;

export class ImageStore {
  private readonly images = new Map<string, ImageRecord>();
  private refs = new Map<string, string>();
  private readonly imagesDir: string;
  private readonly refsFile: string;
  private readonly writes = new KeyedLock();

  constructor(root: string) {
    this.imagesDir = path.join(root, 'images');
    this.refsFile = path.join(root, 'repositories.json');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.imagesDir, { recursive: true });
    await removeTempFiles(this.imagesDir);
    await removeTempFiles(path.dirname(this.refsFile));
    for (const name of await fs.readdir(this.imagesDir)) {
      if (!name.endsWith('.json')) continue;
      const record = await readJsonIfExists<ImageRecord>(path.join(this.imagesDir, name));
      if (record) this.images.set(record.id, record);
    }
    const refs = (await readJsonIfExists<Record<string, string>>(this.refsFile)) ?? {};
    let dropped = 0;
    for (const [ref, id] of Object.entries(refs)) {
      if (this.images.has(id)) this.refs.set(ref, id);
      else dropped++;
    }
    if (dropped) {
      log.warn('dropped references to missing images', { count: dropped });
      await this.saveRefs();
    }
  }

  all(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  async put(record: ImageRecord): Promise<void> {
    await this.writes.run(record.id, () => writeJsonAtomic(path.join(this.imagesDir, `${digestHex(record.id)}.json`), record));
    this.images.set(record.id, record);
  }

  /** Deletes the record and every reference to it. */
  async delete(id: string): Promise<void> {
    for (const ref of this.refsOf(id)) this.refs.delete(ref);
    await this.saveRefs();
    await fs.rm(path.join(this.imagesDir, `${digestHex(id)}.json`), { force: true });
    this.images.delete(id);
  }

  /** Every reference string (`docker.io/library/busybox:latest`, `...@sha256:`) naming `id`. */
  refsOf(id: string): string[] {
    return [...this.refs].filter(([, target]) => target === id).map(([ref]) => ref);
  }

  /** Tags as the CLI shows them (`busybox:latest`). */
  repoTags(id: string): string[] {
    return this.refsOf(id)
      .filter((r) => !r.includes('@'))
      .map((r) => familiarString(parseReference(r)))
      .sort();
  }

  /** Digest references as the CLI shows them (`busybox@sha256:...`). */
  repoDigests(id: string): string[] {
    return this.refsOf(id)
      .filter((r) => r.includes('@'))
      .map((r) => familiarString(parseReference(r)))
      .sort();
  }

  lookupRef(ref: Reference): string | undefined {
    return this.refs.get(referenceString(ref));
  }

  async addRef(ref: Reference, id: string): Promise<void> {
    if (!this.images.has(id)) throw new NotFoundError(`No such image: ${id}`);
    this.refs.set(referenceString(ref), id);
    await this.saveRefs();
  }

  /** Removes one reference; returns whether it existed. */
  async removeRef(ref: Reference): Promise<boolean> {
    const existed = this.refs.delete(referenceString(ref));
    if (existed) await this.saveRefs();
    return existed;
  }

  /**
   * Finds an image the way dockerd does: a full or short ID, a `name:tag`, a `name@digest`, or a
   * bare name meaning `name:latest`. Throws dockerd's "No such image" when nothing matches.
   */
  resolve(input: string): ImageRecord {
    const found = this.find(input);
    if (found) return found;
    // dockerd names the normalized reference it looked for: "No such image: busybox:latest".
    let shown = input;
    try {
      shown = familiarString(parseNormalizedNamed(input));
    } catch (err) {
      if (!/^(sha256:)?[a-f0-9]+$/.test(input)) throw err;
    }
    throw new NotFoundError(`No such image: ${shown}`);
  }

  find(input: string): ImageRecord | undefined {
    const full = FULL_ID_RE.exec(input);
    if (full) {
      const image = this.images.get(`sha256:${full[1]}`);
      if (image) return image;
    }
    let ref: Reference | undefined;
    try {
      ref = parseNormalizedNamed(input);
    } catch {
      ref = undefined;
    }
    if (ref) {
      const id = this.lookupRef(ref);
      if (id) return this.images.get(id);
    }
    const prefix = input.startsWith('sha256:') ? input.slice(7) : input;
    if (SHORT_ID_RE.test(prefix)) {
      const matches = [...this.images.keys()].filter((id) => id.startsWith(`sha256:${prefix}`));
      if (matches.length > 1) throw new InvalidParameterError(`multiple IDs found with provided prefix: ${prefix}`);
      if (matches[0]) return this.images.get(matches[0]);
    }
    return undefined;
  }

  private saveRefs(): Promise<void> {
    return this.writes.run('refs', () => writeJsonAtomic(this.refsFile, Object.fromEntries([...this.refs].sort())));
  }
}
