// `--cache-to type=inline`: the exported image carries the build's cache in its config, as
// BuildKit's inline cache does (BuildKit under `moby.buildkit.cache.v0`, berthd under its own
// key, `berth.buildcache.v0`): the result's steps (mode=min), each with its config bytes, parent
// and cache key. Its layers are the image's own, so `--cache-from type=registry,ref=IMAGE` finds
// everything in the pushed image. The image is a new one (its config differs from the last step's):
// its parent is that step, so removing it takes the build's untagged steps with it, as for any build.
import type { ImageService } from '../../images/image-service.js';
import { sha256Digest } from '../../util/digest.js';
import type { SolvedRef } from '../jobs.js';
import { INLINE_CACHE_KEY, type InlineCache } from './cache-format.js';
import { cacheChain } from './collect.js';

export async function withInlineCache(images: ImageService, solved: SolvedRef): Promise<SolvedRef> {
  const records = cacheChain(images, solved, 'min');
  const cache: InlineCache = {
    schemaVersion: 0,
    records: await Promise.all(records.map(async (r) => ({ id: r.id, ...(r.parent ? { parent: r.parent } : {}), buildCache: r.buildCache!, config: (await images.content.read(r.id)).toString('base64') }))),
  };
  const config = { ...(await images.config(solved.imageId)), [INLINE_CACHE_KEY]: cache };
  const bytes = Buffer.from(JSON.stringify(config));
  const id = sha256Digest(bytes);
  const image = images.images.get(solved.imageId)!;
  await images.leases.with([id], async () => {
    await images.content.put(bytes, id);
    await images.saveRecord(id, image.layers, { parent: solved.imageId });
  });
  return { ...solved, imageId: id, config: bytes };
}
