// `--cache-from`: step images from a cache export become records of this engine again (their
// configs, their layers unpacked as snapshots, each saved with its parent and cache key), so the
// builder's (parent, key) lookup finds them as if this engine had built them.
//  - type=local,src=DIR: the client's directory, read through its session (the client resolved the
//    index's digest from DIR/index.json);
//  - type=registry,ref=IMAGE: an image pushed with `--cache-to type=inline`, its cache records in
//    its config and its layers in the registry.
// Everything is fetched and checked against its digest before anything is recorded: a cache with
// a wrong blob, a missing one or malformed JSON fails the build with what was wrong, and nothing
// of it is kept.
import { Readable } from 'node:stream';

import type { ImageService } from '../../images/image-service.js';
import { hostPlatform, selectManifest } from '../../images/platform.js';
import type { RegistryClient } from '../../registry/client.js';
import { chainIds } from '../../snapshots/chain-id.js';
import { decompress } from '../../util/compression.js';
import { isDigest, sha256Digest, shortId } from '../../util/digest.js';
import { EngineError, errorMessage } from '../../util/errors.js';
import { log } from '../../util/log.js';
import type { LayerRecord } from '../../vocabulary/image-record.js';
import { isIndexMediaType, isManifestMediaType, type ImageConfig } from '../../vocabulary/media-types.js';
import { parseNormalizedNamed, referenceString } from '../../vocabulary/reference.js';
import type { CacheImport } from '../frontend-attrs.js';
import { Code, GrpcError } from '../grpc/status.js';
import type { BuildProgress, Vertex } from '../progress.js';
import { sessionCredentials } from '../session-auth.js';
import type { Session } from '../sessions.js';
import { BUILDKIT_CACHE_CONFIG_MEDIA_TYPE, CACHE_CONFIG_MEDIA_TYPE, INLINE_CACHE_KEY, checkCacheConfig, checkDescriptor, checkInlineCache, parseJson, type CacheLayer } from './cache-format.js';
import { checkCacheImport } from './options.js';
import { SessionContentStore } from './session-content.js';

/** Manifests, indexes and cache configs are small; a larger one is refused, not read. */
const SMALL_BLOB_LIMIT = 16 * 1024 * 1024;

/** A step image to record: its config bytes (their digest is its ID) and its layers. */
interface PlannedRecord {
  id: string;
  configBytes: Buffer;
  parent?: string;
  buildCache: string;
  layers: LayerRecord[];
}

/** Where a layer blob that is not in the content store yet comes from. */
type BlobSource = (layer: CacheLayer) => Promise<Readable>;

/** `registry` is what `--cache-from type=registry` reads an image's inline cache with. */
export async function importBuildCaches(images: ImageService, registry: RegistryClient | undefined, session: Session, imports: CacheImport[], signal: AbortSignal, progress: BuildProgress): Promise<void> {
  for (const entry of imports) checkCacheImport(entry);
  for (const entry of imports) {
    if (entry.type === 'local') await importLocal(images, session, entry, signal, progress);
    else await importRegistry(images, registry, session, entry, signal, progress);
  }
}

function invalid(source: string, why: string): GrpcError {
  return new GrpcError(Code.INVALID_ARGUMENT, `cache ${source}: ${why}`);
}

function verify(bytes: Buffer, digest: string, source: string, what: string): void {
  const actual = sha256Digest(bytes);
  if (actual !== digest) throw new GrpcError(Code.DATA_LOSS, `cache ${source}: ${what} ${digest} does not match its digest (its content is ${actual})`);
}

function diffIdsOf(configBytes: Buffer, id: string, source: string): string[] {
  const config = parseJson(configBytes, `image config ${id}`) as ImageConfig;
  const diffIds = (config as { rootfs?: { diff_ids?: unknown } })?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) throw invalid(source, `image config ${id} has no list of diff IDs`);
  return diffIds as string[];
}

function layerRecords(diffIds: string[], layers: Map<string, CacheLayer>, id: string, source: string): LayerRecord[] {
  const chains = chainIds(diffIds);
  return diffIds.map((diffId, i) => {
    const layer = layers.get(diffId);
    if (!layer) throw invalid(source, `layer ${diffId} of image ${id} is not in the cache`);
    return { diffId, chainId: chains[i]!, blob: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size } };
  });
}

