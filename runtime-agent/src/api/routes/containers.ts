// /containers/* routes: parse, call the container service, shape the answer.
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';

import { listChanges } from '../../containers/changes.js';
import { archivePath, exportRootfs, extractArchive } from '../../containers/container-archive.js';
import { frame } from '../../containers/container-logs.js';
import { containerLogEntries } from '../../containers/log-query.js';
import { containerStats } from '../../containers/stats-stream.js';
import { listContainers } from '../../containers/container-queries.js';
import { processTable } from '../../containers/top.js';
import { ContainerRootfs } from '../../containers/rootfs.js';
import type { ContainerRecord, HostConfig } from '../../vocabulary/container-record.js';
import { containerInspect } from '../../containers/container-views.js';
import type { CreateRequest } from '../../containers/create-request.js';
import type { Engine } from '../../engine.js';
import { checkImagePlatform } from '../../images/image-platform.js';
import { parsePlatformSpecifier } from '../../images/platform.js';
import { InvalidParameterError } from '../../util/errors.js';
import { Filters } from '../../util/filters.js';
import { Shapes } from '../../util/json-shapes.js';
import { AttachBridge, parseDetachKeys } from '../attach-bridge.js';
import type { RequestContext } from '../context.js';
import { compareVersions } from '../version.js';
import { acceptWebSocket } from '../websocket.js';
import type { Router } from '../router.js';

const RAW_STREAM = 'application/vnd.docker.raw-stream';
const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

function seconds(value: string | null, name: string): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidParameterError(`invalid value for ${name}: ${value}`);
  return n;
}

