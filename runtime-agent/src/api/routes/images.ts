// /images/* routes: parse the request, call the image services, shape the answer.
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

import { commitContainer } from '../../containers/commit.js';
import type { Engine } from '../../engine.js';
import type { ContainerConfig, Platform } from '../../vocabulary/media-types.js';
import { importImage } from '../../images/import.js';
import { IMAGE_PRUNE_FILTERS, listImages, pruneKeeps } from '../../images/image-queries.js';
import { distributionInspect } from '../../images/distribution.js';
import { imageHistory, imageInspect, withoutPlaceholders } from '../../images/image-views.js';
import { parsePlatformSpecifier } from '../../images/platform.js';
import { familiarString, parseNormalizedNamed, parseReference, parseRepositoryName, withTagOrDigest, type Reference } from '../../vocabulary/reference.js';
import { decodeRegistryAuthHeader } from '../../registry/auth-config.js';
import { searchImages } from '../../registry/search.js';
import { EngineError, InvalidParameterError, errorMessage } from '../../util/errors.js';
import { Filters } from '../../util/filters.js';
import { Shapes } from '../../util/json-shapes.js';
import type { MessageStream, RequestContext } from '../context.js';
import type { Router } from '../router.js';
import { compareVersions } from '../version.js';

/** Runs a streamed operation: errors before the first message are HTTP errors, later ones stream lines. */
async function streamed(ctx: RequestContext, work: (stream: MessageStream, signal: AbortSignal) => Promise<void>): Promise<void> {
  const stream = ctx.messageStream();
  // A client that goes away (Ctrl-C on `docker pull`) cancels the work, as in dockerd.
  const abort = new AbortController();
  ctx.res.on('close', () => {
    if (!ctx.res.writableFinished) abort.abort();
  });
  try {
    await work(stream, abort.signal);
  } catch (err) {
    if (!stream.hasStarted) throw err;
    stream.reporter.error(errorMessage(err));
  }
  stream.end();
}

