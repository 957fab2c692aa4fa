// BuildKit's API as dockerd serves it: the Control service (and the gateway's LLBBridge, which
// buildx's builds go through) on `POST /grpc`, and the client's session on `POST /session`.
import os from 'node:os';
import type { Duplex } from 'node:stream';

import type { Builder } from '../builder/builder.js';
import { BUILD_CACHE_FILTERS, listBuildCache, pruneBuildCache, type BuildCacheEntry } from '../builder/build-cache.js';
import type { ArchiveService } from '../images/archives.js';
import type { ImageService } from '../images/image-service.js';
import type { Pusher } from '../images/push.js';
import type { RegistryClient } from '../registry/client.js';
import { hostPlatform } from '../images/platform.js';
import { Filters } from '../util/filters.js';
import { log } from '../util/log.js';
import { solveDockerfile } from './dockerfile-frontend.js';
import { checkExporter, runExporter, type ExportRequest } from './exporters.js';
import { firstValue } from './grpc/metadata.js';
import { GrpcServer, type Message, type ServerCall } from './grpc/server.js';
import { Code, GrpcError, statusOf } from './grpc/status.js';
import { BuildJobs, type BuildJob, type SolvedRef } from './jobs.js';
import { timestamp } from './progress.js';
import { service } from './protos.js';
import { FRONTEND_CAPS, LLB_CAPS } from './caps.js';
import { SessionManager, type SessionHeaders } from './sessions.js';
import { exportLocalCache } from './remote-cache/export.js';
import { cacheEntries, checkCacheExport, checkCacheImport, type CacheEntry } from './remote-cache/options.js';

export interface BuildKitDeps {
  /** What `host-gateway` in --add-host stands for (buildx asks the worker's labels). */
  hostGatewayIp(): string;
  builder: Builder;
  images: ImageService;
  pusher: Pusher;
  archives: ArchiveService;
  workRoot: string;
  /** For `--cache-from type=registry` (an image's inline cache). */
  registry?: RegistryClient;
}

/** The version buildx sees: the BuildKit release whose API this one follows. */
const BUILDKIT_VERSION = { package: 'github.com/moby/buildkit', version: 'v0.13.2', revision: 'berthd' };

export class BuildKitService {
  readonly sessions = new SessionManager();
  private readonly jobs = new BuildJobs();
  private server?: GrpcServer;

  constructor(private readonly deps: BuildKitDeps) {}

  /** A hijacked `/grpc` connection (h2c): the Control and LLBBridge services. */
  serveControl(socket: Duplex): void {
    this.server ??= this.createServer();
    this.server.serve(socket);
  }

  /** A hijacked `/session` connection: the client's services, for the builds that name it. */
  attachSession(socket: Duplex, headers: SessionHeaders): void {
    this.sessions.attach(socket, headers);
  }

  close(): void {
    this.server?.close();
    this.sessions.close();
  }

  private createServer(): GrpcServer {
    const server = new GrpcServer();
    server.addService(service('moby.buildkit.v1.Control'), {
      Info: async () => ({ buildkitVersion: BUILDKIT_VERSION }),
      ListWorkers: async () => ({ record: [this.worker()] }),
      DiskUsage: (call) => this.diskUsage(call),
      Prune: (call) => this.prune(call),
      Solve: (call) => this.solve(call),
      Status: (call) => this.status(call),
    });
    server.addService(service('moby.buildkit.v1.frontend.LLBBridge'), {
      Ping: async () => ({ FrontendAPICaps: FRONTEND_CAPS, LLBCaps: LLB_CAPS, Workers: [this.worker()] }),
      Solve: (call) => this.gatewaySolve(call),
      Return: (call) => this.gatewayReturn(call),
      Inputs: async () => ({ Definitions: {} }),
      Warn: async () => ({}),
    });
    return server;
  }

  private worker(): Message {
    const platform = hostPlatform();
    return {
      ID: 'berthd',
      Labels: {
        'org.mobyproject.buildkit.worker.executor': 'oci',
        'org.mobyproject.buildkit.worker.hostname': os.hostname(),
        'org.mobyproject.buildkit.worker.moby.host-gateway-ip': this.deps.hostGatewayIp(),
        // Any snapshotter label tells buildx the worker exports docker and oci tarballs, which
        // berthd does (a classic dockerd worker has none, and buildx refuses those outputs).
        'org.mobyproject.buildkit.worker.snapshotter': 'overlayfs',
      },
      platforms: [{ Architecture: platform.architecture, OS: platform.os, ...(platform.variant ? { Variant: platform.variant } : {}) }],
      GCPolicy: [],
      BuildkitVersion: BUILDKIT_VERSION,
    };
  }

  private async diskUsage(call: ServerCall): Promise<Message> {
    const request = await call.request();
    const filters = cacheFilters(containerdFilters(request.filter as string[]));
    const entries = (await listBuildCache(this.deps.images)).filter((e) => !filters.has('id') || filters.get('id').some((id) => e.ID.startsWith(id)));
    return { record: entries.map(usageRecord) };
  }

