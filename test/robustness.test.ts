// What a pull leaves behind when things go wrong: a blob with the wrong bytes, a download cut off,
// berthd stopped or killed half way. Nothing half-made may be visible, and the next pull works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DOCKER, TestEngine, registry } from './support/berthd.js';
import { FakeRegistry, type FakeImage } from './support/fake-registry.js';
import { makeTar } from './support/tar.js';

async function ingestLeftovers(engine: TestEngine): Promise<string[]> {
  return fs.readdir(path.join(engine.dataRoot, 'image', 'ingest')).catch(() => []);
}

describe('robustness of the image store', () => {
  let engine: TestEngine;
  let fake: FakeRegistry;
  let image: FakeImage;
  const ref = () => `${fake.host}/fault/app:v1`;

  before(async () => {
    engine = await TestEngine.start();
    fake = await FakeRegistry.start();
    const big = Buffer.alloc(4 * 1024 * 1024, 'x');
    image = fake.addImage('fault/app', 'v1', [await makeTar([{ name: 'base.txt', content: 'base' }]), await makeTar([{ name: 'big.bin', content: big }])]);
  });
  after(async () => {
    await engine.dispose();
    await fake.close();
  });

  it('rejects a blob whose bytes do not match its digest and keeps nothing', async () => {
    const layer = image.layerDigests[1] ?? '';
    fake.faults.set(layer, { fault: 'corrupt', times: 1 });
    const res = await engine.docker(['pull', ref()]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr + res.stdout, new RegExp(`filesystem layer verification failed for digest ${layer}`));
    assert.equal((await engine.docker(['image', 'inspect', ref()])).code, 1);
    assert.equal(await fs.access(path.join(engine.dataRoot, 'image/blobs/sha256', layer.slice(7))).then(() => true, () => false), false);
    assert.deepEqual(await ingestLeftovers(engine), []);
  });

  it('leaves no half image when every download attempt is cut off, and the next pull succeeds', async () => {
    const layer = image.layerDigests[1] ?? '';
    fake.faults.set(layer, { fault: 'truncate', times: 3 });
    const res = await engine.docker(['pull', ref()]);
    assert.notEqual(res.code, 0);
    assert.equal((await engine.dockerOk(['images', '-q'])).trim(), '');
    assert.deepEqual(await ingestLeftovers(engine), []);
    const retry = await engine.dockerOk(['pull', ref()]);
    assert.match(retry, /Status: Downloaded newer image/);
  });

  it('retries a download that was cut off once', async () => {
    await engine.dockerOk(['rmi', ref()]);
    const layer = image.layerDigests[1] ?? '';
    fake.faults.set(layer, { fault: 'truncate', times: 1 });
    const out = await engine.dockerOk(['pull', ref()]);
    assert.match(out, /Retrying in 1 second/);
    assert.match(out, /Status: Downloaded newer image/);
  });

  it('keeps every image across a clean restart', async () => {
    await engine.dockerOk(['pull', `${registry()}/library/busybox`]);
    const before = await engine.dockerOk(['images', '--digests', '--no-trunc']);
    assert.equal(await engine.stop('SIGTERM'), 0, 'SIGTERM exits 0');
    await engine.start();
    assert.equal(await engine.dockerOk(['images', '--digests', '--no-trunc']), before);
  });

  it('recovers from kill -9 in the middle of a pull', async () => {
    await engine.dockerOk(['rmi', ref()]);
    const layer = image.layerDigests[1] ?? '';
    fake.faults.set(layer, { fault: 'hang', times: 1 });
    const requestsBefore = fake.requests.length;
    const pull = spawn(DOCKER, ['pull', ref()], { env: engine.env(), stdio: 'ignore' });
    const pullExited = new Promise((r) => pull.once('exit', r));
    const deadline = Date.now() + 10_000;
    while (!fake.requests.slice(requestsBefore).some((r) => r.includes(layer)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await engine.stop('SIGKILL');
    await pullExited;
    await engine.start();
    const images = await engine.dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.doesNotMatch(images, /fault\/app/, 'the interrupted pull left no image');
    assert.match(images, /library\/busybox:latest/, 'earlier images are intact');
    assert.deepEqual(await ingestLeftovers(engine), []);
    const retry = await engine.dockerOk(['pull', ref()]);
    assert.match(retry, /Status: Downloaded newer image/);
    assert.equal((await engine.dockerOk(['images', '-q'])).trim().split('\n').length, 2);
  });

  it('serves on a 0660 socket and refuses to start on one another engine is serving', async () => {
    const mode = (await fs.stat(engine.socket)).mode & 0o777;
    assert.equal(mode, 0o660);
    const second = spawn(path.resolve(import.meta.dirname, '../node_modules/.bin/berthd'), ['--host', `unix://${engine.socket}`, '--data-root', path.join(engine.dir, 'other')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    second.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => second.once('exit', r));
    assert.equal(code, 1);
    assert.match(stderr, /in use by another engine/);
    assert.equal((await engine.request('GET', '/_ping')).body, 'OK', 'the first engine still serves');
  });

  it('answers malformed requests with 400 and a message', async () => {
    const badJson = await engine.request('POST', '/v1.43/auth', '{"username": ', { 'content-type': 'application/json' });
    assert.equal(badJson.status, 400);
    assert.match(JSON.parse(badJson.body).message, /invalid JSON/);
    const badFilter = await engine.request('GET', '/v1.43/images/json?filters=%7Bnope');
    assert.equal(badFilter.status, 400);
    const badTag = await engine.request('POST', `/v1.43/images/${registry()}/library/busybox/tag?repo=UPPER%2Fx`);
    assert.match(JSON.parse(badTag.body).message, /repository name must be lowercase/);
    assert.equal(badTag.status, 400);
    const tooNew = await engine.request('GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match(JSON.parse(tooNew.body).message, /client version 1.99 is too new. Maximum supported API version is 1.43/);
    const unknown = await engine.request('GET', '/v1.43/nothing/here');
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.body), { message: 'page not found' });
    assert.equal((await engine.request('GET', '/_ping')).body, 'OK', 'still serving');
  });
});
