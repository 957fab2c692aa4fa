// save / load / import, layers with whiteouts, and layers that try to escape their snapshot.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry, run } from './support/berthd.js';
import { fixtureLayout } from './support/fixtures.js';
import { dockerArchive, imageConfig, makeTar, type TarEntry } from './support/tar.js';

const BUSYBOX = `${registry()}/library/busybox`;

describe('images: save, load, import and layer safety', () => {
  let engine: TestEngine;
  let scratch: string;
  before(async () => {
    engine = await TestEngine.start();
    scratch = await fs.mkdtemp(path.join(tmpdir(), 'berth-archives-'));
    await engine.dockerOk(['pull', BUSYBOX]);
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('keeps the image ID through save, rmi and load', async () => {
    const id = (await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}}', BUSYBOX])).trim();
    const file = path.join(scratch, 'busybox.tar');
    await engine.dockerOk(['save', '-o', file, BUSYBOX]);
    const listing = await run('tar', ['-tf', file]);
    assert.match(listing.stdout, /^manifest\.json$/m);
    assert.match(listing.stdout, /^index\.json$/m);
    await engine.dockerOk(['rmi', BUSYBOX]);
    const loaded = await engine.dockerOk(['load', '-i', file]);
    assert.match(loaded, new RegExp(`Loaded image: ${BUSYBOX}:latest`));
    assert.equal((await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}}', BUSYBOX])).trim(), id);
  });

  it('loads an OCI archive written by skopeo', async () => {
    const file = path.join(scratch, 'oci.tar');
    const copy = await run('skopeo', ['copy', '--insecure-policy', `oci:${fixtureLayout('busybox')}:latest`, `oci-archive:${file}:berth/from-skopeo:v2`]);
    assert.equal(copy.code, 0, copy.stderr);
    const loaded = await engine.dockerOk(['load', '-i', file]);
    assert.match(loaded, /Loaded image: berth\/from-skopeo:v2/);
    const cmd = await engine.dockerOk(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'berth/from-skopeo:v2']);
    assert.equal(cmd.trim(), '["sh"]');
  });

  it('imports a root filesystem tar from stdin with --change', async () => {
    const tar = await makeTar([{ name: 'hello.txt', content: 'hi\n' }]);
    const out = await engine.dockerOk(['import', '--change', 'CMD ["/hello"]', '--change', 'ENV A=1', '-', 'berth/imported:1'], { input: tar });
    assert.match(out.trim(), /^sha256:[0-9a-f]{64}$/);
    const config = JSON.parse(await engine.dockerOk(['image', 'inspect', '-f', '{{json .Config}}', 'berth/imported:1'])) as { Cmd: string[]; Env: string[] };
    assert.deepEqual(config.Cmd, ['/hello']);
    assert.deepEqual(config.Env, ['A=1']);
  });

  it('turns whiteouts and opaque directories into overlayfs form', async () => {
    const lower = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/keep', content: 'keep' },
      { name: 'etc/gone', content: 'gone' },
      { name: 'data/', type: 'directory' },
      { name: 'data/old1', content: '1' },
      { name: 'data/sub/', type: 'directory' },
      { name: 'data/sub/old2', content: '2' },
    ]);
    const upper = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.gone' },
      { name: 'data/', type: 'directory' },
      { name: 'data/.wh..wh..opq' },
      { name: 'data/new', content: 'new' },
    ]);
    const { archive } = await dockerArchive([lower, upper], ['berth/whiteouts:1']);
    await engine.dockerOk(['load'], { input: archive });
    const lowerDirs = (await engine.dockerOk(['image', 'inspect', '-f', '{{.GraphDriver.Data.LowerDir}}', 'berth/whiteouts:1'])).trim().split(':');
    assert.equal(lowerDirs.length, 2);
    const top = lowerDirs[0] ?? '';
    const gone = await fs.lstat(path.join(top, 'etc/gone'));
    assert.ok(gone.isCharacterDevice() && gone.rdev === 0, 'etc/gone is a 0/0 character device');
    assert.ok(!existsSync(path.join(top, 'etc/.wh.gone')));
    const xattr = await run('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', path.join(top, 'data')]);
    assert.equal(xattr.stdout, 'y');
    // Stacked by the kernel, the layers show the tree the image means.
    const merged = path.join(scratch, 'merged');
    await fs.mkdir(merged, { recursive: true });
    const mount = await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerDirs.join(':')}`, merged]);
    assert.equal(mount.code, 0, mount.stderr);
    try {
      assert.deepEqual((await fs.readdir(path.join(merged, 'etc'))).sort(), ['keep']);
      assert.deepEqual((await fs.readdir(path.join(merged, 'data'))).sort(), ['new']);
    } finally {
      await run('umount', [merged]);
    }
  });

  for (const [label, entries] of [
    ['a ../ path', (target: string) => [{ name: `../../../../../../..${target}/escaped`, content: 'x' }]],
    ['a write through a symlink', (target: string) => [{ name: 'link', type: 'symlink', linkname: target }, { name: 'link/escaped', content: 'x' }]],
    ['a hardlink outside the layer', () => [{ name: 'hard', type: 'link', linkname: '../../../../../../../etc/passwd' }]],
  ] as [string, (target: string) => TarEntry[]][]) {
    it(`refuses a layer with ${label} and writes nothing outside`, async () => {
      const target = path.join(scratch, `outside-${randomBytes(4).toString('hex')}`);
      await fs.mkdir(target);
      const layer = await makeTar([{ name: 'ok.txt', content: 'ok' }, ...entries(target)]);
      const { archive } = await dockerArchive([layer], ['berth/hostile:1']);
      const res = await engine.docker(['load'], { input: archive });
      assert.notEqual(res.code, 0, 'load must fail');
      assert.match(res.stderr + res.stdout, /invalid (tar entry|hardlink)/);
      assert.deepEqual(await fs.readdir(target), []);
      assert.equal((await engine.docker(['image', 'inspect', 'berth/hostile:1'])).code, 1);
      const leftovers = (await fs.readdir(path.join(engine.dataRoot, 'snapshots'))).filter((n) => n.startsWith('.tmp-'));
      assert.deepEqual(leftovers, []);
    });
  }

  it('refuses a layer whose content does not match the diff ID in its config', async () => {
    const layer = await makeTar([{ name: 'a', content: 'a' }]);
    const other = await makeTar([{ name: 'b', content: 'b' }]);
    const { archive } = await dockerArchive([layer], ['berth/mismatch:1'], imageConfig([other]));
    const res = await engine.docker(['load'], { input: archive });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr + res.stdout, /layer verification failed/);
    assert.equal((await engine.docker(['image', 'inspect', 'berth/mismatch:1'])).code, 1);
  });

  it('answers garbage with a clear error', async () => {
    const res = await engine.docker(['load'], { input: Buffer.from('this is not a tar archive at all'.repeat(40)) });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr + res.stdout, /invalid archive/);
  });
});