/** `since`/`until` of logs: Unix seconds (with fractions) or RFC 3339. */
function timeParam(value: string | null): number | undefined {
  if (!value || value === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidParameterError(`invalid time value: ${value}`);
  return ms;
}

/**
 * A create request as dockerd reads it from an older client (api/server/router/container):
 * fields a version did not have yet are dropped, and defaults are those that version had.
 */
function forApiVersion(body: CreateRequest, version: string): CreateRequest {
  const hc = body.HostConfig;
  if (!hc) return body;
  const adjusted = { ...hc };
  if (compareVersions(version, '1.25') < 0) adjusted.AutoRemove = false;
  if (compareVersions(version, '1.40') < 0 && !adjusted.IpcMode) adjusted.IpcMode = 'shareable';
  if (compareVersions(version, '1.42') < 0) delete adjusted.ConsoleSize;
  if (compareVersions(version, '1.43') < 0) delete adjusted.Annotations;
  return { ...body, HostConfig: adjusted };
}

export function registerContainerRoutes(router: Router, engine: Engine): void {
  const containers = engine.containers;

  router.post('/containers/create', async (ctx) => {
    const body = await ctx.jsonObject<CreateRequest>(Shapes.containerCreate);
    const name = ctx.query.get('name') || undefined;
    // `platform` came with API 1.41; an older client's request is read without it, as dockerd does.
    const platformParam = compareVersions(ctx.apiVersion, '1.41') >= 0 ? ctx.query.get('platform') : null;
    const platform = platformParam ? parsePlatformSpecifier(platformParam) : undefined;
    const warnings = typeof body.Image === 'string' && body.Image ? await checkImagePlatform(engine.images, body.Image, platform) : [];
    const created = await containers.create(forApiVersion(body, ctx.apiVersion), name);
    ctx.send(201, { ...created, Warnings: [...created.Warnings, ...warnings] });
  });

  router.get('/containers/json', async (ctx) => {
    const limit = Number(ctx.query.get('limit') ?? '-1');
    ctx.send(200, await listContainers(engine.containers, engine.images, { filters: ctx.query.get('filters'), all: ctx.flag('all'), limit, withSize: ctx.flag('size') }));
  });

  router.get('/containers/([^/]+)/json', (ctx) => {
    const record = containers.store.get(ctx.param());
    ctx.send(200, containerInspect(record, { logPath: containers.logPath(record), dir: containers.store.dir(record.Id) }));
  });

  router.post('/containers/([^/]+)/start', async (ctx) => {
    const result = await containers.start(ctx.param());
    ctx.noContent(result === 'already-running' ? 304 : 204);
  });

  /** `signal` of stop and restart came with API 1.42; older clients' requests are read without it. */
  const stopSignal = (ctx: RequestContext) => (compareVersions(ctx.apiVersion, '1.42') >= 0 ? ctx.query.get('signal') || undefined : undefined);

  router.post('/containers/([^/]+)/stop', async (ctx) => {
    const result = await containers.stop(ctx.param(), seconds(ctx.query.get('t'), 't'), stopSignal(ctx));
    ctx.noContent(result === 'not-running' ? 304 : 204);
  });

  router.post('/containers/([^/]+)/restart', async (ctx) => {
    await containers.stop(ctx.param(), seconds(ctx.query.get('t'), 't'), stopSignal(ctx));
    await containers.start(ctx.param());
    ctx.noContent();
  });

  router.post('/containers/([^/]+)/kill', async (ctx) => {
    await containers.kill(ctx.param(), ctx.query.get('signal') || 'SIGKILL');
    ctx.noContent();
  });

  router.post('/containers/([^/]+)/wait', async (ctx) => {
    const condition = ctx.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new InvalidParameterError(`invalid condition: "${condition}"`);
    const code = containers.wait(ctx.param(), condition);
    // Headers go out now: the CLI waits for them before it starts the container.
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    ctx.res.end(JSON.stringify({ StatusCode: await code, Error: null }) + '\n');
  });

  router.delete('/containers/+([^/]+)/([^/]+)', async (ctx) => {
    if (!ctx.flag('link')) throw new InvalidParameterError('only links can be removed by a path of two names (link=true)');
    await containers.removeLink(ctx.params[0] ?? '', ctx.params[1] ?? '');
    ctx.noContent();
  });

  router.delete('/containers/([^/]+)', async (ctx) => {
    await containers.remove(ctx.param(), { force: ctx.flag('force'), volumes: ctx.flag('v') });
    ctx.noContent();
  });

  router.get('/containers/([^/]+)/logs', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const tailParam = ctx.query.get('tail');
    const abort = new AbortController();
    ctx.res.on('close', () => abort.abort());
    const entries = containerLogEntries(containers, record, {
      stdout: ctx.flag('stdout'),
      stderr: ctx.flag('stderr'),
      follow: ctx.flag('follow'),
      since: timeParam(ctx.query.get('since')),
      until: timeParam(ctx.query.get('until')),
      tail: tailParam && tailParam !== 'all' ? Number(tailParam) : undefined,
      signal: abort.signal,
    });
    const tty = Boolean(record.Config.Tty);
    const timestamps = ctx.flag('timestamps');
    // Before API 1.42 dockerd labelled the (multiplexed) body a raw stream, and older SDKs check for that.
    const multiplexedLabel = compareVersions(ctx.apiVersion, '1.42') >= 0 ? MULTIPLEXED_STREAM : RAW_STREAM;
    ctx.res.writeHead(200, { 'Content-Type': tty ? RAW_STREAM : multiplexedLabel });
    ctx.res.flushHeaders();
    for await (const e of entries) {
      const payload = Buffer.from((timestamps ? `${e.time} ` : '') + e.text);
      ctx.res.write(tty ? payload : frame(e.stream, payload));
    }
    ctx.res.end();
  });

  router.post('/containers/([^/]+)/attach', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const stream = ctx.hijack(record.Config.Tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    await attachStreams(ctx, engine, record, stream);
  });

  router.get('/containers/([^/]+)/attach/ws', async (ctx) => {
    const record = containers.store.get(ctx.param());
    if (!ctx.upgrade) throw new InvalidParameterError('attach/ws needs a WebSocket upgrade');
    // Output goes as it comes (no multiplexing headers), in binary frames since API 1.28.
    const client = await acceptWebSocket(ctx.req, ctx.upgrade, compareVersions(ctx.apiVersion, '1.28') >= 0);
    await attachStreams(ctx, engine, record, client, true);
  });

  router.post('/containers/([^/]+)/update', async (ctx) => {
    await containers.update(ctx.param(), await ctx.jsonObject<Partial<HostConfig>>(Shapes.containerUpdate));
    ctx.send(200, { Warnings: [] });
  });

  router.post('/containers/([^/]+)/rename', async (ctx) => {
    await containers.rename(ctx.param(), ctx.query.get('name') ?? '');
    ctx.noContent();
  });

  router.post('/containers/([^/]+)/pause', async (ctx) => {
    await containers.pause(ctx.param());
    ctx.noContent();
  });

  router.post('/containers/([^/]+)/unpause', async (ctx) => {
    await containers.unpause(ctx.param());
    ctx.noContent();
  });

  router.post('/containers/([^/]+)/resize', async (ctx) => {
    const { height, width } = ctx.terminalSize();
    await containers.resize(ctx.param(), height, width);
    ctx.noContent(200);
  });

  router.get('/containers/([^/]+)/top', async (ctx) => {
    const pids = await containers.processes(ctx.param());
    const psArgs = ctx.query.get('ps_args') || '-ef';
    ctx.send(200, await processTable(pids, psArgs));
  });

  router.get('/containers/([^/]+)/changes', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const lower = record.SnapshotChainId ? await engine.images.snapshots.lowerDirs(record.SnapshotChainId) : [];
    const changes = await listChanges(new ContainerRootfs(containers.store.dir(record.Id)).upper, lower);
    ctx.send(200, changes.length ? changes : null);
  });

  router.get('/containers/([^/]+)/export', async (ctx) => {
    await exportRootfs(containers, containers.store.get(ctx.param()), () => {
      ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      return ctx.res;
    });
    ctx.res.end();
  });

  const archive = async (ctx: RequestContext, head: boolean) => {
    await archivePath(containers, containers.store.get(ctx.param()), ctx.query.get('path') ?? '', (stat) => {
      ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'), 'Content-Type': 'application/x-tar' });
      return head ? undefined : ctx.res;
    });
    ctx.res.end();
  };
  router.head('/containers/([^/]+)/archive', (ctx) => archive(ctx, true));
  router.get('/containers/([^/]+)/archive', (ctx) => archive(ctx, false));

  router.add('PUT', '/containers/([^/]+)/archive', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const containerPath = ctx.query.get('path');
    if (!containerPath) throw new InvalidParameterError('path is required');
    await extractArchive(containers, record, containerPath, ctx.req);
    ctx.noContent(200);
  });

  router.get('/containers/([^/]+)/stats', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const abort = new AbortController();
    ctx.res.on('close', () => abort.abort());
    const stream = ctx.query.get('stream') !== '0' && ctx.query.get('stream') !== 'false';
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    for await (const sample of containerStats(containers, record, { stream, oneShot: ctx.flag('one-shot'), signal: abort.signal })) {
      ctx.res.write(JSON.stringify(sample) + '\n');
    }
    ctx.res.end();
  });

  router.post('/containers/prune', async (ctx) => {
    const { deleted, reclaimed } = await containers.prune(Filters.parse(ctx.query.get('filters'), ['until', 'label', 'label!']));
    ctx.send(200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
});
}