async function importLocal(images: ImageService, session: Session, entry: CacheImport, signal: AbortSignal, progress: BuildProgress): Promise<void> {
  const storeId = `local:${entry.attrs.src}`;
  const digest = entry.attrs.digest ?? '';
  await progress.run(`importing cache manifest from ${storeId}`, async (vertex) => {
    if (!isDigest(digest)) throw invalid(storeId, `the manifest digest ${JSON.stringify(digest)} is not a sha256 digest`);
    const store = SessionContentStore.open(session, storeId, signal, ['Info', 'Read']);
    const readSmall = async (blob: string, what: string): Promise<Buffer> => {
      const bytes = await store.readAll(blob, SMALL_BLOB_LIMIT);
      verify(bytes, blob, storeId, what);
      return bytes;
    };
    const index = parseJson(await readSmall(digest, 'manifest'), 'manifest') as { manifests?: unknown };
    if (!Array.isArray(index?.manifests)) throw invalid(storeId, `manifest ${digest} is not an image index`);
    const descriptors = index.manifests.map((d) => checkDescriptor(d, 'manifest'));
    const configs = descriptors.filter((d) => d.mediaType === CACHE_CONFIG_MEDIA_TYPE);
    if (configs.length !== 1) {
      if (descriptors.some((d) => d.mediaType === BUILDKIT_CACHE_CONFIG_MEDIA_TYPE)) throw invalid(storeId, `it was written by BuildKit (${BUILDKIT_CACHE_CONFIG_MEDIA_TYPE}); berthd imports the caches berthd exports (${CACHE_CONFIG_MEDIA_TYPE})`);
      throw invalid(storeId, `manifest ${digest} lists ${configs.length} berthd cache configs (${CACHE_CONFIG_MEDIA_TYPE}), not one`);
    }
    const cacheConfig = checkCacheConfig(parseJson(await readSmall(configs[0]!.digest, 'cache config'), 'config'));
    const layers = new Map(cacheConfig.layers.map((l) => [l.diffId, l]));
    const planned: PlannedRecord[] = [];
    for (const record of cacheConfig.records) {
      const configBytes = (await images.content.has(record.id)) ? await images.content.read(record.id) : await readSmall(record.id, 'image config');
      verify(configBytes, record.id, storeId, 'image config');
      planned.push({ ...record, configBytes, layers: layerRecords(diffIdsOf(configBytes, record.id, storeId), layers, record.id, storeId) });
    }
    const imported = await recordAll(images, planned, storeId, async (layer) => Readable.from(store.read(layer.digest)), vertex, signal);
    vertex.task(`${imported} cached steps imported`);
  });
}

async function importRegistry(images: ImageService, registry: RegistryClient | undefined, session: Session, entry: CacheImport, signal: AbortSignal, progress: BuildProgress): Promise<void> {
  const name = entry.attrs.ref ?? '';
  await progress.run(`importing cache manifest from ${name}`, async (vertex) => {
    if (!registry) throw new GrpcError(Code.UNIMPLEMENTED, '--cache-from type=registry: this engine has no registry client for build caches');
    let ref;
    try {
      ref = parseNormalizedNamed(name);
    } catch (err) {
      throw new GrpcError(Code.INVALID_ARGUMENT, `--cache-from type=registry,ref=${name}: ${errorMessage(err)}`);
    }
    const source = referenceString(ref);
    const auth = await sessionCredentials(session, signal)(ref.domain);
    const repository = registry.repository(ref.domain, ref.path, auth, ['pull']);
    let top;
    try {
      top = await repository.getManifest(ref.digest ?? ref.tag ?? 'latest');
    } catch (err) {
      // As BuildKit: a cache that is not there yet (the first build) is a warning, not a failure.
      if (err instanceof EngineError && err.statusCode === 404) {
        vertex.log(`WARNING: no cache imported from ${source}: ${errorMessage(err)}\n`, 2);
        return;
      }
      throw err;
    }
    let manifestBytes = top.body;
    if (isIndexMediaType(top.mediaType)) {
      const index = parseJson(top.body, 'index') as { manifests?: unknown };
      if (!Array.isArray(index?.manifests)) throw invalid(source, 'its index lists no manifests');
      const chosen = selectManifest(index.manifests.map((d) => checkDescriptor(d, 'index')), hostPlatform(), source);
      const fetched = await repository.getManifest(chosen.digest);
      verify(fetched.body, chosen.digest, source, 'manifest');
      manifestBytes = fetched.body;
    } else if (!isManifestMediaType(top.mediaType)) {
      throw invalid(source, `media type ${JSON.stringify(top.mediaType)} is not an image's`);
    }
    const manifest = parseJson(manifestBytes, 'manifest') as { config?: unknown; layers?: unknown };
    if (!Array.isArray(manifest?.layers)) throw invalid(source, 'its manifest has no list of layers');
    const configDesc = checkDescriptor(manifest.config, 'manifest');
    const manifestLayers = manifest.layers.map((l) => checkDescriptor(l, 'manifest'));
    const { stream } = await repository.fetchBlob(configDesc.digest, signal);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > SMALL_BLOB_LIMIT) throw invalid(source, `its config is larger than ${SMALL_BLOB_LIMIT} bytes`);
      chunks.push(chunk);
    }
    const imageConfigBytes = Buffer.concat(chunks);
    verify(imageConfigBytes, configDesc.digest, source, 'image config');
    const imageDiffIds = diffIdsOf(imageConfigBytes, configDesc.digest, source);
    if (imageDiffIds.length !== manifestLayers.length) throw invalid(source, `its config lists ${imageDiffIds.length} layers, its manifest ${manifestLayers.length}`);
    const inline = (parseJson(imageConfigBytes, 'image config') as Record<string, unknown>)[INLINE_CACHE_KEY];
    if (inline === undefined) {
      vertex.log(`WARNING: ${source} has no berthd build cache (build it with --cache-to type=inline)\n`, 2);
      return;
    }
    const cache = checkInlineCache(inline);
    const layers = new Map<string, CacheLayer>(imageDiffIds.map((diffId, i) => [diffId, { diffId, digest: manifestLayers[i]!.digest, mediaType: manifestLayers[i]!.mediaType, size: manifestLayers[i]!.size }]));
    const planned = cache.records.map((record): PlannedRecord => {
      const configBytes = Buffer.from(record.config, 'base64');
      verify(configBytes, record.id, source, 'image config');
      const diffIds = diffIdsOf(configBytes, record.id, source);
      // A step's layers are the first of the image's: its filesystem is what the image stands on.
      if (!diffIds.every((d, i) => imageDiffIds[i] === d)) throw invalid(source, `step ${record.id}'s layers are not the image's`);
      return { id: record.id, ...(record.parent ? { parent: record.parent } : {}), buildCache: record.buildCache, configBytes, layers: layerRecords(diffIds, layers, record.id, source) };
    });
    const imported = await recordAll(images, planned, source, async (layer) => (await repository.fetchBlob(layer.digest, signal)).stream, vertex, signal);
    vertex.task(`${imported} cached steps imported`);
  });
}