  private async prune(call: ServerCall): Promise<void> {
    const request = await call.request();
    const values = containerdFilters(request.filter as string[]);
    // keepDuration (--filter until=...) is in nanoseconds: entries younger than it stay.
    const keepDuration = Number(request.keepDuration ?? 0);
    if (keepDuration > 0) values.until = [new Date(Date.now() - keepDuration / 1e6).toISOString()];
    const { deleted } = await pruneBuildCache(this.deps.images, { all: Boolean(request.all), keepStorage: Number(request.keepBytes ?? 0), filters: cacheFilters(values) });
    for (const entry of deleted) await call.send(usageRecord(entry));
  }

  private async solve(call: ServerCall): Promise<Message> {
    const request = await call.request();
    const ref = String(request.Ref || '');
    if (!ref) throw new GrpcError(Code.INVALID_ARGUMENT, 'the solve has no ref');
    const job = this.jobs.open(ref);
    job.start(String(request.Session ?? ''), ((request.Entitlements ?? []) as unknown[]).map(String));
    try {
      if (request.Definition?.def?.length) throw new GrpcError(Code.UNIMPLEMENTED, 'berthd builds Dockerfiles (the dockerfile.v0 frontend); raw LLB definitions are not supported');
      const cache = request.Cache ?? {};
      // Caches named by ref alone are what clients before BuildKit 0.4 sent (registry caches).
      if (cache.ExportRefDeprecated || cache.ImportRefsDeprecated?.length) throw new GrpcError(Code.UNIMPLEMENTED, 'cache exports and imports named by a ref only (registry caches of old clients) are not supported by berthd');
      const cacheExports = cacheEntries(cache.Exports);
      for (const entry of cacheExports) checkCacheExport(entry);
      // The imports are the frontend's (it gets them as `cache-imports`); checked here before anything runs.
      const cacheImports = cacheEntries(cache.Imports);
      for (const entry of cacheImports) checkCacheImport(entry);
      const inlineCache = cacheExports.some((e) => e.type === 'inline');
      const exporters = exportersOf(request);
      for (const exporter of exporters) checkExporter(exporter);
      if (request.SourcePolicy?.rules?.length) throw new GrpcError(Code.UNIMPLEMENTED, 'source policies are not supported by berthd');
      if (Object.keys(request.FrontendInputs ?? {}).length) throw new GrpcError(Code.UNIMPLEMENTED, 'frontend inputs (bake\'s target contexts) are not supported by berthd');
      let solved: SolvedRef | undefined;
      if (request.Frontend) {
        solved = await this.runFrontend(job, String(request.Frontend), withCacheImports(request.FrontendAttrs as Record<string, string>, cacheImports), call.signal);
      } else {
        // buildx runs the frontend through the gateway (LLBBridge) and returns its result.
        const returned = await Promise.race([job.returned.promise, aborted(call.signal)]);
        if (returned.error && returned.error.code) throw new GrpcError(returned.error.code, String(returned.error.message ?? 'the build failed'));
        // A build function may return nothing: buildx's first, internal build only reads the caps.
        const refId = returned.result?.ref?.id || returned.result?.refDeprecated;
        solved = refId ? job.refs.get(String(refId)) : undefined;
        if (refId && !solved) throw new GrpcError(Code.INVALID_ARGUMENT, `the build returned ref ${refId}, which berthd does not know`);
      }
      const localCaches = cacheExports.filter((e) => e.type === 'local');
      const session = (exporters.length || localCaches.length) && job.session ? await this.sessions.get(job.session, call.signal) : undefined;
      const response: Record<string, string> = {};
      if ((exporters.length || localCaches.length) && !solved) throw new GrpcError(Code.INVALID_ARGUMENT, 'the build returned no result to export');
      // A cancelled build exports nothing, even when its last step finished meanwhile.
      if (call.signal.aborted) throw new GrpcError(Code.CANCELLED, 'the client cancelled the build');
      if (solved) for (const [index, exporter] of exporters.entries()) Object.assign(response, await runExporter(this.deps, job, session, solved, exporter, index, call.signal, { inlineCache }));
      // As BuildKit, the cache goes after the image; the client writes DIR/index.json from `cache.manifest`.
      if (solved) for (const entry of localCaches) Object.assign(response, await exportLocalCache(this.deps.images, job, session, solved, entry, call.signal));
      return { ExporterResponse: response };
    } finally {
      this.jobs.finish(job);
    }
  }

  private async status(call: ServerCall): Promise<void> {
    const request = await call.request();
    const job = this.jobs.open(String(request.Ref ?? ''));
    for await (const message of job.progress.follow(call.signal)) await call.send(message);
  }

  /** The job a gateway call belongs to: the client names it in the `buildkit-controlapi-buildid` metadata. */
  private gatewayJob(call: ServerCall): Promise<BuildJob> {
    const ref = firstValue(call.metadata, 'buildkit-controlapi-buildid');
    if (!ref) throw new GrpcError(Code.INVALID_ARGUMENT, 'the call names no build (buildkit-controlapi-buildid)');
    // The gateway's calls may come before the Solve that starts the build.
    return this.jobs.wait(ref, call.signal);
  }

