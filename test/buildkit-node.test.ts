// Issue 18's first acceptance test, with real tools: a Node app built by trixie's buildx 0.13.1
// against berthd, whose `RUN --mount=type=cache,target=/root/.npm` runs a real npm on a real node.
// The base is the `node` fixture image (Debian bookworm's nodejs, scripts/fixtures/build-images.sh);
// npm is this machine's own (pure JavaScript, nodesource's npm 11), copied into the build context,
// because Debian's npm package pulls ~700 packages; npm 11 warns that it does not support node 18
// and then works. Offline throughout: the step runs with --network=none and the app's one
// dependency is a tarball made here with `npm pack`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, realpathSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';

import tarStream from 'tar-stream';

import { TestEngine, registry, run, type RunResult } from './support/berthd.js';
import { buildxClient, type BuildxClient } from './support/buildx-client.js';

const NPM_CLI = 'node /usr/local/lib/npm/bin/npm-cli.js';
const LIST_CACHE = '(cd /root/.npm && find . -mindepth 1 | sort)';
const DOCKERFILE = `# syntax=docker/dockerfile:1
FROM node
COPY npm /usr/local/lib/npm
WORKDIR /app
COPY package.json dep-1.0.0.tgz ./
RUN --mount=type=cache,target=/root/.npm --network=none \\
    ${LIST_CACHE} > /app/npm-cache-before.txt \\
 && ${NPM_CLI} install --offline --no-audit --no-fund --no-update-notifier \\
 && ${LIST_CACHE} > /app/npm-cache-after.txt
CMD ["node", "-p", "require('dep').answer"]
`;

/** This machine's npm: the package folder behind `npm` on PATH. */
function hostNpm(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const bin = path.join(dir, 'npm');
    if (!existsSync(bin)) continue;
    const root = path.dirname(path.dirname(realpathSync(bin)));   // …/npm/bin/npm-cli.js
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name?: string };
    if (manifest.name === 'npm') return root;
  }
  throw new Error('npm is not on PATH (it comes with nodesource\'s nodejs)');
}

/** Every entry name in every layer of a `docker save` archive. */
async function savedLayerEntries(archive: string): Promise<string[]> {
  const names: string[] = [];
  const outer = tarStream.extract();
  const reading = (async () => {
    for await (const entry of outer) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const gzipped = body[0] === 0x1f && body[1] === 0x8b;
      const isTar = gzipped || (body.length >= 512 && body.subarray(257, 262).toString() === 'ustar');
      if (!isTar) continue;
      const inner = tarStream.extract();
      const listing = (async () => {
        for await (const layerEntry of inner) {
          names.push(layerEntry.header.name);
          layerEntry.resume();
        }
      })();
      inner.end(gzipped ? gunzipSync(body) : body);
      await listing;
    }
  })();
  await Promise.all([pipeline(createReadStream(archive), outer), reading]);
  return names;
}

