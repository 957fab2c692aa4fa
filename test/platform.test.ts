// Multi-platform images (issue 19): the fixture busybox-multiarch, an OCI image index over linux/amd64
// and linux/arm64/v8 busybox built offline from Debian's busybox-static of each architecture, pulled
// and created with --platform through the docker CLI and python3-docker. The messages and statuses
// pinned here are Debian's dockerd 20.10's, compared side by side on this machine (moby 24 has the
// same words). No binfmt handler is registered on this machine, so no arm64 binary runs here: the
// other platform is pulled, inspected and created; only the engine's own platform runs.
import assert from 'node:assert/strict';
import { createReadStream, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';

import { TestEngine, registry, run } from './support/berthd.js';
import { fixtureLayout } from './support/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

function multiarchRepository(): string {
  const value = process.env.BERTH_TEST_BUSYBOX_MULTIARCH;
  if (!value) throw new Error('BERTH_TEST_BUSYBOX_MULTIARCH is not set: run the tests through scripts/test.sh (scripts/fixtures/start.sh exports it)');
  return value;
}
const IMAGE = `${multiarchRepository()}:latest`;

interface Part {
  platform: { os: string; architecture: string; variant?: string };
  manifestDigest: string;
  /** The config's digest: the image ID an engine gives the image. */
  imageId: string;
  config: { os: string; architecture: string; variant?: string };
  layerBlob: string;
}

/** The platforms of the two images, named as the CLI prints them; HOST is this engine's. */
const AMD64 = { name: 'linux/amd64', architecture: 'amd64', variant: '', elfMachine: 62, uname: 'x86_64' };
const ARM64 = { name: 'linux/arm64/v8', architecture: 'arm64', variant: 'v8', elfMachine: 183, uname: 'aarch64' };
const [HOST, OTHER] = process.arch === 'arm64' ? [ARM64, AMD64] : [AMD64, ARM64];

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/** The fixture layout's index digest and its images, read from the OCI layout start.sh pushed. */
async function fixtureIndex(): Promise<{ digest: string; parts: Part[] }> {
  const layout = fixtureLayout('busybox-multiarch');
  const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  const top = (await readJson<{ manifests: { mediaType: string; digest: string }[] }>(path.join(layout, 'index.json'))).manifests[0];
  assert.equal(top?.mediaType, INDEX_TYPE, 'the layout names an image index');
  const index = await readJson<{ manifests: { digest: string; platform: Part['platform'] }[] }>(blob(top.digest));
  const parts: Part[] = [];
  for (const entry of index.manifests) {
    const manifest = await readJson<{ config: { digest: string }; layers: { digest: string }[] }>(blob(entry.digest));
    const config = await readJson<Part['config']>(blob(manifest.config.digest));
    assert.equal(manifest.layers.length, 1);
    parts.push({ platform: entry.platform, manifestDigest: entry.digest, imageId: manifest.config.digest, config, layerBlob: blob(manifest.layers[0]?.digest ?? '') });
  }
  return { digest: top.digest, parts };
}

/** ELF e_machine of /bin/busybox in a gzipped layer: 62 x86-64, 183 AArch64. */
async function busyboxMachine(layerBlob: string): Promise<number> {
  let machine = -1;
  const extract = tarStream.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      if (entry.header.name.replace(/^\.\//, '') !== 'bin/busybox') {
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const head = Buffer.concat(chunks).subarray(0, 20);
      assert.equal(head.subarray(0, 4).toString('latin1'), '\x7fELF');
      machine = head.readUInt16LE(18);
    }
  })();
  await Promise.all([pipeline(createReadStream(layerBlob), createGunzip(), extract), reading]);
  return machine;
}

