// The images a build makes, one per step as dockerd's classic builder does: each step's image
// has the previous as parent and remembers the step (its cache key), so an unchanged step is
// found again instead of run. Metadata steps only write a config; layer steps add a snapshot.
import { promises as fs, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

import type { ImageService } from '../images/image-service.js';
import type { ImageRecord, LayerRecord } from '../vocabulary/image-record.js';
import { MediaType, type ContainerConfig, type ImageConfig } from '../vocabulary/media-types.js';
import { chainIds } from '../snapshots/chain-id.js';
import { runCommand } from '../util/command.js';
import { decompress } from '../util/compression.js';
import { sha256Digest } from '../util/digest.js';

/** Where a stage stands: its image so far (none for scratch before the first layer) and config. */
export interface BuildState {
  imageId: string | undefined;
  config: ImageConfig;
  layers: LayerRecord[];
}

export function scratchState(): BuildState {
  return { imageId: undefined, config: { architecture: os.arch() === 'arm64' ? 'arm64' : 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }, layers: [] };
}

export async function stateOf(images: ImageService, image: ImageRecord): Promise<BuildState> {
  return { imageId: image.id, config: await images.config(image.id), layers: image.layers };
}

/** The image a previous build made from `parent` with the same step, if it is still here. */
export function cachedStep(images: ImageService, parent: string | undefined, cacheKey: string): ImageRecord | undefined {
  return images.images.all().find((i) => (i.parent ?? '') === (parent ?? '') && i.buildCache === cacheKey);
}

/**
 * `--cache-from`: a step's result taken from an image the client named (built elsewhere and
 * pulled, say), as dockerd's classic builder restores it: the image's history and layers must
 * begin with those the build has so far, and its next history entry must be this step. The step's
 * image is then made from that entry and, for RUN/COPY/ADD, the image's next layer, without
 * running anything; it is recorded like any built step, so later builds find it in the local cache.
 */
export async function stepFromCacheSource(images: ImageService, sources: readonly ImageRecord[], state: BuildState, step: { createdBy: string; makesLayer: boolean; config: ContainerConfig; cacheKey: string }): Promise<BuildState | undefined> {
  const history = state.config.history ?? [];
  const diffIds = state.config.rootfs.diff_ids;
  for (const source of sources) {
    const config = await images.config(source.id);
    const sourceHistory = config.history ?? [];
    const sourceDiffs = config.rootfs?.diff_ids ?? [];
    const sameStart = history.every((h, i) => sourceHistory[i]?.created_by === h.created_by && Boolean(sourceHistory[i]?.empty_layer) === Boolean(h.empty_layer)) && diffIds.every((d, i) => sourceDiffs[i] === d);
    const next = sourceHistory[history.length];
    if (!sameStart || !next || next.created_by !== step.createdBy || Boolean(next.empty_layer) === step.makesLayer) continue;
    const layer = step.makesLayer ? source.layers[diffIds.length] : undefined;
    if (step.makesLayer && !layer) continue;
    const restored: ImageConfig = {
      ...state.config,
      created: next.created ?? new Date().toISOString(),
      config: step.config,
      rootfs: { type: 'layers', diff_ids: layer ? [...diffIds, layer.diffId] : diffIds },
      history: [...history, next],
    };
    return saveStep(images, state, restored, layer ? [...state.layers, layer] : state.layers, step.cacheKey);
  }
  return undefined;
}

/** A step that changes only the config (ENV, CMD, LABEL, ...): a new image with the same layers. */
export async function commitConfig(images: ImageService, state: BuildState, createdBy: string, containerConfig: ContainerConfig, cacheKey: string, extra: { author?: string } = {}): Promise<BuildState> {
  const created = new Date().toISOString();
  const config: ImageConfig = {
    ...state.config,
    ...extra,
    created,
    config: containerConfig,
    history: [...(state.config.history ?? []), { created, created_by: createdBy, empty_layer: true }],
  };
  return saveStep(images, state, config, state.layers, cacheKey);
}

/** A step that adds a layer (RUN, COPY, ADD): the tar is stored, unpacked as a snapshot, recorded. */
export async function commitLayer(images: ImageService, state: BuildState, tar: Readable, createdBy: string, containerConfig: ContainerConfig, cacheKey: string): Promise<BuildState> {
  const blob = await images.content.ingest(tar);
  const layer: LayerRecord = { diffId: blob.digest, chainId: '', blob: { mediaType: MediaType.OciLayer, digest: blob.digest, size: blob.size } };
  return commitExistingLayer(images, state, layer, createdBy, containerConfig, cacheKey);
}

/**
 * COPY --link: the layer a step with this (parent-independent) cache key made before, on whatever
 * parent, when its blob is still in the content store. The step records are the index: each keeps
 * its key, and its last layer is the one the step made.
 */
export async function layerOfLinkStep(images: ImageService, cacheKey: string): Promise<LayerRecord | undefined> {
  for (const record of images.images.all()) {
    if (record.buildCache !== cacheKey) continue;
    const layer = record.layers[record.layers.length - 1];
    if (layer?.blob && (await images.content.has(layer.blob.digest))) return layer;
  }
  return undefined;
}

/**
 * A layer already in the content store committed on `state` as a step: a new one (commitLayer), or
 * a COPY --link step's layer reused on a new parent (same diff ID and blob, nothing copied again,
 * as BuildKit's merge puts a linked layer on a changed base). The snapshot for the new chain is
 * unpacked from the stored blob; the image is a step record like any other (parent and cache key).
 */
export async function commitExistingLayer(images: ImageService, state: BuildState, layer: LayerRecord, createdBy: string, containerConfig: ContainerConfig, cacheKey: string): Promise<BuildState> {
  const blob = layer.blob;
  if (!blob) throw new Error(`layer ${layer.diffId} has no blob to commit again`);
  const diffIds = [...state.config.rootfs.diff_ids, layer.diffId];
  const chains = chainIds(diffIds);
  const chainId = chains[chains.length - 1] ?? layer.diffId;
  const created = new Date().toISOString();
  const config: ImageConfig = {
    ...state.config,
    created,
    config: containerConfig,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...(state.config.history ?? []), { created, created_by: createdBy }],
  };
  const layers = [...state.layers, { diffId: layer.diffId, chainId, blob }];
  await images.leases.with([layer.diffId, blob.digest, chainId], async () => {
    await images.snapshots.create(chainId, chains[chains.length - 2], layer.diffId, () => decompress(images.content.openRead(blob.digest)));
  });
  return saveStep(images, state, config, layers, cacheKey);
}

