// The image half of the engine: the content store, the image records and names, the unpacked
// snapshots, and the operations on them that are not about moving bytes (tag, remove, prune, GC).
// Pull, push, save, load and import live beside it and build on it.
import path from 'node:path';

import { EventBus } from '../events/event-bus.js';
import { Snapshotter } from '../snapshots/snapshotter.js';
import { shortId } from '../util/digest.js';
import { ConflictError, InvalidParameterError } from '../util/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { log } from '../util/log.js';
import { ContentStore } from './content-store.js';
import type { ImageRecord, LayerRecord } from '../vocabulary/image-record.js';
import { ImageStore } from './image-store.js';
import { Leases } from './leases.js';
import type { Descriptor, ImageConfig } from '../vocabulary/media-types.js';
import { familiarString, parseNormalizedNamed, parseReference, referenceString, type Reference } from '../vocabulary/reference.js';

/** A container that uses an image. */
export interface ImageUser {
  containerId: string;
  running: boolean;
}

/** How the container half tells the image half what its containers use (containers/container-usage.ts). */
export interface ImageUsage {
  /** Containers made from the image: removal is refused while there are any. */
  imageUsers(imageId: string): ImageUser[];
  /** Snapshots that containers stand on: garbage collection keeps them. */
  snapshotRoots(): Iterable<string>;
}

/** For an engine with no containers (tools, tests). */
export const NO_CONTAINERS: ImageUsage = { imageUsers: () => [], snapshotRoots: () => [] };

export type DeleteRecord = { Untagged: string } | { Deleted: string };

export class ImageService {
  readonly content: ContentStore;
  readonly images: ImageStore;
  readonly snapshots: Snapshotter;
  readonly leases = new Leases();
  /** Serializes changes of names and records against garbage collection. */
  readonly mutations = new KeyedLock();
  private readonly configs = new Map<string, ImageConfig>();

  constructor(
    readonly dataRoot: string,
    readonly events: EventBus = new EventBus(),
    readonly usage: ImageUsage = NO_CONTAINERS,
  ) {
    this.content = new ContentStore(path.join(dataRoot, 'image'));
    this.images = new ImageStore(path.join(dataRoot, 'image'));
    this.snapshots = new Snapshotter(path.join(dataRoot, 'snapshots'));
  }

  async init(): Promise<void> {
    await this.content.init();
    await this.snapshots.init();
    await this.images.init();
    // Content from operations a crash interrupted is not named by any record: sweep it.
    await this.collectGarbage();
  }

  async config(id: string): Promise<ImageConfig> {
    let config = this.configs.get(id);
    if (!config) {
      config = await this.content.readJson<ImageConfig>(id);
      this.configs.set(id, config);
    }
    return config;
  }

  /** Bytes of the unpacked layers, what `docker images` shows as SIZE. */
  async size(record: ImageRecord): Promise<number> {
    let total = 0;
    for (const layer of record.layers) total += (await this.snapshots.get(layer.chainId))?.contentSize ?? 0;
    return total;
  }

  /** Top snapshot of an image: what a container's overlay stacks on. */
  topChainId(record: ImageRecord): string | undefined {
    return record.layers[record.layers.length - 1]?.chainId;
  }

  /**
   * Stores an image record for a config already in the content store, merging with an existing
   * record of the same ID (an image pulled from two registries knows both as blob sources).
   */
  async saveRecord(id: string, layers: LayerRecord[], extras: { manifest?: Descriptor; parent?: string; buildCache?: string } = {}): Promise<ImageRecord> {
    return this.mutations.run('images', async () => {
      const existing = this.images.get(id);
      const mergedLayers = layers.map((layer, i) => {
        const old = existing?.layers[i];
        const sources = [...(old?.sources ?? []), ...(layer.sources ?? [])].filter((s, idx, all) => all.findIndex((o) => o.domain === s.domain && o.path === s.path) === idx);
        // Keep the blob we had: it is the one registries already know (a re-load brings a plain tar).
        const blob = old?.blob ?? layer.blob;
        return { diffId: layer.diffId, chainId: layer.chainId, ...(blob ? { blob } : {}), ...(sources.length ? { sources } : {}) };
      });
      const manifests = [...(existing?.manifests ?? [])];
      if (extras.manifest && !manifests.some((m) => m.digest === extras.manifest?.digest)) manifests.push(extras.manifest);
      const record: ImageRecord = {
        id,
        layers: mergedLayers,
        ...(manifests.length ? { manifests } : {}),
        ...(extras.parent ?? existing?.parent ? { parent: extras.parent ?? existing?.parent } : {}),
        ...(extras.buildCache ?? existing?.buildCache ? { buildCache: extras.buildCache ?? existing?.buildCache } : {}),
        added: existing?.added ?? new Date().toISOString(),
      };
      await this.images.put(record);
      return record;
    });
  }