describe('multi-platform images', () => {
  let engine: TestEngine;
  let fixture: { digest: string; parts: Part[] };
  let host: Part;
  let other: Part;
  const inspect = async (format: string, ref = IMAGE) => (await engine.dockerOk(['image', 'inspect', '-f', format, ref])).trim();
  const containerCount = async () => (await engine.dockerOk(['ps', '-aq'])).split('\n').filter(Boolean).length;
  const create = (query: string, image = IMAGE, version = 'v1.43') =>
    engine.request('POST', `/${version}/containers/create?${query}`, JSON.stringify({ Image: image }), { 'Content-Type': 'application/json' });
  const mismatch = (wanted: string, actual: string, reference = IMAGE) =>
    `image with reference ${reference} was found but does not match the specified platform: wanted ${wanted}, actual: ${actual}`;

  before(async () => {
    fixture = await fixtureIndex();
    const find = (p: typeof HOST) => fixture.parts.find((part) => part.platform.architecture === p.architecture && (part.platform.variant ?? '') === p.variant);
    const [h, o] = [find(HOST), find(OTHER)];
    assert.ok(h && o, `the fixture index lists ${HOST.name} and ${OTHER.name}: ${JSON.stringify(fixture.parts.map((p) => p.platform))}`);
    [host, other] = [h, o];
    engine = await TestEngine.start();
  });
  after(async () => {
    await engine.dispose();
  });

  describe('the fixture', () => {
    it('is an OCI index of linux/amd64 and linux/arm64/v8 busybox, each binary built for its machine', async () => {
      assert.deepEqual(fixture.parts.map((p) => p.platform), [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
      for (const [part, expected] of [[host, HOST], [other, OTHER]] as const) {
        assert.deepEqual([part.config.os, part.config.architecture, part.config.variant ?? ''], ['linux', expected.architecture, expected.variant]);
        assert.equal(await busyboxMachine(part.layerBlob), expected.elfMachine, `${expected.name}'s /bin/busybox is an ELF for its machine`);
      }
      // The local registry serves the index under the exported name, byte for byte (same digest).
      const res = await fetch(`http://${registry()}/v2/library/busybox-multiarch/manifests/latest`, { method: 'HEAD', headers: { Accept: INDEX_TYPE } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), INDEX_TYPE);
      assert.equal(res.headers.get('docker-content-digest'), fixture.digest);
    });

    it('is composed reproducibly: the same parts give the same index digest', async () => {
      const cache = await fs.mkdtemp(path.join(tmpdir(), 'berth-fixture-cache-'));
      try {
        for (const part of ['busybox', OTHER === ARM64 ? 'busybox-arm64' : 'busybox-amd64']) {
          const copied = await run('cp', ['-a', fixtureLayout(part), path.join(cache, part)]);
          assert.equal(copied.code, 0, copied.stderr);
        }
        const built = await run('bash', [path.join(ROOT, 'scripts/fixtures/build-images.sh'), '--force', 'busybox-multiarch'], { env: { ...process.env, BERTH_FIXTURE_CACHE: cache } });
        assert.equal(built.code, 0, built.stderr);
        assert.equal((await fs.readFile(path.join(cache, 'busybox-multiarch', '.berth-fixture-complete'), 'utf8')).trim(), fixture.digest);
      } finally {
        await fs.rm(cache, { recursive: true, force: true });
      }
    });
  });

  describe('pull', () => {
    it('picks the engine\'s platform from the index and records the index digest', async () => {
      const out = await engine.dockerOk(['pull', IMAGE]);
      assert.match(out, new RegExp(`Digest: ${fixture.digest}`));
      assert.equal(await inspect('{{.Id}}'), host.imageId);
      assert.equal(await inspect('{{.Os}}/{{.Architecture}}'), `linux/${HOST.architecture}`);
      assert.match(await inspect('{{json .RepoDigests}}'), new RegExp(`busybox-multiarch@${fixture.digest}`));
    });

    it('pulls the other platform with --platform, in each spelling of it', async () => {
      const spellings = OTHER === ARM64 ? ['linux/arm64', 'linux/arm64/v8', 'linux/aarch64', 'arm64', 'LINUX/ARM64/8'] : ['linux/amd64', 'linux/x86_64', 'amd64'];
      for (const spelling of spellings) {
        await engine.dockerOk(['image', 'rm', '-f', IMAGE]);
        await engine.dockerOk(['pull', '-q', '--platform', spelling, IMAGE]);
        assert.equal(await inspect('{{.Id}}'), other.imageId, `--platform ${spelling}`);
      }
      assert.equal(await inspect('{{.Os}} {{.Architecture}} {{.Variant}}'), `linux ${OTHER.architecture} ${OTHER.variant}`.trim());
      // The same answer through the Engine API's JSON, as SDKs read it.
      const res = await engine.request('GET', `/v1.43/images/${IMAGE}/json`);
      const doc = JSON.parse(res.body) as { Os: string; Architecture: string; Variant?: string };
      assert.deepEqual([doc.Os, doc.Architecture, doc.Variant ?? ''], ['linux', OTHER.architecture, OTHER.variant]);
    });

    it('says which platform the index lacks, in dockerd\'s words, and keeps the local image', async () => {
      const before = await inspect('{{.Id}}');
      for (const platform of ['linux/s390x', 'linux/arm64/v7', 'linux/arm/v7', 'windows/amd64']) {
        const res = await engine.docker(['pull', '--platform', platform, IMAGE]);
        assert.notEqual(res.code, 0, platform);
        assert.equal(res.stderr.trim(), `no matching manifest for ${platform} in the manifest list entries`);
      }
      assert.equal(await inspect('{{.Id}}'), before);
    });

    it('refuses a malformed platform with a 400 before pulling, and ignores it before API 1.32', async () => {
      const pull = (version: string, platform: string) =>
        engine.request('POST', `/${version}/images/create?fromImage=${encodeURIComponent(multiarchRepository())}&tag=latest&platform=${encodeURIComponent(platform)}`);
      const cases: [string, string][] = [
        ['linux/a!b', '"a!b" is an invalid component of "linux/a!b": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument'],
        ['linux/arm64/v8/x', '"linux/arm64/v8/x": cannot parse platform specifier: invalid argument'],
        ['foo', '"foo": unknown operating system or architecture: invalid argument'],
        ['linux/*', '"linux/*": wildcards not yet supported: invalid argument'],
      ];
      for (const [platform, message] of cases) {
        const res = await pull('v1.43', platform);
        assert.equal(res.status, 400, platform);
        assert.equal((JSON.parse(res.body) as { message: string }).message, message);
      }
      await engine.dockerOk(['image', 'rm', '-f', IMAGE]);
      const old = await pull('v1.31', 'linux/s390x');
      assert.equal(old.status, 200);
      assert.doesNotMatch(old.body, /"error"/);
      assert.equal(await inspect('{{.Id}}'), host.imageId);
    });

    it('describes the index without pulling it (GET /distribution/{name}/json)', async () => {
      const res = await engine.request('GET', `/v1.43/distribution/${IMAGE}/json`);
      assert.equal(res.status, 200, res.body);
      const doc = JSON.parse(res.body) as { Descriptor: { mediaType: string; digest: string }; Platforms: unknown[] };
      assert.equal(doc.Descriptor.mediaType, INDEX_TYPE);
      assert.equal(doc.Descriptor.digest, fixture.digest);
      assert.deepEqual(doc.Platforms, [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
    });
  });

  describe('create --platform', () => {
    before(async () => {
      await engine.dockerOk(['image', 'rm', '-f', IMAGE]);
      await engine.dockerOk(['pull', '-q', IMAGE]);
    });

    it('answers 404 with dockerd\'s words when the local image is another platform, 400 for a bad platform', async () => {
      const count = await containerCount();
      const other404 = await create(`platform=${encodeURIComponent(OTHER.name)}`);
      assert.equal(other404.status, 404);
      assert.equal((JSON.parse(other404.body) as { message: string }).message, mismatch(OTHER.name, HOST.name));
      // The same by short image ID: the message names the reference as the request gave it.
      const shortId = host.imageId.slice(7, 19);
      const byId = await create('platform=linux/s390x', shortId);
      assert.equal(byId.status, 404);
      assert.equal((JSON.parse(byId.body) as { message: string }).message, mismatch('linux/s390x', HOST.name, shortId));
      const bad = await create('platform=linux%2Fa!b');
      assert.equal(bad.status, 400);
      assert.match(bad.body, /is an invalid component of \\"linux\/a!b\\": platform specifier component must match/);
      const missing = await create(`platform=${encodeURIComponent(OTHER.name)}`, `${registry()}/library/no-such-image:1`);
      assert.equal(missing.status, 404);
      assert.equal((JSON.parse(missing.body) as { message: string }).message, `No such image: ${registry()}/library/no-such-image:1`);
      assert.equal(await containerCount(), count, 'no container was made');
    });

    it('creates when the platform matches, in any spelling, and reads no platform before API 1.41', async () => {
      const spellings = HOST === AMD64 ? ['linux/amd64', 'linux/x86_64', 'amd64', 'linux'] : ['linux/arm64', 'linux/arm64/v8', 'aarch64', 'linux'];
      for (const spelling of spellings) {
        const res = await create(`platform=${encodeURIComponent(spelling)}`);
        assert.equal(res.status, 201, `${spelling}: ${res.body}`);
        assert.deepEqual((JSON.parse(res.body) as { Warnings: string[] }).Warnings, []);
      }
      const old = await create(`platform=${encodeURIComponent(OTHER.name)}`, IMAGE, 'v1.40');
      assert.equal(old.status, 201, old.body);
    });

    it('lets the CLI pull the asked platform and create (docker create/run --platform)', async () => {
      const made = await engine.docker(['create', '--platform', OTHER.name, IMAGE]);
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stderr, new RegExp(`Unable to find image '${IMAGE}' locally`));
      const id = made.stdout.trim();
      assert.equal((await engine.dockerOk(['container', 'inspect', '-f', '{{.Image}}', id])).trim(), other.imageId);
      assert.equal(await inspect('{{.Architecture}}'), OTHER.architecture);

      // With the other platform's image local, no --platform creates it with dockerd's warning.
      const warned = await engine.docker(['create', IMAGE]);
      assert.equal(warned.code, 0, warned.stderr);
      assert.match(warned.stderr, new RegExp(`WARNING: The requested image's platform \\(${OTHER.name}\\) does not match the detected host platform \\(${HOST.name}\\) and no specific platform was requested`));

      // --pull never leaves the mismatch as the answer.
      const never = await engine.docker(['create', '--pull', 'never', '--platform', HOST.name, IMAGE]);
      assert.notEqual(never.code, 0);
      assert.match(never.stderr, new RegExp(`Error response from daemon: ${mismatch(HOST.name, OTHER.name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

      // docker run --platform of the engine's own platform pulls it back and runs it.
      const ran = await engine.docker(['run', '--rm', '--platform', HOST.name, IMAGE, 'uname', '-m']);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout.trim(), HOST.uname);
      assert.equal(await inspect('{{.Id}}'), host.imageId);
    });

    it('pulls a platform through python3-docker (images.pull(platform=)), whose create then matches', async () => {
      // Debian's python3-docker 5.0.3 pulls with a platform; its create_container has no platform
      // argument, so the create that must match goes through the API.
      const code = [
        'import docker, json',
        'client = docker.from_env()',
        `image = client.images.pull(${JSON.stringify(multiarchRepository())}, tag='latest', platform=${JSON.stringify(OTHER.name)})`,
        'print(json.dumps({"id": image.id, "os": image.attrs["Os"], "architecture": image.attrs["Architecture"], "variant": image.attrs.get("Variant", "")}))',
      ].join('\n');
      const res = await run('/usr/bin/python3', ['-c', code], { env: engine.env() });
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), { id: other.imageId, os: 'linux', architecture: OTHER.architecture, variant: OTHER.variant });
      const made = await create(`platform=${encodeURIComponent(OTHER.name)}`);
      assert.equal(made.status, 201, made.body);
      const refused = await create(`platform=${encodeURIComponent(HOST.name)}`);
      assert.equal(refused.status, 404);
      assert.equal((JSON.parse(refused.body) as { message: string }).message, mismatch(HOST.name, OTHER.name));
    });

    it('believes the index when the config names another platform (a classic build\'s config)', async () => {
      // An index that lists the engine's busybox for the other platform, as a registry can hold.
      const repo = 'berth-test/platform-from-index';
      const copied = await run('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${registry()}/library/busybox-multiarch@${host.manifestDigest}`, `docker://${registry()}/${repo}:part`]);
      assert.equal(copied.code, 0, copied.stderr);
      const manifest = await fetch(`http://${registry()}/v2/${repo}/manifests/${host.manifestDigest}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(manifest.status, 200);
      const size = (await manifest.arrayBuffer()).byteLength;
      const platform = { os: 'linux', architecture: OTHER.architecture, ...(OTHER.variant ? { variant: OTHER.variant } : {}) };
      const index = JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPE, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: host.manifestDigest, size, platform }] });
      const put = await fetch(`http://${registry()}/v2/${repo}/manifests/latest`, { method: 'PUT', headers: { 'Content-Type': INDEX_TYPE }, body: index });
      assert.equal(put.status, 201, await put.text());

      const ref = `${registry()}/${repo}:latest`;
      await engine.dockerOk(['pull', '-q', '--platform', OTHER.name, ref]);
      assert.equal(await inspect('{{.Architecture}}', ref), HOST.architecture, 'the config names the engine\'s platform');
      const res = await create(`platform=${encodeURIComponent(OTHER.name)}`, ref);
      assert.equal(res.status, 201, res.body);
      const neither = await create('platform=linux/s390x', ref);
      assert.equal(neither.status, 404);
      assert.equal((JSON.parse(neither.body) as { message: string }).message, mismatch('linux/s390x', HOST.name, ref));
    });
  });

  it('reports the engine\'s own architecture in docker info and docker version', async () => {
    assert.equal((await engine.dockerOk(['info', '-f', '{{.Architecture}} {{.OSType}}'])).trim(), `${HOST.uname} linux`);
    assert.equal((await engine.dockerOk(['version', '-f', '{{.Server.Arch}} {{.Server.Os}}'])).trim(), `${HOST.architecture} linux`);
  });
});
