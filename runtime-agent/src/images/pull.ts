// `docker pull`: resolve the manifest (choosing this platform from an index), fetch the config,
// download the layers in parallel into the content store (each verified against its digest), unpack
// them in order into snapshots, then record the image and its names. The progress stream is the one
// the CLI renders as bars.
import { PassThrough } from 'node:stream';

import type { ProgressReporter } from '../vocabulary/progress.js';
import type { AuthConfig } from '../registry/auth-config.js';
import type { RegistryClient, Repository } from '../registry/client.js';
import { RegistryError } from '../registry/registry-error.js';
import { chainIds } from '../snapshots/chain-id.js';
import { decompress } from '../util/compression.js';
import { shortId } from '../util/digest.js';
import { concurrencyLimit } from '../util/limit.js';
import { EngineError, InvalidParameterError, NotFoundError, SystemError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import type { ImageService } from './image-service.js';
import { DigestMismatchError } from './content-store.js';
import type { LayerRecord } from '../vocabulary/image-record.js';
import { MediaType, isIndexMediaType, isManifestMediaType, layerCompression, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../vocabulary/media-types.js';
import { hostPlatform, selectManifest } from './platform.js';
import { familiarName, familiarString, type Reference } from '../vocabulary/reference.js';

const DOWNLOAD_CONCURRENCY = 3;
const DOWNLOAD_ATTEMPTS = 3;

export interface PullOptions {
  auth?: AuthConfig;
  platform?: Platform;
  progress: ProgressReporter;
  signal?: AbortSignal;
}

export class Puller {
  constructor(
    private readonly images: ImageService,
    private readonly registry: RegistryClient,
  ) {}

  /** `docker pull -a`: every tag of the repository. */
  async pullAllTags(repo: Reference, options: PullOptions): Promise<void> {
    const session = this.registry.repository(repo.domain, repo.path, options.auth, ['pull']);
    const tags = await session.listTags().catch((err: unknown) => {
      throw translatePullError(err, repo);
    });
    if (tags.length === 0) throw new NotFoundError(`no tags found for ${familiarName(repo)}`);
    for (const tag of tags) await this.pullOne({ domain: repo.domain, path: repo.path, tag }, session, options, false);
    options.progress.status(`Status: Downloaded newer images for ${familiarName(repo)}`);
  }

  async pull(ref: Reference, options: PullOptions): Promise<string> {
    const session = this.registry.repository(ref.domain, ref.path, options.auth, ['pull']);
    return this.pullOne(ref, session, options, true);
  }

  private async pullOne(ref: Reference, session: Repository, options: PullOptions, finalStatus: boolean): Promise<string> {
    const { progress } = options;
    const label = ref.digest ?? ref.tag ?? 'latest';
    const top = await session.getManifest(label).catch((err: unknown) => {
      throw translatePullError(err, ref);
    });
    progress.header(`Pulling from ${ref.path}`, label);

    let manifestFetched = top;
    if (isIndexMediaType(top.mediaType)) {
      const index = JSON.parse(top.body.toString('utf8')) as ImageIndex;
      const chosen = selectManifest(index.manifests ?? [], options.platform ?? hostPlatform());
      manifestFetched = await session.getManifest(chosen.digest);
      if (manifestFetched.digest !== chosen.digest) throw new SystemError(`manifest verification failed for digest ${chosen.digest}`);
    } else if (!isManifestMediaType(top.mediaType)) {
      if (top.mediaType.includes('v1+')) throw new InvalidParameterError(`unsupported manifest media type ${top.mediaType}: Docker Image Format v1 and Docker Image manifest version 2, schema 1 are not supported`);
      throw new InvalidParameterError(`unsupported manifest media type ${JSON.stringify(top.mediaType)}`);
    }
    const manifest = parseManifest(manifestFetched.body);
    const configBytes = await this.fetchSmallBlob(session, manifest.config);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new SystemError(`image config has ${diffIds.length} layers but the manifest lists ${manifest.layers.length}`);
    }
    const chains = chainIds(diffIds);
    const imageId = manifest.config.digest;
    const previous = this.images.images.lookupRef(ref);

    const leaseKeys = [imageId, top.digest, manifestFetched.digest, ...chains, ...manifest.layers.map((l) => l.digest)];
    await this.images.leases.with(leaseKeys, async () => {
      await this.images.content.put(configBytes, imageId);
      await this.images.content.put(top.body, top.digest);
      if (manifestFetched !== top) await this.images.content.put(manifestFetched.body, manifestFetched.digest);
      await this.fetchLayers(session, manifest.layers, diffIds, chains, options);
      const layers: LayerRecord[] = manifest.layers.map((blob, i) => ({
        diffId: diffIds[i] ?? '',
        chainId: chains[i] ?? '',
        blob: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size },
        sources: [{ domain: ref.domain, path: ref.path }],
      }));
      await this.images.saveRecord(imageId, layers, { manifest: { mediaType: top.mediaType, digest: top.digest, size: top.body.length } });
      await this.images.mutations.run('images', async () => {
        if (ref.tag) await this.images.images.addRef(ref, imageId);
        await this.images.images.addRef({ domain: ref.domain, path: ref.path, digest: top.digest }, imageId);
      });
    });

    this.images.events.publish('image', 'pull', familiarString(ref), { name: familiarName(ref) });
    progress.status(`Digest: ${top.digest}`);
    if (finalStatus) {
      const upToDate = previous === imageId;
      progress.status(`Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarString(ref)}`);
    }
    return imageId;
  }

  private async fetchSmallBlob(session: Repository, desc: Descriptor): Promise<Buffer> {
    if (await this.images.content.has(desc.digest)) return this.images.content.read(desc.digest);
    const { stream } = await session.fetchBlob(desc.digest);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 64 * 1024 * 1024) throw new SystemError(`blob ${desc.digest} is too large for a config`);
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    await this.images.content.put(body, desc.digest).catch((err: unknown) => {
      throw new SystemError(`failed to verify ${desc.digest}: ${errorMessage(err)}`);
    });
    return body;
  }

  /**
   * Fetches the missing layers, at most DOWNLOAD_CONCURRENCY at once. Each layer is unpacked while
   * it downloads (snapshot directories do not depend on each other); its snapshot is committed
   * only after the blob's digest has been verified.
   */
  private async fetchLayers(session: Repository, layers: Descriptor[], diffIds: string[], chains: string[], options: PullOptions): Promise<void> {
    const { progress } = options;
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onOuterAbort);
    const present = await Promise.all(chains.map((c) => this.images.snapshots.has(c)));
    for (const [i, layer] of layers.entries()) {
      if (!layerCompression(layer.mediaType)) throw new InvalidParameterError(`unsupported layer media type ${layer.mediaType}`);
      progress.status(present[i] ? 'Already exists' : 'Pulling fs layer', shortId(layer.digest));
    }
    const missing = layers.map((_, i) => i).filter((i) => !present[i]);
    for (const i of missing.slice(DOWNLOAD_CONCURRENCY)) progress.status('Waiting', shortId(layers[i]?.digest ?? ''));
    const limit = concurrencyLimit(DOWNLOAD_CONCURRENCY);
    const tasks = missing.map((i) =>
      limit(() => {
        const target: LayerTarget = { blob: layers[i] as Descriptor, diffId: diffIds[i] ?? '', chainId: chains[i] ?? '', ...(i > 0 ? { parent: chains[i - 1] } : {}) };
        return this.fetchLayer(session, target, progress, controller.signal);
      }),
    );
    try {
      await Promise.all(tasks);
    } catch (err) {
      controller.abort();
      await Promise.allSettled(tasks);
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  private async fetchLayer(session: Repository, layer: LayerTarget, progress: ProgressReporter, signal: AbortSignal): Promise<void> {
    const id = shortId(layer.blob.digest);
    const { content, snapshots } = this.images;
    if (await content.has(layer.blob.digest)) {
      // A blob left by an earlier, interrupted pull (or another image): only the unpack is missing.
      progress.status('Download complete', id);
      await snapshots.create(layer.chainId, layer.parent, layer.diffId, () => decompress(content.openRead(layer.blob.digest)));
      progress.status('Pull complete', id);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const { stream } = await session.fetchBlob(layer.blob.digest, signal);
        const toStore = new PassThrough({ highWaterMark: 1 << 20 });
        const toUnpack = new PassThrough({ highWaterMark: 1 << 20 });
        // The consumers attach their own handlers later (the unpack starts after a mkdir); until
        // then an error must not go unheard, or it would take the engine down.
        toStore.on('error', () => undefined);
        toUnpack.on('error', () => undefined);
        stream.on('error', (err) => {
          toStore.destroy(err);
          toUnpack.destroy(err);
        });
        stream.pipe(toStore);
        stream.pipe(toUnpack);
        const stored = content
          .ingest(toStore, {
            expectedDigest: layer.blob.digest,
            ...(layer.blob.size ? { expectedSize: layer.blob.size } : {}),
            signal,
            onProgress: (n) => progress.progress(id, 'Downloading', n, layer.blob.size),
          })
          .then(() => {
            progress.status('Verifying Checksum', id);
            progress.status('Download complete', id);
          });
        const unpacked = snapshots.create(layer.chainId, layer.parent, layer.diffId, () => decompress(toUnpack), stored);
        // Whichever fails first decides; the other is torn down with it.
        await Promise.all([stored, unpacked]).catch(async (err: unknown) => {
          stream.destroy();
          toStore.destroy();
          toUnpack.destroy();
          await Promise.allSettled([stored, unpacked]);
          throw (await stored.then(() => undefined, (e: unknown) => e)) ?? err;
        });
        progress.progress(id, 'Extracting', layer.blob.size, layer.blob.size, true);
        progress.status('Pull complete', id);
        return;
      } catch (err) {
        if (err instanceof DigestMismatchError || (err instanceof EngineError && err.message.startsWith('size mismatch'))) {
          throw new SystemError(`filesystem layer verification failed for digest ${layer.blob.digest}`);
        }
        if (signal.aborted || err instanceof EngineError || attempt >= DOWNLOAD_ATTEMPTS) throw err;
        log.warn('layer download failed, retrying', { digest: layer.blob.digest, attempt, error: errorMessage(err) });
        progress.status(`Retrying in ${attempt} second${attempt > 1 ? 's' : ''}`, id);
        await new Promise((r) => setTimeout(r, attempt * 1000));
      }
    }
  }
}

