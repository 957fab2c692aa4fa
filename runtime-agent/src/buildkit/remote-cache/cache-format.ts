// berthd's build cache as it travels (`--cache-to` / `--cache-from`). berthd's cache is its step
// images: each has a config, the layers of its filesystem, its parent (the step before) and the
// step's cache key; a step is found again by (parent, key). A cache export carries, for every step
// image it keeps, those four things; the FROM image a stage starts from is not a record of its
// own (the build pulls it), but its layers are carried, as every step's filesystem stands on them.
//
// Not BuildKit's cache format (its cache config describes LLB vertexes, which berthd has not),
// so it has a media type of its own:
//  - type=local: an OCI image index in the client's directory (as BuildKit's local cache is) that
//    lists every blob: the layers (their media types as stored), the step images' configs, and
//    one `application/vnd.berth.buildcache.v0+json` blob, the cache config below;
//  - type=inline: the same records inside the exported image's config, under `berth.buildcache.v0`,
//    each step's config bytes carried whole (base64), its layers being the image's own.
import { isDigest } from '../../util/digest.js';
import { Code, GrpcError } from '../grpc/status.js';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.berth.buildcache.v0+json';
export const BUILDKIT_CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.buildkit.cacheconfig.v0';
/** The key of the inline cache in an image's config. */
export const INLINE_CACHE_KEY = 'berth.buildcache.v0';

/** A step image: its config is the blob `id` (the image ID). */
export interface CacheRecord {
  id: string;
  /** The step before (or the FROM image); none for the first step of a stage from scratch. */
  parent?: string;
  /** The step's cache key (what the builder compares). */
  buildCache: string;
}

/** A layer blob, by the diff ID step configs name it with. */
export interface CacheLayer {
  diffId: string;
  digest: string;
  mediaType: string;
  size: number;
}

/** The cache config blob of a local cache. */
export interface CacheConfig {
  schemaVersion: 0;
  /** Parents before their children. */
  records: CacheRecord[];
  layers: CacheLayer[];
}

/** The inline cache: each record's config carried whole. */
export interface InlineCache {
  schemaVersion: 0;
  records: (CacheRecord & { config: string })[];
}

const LAYER_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
]);

/** At most this many records and layers in a cache (a cache is one build's steps). */
const MAX_ENTRIES = 10_000;

function bad(what: string, why: string): never {
  throw new GrpcError(Code.INVALID_ARGUMENT, `invalid build cache ${what}: ${why}`);
}

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    bad(what, 'not JSON');
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkRecord(value: unknown, what: string, index: number, seen: Set<string>): CacheRecord {
  if (!isObject(value)) bad(what, `record ${index} is not an object`);
  const { id, parent, buildCache } = value;
  if (typeof id !== 'string' || !isDigest(id)) bad(what, `record ${index} has no image ID`);
  if (parent !== undefined && (typeof parent !== 'string' || !isDigest(parent))) bad(what, `record ${index} has a parent that is not a digest`);
  if (typeof buildCache !== 'string' || !buildCache) bad(what, `record ${index} has no cache key`);
  if (seen.has(id)) bad(what, `record ${id} is listed twice`);
  seen.add(id);
  return { id, ...(parent ? { parent } : {}), buildCache };
}

export function checkCacheConfig(value: unknown): CacheConfig {
  const what = 'config';
  if (!isObject(value)) bad(what, 'not an object');
  if (value.schemaVersion !== 0) bad(what, `schemaVersion ${JSON.stringify(value.schemaVersion)} is not 0`);
  if (!Array.isArray(value.records) || !Array.isArray(value.layers)) bad(what, 'records and layers must be lists');
  if (value.records.length > MAX_ENTRIES || value.layers.length > MAX_ENTRIES) bad(what, 'too many entries');
  const seen = new Set<string>();
  const records = value.records.map((r, i) => checkRecord(r, what, i, seen));
  const layers = value.layers.map((l: unknown, i): CacheLayer => {
    if (!isObject(l)) bad(what, `layer ${i} is not an object`);
    const { diffId, digest, mediaType, size } = l;
    if (typeof diffId !== 'string' || !isDigest(diffId) || typeof digest !== 'string' || !isDigest(digest)) bad(what, `layer ${i} needs a diffId and a digest`);
    if (typeof mediaType !== 'string' || !LAYER_MEDIA_TYPES.has(mediaType)) bad(what, `layer ${i} has media type ${JSON.stringify(mediaType)}, not a layer's`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) bad(what, `layer ${i} has no size`);
    return { diffId, digest, mediaType, size };
  });
  return { schemaVersion: 0, records, layers };
}

export function checkInlineCache(value: unknown): InlineCache {
  const what = `inline cache (${INLINE_CACHE_KEY})`;
  if (!isObject(value)) bad(what, 'not an object');
  if (value.schemaVersion !== 0) bad(what, `schemaVersion ${JSON.stringify(value.schemaVersion)} is not 0`);
  if (!Array.isArray(value.records) || value.records.length > MAX_ENTRIES) bad(what, 'records must be a list');
  const seen = new Set<string>();
  const records = value.records.map((r: unknown, i) => {
    const record = checkRecord(r, what, i, seen);
    const config = (r as Record<string, unknown>).config;
    if (typeof config !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(config)) bad(what, `record ${i} has no base64 config`);
    return { ...record, config };
  });
  return { schemaVersion: 0, records };
}

/** A descriptor read from a manifest or index: the fields berthd relies on, checked. */
export function checkDescriptor(value: unknown, what: string): { mediaType: string; digest: string; size: number } {
  if (!isObject(value)) bad(what, 'a descriptor is not an object');
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || typeof digest !== 'string' || !isDigest(digest) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) bad(what, `malformed descriptor ${JSON.stringify(value).slice(0, 200)}`);
  return { mediaType, digest, size };
}
