// Where a build's result goes (SolveRequest.Exporters): `moby`/`image` into the engine's store
// with its names (and pushed with push=true); the others are sent to the client's session.
import type { ImageService } from '../images/image-service.js';
import type { Pusher } from '../images/push.js';
import { familiarString, parseNormalizedNamed, referenceString } from '../vocabulary/reference.js';
import { ProgressReporter } from '../vocabulary/progress.js';
import { Code, GrpcError } from './grpc/status.js';
import type { BuildJob, SolvedRef } from './jobs.js';
import { sessionCredentials } from './session-auth.js';
import type { Session } from './sessions.js';

export interface ExporterDeps {
  images: ImageService;
  pusher: Pusher;
}

export interface ExportRequest {
  type: string;
  attrs: Record<string, string>;
}

const truthy = (value: string | undefined) => value === 'true' || value === '1';

/** Runs one exporter; returns what it adds to SolveResponse.ExporterResponse. */
export async function runExporter(deps: ExporterDeps, job: BuildJob, session: Session | undefined, solved: SolvedRef, exporter: ExportRequest, signal: AbortSignal): Promise<Record<string, string>> {
  switch (exporter.type) {
    case 'moby':
    case 'image':
      return exportImage(deps, job, session, solved, exporter.attrs, signal);
    default:
      throw new GrpcError(Code.INVALID_ARGUMENT, `exporter "${exporter.type}" is not supported by berthd`);
  }
}

const IMAGE_ATTRS = new Set(['name', 'push', 'dangling-name-prefix', 'unpack', 'store', 'registry.insecure', 'buildinfo', 'buildinfo-attrs', 'annotation', 'oci-mediatypes', 'compression', 'force-compression', 'push-by-digest', 'unpack']);

async function exportImage(deps: ExporterDeps, job: BuildJob, session: Session | undefined, solved: SolvedRef, attrs: Record<string, string>, signal: AbortSignal): Promise<Record<string, string>> {
  for (const [name, value] of Object.entries(attrs)) {
    if (!IMAGE_ATTRS.has(name) && !name.startsWith('annotation')) throw new GrpcError(Code.INVALID_ARGUMENT, `image exporter: unknown option ${name}=${JSON.stringify(value)}`);
  }
  if (truthy(attrs['push-by-digest'])) throw new GrpcError(Code.INVALID_ARGUMENT, 'image exporter: push-by-digest is not supported by berthd');
  const names = (attrs.name ?? '').split(',').map((n) => n.trim()).filter(Boolean).map((n) => parseNormalizedNamed(n));
  const vertex = job.progress.vertex('exporting to image').start();
  try {
    vertex.task('exporting layers');
    vertex.task(`writing image ${solved.imageId}`);
    for (const name of names) {
      await deps.images.tag(solved.imageId, familiarString(name));
      vertex.task(`naming to ${referenceString(name)}`);
    }
    if (truthy(attrs.push)) {
      if (!names.length) throw new GrpcError(Code.INVALID_ARGUMENT, 'push=true needs a name to push to');
      const credentials = session ? sessionCredentials(session, signal) : async () => undefined;
      for (const name of names) {
        const auth = await credentials(name.domain);
        const id = `pushing ${familiarString(name)} with docker`;
        vertex.status(id, { name: `pushing ${name.domain}/${name.path}:${name.tag ?? 'latest'}` });
        const reporter = new ProgressReporter(() => undefined);
        await deps.pusher.push({ domain: name.domain, path: name.path }, name.tag ?? 'latest', { ...(auth ? { auth } : {}), progress: reporter });
        vertex.status(id, { name: `pushing ${name.domain}/${name.path}:${name.tag ?? 'latest'}`, done: true });
      }
    }
    vertex.complete();
  } catch (err) {
    vertex.complete(err instanceof Error ? err.message : String(err));
    throw err;
  }
  return {
    'containerimage.config.digest': solved.imageId,
    'containerimage.digest': solved.imageId,
    ...(names.length ? { 'image.name': names.map((n) => referenceString(n)).join(',') } : {}),
  };
}