  private async gatewaySolve(call: ServerCall): Promise<Message> {
    const job = await this.gatewayJob(call);
    const request = await call.request();
    if (request.Definition?.def?.length) throw new GrpcError(Code.UNIMPLEMENTED, 'berthd builds Dockerfiles (the dockerfile.v0 frontend); raw LLB definitions are not supported');
    if (Object.keys(request.FrontendInputs ?? {}).length) throw new GrpcError(Code.UNIMPLEMENTED, 'frontend inputs (bake\'s target contexts) are not supported by berthd');
    if (request.SourcePolicies?.length) throw new GrpcError(Code.UNIMPLEMENTED, 'source policies are not supported by berthd');
    // BuildKit's client sends the imports in the frontend's options too (`cache-imports`).
    const cacheImports = cacheEntries(request.CacheImports);
    for (const entry of cacheImports) checkCacheImport(entry);
    if (!request.Frontend) return { result: {} };
    const solved = await this.runFrontend(job, String(request.Frontend), withCacheImports(request.FrontendOpt as Record<string, string>, cacheImports), call.signal);
    const id = job.addRef(solved);
    return { ref: id, result: { ref: { id }, metadata: { 'containerimage.config': solved.config } } };
  }

  private async gatewayReturn(call: ServerCall): Promise<Message> {
    const job = await this.gatewayJob(call);
    const request = await call.request();
    job.returned.resolve({ ...(request.result ? { result: request.result } : {}), ...(request.error ? { error: request.error } : {}) });
    return {};
  }

  private async runFrontend(job: BuildJob, frontend: string, attrs: Record<string, string>, signal: AbortSignal) {
    if (frontend !== 'dockerfile.v0') throw new GrpcError(Code.INVALID_ARGUMENT, `frontend "${frontend}" is not supported by berthd (it runs dockerfile.v0)`);
    // Names only: build args can hold credentials.
    log.debug('buildkit solve', { ref: job.ref, frontend, options: Object.keys(attrs ?? {}).join(' ') });
    // A Solve refused before (or while) the frontend runs ends the job, and the frontend with it:
    // its client has given up on the build.
    const running = AbortSignal.any([signal, job.over.signal]);
    if (running.aborted) throw new GrpcError(Code.CANCELLED, 'the build has ended');
    const session = await this.sessions.get(job.session, running);
    return solveDockerfile(this.deps, job, session, attrs ?? {}, running);
  }
}

/** The frontend's options with the request's cache imports as `cache-imports`, unless they say them already. */
function withCacheImports(attrs: Record<string, string> | undefined, imports: CacheEntry[]): Record<string, string> {
  const options = { ...(attrs ?? {}) };
  if (imports.length && !options['cache-imports']) options['cache-imports'] = JSON.stringify(imports.map((e) => ({ Type: e.type, Attrs: e.attrs })));
  return options;
}

/** The exporters a Solve asks for: BuildKit 0.13's list, or the one exporter older clients name. */
function exportersOf(request: Message): ExportRequest[] {
  const list = (request.Exporters ?? []) as Message[];
  if (list.length) return list.map((e) => ({ type: String(e.Type), attrs: (e.Attrs ?? {}) as Record<string, string> }));
  if (request.ExporterDeprecated) return [{ type: String(request.ExporterDeprecated), attrs: (request.ExporterAttrsDeprecated ?? {}) as Record<string, string> }];
  return [];
}

function usageRecord(entry: BuildCacheEntry): Message {
  return {
    ID: entry.ID,
    Mutable: false,
    InUse: entry.InUse,
    Size: entry.Size,
    Parents: entry.Parents ?? [],
    CreatedAt: timestamp(Date.parse(entry.CreatedAt)),
    UsageCount: entry.UsageCount,
    Description: entry.Description,
    RecordType: entry.Type,
    Shared: entry.Shared,
  };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new GrpcError(Code.CANCELLED, 'the client cancelled the build'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** containerd-style filters (`key==value`, `key=value`), by key. */
function containerdFilters(list: string[] | undefined): Record<string, string[]> {
  const values: Record<string, string[]> = {};
  for (const entry of list ?? []) {
    // buildx joins the filters into one string, `[""]` when there are none; a bare key means true.
    for (const part of entry.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^([\w.-]+)(?:(==|=|~=)(.*))?$/.exec(part);
      if (!m) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid filter ${JSON.stringify(part)}`);
      const key = m[1] === 'parents' ? 'parent' : m[1]!;
      (values[key] ??= []).push(m[3] ?? 'true');
    }
  }
  return values;
}

function cacheFilters(values: Record<string, string[]>): Filters {
  try {
    return Filters.parse(JSON.stringify(values), BUILD_CACHE_FILTERS);
  } catch (err) {
    throw new GrpcError(Code.INVALID_ARGUMENT, statusOf(err).message);
  }
}
