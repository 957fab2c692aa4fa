// Load (issue 9): 200 containers created, started, inspected and removed concurrently by 20
// clients (three rounds, to tell a leak from heap growth); 50 parallel `docker run --rm`; `logs -f` on 50 containers at once. Meanwhile `docker ps`
// (GET /containers/json) is timed every 100 ms and its latency reported (not asserted: timings
// belong in benchmarks). Afterwards the engine must have leaked nothing: its file descriptors,
// mounts under its data root, container cgroups, veths on its bridge and monitor processes are
// back to where they were, and its heap after a full GC does not grow from one round to the next.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { TestEngine, registry } from './support/berthd.js';

const CLIENTS = 20;
const CONTAINERS = 200;
const PARALLEL_RUNS = 50;
const FOLLOWED = 50;
// What the heap after GC may grow by from the second round to the third: 5 KiB a container. It
// read 10.5, 10.7, 10.8 MiB after the three rounds here.
const HEAP_GROWTH_MIB = 1;

interface Footprint {
  fds: number;
  mounts: number;
  cgroups: number;
  veths: number;
  monitors: number;
  rssMiB: number;
}

/** One Engine API call on a given agent (a client: its own connection). */
function call(engine: TestEngine, agent: http.Agent, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: engine.socket, agent, method, path: urlPath, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * The engine's V8 heap in use right after a full garbage collection, over its inspector (the
 * engine runs with --inspect on 127.0.0.1): what the engine holds on to, unlike its RSS, which
 * moves with when V8 and malloc last collected and gave pages back.
 */
