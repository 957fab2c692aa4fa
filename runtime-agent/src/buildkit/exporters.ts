// Where a build's result goes (SolveRequest.Exporters): `moby`/`image` into the engine's store
// with its names (and pushed with push=true); the others are sent to the client's session.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';

import tarStream from 'tar-stream';

import { stateOf, withStateFs } from '../builder/image-steps.js';
import type { ArchiveService } from '../images/archives.js';
import type { ImageService } from '../images/image-service.js';
import type { Pusher } from '../images/push.js';
import { humanSize } from '../util/human-size.js';
import { familiarString, parseNormalizedNamed, referenceString, type Reference } from '../vocabulary/reference.js';
import { ProgressReporter } from '../vocabulary/progress.js';
import { Code, GrpcError } from './grpc/status.js';
import type { BuildJob, SolvedRef } from './jobs.js';
import { withInlineCache } from './remote-cache/inline.js';
import { sessionCredentials } from './session-auth.js';
import { sendDirectory, sendFile } from './session-export.js';
import type { Session } from './sessions.js';

export interface ExporterDeps {
  images: ImageService;
  pusher: Pusher;
  archives: ArchiveService;
}

export interface ExportRequest {
  type: string;
  attrs: Record<string, string>;
}

const truthy = (value: string | undefined) => value === 'true' || value === '1';

/**
 * Runs exporter number `index` of the solve; returns what it adds to the ExporterResponse. The
 * index is how the client tells its targets apart.
 */
export async function runExporter(deps: ExporterDeps, job: BuildJob, session: Session | undefined, solved: SolvedRef, exporter: ExportRequest, index: number, signal: AbortSignal, options: { inlineCache?: boolean } = {}): Promise<Record<string, string>> {
  checkExporter(exporter);
  switch (exporter.type) {
    case 'moby':
    case 'image':
      return exportImage(deps, job, session, solved, exporter.attrs, signal, options.inlineCache ?? false);
    case 'local':
    case 'tar':
      return exportFilesystem(deps, job, needSession(session, exporter.type), solved, exporter, index, signal);
    case 'docker':
    case 'oci':
      return exportArchive(deps, job, needSession(session, exporter.type), solved, exporter, index, signal);
    default:
      throw new GrpcError(Code.INVALID_ARGUMENT, `exporter "${exporter.type}" is not supported by berthd (it has moby, image, local, tar, docker and oci)`);
  }
}

const anything = () => true;
const off = (value: string) => value === '' || value === 'false';
const on = (value: string) => value === '' || value === 'true';
const flag = (value: string) => ['', 'true', 'false', '1', '0'].includes(value);
/** Layers are pushed gzip-compressed, as dockerd pushes them. */
const gzip = (value: string) => value === '' || value === 'gzip';

/**
 * Each exporter's options that berthd honours, or that ask for what it does anyway; any other
 * option, or another value, is refused by name before the build starts.
 */
const EXPORTER_OPTIONS: Record<string, Record<string, (value: string) => boolean>> = {
  // What buildx and compose send with the docker driver: the names, push, compose's load.
  image: { name: anything, push: flag, load: on, store: on, unpack: anything, compression: gzip, 'force-compression': off, 'oci-mediatypes': off, 'push-by-digest': off, 'registry.insecure': off, buildinfo: flag, 'dangling-name-prefix': off },
  local: { 'platform-split': off },
  tar: { 'platform-split': off },
  // The archive is an OCI layout and a docker-archive at once.
  docker: { name: anything, tar: on, compression: gzip, 'oci-mediatypes': flag, buildinfo: flag, 'dangling-name-prefix': off },
};
EXPORTER_OPTIONS.moby = EXPORTER_OPTIONS.image!;
EXPORTER_OPTIONS.oci = EXPORTER_OPTIONS.docker!;

/** Refuses an exporter, or an option of one, that berthd cannot honour: before the build, not after. */
export function checkExporter(exporter: ExportRequest): void {
  const options = EXPORTER_OPTIONS[exporter.type];
  if (!options) throw new GrpcError(Code.INVALID_ARGUMENT, `exporter "${exporter.type}" is not supported by berthd (it has moby, image, local, tar, docker and oci)`);
  for (const [name, value] of Object.entries(exporter.attrs)) {
    const accepts = options[name];
    if (!accepts || !accepts(value)) throw new GrpcError(Code.INVALID_ARGUMENT, `${exporter.type} exporter: option ${name}=${JSON.stringify(value)} is not supported by berthd`);
  }
}

/** The `name` option: the image's names, comma-separated. */
function namesOf(attrs: Record<string, string>): Reference[] {
  return (attrs.name ?? '').split(',').map((n) => n.trim()).filter(Boolean).map((n) => parseNormalizedNamed(n));
}

