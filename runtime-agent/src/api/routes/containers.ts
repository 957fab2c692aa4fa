// /containers/* routes: parse, call the container service, shape the answer.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';

import { sampleCgroup } from '../../cgroups/stats.js';
import { listChanges } from '../../containers/changes.js';
import { frame, type LogEntry } from '../../containers/container-logs.js';
import { readJsonLog } from '../../containers/json-log.js';
import { listContainers } from '../../containers/container-queries.js';
import { processTable } from '../../containers/top.js';
import { ContainerRootfs } from '../../containers/rootfs.js';
import { extractIntoRootfs } from '../../containers/archive-extract.js';
import { hostReachableMounts } from '../../containers/mounts.js';
import { pathStat, resolveInRoot, type MountedPath } from '../../containers/rootfs-paths.js';
import type { ContainerRecord, HostConfig } from '../../containers/container-record.js';
import { containerInspect } from '../../containers/container-views.js';
import type { CreateRequest } from '../../containers/create-request.js';
import type { Engine } from '../../engine.js';
import { InvalidParameterError } from '../../util/errors.js';
import { Shapes } from '../../util/json-shapes.js';
import { AttachBridge, parseDetachKeys } from '../attach-bridge.js';
import type { RequestContext } from '../context.js';
import type { Router } from '../router.js';

const RAW_STREAM = 'application/vnd.docker.raw-stream';
const ZERO_TIME_STATS = '0001-01-01T00:00:00Z';
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

