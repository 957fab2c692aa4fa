// Images in and out of tar archives:
//  - save: a tar that is both a docker-archive (manifest.json, repositories) and an OCI image
//    layout (oci-layout, index.json, blobs/), as Docker 25+ writes it; layers as plain tars.
//  - load: docker-archive (any version) and OCI layout archives (skopeo's oci-archive).
//  - import: one tar of a root filesystem becomes a one-layer image.
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';

import type { ProgressReporter } from '../vocabulary/progress.js';
import { chainIds } from '../snapshots/chain-id.js';
import { decompress, detectFileCompression } from '../util/compression.js';
import { digestHex, sha256Digest, sha256OfStream, shortId } from '../util/digest.js';
import { InvalidParameterError, SystemError, errorMessage } from '../util/errors.js';
import { Shapes, checkShape } from '../util/json-shapes.js';
import { removeTree } from '../util/remove-tree.js';
import { SpooledArchive } from './archive-reader.js';
import type { ImageService } from './image-service.js';
import type { ImageRecord, LayerRecord } from '../vocabulary/image-record.js';
import { MediaType, isIndexMediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../vocabulary/media-types.js';
import { hostPlatform, selectManifest } from './platform.js';
import { familiarString, parseNormalizedNamed, parseReference, type Reference } from '../vocabulary/reference.js';

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

export interface LoadedImage {
  id: string;
  tags: Reference[];
}

export class ArchiveService {
  constructor(private readonly images: ImageService) {}

  // ---- save -------------------------------------------------------------------------------

  /** Resolves `docker save` names before anything is streamed, so a bad name is a clean 404. */
  resolveForSave(names: string[]): { image: ImageRecord; refs: Reference[] }[] {
    const byId = new Map<string, { image: ImageRecord; refs: Reference[] }>();
    for (const name of names) {
      const image = this.images.images.resolve(name);
      const entry = byId.get(image.id) ?? { image, refs: [] };
      byId.set(image.id, entry);
      let ref: Reference | undefined;
      try {
        ref = parseNormalizedNamed(name);
      } catch {
        ref = undefined;
      }
      const named = ref && this.images.images.lookupRef(ref) === image.id;
      if (named && ref?.tag) entry.refs.push(ref);
      else if (!named && !/^(sha256:)?[a-f0-9]+$/.test(name)) {
        // `docker save busybox` (a repository): every tag of it that points here.
        entry.refs.push(...this.images.images.refsOf(image.id).map(parseReference).filter((r) => r.tag));
      } else if (named && ref?.digest) {
        entry.refs.push(...this.images.images.refsOf(image.id).map(parseReference).filter((r) => r.tag && r.path === ref?.path && r.domain === ref?.domain));
      }
    }
    return [...byId.values()];
  }

  /** Writes the archive for the resolved images into `pack`. */
  async save(selection: { image: ImageRecord; refs: Reference[] }[], pack: tarStream.Pack): Promise<void> {
    const manifestJson: DockerArchiveEntry[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    const written = new Set<string>();
    const addBlob = async (digest: string, data: Buffer): Promise<void> => {
      if (written.has(digest)) return;
      written.add(digest);
      await addEntry(pack, { name: `blobs/sha256/${digestHex(digest)}`, size: data.length }, data);
    };
    await addEntry(pack, { name: 'blobs/', type: 'directory' });
    await addEntry(pack, { name: 'blobs/sha256/', type: 'directory' });
    for (const { image, refs } of selection) {
      const configBytes = await this.images.content.read(image.id);
      await addBlob(image.id, configBytes);
      const layerDescs: Descriptor[] = [];
      for (const layer of image.layers) {
        const snapshot = await this.images.snapshots.get(layer.chainId);
        if (!snapshot || !layer.blob) throw new SystemError(`layer ${layer.diffId} of ${shortId(image.id)} has no content to save`);
        layerDescs.push({ mediaType: MediaType.OciLayer, digest: layer.diffId, size: snapshot.tarSize });
        if (written.has(layer.diffId)) continue;
        written.add(layer.diffId);
        await addStreamEntry(pack, { name: `blobs/sha256/${digestHex(layer.diffId)}`, size: snapshot.tarSize }, decompress(this.images.content.openRead(layer.blob.digest)));
      }
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: image.id, size: configBytes.length },
        layers: layerDescs,
      };
      const manifestBytes = Buffer.from(JSON.stringify(manifest));
      const manifestDigest = sha256Digest(manifestBytes);
      await addBlob(manifestDigest, manifestBytes);
      const tags = refs.map((r) => familiarString(r));
      const descriptor: Descriptor = { mediaType: MediaType.OciManifest, digest: manifestDigest, size: manifestBytes.length };
      if (refs.length === 0) index.manifests.push(descriptor);
      for (const ref of refs) {
        index.manifests.push({ ...descriptor, annotations: { 'io.containerd.image.name': `${ref.domain}/${ref.path}:${ref.tag}`, 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' } });
        const repoName = familiarString(ref).slice(0, -(`:${ref.tag}`.length));
        (repositories[repoName] ??= {})[ref.tag ?? 'latest'] = digestHex(image.layers[image.layers.length - 1]?.chainId ?? image.id);
      }
      manifestJson.push({ Config: `blobs/sha256/${digestHex(image.id)}`, RepoTags: tags.length ? tags : null, Layers: image.layers.map((l) => `blobs/sha256/${digestHex(l.diffId)}`) });
    }
    await addEntry(pack, { name: 'index.json' }, Buffer.from(JSON.stringify(index)));
    await addEntry(pack, { name: 'manifest.json' }, Buffer.from(JSON.stringify(manifestJson)));
    await addEntry(pack, { name: 'oci-layout' }, Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    if (Object.keys(repositories).length) await addEntry(pack, { name: 'repositories' }, Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
  }

  // ---- load -------------------------------------------------------------------------------

  /** Loads every image of the archive; `quiet` leaves out the per-layer progress, not the result lines. */
  async load(source: Readable, reporter: ProgressReporter, quiet: boolean): Promise<LoadedImage[]> {
    const progress = quiet ? undefined : reporter;
    const spoolDir = path.join(this.images.dataRoot, 'tmp', `load-${randomBytes(8).toString('hex')}`);
    try {
      const archive = await SpooledArchive.spool(source, spoolDir);
      const loaded = archive.has('manifest.json')
        ? await this.loadDockerArchive(archive, progress)
        : archive.has('index.json')
          ? await this.loadOciLayout(archive, progress)
          : undefined;
      if (!loaded) throw new InvalidParameterError('invalid archive: it has neither manifest.json (docker save) nor index.json (OCI layout)');
      for (const image of loaded) {
        this.images.events.publish('image', 'load', image.id, { name: image.tags[0] ? familiarString(image.tags[0]) : image.id });
        if (image.tags.length === 0) reporter.stream(`Loaded image ID: ${image.id}\n`);
        for (const tag of image.tags) reporter.stream(`Loaded image: ${familiarString(tag)}\n`);
      }
      return loaded;
    } finally {
      await removeTree(spoolDir);
    }
  }

  private async loadDockerArchive(archive: SpooledArchive, progress: ProgressReporter | undefined): Promise<LoadedImage[]> {
    const entries = await archive.readJson<DockerArchiveEntry[]>('manifest.json');
    if (!Array.isArray(entries)) throw new InvalidParameterError('invalid archive: manifest.json is not a list');
    const loaded: LoadedImage[] = [];
    for (const entry of entries) {
      // Every name in it is looked up in the archive: strings only (a number here was a TypeError, a 500).
      const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
      if (typeof entry?.Config !== 'string' || !strings(entry.Layers) || !(entry.RepoTags == null || strings(entry.RepoTags))) {
        throw new InvalidParameterError('invalid archive: malformed manifest.json entry');
      }
      const configBytes = await fs.readFile(archive.require(entry.Config));
      const layerFiles = entry.Layers.map((l) => archive.require(l));
      const tags = (entry.RepoTags ?? []).map((t) => parseNormalizedNamed(t));
      loaded.push(await this.storeImage(configBytes, layerFiles, tags, progress));
    }
    return loaded;
  }

  private async loadOciLayout(archive: SpooledArchive, progress: ProgressReporter | undefined): Promise<LoadedImage[]> {
    const blob = (digest: string): string => archive.require(`blobs/sha256/${digestHex(digest)}`);
    const readBlobJson = async <T>(desc: Descriptor): Promise<T> => {
      checkDescriptor(desc);
      const bytes = await fs.readFile(blob(desc.digest));
      if (sha256Digest(bytes) !== desc.digest) throw new InvalidParameterError(`invalid archive: blob ${desc.digest} does not match its digest`);
      try {
        return JSON.parse(bytes.toString('utf8')) as T;
      } catch {
        throw new InvalidParameterError(`invalid archive: blob ${desc.digest} is not valid JSON`);
      }
    };
    const index = await archive.readJson<ImageIndex>('index.json');
    if (!Array.isArray(index?.manifests ?? [])) throw new InvalidParameterError('invalid archive: index.json has no list of manifests');
    const loaded: LoadedImage[] = [];
    for (const top of index.manifests ?? []) {
      checkDescriptor(top);
      let desc = top;
      if (isIndexMediaType(desc.mediaType)) {
        const nested = await readBlobJson<ImageIndex>(desc);
        if (!Array.isArray(nested?.manifests)) throw new InvalidParameterError(`invalid archive: index ${desc.digest} has no list of manifests`);
        desc = selectManifest(nested.manifests, hostPlatform(), 'archive');
      }
      const manifest = await readBlobJson<ImageManifest>(desc);
      if (!Array.isArray(manifest?.layers)) throw new InvalidParameterError(`invalid archive: manifest ${desc.digest} has no list of layers`);
      checkDescriptor(manifest.config);
      manifest.layers.forEach(checkDescriptor);
      const configBytes = await fs.readFile(blob(manifest.config.digest));
      for (const layer of manifest.layers) await verifyFileDigest(blob(layer.digest), layer.digest);
      const name = top.annotations?.['io.containerd.image.name'] ?? top.annotations?.['org.opencontainers.image.ref.name'];
      let tags: Reference[] = [];
      if (name) {
        try {
          const ref = parseNormalizedNamed(name);
          // A bare ref.name such as "latest" is a tag without a repository: it names nothing.
          if (name.includes(':') || name.includes('/')) tags = [ref];
        } catch {
          tags = [];
        }
      }
      const image = await this.storeImage(configBytes, manifest.layers.map((l) => blob(l.digest)), tags, progress);
      if (!loaded.some((l) => l.id === image.id)) loaded.push(image);
      else loaded.find((l) => l.id === image.id)?.tags.push(...image.tags);
    }
    return loaded;
  }

  /** Stores config + layer files as an image (layers verified against the config's diff IDs). */
  private async storeImage(configBytes: Buffer, layerFiles: string[], tags: Reference[], progress: ProgressReporter | undefined): Promise<LoadedImage> {
    let config: ImageConfig;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    } catch {
      throw new InvalidParameterError('invalid archive: image config is not valid JSON');
    }
    // Types as dockerd's decoder checks them: a config with `"Cmd": 5` would load, then fail
    // every `docker run` of the image with a 500.
    try {
      checkShape(config, Shapes.imageConfig);
    } catch (err) {
      throw new InvalidParameterError(`invalid archive: image config: ${errorMessage(err)}`);
    }
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== layerFiles.length) {
      throw new InvalidParameterError(`invalid archive: the config lists ${diffIds?.length ?? 0} layers, the archive ${layerFiles.length}`);
    }
    // The first diff ID is also the first chain ID, which names a directory of the snapshotter:
    // `sha256:../../x` would name one outside it.
    const bad = diffIds.find((d) => !DIGEST.test(d));
    if (bad !== undefined) throw new InvalidParameterError(`invalid archive: diff ID ${JSON.stringify(bad.slice(0, 80))} is not a sha256 digest`);
    const id = sha256Digest(configBytes);
    const chains = chainIds(diffIds);
    const layers: LayerRecord[] = [];
    await this.images.leases.with([id, ...chains], async (extend) => {
      await this.images.content.put(configBytes, id);
      for (const [i, file] of layerFiles.entries()) {
        const size = (await fs.stat(file)).size;
        const blob = await this.images.content.ingest(createReadStream(file));
        extend([blob.digest]);
        const kind = await detectFileCompression(file);
        const mediaType = kind === 'gzip' ? MediaType.DockerLayerGzip : kind === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
        const layerId = shortId(diffIds[i] ?? '');
        const chainId = chains[i] ?? '';
        if (await this.images.snapshots.has(chainId)) {
          progress?.status('Already exists', layerId);
        } else {
          await this.images.snapshots.create(chainId, i > 0 ? chains[i - 1] : undefined, diffIds[i], () => {
            const stream = this.images.content.openRead(blob.digest);
            let read = 0;
            stream.on('data', (c: Buffer) => progress?.progress(layerId, 'Loading layer', (read += c.length), size));
            return decompress(stream);
          });
        }
        layers.push({ diffId: diffIds[i] ?? '', chainId, blob: { mediaType, digest: blob.digest, size: blob.size } });
      }
      await this.images.saveRecord(id, layers);
      await this.retag(id, tags, progress);
    });
    return { id, tags };
  }

  /** Points `tags` at `id`, saying so when a tag moves off another image (as dockerd does). */
  async retag(id: string, tags: Reference[], progress: ProgressReporter | undefined): Promise<void> {
    await this.images.mutations.run('images', async () => {
      for (const tag of tags) {
        const old = this.images.images.lookupRef(tag);
        if (old && old !== id) progress?.stream(`The image ${familiarString(tag)} already exists, renaming the old one with ID ${old} to empty string\n`);
        await this.images.images.addRef(tag, id);
      }
    });
  }
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A descriptor of the archive's index or a manifest, before its digest names a file. */
function checkDescriptor(desc: unknown): void {
  const digest = (desc as Descriptor | null)?.digest;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new InvalidParameterError(`invalid archive: malformed descriptor ${JSON.stringify(desc)?.slice(0, 120)}`);
}

async function verifyFileDigest(file: string, digest: string): Promise<void> {
  const actual = await sha256OfStream(createReadStream(file));
  if (actual !== digest) throw new InvalidParameterError(`invalid archive: blob ${digest} does not match its digest (got ${actual})`);
}

function addEntry(pack: tarStream.Pack, header: Partial<tarStream.Header> & { name: string }, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ mode: header.type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), ...header }, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

function addStreamEntry(pack: tarStream.Pack, header: Partial<tarStream.Header> & { name: string }, source: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry({ mode: 0o644, mtime: new Date(0), ...header }, (err) => (err ? reject(err) : resolve()));
    source.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
    source.pipe(sink);
  });
}