async function heapAfterGcMiB(engine: TestEngine): Promise<number> {
  const url = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(engine.log)?.[0];
  assert.ok(url, `no inspector address in the engine's log:\n${engine.log.slice(0, 2000)}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  // One request at a time: each reply is the answer to the request before it.
  const send = (method: string) =>
    new Promise<Record<string, number>>((resolve, reject) => {
      ws.once('message', (data: Buffer) => {
        const reply = JSON.parse(data.toString()) as { result?: Record<string, number>; error?: unknown };
        if (reply.error) reject(new Error(JSON.stringify(reply.error)));
        else resolve(reply.result ?? {});
      });
      ws.send(JSON.stringify({ id: 1, method }));
    });
  try {
    await send('HeapProfiler.collectGarbage');
    return Math.round(((await send('Runtime.getHeapUsage')).usedSize! / 1024 / 1024) * 10) / 10;
  } finally {
    ws.close();
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

describe('load: many clients, containers and followers at once', () => {
  let engine: TestEngine;
  let baseline: Footprint;
  const latencies: number[] = [];

  // Every container this engine made, from its events: the cgroup parent is shared by all engines
  // on the machine, so only these IDs' cgroups count.
  const created = new Set<string>();
  let stopEvents: (() => void) | undefined;

  async function footprint(): Promise<Footprint> {
    const pid = engine.pid!;
    const mounts = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(engine.dataRoot)).length;
    // The container cgroups: /sys/fs/cgroup/berth (v2) or per controller (v1; memory is enough).
    const cgroupDir = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup/berth' : '/sys/fs/cgroup/memory/berth';
    const cgroups = (await fs.readdir(cgroupDir).catch(() => [] as string[])).filter((name) => created.has(name)).length;
    const veths = execFileSync('ip', ['-o', 'link', 'show', 'master', engine.bridge], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    const monitors = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('conmon') && l.includes(engine.dataRoot)).length;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return { fds: (await fs.readdir(`/proc/${pid}/fd`)).length, mounts, cgroups, veths, monitors, rssMiB: Math.round(rss / 1024) };
  }

  /** Times GET /containers/json every 100 ms until stopped, on a connection of its own. */
  function sampleLatency(): () => Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let running = true;
    const loop = (async () => {
      while (running) {
        const start = process.hrtime.bigint();
        const res = await call(engine, agent, 'GET', '/containers/json');
        assert.equal(res.status, 200, res.body);
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return async () => {
      running = false;
      await loop;
      agent.destroy();
    };
  }

  before(async () => {
    // As runtime-agent/bin/berthd.js starts it, with the inspector on a free port for heapAfterGcMiB.
    engine = await TestEngine.start([], [process.execPath, '--max-semi-space-size=2', '--inspect=127.0.0.1:0']);
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    const events = http.request({ socketPath: engine.socket, path: '/events?filters=' + encodeURIComponent(JSON.stringify({ type: ['container'], event: ['create'] })) }, (res) => {
      let partial = '';
      res.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line) created.add((JSON.parse(line) as { id: string }).id);
      });
    });
    events.on('error', () => undefined);
    events.end();
    stopEvents = () => events.destroy();
    // Warm up: the first run loads what berthd loads lazily (networking, the monitor); its removal
    // finishes in the background, so the baseline waits for the engine to be idle.
    await engine.dockerOk(['run', '--rm', 'busybox', 'true']);
    baseline = await settled((f) => f.mounts === 0 && f.cgroups === 0 && f.monitors === 0);
  });
  after(async () => {
    stopEvents?.();
    await engine.dispose();
  });

  /** The footprint once `done` holds (removal finishes in the background), or after 10 s. */
  async function settled(done: (f: Footprint) => boolean): Promise<Footprint> {
    let now = await footprint();
    for (let i = 0; i < 50 && !done(now); i++) {
      await new Promise((r) => setTimeout(r, 200));
      now = await footprint();
    }
    return now;
  }

  /** One round: all containers exist and run together, then each client inspects and removes its share. */
  async function containerRound(round: number): Promise<void> {
    const clients = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const ids: string[][] = clients.map(() => []);
    await Promise.all(clients.map(async (agent, c) => {
      for (let i = 0; i < CONTAINERS / CLIENTS; i++) {
        const created = await call(engine, agent, 'POST', `/containers/create?name=load-${round}-${c}-${i}`, { Image: 'busybox', Cmd: ['sleep', '600'], Labels: { load: 'yes' } });
        assert.equal(created.status, 201, created.body);
        const { Id } = JSON.parse(created.body) as { Id: string };
        const started = await call(engine, agent, 'POST', `/containers/${Id}/start`);
        assert.equal(started.status, 204, started.body);
        ids[c]!.push(Id);
      }
    }));
    const listed = JSON.parse((await call(engine, clients[0]!, 'GET', '/containers/json?filters=' + encodeURIComponent(JSON.stringify({ label: ['load=yes'] })))).body) as unknown[];
    assert.equal(listed.length, CONTAINERS);
    await Promise.all(clients.map(async (agent, c) => {
      for (const id of ids[c]!) {
        const inspected = await call(engine, agent, 'GET', `/containers/${id}/json`);
        assert.equal(inspected.status, 200, inspected.body);
        assert.equal((JSON.parse(inspected.body) as { State: { Running: boolean } }).State.Running, true);
        const removed = await call(engine, agent, 'DELETE', `/containers/${id}?force=1`);
        assert.equal(removed.status, 204, removed.body);
      }
    }));
    for (const agent of clients) agent.destroy();
  }

  // The heap after a full GC and the RSS, after each round once removal has settled. A leak grows
  // the heap round after round. RSS is only reported: it moves with when V8 and malloc last gave
  // pages back (after identical rounds it read 81, 85, 111 MiB once, and 91, 88, 87 another time).
  const heapAfterRound: number[] = [];
  const rssAfterRound: number[] = [];

  it(`creates, starts, inspects and removes ${CONTAINERS} containers from ${CLIENTS} clients at once, three times`, async () => {
    const stopSampling = sampleLatency();
    for (const round of [1, 2, 3]) {
      await containerRound(round);
      rssAfterRound.push((await settled((f) => f.mounts === baseline.mounts && f.monitors === baseline.monitors)).rssMiB);
      heapAfterRound.push(await heapAfterGcMiB(engine));
    }
    await stopSampling();
  });

  it(`runs ${PARALLEL_RUNS} docker run --rm in parallel`, async () => {
    const stopSampling = sampleLatency();
    const results = await Promise.all(Array.from({ length: PARALLEL_RUNS }, (_, i) => engine.docker(['run', '--rm', 'busybox', 'echo', `parallel-${i}`])));
    await stopSampling();
    results.forEach((res, i) => {
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, `parallel-${i}\n`);
    });
  });

  it(`follows the logs of ${FOLLOWED} containers at once`, async () => {
    const stopSampling = sampleLatency();
    const ids = await Promise.all(Array.from({ length: FOLLOWED }, async (_, i) => (await engine.dockerOk(['run', '-d', '--label', 'follow=yes', 'busybox', 'sh', '-c', `while :; do echo tick-${i}; usleep 100000; done`])).trim()));
    const counts = new Array<number>(FOLLOWED).fill(0);
    const requests = ids.map((id, i) => {
      const req = http.request({ socketPath: engine.socket, agent: false, path: `/containers/${id}/logs?follow=1&stdout=1&tail=0` }, (res) => {
        res.on('data', (chunk: Buffer) => (counts[i]! += chunk.toString('latin1').split(`tick-${i}\n`).length - 1));
      });
      req.on('error', () => undefined);
      req.end();
      return req;
    });
    await new Promise((r) => setTimeout(r, 3000));
    for (const req of requests) req.destroy();
    await stopSampling();
    // 3 s at one line per 100 ms is ~30 lines each; a follower that stalled would have a handful.
    counts.forEach((count, i) => assert.ok(count >= 10, `follower ${i} got ${count} lines`));
    await engine.dockerOk(['rm', '-f', ...ids]);
  });

  it('leaks nothing: descriptors, mounts, cgroups, veths, monitors, memory', async () => {
    const now = await settled((f) => f.mounts === baseline.mounts && f.cgroups === baseline.cgroups && f.veths === baseline.veths && f.monitors === baseline.monitors && f.fds <= baseline.fds);
    assert.ok(created.size >= 3 * CONTAINERS + PARALLEL_RUNS + FOLLOWED, `saw ${created.size} containers created`);
    latencies.sort((a, b) => a - b);
    console.log(`load: docker ps under load over ${latencies.length} samples: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms; footprint before ${JSON.stringify(baseline)}, after ${JSON.stringify(now)}; after each container round: heap after GC ${heapAfterRound.join(', ')} MiB, RSS ${rssAfterRound.join(', ')} MiB`);
    assert.equal(now.mounts, baseline.mounts, 'mounts under the data root');
    assert.equal(now.cgroups, baseline.cgroups, 'container cgroups');
    assert.equal(now.veths, baseline.veths, 'veths on the bridge');
    assert.equal(now.monitors, baseline.monitors, 'conmon processes');
    assert.ok(now.fds <= baseline.fds, `file descriptors: ${baseline.fds} before, ${now.fds} after`);
    // What a round leaves behind shows in the heap after GC between the last two identical rounds
    // (the first also fills caches that are made once); RSS gets a loose bound on the total.
    const [, second, third] = heapAfterRound as [number, number, number];
    assert.ok(third <= second + HEAP_GROWTH_MIB, `the heap after GC grew from ${second} MiB after the second round to ${third} MiB after the third`);
    assert.ok(now.rssMiB <= baseline.rssMiB + 100, `RSS ${baseline.rssMiB} MiB before, ${now.rssMiB} MiB after`);
  });
});