/** What an exporter of the image answers: its ID (config digest) and the names it got. */
function imageResponse(imageId: string, names: Reference[]): Record<string, string> {
  return { 'containerimage.config.digest': imageId, 'containerimage.digest': imageId, ...(names.length ? { 'image.name': names.map((n) => referenceString(n)).join(',') } : {}) };
}

function needSession(session: Session | undefined, type: string): Session {
  if (!session) throw new GrpcError(Code.FAILED_PRECONDITION, `the ${type} exporter sends its output to the client, and the build has no session`);
  return session;
}

/** local: the image's files into the client's directory; tar: the same as one tar stream. */
async function exportFilesystem(deps: ExporterDeps, job: BuildJob, session: Session, solved: SolvedRef, exporter: ExportRequest, index: number, signal: AbortSignal): Promise<Record<string, string>> {
  const image = deps.images.images.get(solved.imageId);
  if (!image) throw new GrpcError(Code.NOT_FOUND, `the built image ${solved.imageId} is gone`);
  const vertex = job.progress.vertex(exporter.type === 'local' ? 'exporting to client directory' : 'exporting to client tarball').start();
  try {
    await withStateFs(deps.images, await stateOf(deps.images, image), async (root) => {
      if (exporter.type === 'local') {
        const sent = await sendDirectory(session, index, root, signal);
        vertex.task(`copying files ${humanSize(sent.bytes)}`);
        return;
      }
      // GNU tar writes the tree as BuildKit's tar exporter does: relative names, numeric owners.
      const names = (await fs.readdir(root)).sort();
      // An image with no files is an empty archive (tar refuses to write one from no names).
      const tar = spawn('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', '-', ...(names.length ? ['--', ...names] : ['-T', '/dev/null'])], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => tar.once('close', resolve));
      let bytes: number;
      try {
        bytes = await sendFile(session, index, tar.stdout, signal);
      } catch (err) {
        // tar works inside the mount: it must be gone before the mount can go.
        tar.kill('SIGKILL');
        await exited;
        throw err;
      }
      const code = await exited;
      if (code !== 0) throw new GrpcError(Code.INTERNAL, `tar of the image's files failed: ${stderr.trim()}`);
      vertex.task(`sending tarball ${humanSize(bytes)}`);
    });
    vertex.complete();
  } catch (err) {
    vertex.complete(err instanceof Error ? err.message : String(err));
    throw err;
  }
  return {};
}

/** docker and oci: the image as an archive `docker load` reads (an OCI layout with Docker's manifest.json). */
async function exportArchive(deps: ExporterDeps, job: BuildJob, session: Session, solved: SolvedRef, exporter: ExportRequest, index: number, signal: AbortSignal): Promise<Record<string, string>> {
  const image = deps.images.images.get(solved.imageId);
  if (!image) throw new GrpcError(Code.NOT_FOUND, `the built image ${solved.imageId} is gone`);
  const names = namesOf(exporter.attrs);
  const vertex = job.progress.vertex(`exporting to ${exporter.type} image format`).start();
  try {
    const pack = tarStream.pack();
    const saving = deps.archives.save([{ image, refs: names.map((n) => ({ ...n, tag: n.tag ?? 'latest' })) }], pack);
    saving.catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
    const bytes = await sendFile(session, index, pack as unknown as Readable, signal);
    await saving;
    vertex.task(`sending tarball ${humanSize(bytes)}`);
    vertex.complete();
  } catch (err) {
    vertex.complete(err instanceof Error ? err.message : String(err));
    throw err;
  }
  return imageResponse(solved.imageId, names);
}

async function exportImage(deps: ExporterDeps, job: BuildJob, session: Session | undefined, built: SolvedRef, attrs: Record<string, string>, signal: AbortSignal, inlineCache: boolean): Promise<Record<string, string>> {
  const names = namesOf(attrs);
  const vertex = job.progress.vertex('exporting to image').start();
  let solved = built;
  try {
    vertex.task('exporting layers');
    if (inlineCache) {
      // --cache-to type=inline: the image carries the build's cache in its config (a new image ID).
      vertex.status('preparing layers for inline cache', {});
      solved = await withInlineCache(deps.images, built);
      vertex.status('preparing layers for inline cache', { done: true });
    }
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
        const task = `pushing ${name.domain}/${name.path}:${name.tag ?? 'latest'}`;
        vertex.status(task, {});
        await deps.pusher.push({ domain: name.domain, path: name.path }, name.tag ?? 'latest', { ...(auth ? { auth } : {}), progress: new ProgressReporter(() => undefined) });
        vertex.status(task, { done: true });
      }
    }
    vertex.complete();
  } catch (err) {
    vertex.complete(err instanceof Error ? err.message : String(err));
    throw err;
  }
  return imageResponse(solved.imageId, names);
}