  /** `docker tag SOURCE TARGET` */
  async tag(source: string, target: string): Promise<void> {
    const image = this.images.resolve(source);
    const ref = parseNormalizedNamed(target);
    if (ref.digest) throw new InvalidParameterError('refusing to create a tag with a digest reference');
    if (ref.path.split('/').length === 1 && /^[a-f0-9]{64}$/.test(ref.path)) throw new InvalidParameterError('refusing to create an ambiguous tag using digest algorithm as name');
    await this.mutations.run('images', () => this.images.addRef(ref, image.id));
    this.events.publish('image', 'tag', image.id, { name: familiarString(ref) });
  }

  /**
   * `docker rmi`: untags, and deletes the image once no reference is left, with dockerd's
   * conflicts (used by a container, referenced in several repositories, has children).
   */
  async remove(name: string, options: { force: boolean; noPrune: boolean }): Promise<DeleteRecord[]> {
    const records = await this.mutations.run('images', async () => {
      const image = this.images.resolve(name);
      const result: DeleteRecord[] = [];
      const isIdPrefix = isIdLookup(name, image.id);
      const users = this.usage.imageUsers(image.id);
      if (!isIdPrefix) {
        const ref = parseNormalizedNamed(name);
        const remainingAfter = this.images.refsOf(image.id).filter((r) => r !== referenceString(ref));
        // dockerd: once the last tag of a repository goes, that repository's digest references go too.
        const sameRepoTagLeft = remainingAfter.some((r) => !r.includes('@') && sameRepository(r, ref));
        const doomed = [referenceString(ref), ...(ref.digest || sameRepoTagLeft ? [] : remainingAfter.filter((r) => r.includes('@') && sameRepository(r, ref)))];
        const left = this.images.refsOf(image.id).filter((r) => !doomed.includes(r));
        if (left.length > 0 || users.length === 0 || options.force) {
          if (left.length === 0) this.assertDeletable(image, users, options.force);
          for (const r of doomed) {
            await this.images.removeRef(parseReference(r));
            result.push({ Untagged: familiarString(parseReference(r)) });
          }
          if (left.length > 0) return result;
        } else {
          const user = users[0];
          throw new ConflictError(`conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(user?.containerId ?? '')} is using its referenced image ${shortId(image.id)}`);
        }
      } else {
        const refs = this.images.refsOf(image.id);
        const repos = new Set(refs.map((r) => { const p = parseReference(r); return `${p.domain}/${p.path}`; }));
        if (repos.size > 1 && !options.force) {
          throw new ConflictError(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`);
        }
        this.assertDeletable(image, users, options.force);
        for (const r of refs) {
          await this.images.removeRef(parseReference(r));
          result.push({ Untagged: familiarString(parseReference(r)) });
        }
      }
      await this.images.delete(image.id);
      this.configs.delete(image.id);
      result.push({ Deleted: image.id });
      // A built image takes its untagged build parents with it, as far as nothing else needs them.
      let parent = options.noPrune ? undefined : image.parent;
      while (parent) {
        const record = this.images.get(parent);
        if (!record || this.images.refsOf(record.id).length || this.usage.imageUsers(record.id).length || this.images.all().some((o) => o.parent === record.id)) break;
        await this.images.delete(record.id);
        this.configs.delete(record.id);
        result.push({ Deleted: record.id });
        parent = record.parent;
      }
      return result;
    });
    for (const r of records) {
      if ('Untagged' in r) this.events.publish('image', 'untag', r.Untagged, { name: r.Untagged });
      else this.events.publish('image', 'delete', r.Deleted, { name: r.Deleted });
    }
    const removed = await this.collectGarbage();
    return [...records, ...removed.map((chainId) => ({ Deleted: chainId }))];
  }

  /** Deletes untagged records as they are (the build cache's prune): no untag, no parent walk. */
  async deleteRecords(ids: string[]): Promise<void> {
    await this.mutations.run('images', async () => {
      for (const id of ids) {
        if (!this.images.get(id) || this.images.refsOf(id).length) continue;
        await this.images.delete(id);
        this.configs.delete(id);
      }
    });
    for (const id of ids) this.events.publish('image', 'delete', id, { name: id });
  }

  private assertDeletable(image: ImageRecord, users: ImageUser[], force: boolean): void {
    const running = users.find((u) => u.running);
    if (running) {
      throw new ConflictError(`conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image is being used by running container ${shortId(running.containerId)}`);
    }
    if (users[0] && !force) {
      throw new ConflictError(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is being used by stopped container ${shortId(users[0].containerId)}`);
    }
    if (this.images.all().some((other) => other.parent === image.id)) {
      throw new ConflictError(`conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image has dependent child images`);
    }
  }

  /** Images not used by any container; `danglingOnly` keeps tagged ones (what `image prune` without -a does). */
  async prune(danglingOnly: boolean, keep: (record: ImageRecord) => Promise<boolean>): Promise<{ deleted: DeleteRecord[]; reclaimed: number }> {
    const deleted: DeleteRecord[] = [];
    let reclaimed = 0;
    const before = await this.diskUsage();
    for (const image of this.images.all()) {
      if (this.usage.imageUsers(image.id).length > 0) continue;
      if (danglingOnly && this.images.repoTags(image.id).length > 0) continue;
      if (await keep(image)) continue;
      if (this.images.all().some((other) => other.parent === image.id)) continue;
      try {
        deleted.push(...(await this.remove(image.id, { force: true, noPrune: false })));
      } catch (err) {
        log.warn('prune: could not remove image', { id: image.id, error: String(err) });
      }
    }
    reclaimed = before - (await this.diskUsage());
    return { deleted, reclaimed: Math.max(0, reclaimed) };
  }

  /** Per image, the bytes of its layers that another image also uses (`system df -v` SHARED SIZE). */
  async sharedSizes(): Promise<Map<string, number>> {
    const users = new Map<string, number>();
    for (const image of this.images.all()) for (const layer of image.layers) users.set(layer.chainId, (users.get(layer.chainId) ?? 0) + 1);
    const result = new Map<string, number>();
    for (const image of this.images.all()) {
      let shared = 0;
      for (const layer of image.layers) {
        if ((users.get(layer.chainId) ?? 0) > 1) shared += (await this.snapshots.get(layer.chainId))?.contentSize ?? 0;
      }
      result.set(image.id, shared);
    }
    return result;
  }

  /** Sum of the unpacked size of every snapshot (the `LayersSize` of `system df`). */
  async diskUsage(): Promise<number> {
    let total = 0;
    for (const chainId of await this.snapshots.list()) total += (await this.snapshots.get(chainId))?.contentSize ?? 0;
    return total;
  }

  /**
   * Removes snapshots and blobs that no image (nor container, nor operation in progress) uses.
   * Returns the chain IDs of the snapshots removed.
   */
  async collectGarbage(): Promise<string[]> {
    return this.mutations.run('images', async () => {
      const keepBlobs = new Set<string>();
      const keepChains = new Set<string>(this.usage.snapshotRoots());
      for (const image of this.images.all()) {
        keepBlobs.add(image.id);
        for (const m of image.manifests ?? []) keepBlobs.add(m.digest);
        for (const layer of image.layers) {
          keepChains.add(layer.chainId);
          if (layer.blob) keepBlobs.add(layer.blob.digest);
        }
      }
      const removed: string[] = [];
      for (const chainId of await this.snapshots.list()) {
        if (keepChains.has(chainId) || this.leases.has(chainId)) continue;
        await this.snapshots.remove(chainId);
        removed.push(chainId);
      }
      for (const digest of await this.content.list()) {
        if (keepBlobs.has(digest) || this.leases.has(digest)) continue;
        await this.content.delete(digest);
      }
      if (removed.length) log.debug('removed unused snapshots', { count: removed.length });
      return removed;
    });
  }
}

/** True when `name` addressed the image by (a prefix of) its ID rather than by a reference. */
function isIdLookup(name: string, id: string): boolean {
  const bare = name.startsWith('sha256:') ? name.slice(7) : name;
  return /^[a-f0-9]+$/.test(bare) && id.startsWith(`sha256:${bare}`);
}

function sameRepository(refString: string, ref: Reference): boolean {
  const other = parseReference(refString);
  return other.domain === ref.domain && other.path === ref.path;
}
