// --cache-to / --cache-from through buildx against berthd (issue 18): a cache exported on one
// engine's data root and imported on a fresh one gives CACHED steps whose RUNs do not run again;
// type=local (mode=min and max, the client's OCI directory), type=inline pushed to a registry and
// read back with type=registry; unsupported types and options refused by name; a cache with a wrong
// blob, a missing blob or malformed JSON fails the build with what was wrong and imports nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry, run, type RunResult } from './support/berthd.js';
import { trixieClients } from './support/trixie-clients.js';

const TWO_STAGES = `FROM busybox AS build
RUN echo build-stage-ran && echo one > /one.txt
FROM busybox
COPY --from=build /one.txt /one.txt
RUN echo final-stage-ran && cat /one.txt > /two.txt
CMD ["cat", "/two.txt"]
`;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('BuildKit cache export and import (buildx 0.13)', () => {
  let source: TestEngine;
  let fresh: TestEngine;
  const clients = trixieClients();
  const work = mkdtempSync(path.join(tmpdir(), 'berth-buildkit-cache-'));
  const envs = new Map<TestEngine, NodeJS.ProcessEnv>();
  const docker = (engine: TestEngine, args: string[]): Promise<RunResult> => run(clients.docker, args, { env: envs.get(engine)! });
  const dockerOk = async (engine: TestEngine, args: string[]): Promise<RunResult> => {
    const res = await docker(engine, args);
    assert.equal(res.code, 0, `docker ${args.join(' ')} failed:\n${res.stdout}\n${res.stderr}`);
    return res;
  };
  const context = async (name: string, dockerfile: string): Promise<string> => {
    const dir = path.join(work, name);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    return dir;
  };
  /** Every image record of the engine, build steps included. */
  const allImages = async (engine: TestEngine): Promise<string[]> => [...new Set((await dockerOk(engine, ['images', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean))].sort();
  const blobPath = (dir: string, digest: string) => path.join(dir, 'blobs/sha256', digest.replace(/^sha256:/, ''));
  const readJson = async <T>(file: string): Promise<T> => JSON.parse(await fs.readFile(file, 'utf8')) as T;
  /** The cache in DIR: index.json's manifest (an OCI index), and berthd's cache config in it. */
  const cacheOf = async (dir: string) => {
    const top = (await readJson<{ manifests: Descriptor[] }>(path.join(dir, 'index.json'))).manifests.at(-1)!;
    const index = await readJson<{ manifests: Descriptor[] }>(blobPath(dir, top.digest));
    const configDesc = index.manifests.find((m) => m.mediaType === 'application/vnd.berth.buildcache.v0+json')!;
    const config = await readJson<{ records: { id: string; parent?: string; buildCache: string }[]; layers: { diffId: string; digest: string }[] }>(blobPath(dir, configDesc.digest));
    return { top, index, configDesc, config };
  };

  before(async () => {
    [source, fresh] = await Promise.all([TestEngine.start(), TestEngine.start()]);
    for (const engine of [source, fresh]) {
      envs.set(engine, clients.env(`unix://${engine.socket}`, path.join(work, `config-${engine.bridge}`)));
      await dockerOk(engine, ['pull', '-q', `${registry()}/library/busybox`]);
      await dockerOk(engine, ['tag', `${registry()}/library/busybox`, 'busybox']);
    }
  });
  after(async () => {
    await Promise.all([source.dispose(), fresh.dispose()]);
    await fs.rm(work, { recursive: true, force: true });
  });

  it('exports type=local with mode=max and mode=min into the client\'s directory', async () => {
    const dir = await context('two-stages', TWO_STAGES);
    const max = path.join(work, 'cache-max');
    const min = path.join(work, 'cache-min');
    const built = await dockerOk(source, ['buildx', 'build', '--progress=plain', '--cache-to', `type=local,dest=${max},mode=max`, '-t', 'app:1', dir]);
    assert.match(built.stderr, /#\d+ \[build 2\/2\] RUN echo build-stage-ran.*\n#\d+ [\d.]+ build-stage-ran/);
    assert.match(built.stderr, /#(\d+) exporting cache to client directory\n[\s\S]*?#\1 writing cache manifest sha256:[a-f0-9]{64}( [\d.]+s)? done\n[\s\S]*?#\1 DONE/);
    // The client wrote index.json from the descriptor berthd answered: an OCI index of blobs that are all there.
    const cache = await cacheOf(max);
    assert.equal(cache.top.mediaType, 'application/vnd.oci.image.index.v1+json');
    for (const blob of [cache.top, ...cache.index.manifests]) {
      const bytes = await fs.readFile(blobPath(max, blob.digest));
      assert.equal(sha256(bytes), blob.digest);
      assert.equal(bytes.length, blob.size);
    }
    // mode=max: the build stage's RUN and the final stage's COPY and RUN, with their parents and keys.
    const keys = cache.config.records.map((r) => r.buildCache);
    assert.equal(keys.filter((k) => k.includes('build-stage-ran')).length, 1, keys.join('\n'));
    assert.equal(keys.filter((k) => k.includes('final-stage-ran')).length, 1, keys.join('\n'));
    const appId = (await dockerOk(source, ['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).stdout.trim();
    assert.equal(cache.config.records.at(-1)!.id, appId);

    // mode=min (the default): the result's own steps only, not the build stage's.
    const again = await dockerOk(source, ['buildx', 'build', '--progress=plain', '--cache-to', `type=local,dest=${min}`, '-t', 'app:1', dir]);
    assert.match(again.stderr, /#\d+ \[build 2\/2\] RUN echo build-stage-ran.*\n#\d+ CACHED/);
    const minKeys = (await cacheOf(min)).config.records.map((r) => r.buildCache);
    assert.equal(minKeys.filter((k) => k.includes('build-stage-ran')).length, 0, minKeys.join('\n'));
    assert.equal(minKeys.filter((k) => k.includes('final-stage-ran')).length, 1, minKeys.join('\n'));
  });

  it('imports type=local on a fresh data root: the steps are CACHED and no RUN runs', async () => {
    const dir = await context('two-stages', TWO_STAGES);
    const max = path.join(work, 'cache-max');
    // Fresh: the engine has busybox and nothing built.
    const before = await allImages(fresh);
    assert.equal(before.length, 1, before.join('\n'));
    const built = await dockerOk(fresh, ['buildx', 'build', '--progress=plain', '--cache-from', `type=local,src=${max}`, '-t', 'app:1', dir]);
    assert.match(built.stderr, new RegExp(`#(\\d+) importing cache manifest from local:${max.replace(/[/.]/g, '\\$&')}\\n[\\s\\S]*?#\\1 DONE`));
    assert.match(built.stderr, /#\d+ \[build 2\/2\] RUN echo build-stage-ran.*\n#\d+ CACHED/);
    assert.match(built.stderr, /#\d+ \[stage-1 2\/3\] COPY --from=build \/one.txt \/one.txt\n#\d+ CACHED/);
    assert.match(built.stderr, /#\d+ \[stage-1 3\/3\] RUN echo final-stage-ran.*\n#\d+ CACHED/);
    assert.doesNotMatch(built.stderr, /#\d+ [\d.]+ (build|final)-stage-ran/);
    // The same image as on the engine that built it, and it runs.
    const id = (await dockerOk(fresh, ['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).stdout.trim();
    assert.equal(id, (await dockerOk(source, ['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).stdout.trim());
    assert.equal((await dockerOk(fresh, ['run', '--rm', 'app:1'])).stdout, 'one\n');
  });

  it('exports type=inline into a pushed image and imports it with type=registry on a fresh root', async () => {
    const dockerfile = 'FROM busybox\nRUN echo inline-step-ran && echo inline > /inline.txt\nCMD ["cat", "/inline.txt"]\n';
    const dir = await context('inline', dockerfile);
    const name = `${registry()}/berth-cache/inline:${Date.now()}`;
    const pushed = await dockerOk(source, ['buildx', 'build', '--progress=plain', '--cache-to', 'type=inline', '--push', '-t', name, dir]);
    assert.match(pushed.stderr, /#\d+ preparing layers for inline cache/);
    const built = await dockerOk(fresh, ['buildx', 'build', '--progress=plain', '--cache-from', `type=registry,ref=${name}`, '-t', 'inline:1', dir]);
    assert.match(built.stderr, new RegExp(`#(\\d+) importing cache manifest from ${name.replace(/[/.]/g, '\\$&')}\\n[\\s\\S]*?#\\1 DONE`));
    assert.match(built.stderr, /#\d+ \[2\/2\] RUN echo inline-step-ran.*\n#\d+ CACHED/);
    assert.doesNotMatch(built.stderr, /#\d+ [\d.]+ inline-step-ran/);
    assert.equal((await dockerOk(fresh, ['run', '--rm', 'inline:1'])).stdout, 'inline\n');
    // Importing the cache does not pull the image under its name.
    assert.notEqual((await docker(fresh, ['image', 'inspect', name])).code, 0);
    // An image without berthd's cache is a warning, as BuildKit says it, and the build goes on.
    const plain = await dockerOk(fresh, ['buildx', 'build', '--progress=plain', '--cache-from', `type=registry,ref=${registry()}/library/busybox`, '-t', 'inline:2', dir]);
    assert.match(plain.stderr, /has no berthd build cache/);
  });

  it('refuses cache types and options berthd does not honour, by name', async () => {
    const dir = await context('refused', 'FROM busybox\nRUN true\n');
    const cases: [string[], RegExp][] = [
      [['--cache-to', 'type=registry,ref=localhost:5999/x:cache'], /--cache-to type=registry is not supported by berthd \(it has type=local and type=inline\)/],
      [['--cache-to', 'type=azblob,name=x,account_url=https://x'], /--cache-to type=azblob is not supported by berthd/],
      [['--cache-to', `type=local,dest=${path.join(work, 'zstd')},compression=zstd`], /--cache-to type=local: option compression="zstd" is not supported by berthd/],
      [['--cache-to', 'type=inline,mode=max'], /--cache-to type=inline: option mode="max" is not supported by berthd/],
      [['--cache-from', 'type=azblob,name=x,account_url=https://x'], /--cache-from type=azblob is not supported by berthd \(it has type=local and type=registry\)/],
    ];
    for (const [flags, message] of cases) {
      const res = await docker(source, ['buildx', 'build', '--progress=plain', ...flags, dir]);
      assert.notEqual(res.code, 0, flags.join(' '));
      assert.match(res.stderr, message);
    }
  });

  describe('hostile caches', () => {
    const dockerfile = 'FROM busybox\nRUN echo hostile-step-ran > /h.txt\nRUN echo second-step-ran > /h2.txt\n';
    let dir: string;
    let good: string;
    before(async () => {
      dir = await context('hostile', dockerfile);
      good = path.join(work, 'cache-hostile');
      await dockerOk(source, ['buildx', 'build', '--progress=plain', '--cache-to', `type=local,dest=${good}`, dir]);
    });
    /** A copy of the good cache, changed by `mutate`; index.json points at the index it leaves. */
    const copyCache = async (name: string, mutate: (copy: string, cache: Awaited<ReturnType<typeof cacheOf>>) => Promise<void>): Promise<string> => {
      const copy = path.join(work, name);
      await fs.cp(good, copy, { recursive: true });
      await mutate(copy, await cacheOf(copy));
      return copy;
    };
    /** Writes `config` as the cache config and a new index (and index.json) naming it. */
    const rewriteConfig = async (copy: string, cache: Awaited<ReturnType<typeof cacheOf>>, config: string): Promise<void> => {
      const configDesc = { ...cache.configDesc, digest: sha256(config), size: Buffer.byteLength(config) };
      await fs.writeFile(blobPath(copy, configDesc.digest), config);
      const index = JSON.stringify({ ...cache.index, manifests: cache.index.manifests.map((m) => (m.digest === cache.configDesc.digest ? configDesc : m)) });
      await fs.writeFile(blobPath(copy, sha256(index)), index);
      await fs.writeFile(path.join(copy, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...cache.top, digest: sha256(index), size: Buffer.byteLength(index) }] }));
    };
    const refusedImport = async (cacheDir: string, message: RegExp) => {
      const before = await allImages(fresh);
      const res = await docker(fresh, ['buildx', 'build', '--progress=plain', '--cache-from', `type=local,src=${cacheDir}`, dir]);
      assert.notEqual(res.code, 0, res.stderr);
      assert.match(res.stderr, message);
      assert.doesNotMatch(res.stderr, /hostile-step-ran/);
      // Nothing of it was recorded, and the engine goes on serving.
      assert.deepEqual(await allImages(fresh), before);
      assert.equal((await fresh.request('GET', '/_ping')).body, 'OK');
    };

    it('refuses a layer blob that does not match its digest', async () => {
      const copy = await copyCache('cache-bad-blob', async (c, cache) => {
        const layer = cache.config.layers.find((l) => l.digest === l.diffId)!; // a built layer (a plain tar)
        const file = blobPath(c, layer.digest);
        const bytes = await fs.readFile(file);
        bytes[bytes.length - 1024] = bytes[bytes.length - 1024]! ^ 0xff;
        await fs.writeFile(file, bytes);
      });
      await refusedImport(copy, /cache local:.*: layer sha256:[a-f0-9]{64}: digest mismatch/);
    });

    it('refuses a cache with a missing blob', async () => {
      const copy = await copyCache('cache-missing-blob', async (c, cache) => {
        await fs.rm(blobPath(c, cache.config.records.at(-1)!.id));
      });
      await refusedImport(copy, /cache local:.*: (blob sha256:[a-f0-9]{64} is missing from the cache|.*not found)/);
    });

    it('refuses malformed JSON and a config that is not berthd\'s', async () => {
      await refusedImport(await copyCache('cache-not-json', (c, cache) => rewriteConfig(c, cache, '{"schemaVersion": 0, "records": [')), /invalid build cache config: not JSON/);
      await refusedImport(await copyCache('cache-bad-shape', (c, cache) => rewriteConfig(c, cache, JSON.stringify({ ...cache.config, records: [{ id: 'sha256:../../etc', buildCache: 'x' }] }))), /invalid build cache config: record 0 has no image ID/);
      // A cache config whose blob is not what its descriptor says.
      await refusedImport(
        await copyCache('cache-config-mismatch', async (c, cache) => {
          await fs.writeFile(blobPath(c, cache.configDesc.digest), JSON.stringify({ ...cache.config, layers: [] }));
        }),
        /cache config sha256:[a-f0-9]{64} does not match its digest/,
      );
    });

    it('still imports the good cache afterwards', async () => {
      const built = await dockerOk(fresh, ['buildx', 'build', '--progress=plain', '--cache-from', `type=local,src=${good}`, dir]);
      assert.match(built.stderr, /#\d+ \[2\/3\] RUN echo hostile-step-ran.*\n#\d+ CACHED/);
      assert.match(built.stderr, /#\d+ \[3\/3\] RUN echo second-step-ran.*\n#\d+ CACHED/);
    });
  });
});