/**
 * Fetches the layer blobs the engine lacks (each checked against its digest), stores the configs,
 * unpacks the layers as snapshots (each checked against its diff ID) and saves the records. A
 * failure before the records leaves nothing behind: what was written is no record's and is swept.
 */
async function recordAll(images: ImageService, planned: PlannedRecord[], source: string, open: BlobSource, vertex: Vertex, signal: AbortSignal): Promise<number> {
  const blobs = new Map<string, LayerRecord>();
  for (const record of planned) for (const layer of record.layers) blobs.set(layer.chainId, layer);
  const keys = [...planned.map((r) => r.id), ...[...blobs.values()].flatMap((l) => [l.chainId, l.blob!.digest])];
  let imported = 0;
  let failed = false;
  try {
    await images.leases.with(keys, async () => {
      const fetched = new Set<string>();
      for (const layer of blobs.values()) {
        const blob = layer.blob!;
        // The blob is fetched even when the snapshot is here: a record's layers name blobs the engine has (push and save read them).
        if (fetched.has(blob.digest) || (await images.content.has(blob.digest))) continue;
        fetched.add(blob.digest);
        const task = `fetching layer ${shortId(blob.digest)}`;
        vertex.status(task, { total: blob.size });
        try {
          await images.content.ingest(await open({ diffId: layer.diffId, digest: blob.digest, mediaType: blob.mediaType, size: blob.size }), { expectedDigest: blob.digest, expectedSize: blob.size, signal });
        } catch (err) {
          if (err instanceof GrpcError) throw err;
          throw new GrpcError(Code.DATA_LOSS, `cache ${source}: layer ${blob.digest}: ${errorMessage(err)}`);
        }
        vertex.status(task, { current: blob.size, total: blob.size, done: true });
      }
      for (const record of planned) await images.content.put(record.configBytes, record.id);
      for (const record of planned) {
        for (const [i, layer] of record.layers.entries()) {
          if (await images.snapshots.has(layer.chainId)) continue;
          try {
            await images.snapshots.create(layer.chainId, record.layers[i - 1]?.chainId, layer.diffId, () => decompress(images.content.openRead(layer.blob!.digest)));
          } catch (err) {
            throw new GrpcError(Code.DATA_LOSS, `cache ${source}: layer ${layer.blob!.digest} does not unpack to ${layer.diffId}: ${errorMessage(err)}`);
          }
        }
      }
      for (const record of planned) {
        if (images.images.get(record.id)) continue;
        await images.saveRecord(record.id, record.layers, { ...(record.parent ? { parent: record.parent } : {}), buildCache: record.buildCache });
        imported += 1;
      }
    });
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    if (failed) await images.collectGarbage().catch((err: unknown) => log.warn('cache import: sweeping what a failed import left', { error: errorMessage(err) }));
  }
  return imported;
}
