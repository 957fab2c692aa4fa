// --cache-from of a cache export: not yet (a helper is writing it); refused by name until then.
import type { ImageService } from '../../images/image-service.js';
import type { CacheImport } from '../frontend-attrs.js';
import { Code, GrpcError } from '../grpc/status.js';
import type { BuildProgress } from '../progress.js';
import type { Session } from '../sessions.js';

export async function importBuildCaches(_images: ImageService, _session: Session, imports: CacheImport[], _signal: AbortSignal, _progress: BuildProgress): Promise<void> {
  if (imports.length) throw new GrpcError(Code.UNIMPLEMENTED, `--cache-from type=${imports[0]!.type} is not supported by berthd yet`);
}
