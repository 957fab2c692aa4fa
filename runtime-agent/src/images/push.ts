// `docker push`: upload the layers the registry lacks (mounting them from another repository of the
// same registry when we know one has them), then the config, then the manifest. A manifest we
// pulled is pushed byte for byte when it still describes the image, so the digest is kept.
import { createGzip } from 'node:zlib';

import type { ProgressReporter } from '../vocabulary/progress.js';
import type { AuthConfig } from '../registry/auth-config.js';
import type { RegistryClient, Repository } from '../registry/client.js';
import { shortId } from '../util/digest.js';
import { NotFoundError, SystemError } from '../util/errors.js';
import { concurrencyLimit } from '../util/limit.js';
import type { ImageService } from './image-service.js';
import type { ImageRecord, LayerRecord } from '../vocabulary/image-record.js';
import { MediaType, isForeignLayer, layerCompression, type Descriptor, type ImageManifest } from '../vocabulary/media-types.js';
import { familiarName, familiarString, parseReference, referenceString, type Reference } from '../vocabulary/reference.js';

const UPLOAD_CONCURRENCY = 5;

export interface PushOptions {
  auth?: AuthConfig;
  progress: ProgressReporter;
}

export class Pusher {
  constructor(
    private readonly images: ImageService,
    private readonly registry: RegistryClient,
  ) {}

  /** Pushes `repo:tag`, or every tag of `repo` when no tag is given. */
  async push(repo: Reference, tag: string | undefined, options: PushOptions): Promise<void> {
    const targets = this.findTargets(repo, tag);
    options.progress.status(`The push refers to repository [${repo.domain}/${repo.path}]`);
    const session = this.registry.repository(repo.domain, repo.path, options.auth, ['pull', 'push']);
    for (const { ref, image } of targets) await this.pushOne(session, ref, image, options.progress);
  }