/**
 * Attach through conmon's attach socket. A container attached to before it starts (docker run)
 * is connected between runtime create and start.
 */
async function attachStreams(ctx: RequestContext, engine: Engine, record: ContainerRecord, client: Duplex | ServerResponse, raw = false): Promise<void> {
  const containers = engine.containers;
  // `raw`: the WebSocket attach, which carries bytes as they come, TTY or not, and before API 1.42
  // attached all three streams whatever the query said.
  const tty = raw || Boolean(record.Config.Tty);
  const allStreams = raw && compareVersions(ctx.apiVersion, '1.42') < 0;
  const want = { stdout: allStreams || ctx.flag('stdout'), stderr: allStreams || ctx.flag('stderr') };
  if (ctx.flag('logs')) {
    // `logs=1`: what the container already wrote comes first, as dockerd replays it.
    if (containers.logOptions(record).enabled && (want.stdout || want.stderr)) {
      for await (const e of containerLogEntries(containers, record, { ...want, follow: false, signal: new AbortController().signal })) {
        client.write(tty ? Buffer.from(e.text) : frame(e.stream, Buffer.from(e.text)));
      }
    }
  }
  if (!ctx.flag('stream')) {
    client.end();
    return;
  }
  const bridge = new AttachBridge(client, {
    tty,
    ...want,
    // Input needs the hijacked connection; a plain HTTP attach is output only.
    stdin: (allStreams || ctx.flag('stdin')) && Boolean(record.Config.OpenStdin) && ctx.upgrade !== undefined,
    detachKeys: parseDetachKeys(ctx.query.get('detachKeys')),
  });
  const started = containers.whenCreated(record, () => bridge.connect(containers.attachSocketDir(), record.Id));
  started.then((ok) => !ok && bridge.finish(), () => bridge.finish());
  await bridge.done;
  bridge.close();
}