export function registerImageRoutes(router: Router, engine: Engine): void {
  const images = engine.images;

  router.get('/images/json', async (ctx) => {
    let filters = ctx.query.get('filters');
    // Before API 1.41 `filter=` was a glob on repository names: the `reference` filter now.
    const legacy = ctx.query.get('filter');
    if (legacy && compareVersions(ctx.apiVersion, '1.41') < 0) {
      const parsed = filters ? (JSON.parse(filters) as Record<string, unknown>) : {};
      filters = JSON.stringify({ ...parsed, reference: [legacy] });
    }
    let list = await listImages(images, filters, ctx.flag('all'));
    if (compareVersions(ctx.apiVersion, '1.42') >= 0 && ctx.flag('shared-size')) {
      const shared = await images.sharedSizes();
      list = list.map((summary) => ({ ...summary, SharedSize: shared.get(summary.Id) ?? 0 }));
    }
    ctx.send(200, compareVersions(ctx.apiVersion, '1.43') >= 0 ? list.map(withoutPlaceholders) : list);
  });

  router.post('/images/create', async (ctx) => {
    const fromImage = ctx.query.get('fromImage');
    const fromSrc = ctx.query.get('fromSrc');
    if (fromImage) return pullRoute(ctx, engine, fromImage);
    if (fromSrc) return importRoute(ctx, engine, fromSrc);
    throw new InvalidParameterError('either fromImage or fromSrc must be given');
  });

  router.post('/images/load', async (ctx) => {
    await streamed(ctx, async (stream) => {
      await engine.archives.load(ctx.req, stream.reporter, ctx.flag('quiet'));
    });
  });

  router.get('/images/get', async (ctx) => saveRoute(ctx, engine, ctx.query.getAll('names')));

  router.post('/images/prune', async (ctx) => {
    const filters = Filters.parse(ctx.query.get('filters'), IMAGE_PRUNE_FILTERS);
    let danglingOnly = true;
    try {
      danglingOnly = filters.bool('dangling') ?? true;
    } catch {
      throw new InvalidParameterError(`Invalid filter 'dangling=[${filters.get('dangling').join(' ')}]'`);
    }
    const { deleted, reclaimed } = await images.prune(danglingOnly, (record) => pruneKeeps(images, record, filters));
    ctx.send(200, { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });

  router.post('/commit', async (ctx) => {
    const container = ctx.query.get('container');
    if (!container) throw new InvalidParameterError('container is required');
    const tag = repoAndTag(ctx);
    const body = await ctx.json<ContainerConfig>(Shapes.containerConfig);
    const id = await commitContainer(engine.containers, images, container, {
      ...(tag ? { tag } : {}),
      comment: ctx.query.get('comment') ?? '',
      author: ctx.query.get('author') ?? '',
      changes: ctx.query.getAll('changes').filter(Boolean),
      pause: ctx.query.get('pause') !== '0' && ctx.query.get('pause') !== 'false',
      ...(body ? { config: body } : {}),
    });
    ctx.send(201, { Id: id });
  });

  router.get('/images/(.+)/json', async (ctx) => {
    ctx.send(200, await imageInspect(images, images.images.resolve(ctx.param())));
  });

  router.get('/images/(.+)/history', async (ctx) => {
    ctx.send(200, await imageHistory(images, images.images.resolve(ctx.param())));
  });

  router.get('/images/(.+)/get', async (ctx) => saveRoute(ctx, engine, [ctx.param()]));

  router.post('/images/(.+)/tag', async (ctx) => {
    const target = repoAndTag(ctx);
    if (!target) throw new InvalidParameterError('repository name (repo) is required');
    images.images.resolve(ctx.param());
    await images.tag(ctx.param(), familiarString(target));
    ctx.noContent(201);
  });

  router.post('/images/(.+)/push', async (ctx) => {
    const auth = decodeRegistryAuthHeader(ctx.header('x-registry-auth'));
    let repo: Reference = parseRepositoryName(ctx.param());
    let tag = ctx.query.get('tag') || undefined;
    if (repo.tag) {
      tag ??= repo.tag;
      repo = { domain: repo.domain, path: repo.path };
    }
    if (tag && /^sha256:/.test(tag)) throw new InvalidParameterError('invalid tag format');
    await streamed(ctx, (stream) => engine.pusher.push(repo, tag, { ...(auth ? { auth } : {}), progress: stream.reporter }));
  });

  router.get('/images/search', async (ctx) => {
    const filters = Filters.parse(ctx.query.get('filters'), ['is-automated', 'is-official', 'stars']);
    const auth = decodeRegistryAuthHeader(ctx.header('x-registry-auth'));
    ctx.send(200, await searchImages(engine.registryHosts, engine.registry.transport, { term: ctx.query.get('term') ?? '', limit: ctx.query.get('limit'), filters, auth }));
  });

  router.get('/distribution/(.+)/json', async (ctx) => {
    const name = ctx.param();
    if (/^(sha256:)?[0-9a-f]{64}$/.test(name)) throw new InvalidParameterError('no manifest found for full image ID');
    const auth = decodeRegistryAuthHeader(ctx.header('x-registry-auth'));
    ctx.send(200, await distributionInspect(engine.registry, parseNormalizedNamed(name), auth));
  });

  router.delete('/images/(.+)', async (ctx) => {
    ctx.send(200, await images.remove(ctx.param(), { force: ctx.flag('force'), noPrune: ctx.flag('noprune') }));
  });
}

/** The `repo` and `tag` query parameters of tag, import and commit as one reference (`latest` by default). */
function repoAndTag(ctx: RequestContext): Reference | undefined {
  const repo = ctx.query.get('repo');
  if (!repo) return undefined;
  const ref = parseNormalizedNamed(repo);
  const tag = ctx.query.get('tag');
  return tag ? withTagOrDigest({ domain: ref.domain, path: ref.path }, tag) : ref;
}

/** `platform` of a pull or an import (API 1.32 and later): a bad specifier is a 400 before any work. */
function platformParam(ctx: RequestContext): Platform | undefined {
  const value = compareVersions(ctx.apiVersion, '1.32') >= 0 ? ctx.query.get('platform') : null;
  return value ? parsePlatformSpecifier(value) : undefined;
}

async function pullRoute(ctx: RequestContext, engine: Engine, fromImage: string): Promise<void> {
  const auth = decodeRegistryAuthHeader(ctx.header('x-registry-auth'));
  const tag = ctx.query.get('tag') ?? '';
  let ref = parseReference(fromImage);
  if (tag) {
    if (!/^sha256:/.test(tag) && tag.includes(':')) throw new InvalidParameterError('invalid tag format');
    try {
      ref = withTagOrDigest({ domain: ref.domain, path: ref.path }, tag);
    } catch {
      throw new InvalidParameterError('invalid tag format');
    }
  }
  const platform = platformParam(ctx);
  const options = { ...(auth ? { auth } : {}), ...(platform ? { platform } : {}) };
  await streamed(ctx, async (stream, signal) => {
    const progress = stream.reporter;
    if (!ref.tag && !ref.digest) await engine.puller.pullAllTags(ref, { ...options, progress, signal });
    else await engine.puller.pull(ref, { ...options, progress, signal });
  });
}

async function importRoute(ctx: RequestContext, engine: Engine, fromSrc: string): Promise<void> {
  if (fromSrc !== '-') throw new EngineError(501, 'importing from a URL is not supported: pipe the archive on stdin (docker import - or cat file | docker import -)');
  const target = repoAndTag(ctx);
  const changes = ctx.query.getAll('changes');
  const platform = platformParam(ctx);
  await streamed(ctx, async (stream) => {
    const id = await importImage(engine.images, ctx.req, target, { changes, message: ctx.query.get('message') ?? '', ...(platform ? { platform } : {}) });
    stream.write({ status: id });
  });
}

async function saveRoute(ctx: RequestContext, engine: Engine, names: string[]): Promise<void> {
  if (names.length === 0) throw new InvalidParameterError('no image names given');
  for (const name of names) engine.images.images.resolve(name);
  const selection = engine.archives.resolveForSave(names);
  const pack = tarStream.pack();
  ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  const out = new PassThrough();
  const sending = pipeline(pack, out, ctx.res).catch(() => undefined);
  try {
    await engine.archives.save(selection, pack);
  } catch (err) {
    // Mid-stream: the tar is cut short, which the CLI reports as a broken archive.
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
  }
  await sending;
}
