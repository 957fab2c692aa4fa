// Crash safety (issue 9): berthd is killed with SIGKILL at random moments during pulls, pushes,
// builds, runs, commits, volume writes and container removals, and restarted each time. After
// every restart the store must load, every image that was reported complete must still be there
// with every blob matching its digest, nothing half-written may be visible (no leftover ingest,
// every listed object inspectable), volumes keep what was written to them, and containers that were
// running are found again, still running.
//
// Seeded and reproducible: BERTH_TORTURE_SEED picks the sequence of operations and kill delays
// (printed at the start), BERTH_TORTURE_KILLS how many kills (default 50).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DOCKER, TestEngine, registry, type RunResult } from './support/berthd.js';

const SEED = Number(process.env.BERTH_TORTURE_SEED ?? 20261128);
const KILLS = Number(process.env.BERTH_TORTURE_KILLS ?? 50);
const MAX_RUNNING = 6;

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** What the engine said was done before it was killed: it must all still hold after a restart. */
interface Expectations {
  images: Map<string, string>; // reference → image ID
  running: Set<string>; // container names
  removed: Set<string>;
  volumes: Map<string, string>; // name → content of f
}

describe(`crash safety: berthd killed ${KILLS} times (seed ${SEED})`, () => {
  let engine: TestEngine;
  const random = prng(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const expected: Expectations = { images: new Map(), running: new Set(), removed: new Set(), volumes: new Map() };
  const verifiedBlobs = new Set<string>();
  const contexts = mkdtempSync(path.join(tmpdir(), 'berth-torture-'));
  const log: string[] = [];

  /** A docker CLI call in its own process, so the engine can die under it. */
  const cli = (args: string[]): Promise<RunResult> =>
    new Promise((resolve) => {
      const child = spawn(DOCKER, args, { env: engine.env(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });

  const imageId = async (ref: string) => (await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();

  before(async () => {
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    expected.images.set('busybox:latest', await imageId('busybox'));
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(contexts, { recursive: true, force: true });
  });

  /**
   * The operations, each started as the engine may die; `done` records what a success promises.
   * The kill comes within `maxDelayMs`, about the operation's usual length here, so most kills land
   * in the middle of the work.
   */
  type Operation = { maxDelayMs: number; run: () => Promise<RunResult>; done: () => Promise<void>; interrupted?: () => Promise<void> };
  const operations: Record<string, (i: number) => Promise<Operation>> = {
    pull: async () => {
      const ref = `${registry()}/library/debian:bookworm`;
      // Pulled before: remove it so this pull writes blobs and snapshots again.
      if (expected.images.delete(ref)) await engine.dockerOk(['rmi', '-f', ref]);
      return { maxDelayMs: 2000, run: () => cli(['pull', '-q', ref]), done: async () => void expected.images.set(ref, await imageId(ref)) };
    },
    push: async (i) => {
      const ref = `${registry()}/torture/busybox:${i}`;
      await engine.dockerOk(['tag', 'busybox', ref]);
      return { maxDelayMs: 400, run: () => cli(['push', '-q', ref]), done: async () => void expected.images.set(ref, await imageId(ref)) };
    },
    build: async (i) => {
      const dir = path.join(contexts, `build-${i}`);
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'Dockerfile'), `FROM busybox\nRUN echo step-${i} > /step && sync\nCOPY payload /payload\nRUN wc -c /payload > /size\n`);
      await fs.writeFile(path.join(dir, 'payload'), Buffer.alloc(256 * 1024 + i, i % 251));
      const ref = `torture/build:${i}`;
      return { maxDelayMs: 1200, run: () => cli(['build', '-q', '-t', ref, dir]), done: async () => void expected.images.set(ref, await imageId(ref)) };
    },
    run: async (i) => {
      const name = `run-${i}`;
      return { maxDelayMs: 250, run: () => cli(['run', '-d', '--name', name, 'busybox', 'sleep', '3600']), done: async () => void expected.running.add(name) };
    },
    commit: async (i) => {
      const source = [...expected.running][0];
      const ref = `torture/commit:${i}`;
      if (!source) return operations.run!(i);
      return { maxDelayMs: 300, run: () => cli(['commit', source, ref]), done: async () => void expected.images.set(ref, await imageId(ref)) };
    },
    volume: async (i) => {
      const name = `vol-${i}`;
      const content = `written-${i}`;
      const run = async () => {
        const created = await cli(['volume', 'create', name]);
        if (created.code !== 0) return created;
        return cli(['run', '--rm', '-v', `${name}:/d`, 'busybox', 'sh', '-c', `echo ${content} > /d/f && sync`]);
      };
      return { maxDelayMs: 500, run, done: async () => void expected.volumes.set(name, `${content}\n`) };
    },
    remove: async (i) => {
      const name = [...expected.running][0];
      if (!name) return operations.run!(i);
      // An interrupted `rm -f` may have stopped the container already (that is what was asked for):
      // from here on it is only expected gone once a removal completes.
      expected.running.delete(name);
      return {
        maxDelayMs: 250,
        run: () => cli(['rm', '-f', name]),
        done: async () => void expected.removed.add(name),
        interrupted: async () => {
          // Whatever state it was left in, it must still be a whole container; finish the removal.
          await engine.dockerOk(['rm', '-f', name]);
          expected.removed.add(name);
        },
      };
    },
  };

  /** Every blob in the content store matches its name; each is hashed once (blobs never change). */
  async function verifyBlobs(): Promise<number> {
    const dir = path.join(engine.dataRoot, 'image', 'blobs', 'sha256');
    let count = 0;
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
      count++;
      if (verifiedBlobs.has(name)) continue;
      assert.equal(await sha256(path.join(dir, name)), name, `blob ${name} does not match its digest`);
      verifiedBlobs.add(name);
    }
    return count;
  }

  async function verifyEngine(context: string): Promise<void> {
    const json = async <T>(urlPath: string): Promise<T> => {
      const res = await engine.request('GET', urlPath);
      assert.equal(res.status, 200, `${context}: GET ${urlPath}: ${res.body}`);
      return JSON.parse(res.body) as T;
    };
    // Nothing half-written: the ingest area is swept at start, and every listed object inspects.
    const ingest = await fs.readdir(path.join(engine.dataRoot, 'image', 'ingest')).catch(() => []);
    assert.deepEqual(ingest, [], `${context}: leftover ingest files`);
    const images = await json<{ Id: string; RepoTags: string[] | null }[]>('/images/json?all=1');
    for (const image of images) await json(`/images/${image.Id}/json`);
    for (const [ref, id] of expected.images) {
      const found = images.find((image) => image.Id === id);
      assert.ok(found, `${context}: image ${ref} (${id}) was complete before the kill and is gone`);
      const canonical = ref.includes(':') ? ref : `${ref}:latest`;
      assert.ok(found.RepoTags?.includes(canonical), `${context}: ${ref} lost its tag (has ${found.RepoTags})`);
    }
    await verifyBlobs();

    const containers = await json<{ Id: string; Names: string[]; State: string }[]>('/containers/json?all=1');
    for (const container of containers) await json(`/containers/${container.Id}/json`);
    for (const name of expected.running) {
      const state = await json<{ State: { Running: boolean; Pid: number } }>(`/containers/${name}/json`);
      assert.ok(state.State.Running, `${context}: ${name} was running and is not`);
      assert.ok(existsSync(`/proc/${state.State.Pid}`), `${context}: ${name}'s process ${state.State.Pid} is gone`);
    }
    for (const name of expected.removed) assert.ok(!containers.some((c) => c.Names.includes(`/${name}`)), `${context}: ${name} was removed and is back`);

    const volumes = (await json<{ Volumes: { Name: string; Mountpoint: string }[] }>('/volumes')).Volumes;
    for (const [name, content] of expected.volumes) {
      const volume = volumes.find((v) => v.Name === name);
      assert.ok(volume, `${context}: volume ${name} is gone`);
      assert.equal(await fs.readFile(path.join(volume.Mountpoint, 'f'), 'utf8'), content, `${context}: volume ${name} lost its data`);
    }
  }

  it('keeps every completed operation across kills at random moments', async () => {
    const counts: Record<string, { started: number; completed: number }> = {};
    for (let i = 0; i < KILLS; i++) {
      // Removal when many run (so the set stays small), else any operation.
      const name = expected.running.size >= MAX_RUNNING ? 'remove' : pick(Object.keys(operations));
      const operation = await operations[name]!(i);
      const delay = Math.floor(random() * operation.maxDelayMs);
      const outcome = operation.run();
      await new Promise((r) => setTimeout(r, delay));
      await engine.stop('SIGKILL');
      const result = await outcome;
      const completed = result.code === 0;
      counts[name] ??= { started: 0, completed: 0 };
      counts[name].started++;
      await engine.start();
      // A success the engine reported before it died is a promise: record it now that it is back.
      if (completed) {
        counts[name].completed++;
        await operation.done();
      }
      log.push(`#${i} ${name} killed after ${delay} ms: ${completed ? 'had completed' : 'interrupted'}`);
      await verifyEngine(`after kill #${i} (${name}, ${delay} ms, seed ${SEED})`);
      if (!completed) await operation.interrupted?.();
    }
    // Each image that survived runs: its snapshots are whole, not just its records.
    for (const [ref, id] of expected.images) {
      const res = await engine.docker(['run', '--rm', id, 'true']);
      assert.equal(res.code, 0, `${ref}: ${res.stderr}`);
    }
    const summary = Object.entries(counts).map(([op, c]) => `${op} ${c.completed}/${c.started}`).join(', ');
    console.log(`torture (seed ${SEED}): ${KILLS} kills; completed/started per operation: ${summary}; ${verifiedBlobs.size} blobs verified; ${expected.images.size} images, ${expected.running.size} running containers, ${expected.volumes.size} volumes kept`);
    // The run must have interrupted work, not only killed an idle engine.
    const interrupted = Object.values(counts).reduce((n, c) => n + c.started - c.completed, 0);
    assert.ok(interrupted >= KILLS / 5, `only ${interrupted} of ${KILLS} kills interrupted an operation:\n${log.join('\n')}`);
  });
});