async function saveStep(images: ImageService, state: BuildState, config: ImageConfig, layers: LayerRecord[], cacheKey: string): Promise<BuildState> {
  const bytes = Buffer.from(JSON.stringify(config));
  const id = sha256Digest(bytes);
  await images.leases.with([id], async () => {
    await images.content.put(bytes, id);
    await images.saveRecord(id, layers, { ...(state.imageId ? { parent: state.imageId } : {}), buildCache: cacheKey });
  });
  return { imageId: id, config, layers };
}

/** A state's layers, with its filesystem mounted only when a step must read through it. */
export interface StateView {
  /** The layers' directories, topmost first. */
  lowerDirs: string[];
  /** The filesystem, mounted read-only on first use (a mount and an unmount are two processes). */
  root(): Promise<string>;
}

export async function withStateView<T>(images: ImageService, state: BuildState, fn: (view: StateView) => Promise<T>): Promise<T> {
  const top = state.layers[state.layers.length - 1]?.chainId;
  const lowerDirs = top ? await images.snapshots.lowerDirs(top) : [];
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-stage-'));
  const empty = path.join(work, 'empty');
  const mountpoint = path.join(work, 'fs');
  await fs.mkdir(empty);
  await fs.mkdir(mountpoint);
  let mounted: Promise<string> | undefined;
  const root = () =>
    (mounted ??= lowerDirs.length === 0
      ? Promise.resolve(empty)
      : // Read-only overlay: at least two lower directories, so an empty one goes under a single layer.
        runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${[...lowerDirs, empty].join(':')}`, mountpoint]).then(() => mountpoint));
  try {
    return await fn({ lowerDirs, root });
  } finally {
    if (mounted && lowerDirs.length) {
      const didMount = await mounted.then(() => true, () => false);
      if (didMount) await runCommand('umount', [mountpoint]);
    }
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with the state's filesystem readable at a path: its layers stacked read-only (for
 * COPY --from, and to look up users).
 */
export async function withStateFs<T>(images: ImageService, state: BuildState, fn: (root: string, lowerDirs: string[]) => Promise<T>): Promise<T> {
  return withStateView(images, state, async (view) => fn(await view.root(), view.lowerDirs));
}

/**
 * What `name` (absolute in the image) is, looked up in the layers without mounting them: the
 * topmost layer that has a path decides (whiteouts are character devices: `other`). `unknown`
 * where only the mounted filesystem can tell: the path or a parent is a symlink, or a path is
 * found only in a lower layer than its parent's topmost copy, which may be an opaque directory
 * that hides it.
 */
export async function kindInLayers(lowerDirs: string[], name: string): Promise<'dir' | 'other' | 'missing' | 'unknown'> {
  const parts = name.split('/').filter(Boolean);
  let parentLayer = 0;
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    let found: Stats | undefined;
    let layer = 0;
    for (; layer < lowerDirs.length; layer++) {
      found = await fs.lstat(path.join(lowerDirs[layer]!, prefix)).catch(() => undefined);
      if (found) break;
    }
    if (!found) return 'missing';
    if (found.isSymbolicLink() || (i > 1 && layer > parentLayer)) return 'unknown';
    if (i === parts.length) return found.isDirectory() ? 'dir' : 'other';
    if (!found.isDirectory()) return 'missing';
    parentLayer = layer;
  }
  return 'dir';
}