export function registerContainerRoutes(router: Router, engine: Engine): void {
  const containers = engine.containers;

  router.post('/containers/create', async (ctx) => {
    const body = await ctx.jsonObject<CreateRequest>(Shapes.containerCreate);
    const name = ctx.query.get('name') || undefined;
    ctx.send(201, await containers.create(body, name));
  });

  router.get('/containers/json', async (ctx) => {
    const limit = Number(ctx.query.get('limit') ?? '-1');
    ctx.send(200, await listContainers(engine, { filters: ctx.query.get('filters'), all: ctx.flag('all'), limit, withSize: ctx.flag('size') }));
  });

  router.get('/containers/([^/]+)/json', (ctx) => {
    const record = containers.store.get(ctx.param());
    ctx.send(200, containerInspect(record, { logPath: containers.logPath(record), dir: containers.store.dir(record.Id) }));
  });

  router.post('/containers/([^/]+)/start', async (ctx) => {
    const result = await containers.start(ctx.param());
    ctx.noContent(result === 'already-running' ? 304 : 204);
  });

  router.post('/containers/([^/]+)/stop', async (ctx) => {
    const result = await containers.stop(ctx.param(), seconds(ctx.query.get('t'), 't'));
    ctx.noContent(result === 'not-running' ? 304 : 204);
  });

  router.post('/containers/([^/]+)/restart', async (ctx) => {
    await containers.stop(ctx.param(), seconds(ctx.query.get('t'), 't'));
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

  router.delete('/containers/([^/]+)', async (ctx) => {
    await containers.remove(ctx.param(), { force: ctx.flag('force'), volumes: ctx.flag('v') });
    ctx.noContent();
  });

  router.get('/containers/([^/]+)/logs', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const logOptions = containers.logOptions(record);
    if (!logOptions.enabled) throw new InvalidParameterError('configured logging driver does not support reading');
    const stdout = ctx.flag('stdout');
    const stderr = ctx.flag('stderr');
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const follow = ctx.flag('follow');
    const timestamps = ctx.flag('timestamps');
    const since = timeParam(ctx.query.get('since'));
    const until = timeParam(ctx.query.get('until'));
    const tailParam = ctx.query.get('tail');
    const tail = tailParam && tailParam !== 'all' ? Number(tailParam) : undefined;
    const tty = Boolean(record.Config.Tty);
    const abort = new AbortController();
    ctx.res.on('close', () => abort.abort());
    ctx.res.writeHead(200, { 'Content-Type': tty ? RAW_STREAM : MULTIPLEXED_STREAM });
    ctx.res.flushHeaders();
    const accept = (e: LogEntry): boolean => {
      if ((e.stream === 'stdout' && !stdout) || (e.stream === 'stderr' && !stderr)) return false;
      const t = Date.parse(e.time);
      return !(since !== undefined && t < since) && !(until !== undefined && t > until);
    };
    const write = (e: LogEntry): void => {
      const payload = Buffer.from((timestamps ? `${e.time} ` : '') + e.text);
      ctx.res.write(tty ? payload : frame(e.stream, payload));
    };
    const running = record.State.Status === 'running' || record.State.Status === 'paused';
    const options = { follow: follow && running, stopped: containers.stopped(record), signal: abort.signal, maxFile: logOptions.maxFile };
    if (tail !== undefined && tail >= 0) {
      // Tail needs the end first: read what is there, keep the last N, then follow on.
      const backlog: LogEntry[] = [];
      for await (const e of readJsonLog(containers.logPath(record), { follow: false, maxFile: logOptions.maxFile })) if (accept(e)) backlog.push(e);
      for (const e of tail === 0 ? [] : backlog.slice(-tail)) write(e);
      if (options.follow) {
        let skip = backlog.length;
        for await (const e of readJsonLog(containers.logPath(record), options)) {
          if (skip > 0 && accept(e)) {
            skip--;
            continue;
          }
          if (accept(e)) write(e);
        }
      }
    } else {
      for await (const e of readJsonLog(containers.logPath(record), options)) if (accept(e)) write(e);
    }
    ctx.res.end();
  });

  router.post('/containers/([^/]+)/attach', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const stream = ctx.hijack(record.Config.Tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    await attachStreams(ctx, engine, record, stream);
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
    const record = containers.store.get(ctx.param());
    await containers.withRootfs(record, async (rootfs) => {
      ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await streamCommand('tar', ['-C', rootfs, '--numeric-owner', '--xattrs', '-cf', '-', '.'], ctx.res);
    });
    ctx.res.end();
  });

  /** tar options that name a mount root's top entry as the container sees it (`data`, not `_data`). */
  const renameMountRoot = (hostPath: string, containerPath: string, mounts: readonly MountedPath[]): string[] => {
    const mount = mounts.find((m) => m.Source === hostPath);
    const name = path.posix.basename(path.posix.normalize(containerPath));
    if (!mount || !name || name === path.basename(hostPath)) return [];
    const literal = (text: string) => text.replace(/[\\.[\]*^$|]/g, (c) => `\\${c}`);
    // Every member starts with that one top entry; `rh`: member names and hard-link targets, not
    // symlink targets (those are the user's data).
    return [`--transform=s|^${literal(path.basename(hostPath))}|${name.replace(/[\\&|]/g, (c) => `\\${c}`)}|rh`];
  };

  const archiveStat = async (ctx: RequestContext, head: boolean) => {
    const record = containers.store.get(ctx.param());
    const containerPath = ctx.query.get('path');
    if (!containerPath) throw new InvalidParameterError('path is required');
    await containers.withRootfs(record, async (rootfs) => {
      const mounts = hostReachableMounts(record);
      const { hostPath, ...stat } = await pathStat(rootfs, containerPath, mounts);
      // A mount's root has its source's name on the host (a volume's is _data): the container knows
      // it by the name of the path it is mounted at.
      if (mounts.some((m) => m.Source === hostPath)) stat.name = path.posix.basename(path.posix.normalize(containerPath));
      const headers = { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'), 'Content-Type': 'application/x-tar' };
      if (head) {
        ctx.res.writeHead(200, headers);
        ctx.res.end();
        return;
      }
      // The archive holds the resolved path under its own name; the CLI renames as `cp` requires.
      const followed = containerPath.endsWith('/') || containerPath.endsWith('/.') ? await resolveInRoot(rootfs, containerPath, true, mounts) : hostPath;
      ctx.res.writeHead(200, headers);
      // `--`: the name comes from the container (a symlink's target, with `docker cp c:/link/ .`),
      // and one that starts with `-` must not be read as one of tar's options.
      await streamCommand('tar', ['-C', path.dirname(followed), '--numeric-owner', ...renameMountRoot(followed, containerPath, mounts), '-cf', '-', '--', path.basename(followed)], ctx.res);
      ctx.res.end();
    });
  };
  router.head('/containers/([^/]+)/archive', (ctx) => archiveStat(ctx, true));
  router.get('/containers/([^/]+)/archive', (ctx) => archiveStat(ctx, false));

  router.add('PUT', '/containers/([^/]+)/archive', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const containerPath = ctx.query.get('path');
    if (!containerPath) throw new InvalidParameterError('path is required');
    const mounts = hostReachableMounts(record);
    await containers.withRootfs(record, (rootfs) => extractIntoRootfs(rootfs, containerPath, ctx.req, mounts));
    ctx.noContent(200);
  });

  router.get('/containers/([^/]+)/stats', async (ctx) => {
    const record = containers.store.get(ctx.param());
    const stream = ctx.query.get('stream') !== '0' && ctx.query.get('stream') !== 'false';
    const oneShot = ctx.flag('one-shot');
    const running = () => containers.store.find(record.Id)?.State.Status === 'running' || containers.store.find(record.Id)?.State.Status === 'paused';
    const sample = async () => (running() ? sampleCgroup(`/berth/${record.Id}`) : undefined);
    const base = { name: record.Name, id: record.Id, num_procs: 0, storage_stats: {} };
    const empty = { read: ZERO_TIME_STATS, cpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: {} }, memory_stats: {}, pids_stats: {}, blkio_stats: {} };
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    let previous = oneShot ? undefined : await sample();
    if (!stream && !oneShot) await new Promise((r) => setTimeout(r, 1000));
    let closed = false;
    ctx.res.on('close', () => (closed = true));
    do {
      const current = (await sample()) ?? empty;
      const pre = previous ?? empty;
      ctx.res.write(JSON.stringify({ ...base, ...current, preread: pre.read, precpu_stats: pre.cpu_stats }) + '\n');
      previous = current;
      if (!stream || oneShot || !running()) break;
      await new Promise((r) => setTimeout(r, 1000));
    } while (!closed);
    ctx.res.end();
  });

  router.post('/containers/prune', async (ctx) => {
    const deleted = await containers.prune();
    ctx.send(200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 });
});
}

