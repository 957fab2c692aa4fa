// Which step images a cache export keeps: mode=min the result's own steps (its chain of parents
// back to the FROM image), mode=max also every stage's.
import type { ImageService } from '../../images/image-service.js';
import type { ImageRecord } from '../../vocabulary/image-record.js';
import { Code, GrpcError } from '../grpc/status.js';
import type { SolvedRef } from '../jobs.js';

/** Step images (records with a cache key), parents before children, each once. */
export function cacheChain(images: ImageService, solved: SolvedRef, mode: 'min' | 'max'): ImageRecord[] {
  const tops = mode === 'max' ? [...solved.stageImages, solved.imageId] : [solved.imageId];
  const ordered: ImageRecord[] = [];
  const seen = new Set<string>();
  for (const top of tops) {
    const chain: ImageRecord[] = [];
    for (let id: string | undefined = top; id && !seen.has(id); ) {
      const record = images.images.get(id);
      if (!record) {
        if (id === top) throw new GrpcError(Code.NOT_FOUND, `the built image ${top} is gone`);
        break;
      }
      // The FROM image is where a stage's steps begin: it is pulled, not cached.
      if (!record.buildCache) break;
      seen.add(id);
      chain.push(record);
      id = record.parent;
    }
    ordered.push(...chain.reverse());
  }
  return ordered;
}
