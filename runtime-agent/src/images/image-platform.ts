// The platform of a stored image, as `POST /containers/create` weighs it (dockerd, API >= 1.41):
// with a platform asked for, an image that does not serve it counts as not found, a 404 on which
// the docker CLI pulls that platform and creates again; without one, an image for another platform
// than the engine's is created with a warning (it runs only through an emulator, qemu-user in the
// guest).
import { NotFoundError } from '../util/errors.js';
import type { ImageRecord } from '../vocabulary/image-record.js';
import { isIndexMediaType, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../vocabulary/media-types.js';
import type { ImageService } from './image-service.js';
import { formatPlatform, hostPlatform, imagePlatformMatches, platformMatches } from './platform.js';

export function configPlatform(config: ImageConfig): Platform {
  return { os: config.os ?? '', architecture: config.architecture ?? '', ...(config.variant ? { variant: config.variant } : {}) };
}

/**
 * Whether an index this image was pulled through lists it for `want`: the config may say less than
 * the index did (a classic build's config names the build machine's platform), so the index decides
 * too, as in dockerd. Only indexes still in the content store, and their entries' manifests.
 */
async function indexListsImageFor(service: ImageService, record: ImageRecord, want: Platform): Promise<boolean> {
  for (const top of record.manifests ?? []) {
    if (!isIndexMediaType(top.mediaType) || !(await service.content.has(top.digest))) continue;
    const index = await service.content.readJson<ImageIndex>(top.digest).catch(() => undefined);
    for (const entry of index?.manifests ?? []) {
      if (!platformMatches(want, entry.platform) || !(await service.content.has(entry.digest))) continue;
      const manifest = await service.content.readJson<ImageManifest>(entry.digest).catch(() => undefined);
      if (manifest?.config?.digest === record.id) return true;
    }
  }
  return false;
}

/**
 * Checks the image `reference` (as the request named it) against the platform the request asked
 * for, and returns the warnings dockerd gives. An image that does not exist is left to the caller,
 * whose "No such image" comes after its own checks of the request.
 */
export async function checkImagePlatform(service: ImageService, reference: string, requested: Platform | undefined): Promise<string[]> {
  const record = service.images.find(reference);
  if (!record) return [];
  const have = configPlatform(await service.config(record.id));
  if (!requested) {
    const host = hostPlatform();
    if (imagePlatformMatches(host, have)) return [];
    return [`The requested image's platform (${formatPlatform(have)}) does not match the detected host platform (${formatPlatform(host)}) and no specific platform was requested`];
  }
  if (imagePlatformMatches(requested, have) || (await indexListsImageFor(service, record, requested))) return [];
  throw new NotFoundError(`image with reference ${reference} was found but does not match the specified platform: wanted ${formatPlatform(requested)}, actual: ${formatPlatform(have)}`);
}