interface LayerTarget {
  blob: Descriptor;
  diffId: string;
  chainId: string;
  parent?: string;
}

function parseManifest(body: Buffer): ImageManifest {
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(body.toString('utf8')) as ImageManifest;
  } catch {
    throw new SystemError('invalid manifest: not JSON');
  }
  if (manifest.schemaVersion !== 2 || !manifest.config?.digest || !Array.isArray(manifest.layers)) {
    throw new SystemError('invalid manifest: missing config or layers');
  }
  if (manifest.config.mediaType !== MediaType.DockerConfig && manifest.config.mediaType !== MediaType.OciConfig) {
    throw new InvalidParameterError(`unsupported image config media type ${manifest.config.mediaType}`);
  }
  return manifest;
}

/** dockerd's wording for a pull the registry refused. */
export function translatePullError(err: unknown, ref: Reference): unknown {
  if (!(err instanceof RegistryError)) return err;
  const name = familiarName(ref);
  if (err.httpStatus === 404 && err.has('MANIFEST_UNKNOWN')) {
    return new NotFoundError(`manifest for ${familiarString(ref)} not found: ${err.message}`);
  }
  if (err.httpStatus === 401 || err.httpStatus === 403 || err.has('NAME_UNKNOWN') || err.has('DENIED') || err.has('UNAUTHORIZED')) {
    return new NotFoundError(`pull access denied for ${name}, repository does not exist or may require 'docker login': ${err.message}`);
  }
  return err;
}