describe('BuildKit: a Node app with RUN --mount=type=cache,target=/root/.npm (real node and npm)', () => {
  let engine: TestEngine;
  const work = mkdtempSync(path.join(tmpdir(), 'berth-bk-node-'));
  const config = path.join(work, 'docker-config');
  const app = path.join(work, 'app');
  let client: BuildxClient;
  const docker = (args: string[]): Promise<RunResult> => client.docker(args);
  const dockerOk = (args: string[]): Promise<RunResult> => client.dockerOk(args);
  const buildOk = async (tag: string): Promise<string> => {
    const res = await docker(['build', '--progress=plain', '-t', tag, app]);
    assert.equal(res.code, 0, `build failed:\n${res.stderr}`);
    return res.stderr;
  };
  const cat = async (image: string, file: string): Promise<string[]> =>
    (await dockerOk(['run', '--rm', image, 'cat', file])).stdout.split('\n').filter(Boolean);

  before(async () => {
    engine = await TestEngine.start();
    client = buildxClient(engine, config);
    await dockerOk(['pull', '-q', `${registry()}/library/node`]);
    await dockerOk(['tag', `${registry()}/library/node`, 'node']);

    // The context: npm (without its docs and man pages), the app's package.json, and the app's one
    // dependency packed by npm into the tarball a `file:` dependency names.
    const npm = hostNpm();
    await fs.cp(npm, path.join(app, 'npm'), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => !['docs', 'man'].includes(path.relative(npm, src)),
    });
    const dep = path.join(work, 'dep');
    await fs.mkdir(dep, { recursive: true });
    await fs.writeFile(path.join(dep, 'package.json'), JSON.stringify({ name: 'dep', version: '1.0.0', main: 'index.js' }));
    await fs.writeFile(path.join(dep, 'index.js'), 'exports.answer = 42;\n');
    // npm's own cache in the work folder, so nothing here touches this machine's ~/.npm.
    const packed = await run('npm', ['pack', '--pack-destination', app], { cwd: dep, env: { ...process.env, npm_config_cache: path.join(work, 'host-npm-cache'), npm_config_update_notifier: 'false' } });
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.stderr}`);
    await fs.writeFile(path.join(app, 'Dockerfile'), DOCKERFILE);
    await fs.writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { dep: 'file:./dep-1.0.0.tgz' } }, null, 2));
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('finds the first npm install\'s _cacache and _logs in the cache when a changed package.json re-runs the step', async () => {
    // First build: the cache mount starts empty, npm fills it.
    const first = await buildOk('nodeapp:1');
    assert.match(first, /#\d+ \[5\/5\] RUN --mount=type=cache,target=\/root\/\.npm --network=none/);
    assert.match(first, /added 1 package/);
    assert.deepEqual(await cat('nodeapp:1', '/app/npm-cache-before.txt'), [], 'the first build\'s cache mount is empty');
    const filled = await cat('nodeapp:1', '/app/npm-cache-after.txt');
    // npm's content cache holds the dependency's tarball under its sha512, its index points at it,
    // and the run's debug log is in _logs.
    const sha512 = createHash('sha512').update(await fs.readFile(path.join(app, 'dep-1.0.0.tgz'))).digest('hex');
    const content = `./_cacache/content-v2/sha512/${sha512.slice(0, 2)}/${sha512.slice(2, 4)}/${sha512.slice(4)}`;
    assert.ok(filled.includes(content), `npm did not cache dep-1.0.0.tgz at ${content}:\n${filled.join('\n')}`);
    assert.ok(filled.some((f) => f.startsWith('./_cacache/index-v5/')), 'no npm cache index');
    const logs = filled.filter((f) => /^\.\/_logs\/[\dT_-]+Z-debug-0\.log$/.test(f));
    assert.equal(logs.length, 1, `one debug log expected:\n${filled.join('\n')}`);
    assert.equal((await dockerOk(['run', '--rm', 'nodeapp:1'])).stdout, '42\n');

    // A changed package.json: the steps before it come from the build cache, the RUN runs again
    // and, before npm starts, sees exactly what the first run left in /root/.npm.
    const manifest = JSON.parse(await fs.readFile(path.join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
    await fs.writeFile(path.join(app, 'package.json'), JSON.stringify({ ...manifest, version: '1.0.1', scripts: { start: 'node -p "require(\'dep\').answer"' } }, null, 2));
    const second = await buildOk('nodeapp:2');
    assert.match(second, /#\d+ \[2\/5\] COPY npm \/usr\/local\/lib\/npm\n#\d+ CACHED/);
    assert.match(second, /#\d+ \[4\/5\] COPY package\.json dep-1\.0\.0\.tgz \.\/\n#\d+ DONE/);
    assert.doesNotMatch(second, /#\d+ \[5\/5\] RUN [^\n]*\n#\d+ CACHED/);
    assert.match(second, /added 1 package/);
    assert.deepEqual(await cat('nodeapp:2', '/app/npm-cache-before.txt'), filled, 'the second run does not see the first run\'s cache');
    const refilled = await cat('nodeapp:2', '/app/npm-cache-after.txt');
    assert.equal(refilled.filter((f) => f.startsWith('./_logs/') && f.endsWith('.log')).length, 2, `both runs' logs expected:\n${refilled.join('\n')}`);
    assert.ok(refilled.includes(content));

    // The app works: the dependency is installed in the image, and npm runs its start script.
    assert.equal((await dockerOk(['run', '--rm', 'nodeapp:2'])).stdout, '42\n');
    const start = await dockerOk(['run', '--rm', 'nodeapp:2', 'sh', '-c', `${NPM_CLI} start --silent --offline --no-update-notifier 2>/dev/null`]);
    assert.equal(start.stdout, '42\n');
    assert.equal((await dockerOk(['run', '--rm', 'nodeapp:2', 'node', '-p', 'require("dep/package.json").version'])).stdout, '1.0.0\n');

    // The cache is a mount, not a layer: no layer of the image holds anything under /root/.npm.
    const saved = path.join(work, 'nodeapp.tar');
    await dockerOk(['save', '-o', saved, 'nodeapp:2']);
    const entries = await savedLayerEntries(saved);
    assert.ok(entries.some((e) => /^(\.\/)?app\/node_modules\/dep\/index\.js$/.test(e)), 'the installed app is not in the layers');
    assert.deepEqual(entries.filter((e) => /^(\.\/)?root\/\.npm\/./.test(e)), [], 'the npm cache is in a layer');
  });
});