/**
 * Attach through conmon's attach socket. A container attached to before it starts (docker run)
 * is connected between runtime create and start.
 */
async function attachStreams(ctx: RequestContext, engine: Engine, record: ContainerRecord, client: Duplex | ServerResponse): Promise<void> {
  const containers = engine.containers;
  const tty = Boolean(record.Config.Tty);
  const want = { stdout: ctx.flag('stdout'), stderr: ctx.flag('stderr') };
  if (ctx.flag('logs')) {
    // `logs=1`: what the container already wrote comes first, as dockerd replays it.
    const logOptions = containers.logOptions(record);
    if (logOptions.enabled) {
      for await (const e of readJsonLog(containers.logPath(record), { follow: false, maxFile: logOptions.maxFile })) {
        if (want[e.stream]) client.write(tty ? Buffer.from(e.text) : frame(e.stream, Buffer.from(e.text)));
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
    stdin: ctx.flag('stdin') && Boolean(record.Config.OpenStdin) && ctx.upgrade !== undefined,
    detachKeys: parseDetachKeys(ctx.query.get('detachKeys')),
  });
  const started = containers.whenCreated(record, () => bridge.connect(containers.attachSocketDir(), record.Id));
  started.then((ok) => !ok && bridge.finish(), () => bridge.finish());
  await bridge.done;
  bridge.close();
}

/** Pipes a command's stdout into the response (export). */
async function streamCommand(command: string, args: string[], out: ServerResponse): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out, { end: false });
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
}