  private findTargets(repo: Reference, tag: string | undefined): { ref: Reference; image: ImageRecord }[] {
    const name = `${repo.domain}/${repo.path}`;
    if (tag) {
      const ref: Reference = { domain: repo.domain, path: repo.path, tag };
      const id = this.images.images.lookupRef(ref);
      const image = id ? this.images.images.get(id) : undefined;
      if (!image) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(repo)}`);
      return [{ ref, image }];
    }
    const targets = this.images.images
      .all()
      .flatMap((image) => this.images.images.refsOf(image.id).map((r) => ({ ref: parseReference(r), image })))
      .filter(({ ref }) => ref.tag && `${ref.domain}/${ref.path}` === name)
      .sort((a, b) => referenceString(a.ref).localeCompare(referenceString(b.ref)));
    if (targets.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(repo)}`);
    return targets;
  }

  private async pushOne(session: Repository, ref: Reference, image: ImageRecord, progress: ProgressReporter): Promise<void> {
    const layers = await this.ensureCompressedBlobs(image);
    // dockerd lists the top layer first.
    const order = [...layers.keys()].reverse();
    for (const i of order) progress.status('Preparing', shortId(layers[i]?.diffId ?? ''));
    const limit = concurrencyLimit(UPLOAD_CONCURRENCY);
    for (const i of order.slice(UPLOAD_CONCURRENCY)) progress.status('Waiting', shortId(layers[i]?.diffId ?? ''));
    await Promise.all(order.map((i) => limit(() => this.pushLayer(session, layers[i] as LayerRecord, progress))));

    const configSize = await this.images.content.size(image.id);
    if ((await session.statBlob(image.id)) === undefined) {
      await session.uploadBlob(image.id, configSize, () => this.images.content.openRead(image.id));
    }
    const { body, mediaType } = await this.manifestFor(image, layers, configSize);
    const digest = await session.putManifest(ref.tag ?? 'latest', body, mediaType);
    await this.images.saveRecord(image.id, layers.map((l) => ({ ...l, sources: [{ domain: session.domain, path: session.path }] })), {
      manifest: { mediaType, digest, size: body.length },
    });
    await this.images.mutations.run('images', () => this.images.images.addRef({ domain: ref.domain, path: ref.path, digest }, image.id));
    this.images.events.publish('image', 'push', familiarString(ref), { name: familiarName(ref) });
    progress.status(`${ref.tag}: digest: ${digest} size: ${body.length}`);
    progress.aux({ Tag: ref.tag, Digest: digest, Size: body.length });
  }

  private async pushLayer(session: Repository, layer: LayerRecord, progress: ProgressReporter): Promise<void> {
    const id = shortId(layer.diffId);
    const blob = layer.blob as Descriptor;
    if (isForeignLayer(blob.mediaType)) {
      progress.status('Skipped foreign layer', id);
      return;
    }
    if ((await session.statBlob(blob.digest)) !== undefined) {
      progress.status('Layer already exists', id);
      return;
    }
    for (const source of layer.sources ?? []) {
      if (source.domain !== session.domain || source.path === session.path) continue;
      if (await session.mountBlob(blob.digest, source.path)) {
        progress.status(`Mounted from ${source.path}`, id);
        return;
      }
    }
    await session.uploadBlob(blob.digest, blob.size, () => this.images.content.openRead(blob.digest), (sent) =>
      progress.progress(id, 'Pushing', sent, blob.size),
    );
    progress.status('Pushed', id);
  }

  /**
   * Registries want compressed layers. Layers that came from `docker load` or `import` as plain
   * tars are gzipped once here and the result kept, so later pushes send the same digest.
   */
  private async ensureCompressedBlobs(image: ImageRecord): Promise<LayerRecord[]> {
    let changed = false;
    const layers: LayerRecord[] = [];
    for (const layer of image.layers) {
      if (!layer.blob || !(await this.images.content.has(layer.blob.digest))) {
        throw new SystemError(`layer ${layer.diffId} of image ${shortId(image.id)} has no content to push`);
      }
      if (layerCompression(layer.blob.mediaType) !== 'none') {
        layers.push(layer);
        continue;
      }
      const { digest, size } = await this.images.content.ingest(this.images.content.openRead(layer.blob.digest).pipe(createGzip()));
      layers.push({ ...layer, blob: { mediaType: MediaType.DockerLayerGzip, digest, size } });
      changed = true;
    }
    if (changed) {
      // Replace the record's blobs (saveRecord keeps an existing blob, so write the record directly).
      await this.images.mutations.run('images', () => this.images.images.put({ ...image, layers }));
    }
    return layers;
  }

  private async manifestFor(image: ImageRecord, layers: LayerRecord[], configSize: number): Promise<{ body: Buffer; mediaType: string }> {
    for (const desc of image.manifests ?? []) {
      if (desc.mediaType !== MediaType.DockerManifest && desc.mediaType !== MediaType.OciManifest) continue;
      if (!(await this.images.content.has(desc.digest))) continue;
      const body = await this.images.content.read(desc.digest);
      const manifest = JSON.parse(body.toString('utf8')) as ImageManifest;
      const same =
        manifest.config.digest === image.id &&
        manifest.layers.length === layers.length &&
        manifest.layers.every((l, i) => l.digest === layers[i]?.blob?.digest);
      if (same) return { body, mediaType: desc.mediaType };
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, size: configSize, digest: image.id },
      layers: layers.map((l) => {
        const blob = l.blob as Descriptor;
        const oci = blob.mediaType.startsWith('application/vnd.oci.');
        const mediaType = oci ? (layerCompression(blob.mediaType) === 'zstd' ? MediaType.OciLayerZstd : MediaType.DockerLayerGzip) : blob.mediaType;
        return { mediaType, size: blob.size, digest: blob.digest };
      }),
    };
    return { body: Buffer.from(JSON.stringify(manifest, null, 3)), mediaType: MediaType.DockerManifest };
  }
}
