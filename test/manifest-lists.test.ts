// Manifest lists / OCI indexes (platform selection) and zstd layers, from a registry we control.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { TestEngine } from './support/berthd.js';
import { FakeRegistry } from './support/fake-registry.js';
import { makeTar } from './support/tar.js';

describe('manifest lists and layer formats', () => {
  let engine: TestEngine;
  let fake: FakeRegistry;
  let indexDigest: string;
  before(async () => {
    engine = await TestEngine.start();
    fake = await FakeRegistry.start();
    ({ indexDigest } = fake.addIndex('multi/app', 'v1', {
      'linux/amd64': [await makeTar([{ name: 'arch', content: 'amd64' }])],
      'linux/arm64/v8': [await makeTar([{ name: 'arch', content: 'arm64' }])],
    }));
  });
  after(async () => {
    await engine.dispose();
    await fake.close();
  });

  it('picks this machine\'s platform from an index and records the index digest', async () => {
    const out = await engine.dockerOk(['pull', `${fake.host}/multi/app:v1`]);
    assert.match(out, new RegExp(`Digest: ${indexDigest}`));
    const inspect = await engine.dockerOk(['image', 'inspect', '-f', '{{.Architecture}} {{json .RepoDigests}}', `${fake.host}/multi/app:v1`]);
    assert.match(inspect, new RegExp(`^amd64 .*multi/app@${indexDigest}`));
  });

  it('pulls another platform with --platform', async () => {
    await engine.dockerOk(['pull', '--platform', 'linux/arm64', `${fake.host}/multi/app:v1`]);
    const arch = await engine.dockerOk(['image', 'inspect', '-f', '{{.Architecture}}/{{.Variant}}', `${fake.host}/multi/app:v1`]);
    assert.equal(arch.trim(), 'arm64/v8');
  });

  it('says which platform is missing', async () => {
    const res = await engine.docker(['pull', '--platform', 'linux/s390x', `${fake.host}/multi/app:v1`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
  });

  it('unpacks zstd-compressed layers', async () => {
    const layer = await makeTar([{ name: 'zstd.txt', content: 'compressed with zstd' }]);
    const blob = execFileSync('zstd', ['-q', '-c'], { input: layer });
    fake.addRawLayerImage('zstd/app', 'v1', layer, blob, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const out = await engine.dockerOk(['pull', `${fake.host}/zstd/app:v1`]);
    assert.match(out, /Pull complete/);
    const size = await engine.dockerOk(['image', 'inspect', '-f', '{{.Size}}', `${fake.host}/zstd/app:v1`]);
    assert.equal(Number(size), 'compressed with zstd'.length);
  });
});
