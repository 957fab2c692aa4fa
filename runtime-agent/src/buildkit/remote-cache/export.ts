// `--cache-to type=local,dest=DIR[,mode=min|max]`: the step images of the build go into the
// client's directory, an OCI content store it serves on its session; berthd answers the index's
// descriptor as `cache.manifest` and the client records it in DIR/index.json.
import type { ImageService } from '../../images/image-service.js';
import { humanSize } from '../../util/human-size.js';
import { sha256Digest } from '../../util/digest.js';
import { MediaType, type Descriptor, type ImageIndex } from '../../vocabulary/media-types.js';
import { Code, GrpcError } from '../grpc/status.js';
import type { BuildJob, SolvedRef } from '../jobs.js';
import type { Session } from '../sessions.js';
import { CACHE_CONFIG_MEDIA_TYPE, type CacheConfig, type CacheLayer } from './cache-format.js';
import { cacheChain } from './collect.js';
import type { CacheEntry } from './options.js';
import { SessionContentStore } from './session-content.js';

/** What an export adds to the Solve's ExporterResponse. */
export type CacheExportResponse = Record<string, string>;

export async function exportLocalCache(images: ImageService, job: BuildJob, session: Session | undefined, solved: SolvedRef, entry: CacheEntry, signal: AbortSignal): Promise<CacheExportResponse> {
  const dest = entry.attrs.dest ?? '';
  const vertex = job.progress.vertex('exporting cache to client directory').start();
  try {
    if (!session) throw new GrpcError(Code.FAILED_PRECONDITION, `--cache-to type=local,dest=${dest}: the build has no session to write to`);
    const store = SessionContentStore.open(session, `local:${dest}`, signal, ['Info', 'Write']);
    vertex.task('preparing build cache for export');
    const records = cacheChain(images, solved, entry.attrs.mode === 'max' ? 'max' : 'min');
    const layers = new Map<string, CacheLayer>();
    for (const record of records) {
      for (const layer of record.layers) {
        if (layers.has(layer.diffId)) continue;
        if (!layer.blob) throw new GrpcError(Code.FAILED_PRECONDITION, `layer ${layer.diffId} of ${record.id} has no blob to export`);
        layers.set(layer.diffId, { diffId: layer.diffId, digest: layer.blob.digest, mediaType: layer.blob.mediaType, size: layer.blob.size });
      }
    }
    const blobs: Descriptor[] = [];
    let sent = 0;
    const put = async (descriptor: Descriptor, what: string, bytes?: Buffer): Promise<void> => {
      blobs.push(descriptor);
      const task = `writing ${what} ${descriptor.digest}`;
      vertex.status(task, {});
      if ((await store.size(descriptor.digest)) !== descriptor.size) {
        const source = bytes ?? images.content.openRead(descriptor.digest);
        if (await store.write(descriptor.digest, descriptor.size, source)) sent += descriptor.size;
      }
      vertex.status(task, { done: true });
    };
    for (const layer of layers.values()) await put({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, 'layer');
    for (const record of records) {
      const bytes = await images.content.read(record.id);
      await put({ mediaType: MediaType.OciConfig, digest: record.id, size: bytes.length }, 'config', bytes);
    }
    const config: CacheConfig = {
      schemaVersion: 0,
      records: records.map((r) => ({ id: r.id, ...(r.parent ? { parent: r.parent } : {}), buildCache: r.buildCache! })),
      layers: [...layers.values()],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256Digest(configBytes), size: configBytes.length };
    await put(configDesc, 'cache config', configBytes);
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: blobs };
    const indexBytes = Buffer.from(JSON.stringify(index));
    const indexDesc: Descriptor = { mediaType: MediaType.OciIndex, digest: sha256Digest(indexBytes), size: indexBytes.length };
    await put(indexDesc, 'cache manifest', indexBytes);
    vertex.task(`${records.length} steps, ${layers.size} layers, ${humanSize(sent)} sent`);
    vertex.complete();
    return { 'cache.manifest': JSON.stringify(indexDesc) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    vertex.complete(message);
    if (entry.attrs['ignore-error'] === 'true' || entry.attrs['ignore-error'] === '1') return {};
    throw err;
  }
}
