// The image half of berthd against the real docker CLI, skopeo and Debian's docker-registry.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry, run } from './support/berthd.js';
import { layerContentSize } from './support/fixtures.js';

const REG = registry();
const BUSYBOX = `${REG}/library/busybox`;
const DEBIAN = `${REG}/library/debian`;

async function registryDigest(ref: string): Promise<string> {
  const res = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`]);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout.trim();
}

describe('images: pull, list, tag, push, remove', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await TestEngine.start();
  });
  after(async () => {
    await engine.dispose();
  });

  it('pulls busybox and debian from the local registry with the CLI progress stream', async () => {
    const out = await engine.dockerOk(['pull', BUSYBOX]);
    assert.match(out, /latest: Pulling from library\/busybox/);
    assert.match(out, /[0-9a-f]{12}: Pull complete/);
    assert.match(out, new RegExp(`Digest: ${await registryDigest(`${BUSYBOX}:latest`)}`));
    assert.match(out, new RegExp(`Status: Downloaded newer image for ${BUSYBOX}:latest`));
    const debian = await engine.dockerOk(['pull', DEBIAN]);
    assert.match(debian, /Pull complete/);
  });

  it('lists the images with the registry digests and the unpacked sizes', async () => {
    const rows = (await engine.dockerOk(['images', '--digests', '--format', '{{.Repository}}|{{.Tag}}|{{.Digest}}|{{.ID}}'])).trim().split('\n');
    for (const [name, layout] of [[BUSYBOX, 'busybox'], [DEBIAN, 'debian']] as const) {
      const row = rows.find((r) => r.startsWith(`${name}|latest|`));
      assert.ok(row, `no row for ${name} in\n${rows.join('\n')}`);
      assert.equal(row.split('|')[2], await registryDigest(`${name}:latest`));
      const size = Number(await engine.dockerOk(['image', 'inspect', '-f', '{{.Size}}', name]));
      assert.equal(size, await layerContentSize(layout));
    }
    const ids = (await engine.dockerOk(['images', '-q'])).trim().split('\n');
    assert.equal(ids.length, 2);
    assert.ok(ids.every((id) => /^[0-9a-f]{12}$/.test(id)));
  });

  it('says the image is up to date on a second pull', async () => {
    const out = await engine.dockerOk(['pull', BUSYBOX]);
    assert.match(out, /Already exists/);
    assert.match(out, /Status: Image is up to date for/);
  });

  it('filters images by reference, dangling and label', async () => {
    const byRef = await engine.dockerOk(['images', '--filter', `reference=${REG}/library/bus*`, '--format', '{{.Repository}}']);
    assert.equal(byRef.trim(), BUSYBOX);
    assert.equal((await engine.dockerOk(['images', '--filter', 'dangling=true', '-q'])).trim(), '');
    assert.equal((await engine.dockerOk(['images', '--filter', 'label=nope', '-q'])).trim(), '');
    const bad = await engine.docker(['images', '--filter', 'dangling=maybe']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Invalid filter 'dangling=\[maybe\]'/);
  });

  it('tags, pushes under another name, removes and pulls back by digest', async () => {
    const id = (await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}}', BUSYBOX])).trim();
    const target = `${REG}/berth-test/pushed:v1`;
    await engine.dockerOk(['tag', BUSYBOX, target]);
    const push = await engine.dockerOk(['push', target]);
    assert.match(push, /The push refers to repository \[.*\/berth-test\/pushed\]/);
    assert.match(push, /(Mounted from library\/busybox|Pushed|Layer already exists)/);
    const digest = /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push)?.[1];
    assert.ok(digest, push);
    assert.equal(await registryDigest(target), digest);
    const again = await engine.dockerOk(['push', target]);
    assert.match(again, /Layer already exists/);

    const rmi = await engine.dockerOk(['rmi', target]);
    assert.match(rmi, /Untagged: .*berth-test\/pushed:v1/);
    assert.doesNotMatch(rmi, /Deleted/, 'busybox still names the image');
    const pulled = await engine.dockerOk(['pull', `${REG}/berth-test/pushed@${digest}`]);
    assert.match(pulled, new RegExp(`Digest: ${digest}`));
    const inspect = await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}} {{json .RepoDigests}}', `${REG}/berth-test/pushed@${digest}`]);
    assert.ok(inspect.startsWith(id), inspect);
    assert.match(inspect, new RegExp(`berth-test/pushed@${digest}`));
  });

  it('pulls every tag with -a', async () => {
    const out = await engine.dockerOk(['pull', '-a', DEBIAN]);
    assert.match(out, /bookworm: Pulling from library\/debian/);
    assert.match(out, /latest: Pulling from library\/debian/);
    const tags = (await engine.dockerOk(['images', DEBIAN, '--format', '{{.Tag}}'])).trim().split('\n').sort();
    assert.deepEqual(tags, ['bookworm', 'latest']);
  });

  it('pushes a loaded image: its plain layer is gzipped once and uploaded in chunks', async () => {
    const dir = await fs.mkdtemp(path.join(engine.dir, 'save-'));
    const file = path.join(dir, 'debian.tar');
    await engine.dockerOk(['save', '-o', file, `${DEBIAN}:latest`]);
    await engine.dockerOk(['rmi', `${DEBIAN}:latest`, `${DEBIAN}:bookworm`]);
    await engine.dockerOk(['load', '-i', file]);
    // A repository of this run's own: the registry outlives test runs, and a repository that
    // already holds the layer would answer "Layer already exists".
    const target = `${REG}/berth-test/debian-loaded-${Date.now().toString(36)}:1`;
    await engine.dockerOk(['tag', DEBIAN, target]);
    const push = await engine.dockerOk(['push', target]);
    assert.match(push, /[0-9a-f]{12}: Pushed/);
    const digest = /1: digest: (sha256:[0-9a-f]{64})/.exec(push)?.[1];
    assert.equal(await registryDigest(target), digest);
    // The gzipped blob was kept: a second push finds it in place.
    assert.match(await engine.dockerOk(['push', target]), /Layer already exists/);
  });

  it('refuses to delete by ID an image referenced in several repositories, and deletes with -f', async () => {
    const id = (await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}}', DEBIAN])).trim();
    await engine.dockerOk(['tag', DEBIAN, 'another/debian:x']);
    const refused = await engine.docker(['rmi', id.slice(7, 19)]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/);
    const forced = await engine.dockerOk(['rmi', '-f', id.slice(7, 19)]);
    assert.match(forced, /Untagged: another\/debian:x/);
    assert.match(forced, new RegExp(`Deleted: ${id}`));
    const left = await engine.dockerOk(['images', '-q', '--no-trunc']);
    assert.doesNotMatch(left, new RegExp(id));
    // Its snapshot went with it (no other image used that layer).
    const snapshots = await fs.readdir(path.join(engine.dataRoot, 'snapshots'));
    assert.equal(snapshots.filter((s) => !s.startsWith('.')).length, 1);
  });

  it('gives dockerd\'s messages for unknown images and bad references', async () => {
    const missing = await engine.docker(['image', 'inspect', 'nosuchimage']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such image: nosuchimage:latest/);
    const missingTag = await engine.docker(['pull', `${BUSYBOX}:nope`]);
    assert.notEqual(missingTag.code, 0);
    assert.match(missingTag.stderr, /manifest for .*busybox:nope not found: manifest unknown/);
    const bad = await engine.request('POST', '/v1.43/images/create?fromImage=Bad%3AName&tag=latest');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).message, /invalid reference format/);
    const rmiMissing = await engine.docker(['rmi', 'nosuchimage']);
    assert.match(rmiMissing.stderr, /No such image: nosuchimage:latest/);
  });

  it('prunes dangling images, and all unused ones with -a', async () => {
    const before = (await engine.dockerOk(['images', '-q'])).trim().split('\n').length;
    const dangling = await engine.dockerOk(['image', 'prune', '-f']);
    assert.match(dangling, /Total reclaimed space: 0B/);
    assert.equal((await engine.dockerOk(['images', '-q'])).trim().split('\n').length, before);
    const all = await engine.dockerOk(['image', 'prune', '-a', '-f']);
    assert.match(all, /deleted: sha256:/);
    assert.equal((await engine.dockerOk(['images', '-q'])).trim(), '');
  });
});
