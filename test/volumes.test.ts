// Volumes and mounts (issue 4) with the real CLI: named and anonymous volumes, copy-up of image
// content, binds, --mount, --volumes-from, read-only mounts, in-use protection, restarts, prune,
// `system df -v`, and the volume and network events.
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry } from './support/berthd.js';

describe('volumes and mounts', () => {
  let engine: TestEngine;
  const hostDir = mkdtempSync(path.join(tmpdir(), 'berth-bind-'));

  before(async () => {
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    // An image with content under a VOLUME, owned by uid 1000.
    await engine.dockerOk(['run', '--name', 'seed', 'busybox', 'sh', '-c', 'mkdir -p /data && echo from-image > /data/seed && chown 1000:1000 /data && chmod 750 /data']);
    await engine.dockerOk(['commit', '-c', 'VOLUME /data', 'seed', 'withvolume']);
    await engine.dockerOk(['rm', 'seed']);
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(hostDir, { recursive: true, force: true });
  });

  it('keeps what one container writes to a named volume for the next, across a berthd restart', async () => {
    assert.equal(await engine.dockerOk(['volume', 'create', '--label', 'team=a', 'notes']), 'notes\n');
    await engine.dockerOk(['run', '--rm', '-v', 'notes:/notes', 'busybox', 'sh', '-c', 'echo kept > /notes/file']);
    assert.equal(await engine.dockerOk(['run', '--rm', '-v', 'notes:/notes', 'busybox', 'cat', '/notes/file']), 'kept\n');
    await engine.restart();
    assert.equal(await engine.dockerOk(['run', '--rm', '--mount', 'type=volume,source=notes,target=/n', 'busybox', 'cat', '/n/file']), 'kept\n');
    const inspect = JSON.parse(await engine.dockerOk(['volume', 'inspect', 'notes'])) as { Name: string; Driver: string; Labels: Record<string, string>; Mountpoint: string; Scope: string }[];
    assert.equal(inspect[0]?.Driver, 'local');
    assert.equal(inspect[0]?.Scope, 'local');
    assert.deepEqual(inspect[0]?.Labels, { team: 'a' });
    assert.equal(await fs.readFile(path.join(inspect[0]?.Mountpoint ?? '', 'file'), 'utf8'), 'kept\n');
  });

  it('refuses writes through read-only mounts', async () => {
    const viaV = await engine.docker(['run', '--rm', '-v', 'notes:/notes:ro', 'busybox', 'sh', '-c', 'echo x > /notes/other']);
    assert.notEqual(viaV.code, 0);
    assert.match(viaV.stderr, /Read-only file system/);
    const viaMount = await engine.docker(['run', '--rm', '--mount', `type=bind,source=${hostDir},target=/host,readonly`, 'busybox', 'touch', '/host/x']);
    assert.match(viaMount.stderr, /Read-only file system/);
    await assert.rejects(fs.stat(path.join(hostDir, 'x')));
  });

  it('copies files in and out of volumes and binds with docker cp (the container\'s view, as dockerd)', async () => {
    await engine.dockerOk(['run', '--rm', '-v', 'cpvol:/data', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo hi > /data/sub/hello.txt']);
    await engine.dockerOk(['create', '--name', 'cpbox', '-v', 'cpvol:/data', '-v', `${hostDir}:/ro:ro`, 'busybox', 'true']);
    const out = await fs.mkdtemp(path.join(engine.dir, 'cp-'));
    // The mount's root arrives under the name it has in the container, not the volume's _data.
    await engine.dockerOk(['cp', 'cpbox:/data', out]);
    assert.equal(await fs.readFile(path.join(out, 'data', 'sub', 'hello.txt'), 'utf8'), 'hi\n');
    await fs.writeFile(path.join(out, 'into.txt'), 'into the volume\n');
    await engine.dockerOk(['cp', path.join(out, 'into.txt'), 'cpbox:/data/sub/']);
    assert.equal(await engine.dockerOk(['run', '--rm', '-v', 'cpvol:/v', 'busybox', 'cat', '/v/sub/into.txt']), 'into the volume\n');
    const readOnly = await engine.docker(['cp', path.join(out, 'into.txt'), 'cpbox:/ro/']);
    assert.notEqual(readOnly.code, 0);
    assert.match(readOnly.stderr, /mounted volume is marked read-only/);
    await assert.rejects(fs.stat(path.join(hostDir, 'into.txt')));
    await engine.dockerOk(['rm', '-v', 'cpbox']);
    await engine.dockerOk(['volume', 'rm', 'cpvol']);
  });

  it('bind-mounts host directories both ways, and reports a missing --mount source', async () => {
    await fs.writeFile(path.join(hostDir, 'in.txt'), 'from host\n');
    assert.equal(await engine.dockerOk(['run', '--rm', '-v', `${hostDir}:/host`, 'busybox', 'sh', '-c', 'cat /host/in.txt; echo from container > /host/out.txt']), 'from host\n');
    assert.equal(await fs.readFile(path.join(hostDir, 'out.txt'), 'utf8'), 'from container\n');
    const created = path.join(hostDir, 'made-by-v');
    await engine.dockerOk(['run', '--rm', '-v', `${created}:/x`, 'busybox', 'true']);
    assert.ok((await fs.stat(created)).isDirectory(), '-v creates a missing host directory');
    const missing = await engine.docker(['run', '--rm', '--mount', 'type=bind,source=/no/such/dir,target=/x', 'busybox', 'true']);
    assert.match(missing.stderr, /invalid mount config for type "bind": bind source path does not exist: \/no\/such\/dir/);
    assert.equal((await engine.dockerOk(['ps', '-aq'])).trim(), '', 'nothing created');
  });

  it('copies the image\'s VOLUME content, owner and mode into a new volume, unless volume-nocopy', async () => {
    assert.equal(await engine.dockerOk(['run', '--rm', '-v', 'fresh:/data', 'withvolume', 'sh', '-c', 'cat /data/seed; stat -c "%u:%g %a" /data']), 'from-image\n1000:1000 750\n');
    // Not again: a volume with content keeps its own.
    await engine.dockerOk(['run', '--rm', '-v', 'fresh:/data', 'withvolume', 'sh', '-c', 'echo changed > /data/seed']);
    assert.equal(await engine.dockerOk(['run', '--rm', '-v', 'fresh:/data', 'withvolume', 'cat', '/data/seed']), 'changed\n');
    assert.equal(await engine.dockerOk(['run', '--rm', '--mount', 'type=volume,source=empty,target=/data,volume-nocopy', 'withvolume', 'ls', '-A', '/data']), '');
  });

  it('makes anonymous volumes for the image\'s VOLUME and -v /path, removed by rm -v and --rm', async () => {
    const before = new Set((await engine.dockerOk(['volume', 'ls', '-q'])).split('\n').filter(Boolean));
    await engine.dockerOk(['create', '--name', 'anon', '-v', '/scratch', 'withvolume', 'cat', '/data/seed']);
    const mounts = JSON.parse(await engine.dockerOk(['inspect', '-f', '{{json .Mounts}}', 'anon'])) as { Type: string; Name: string; Destination: string; RW: boolean }[];
    assert.deepEqual(mounts.map((m) => [m.Type, m.Destination, m.RW]).sort(), [['volume', '/data', true], ['volume', '/scratch', true]]);
    for (const m of mounts) assert.match(m.Name, /^[0-9a-f]{64}$/);
    assert.equal(await engine.dockerOk(['start', '-a', 'anon']), 'from-image\n');
    await engine.dockerOk(['rm', '-v', 'anon']);
    await engine.dockerOk(['run', '--rm', 'withvolume', 'true']);
    const afterwards = new Set((await engine.dockerOk(['volume', 'ls', '-q'])).split('\n').filter(Boolean));
    assert.deepEqual(afterwards, before);
  });

  it('shares volumes with --volumes-from, read-only when asked', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'owner', '-v', 'shared:/shared', 'busybox', 'sh', '-c', 'echo hello > /shared/msg; sleep 300']);
    await engine.dockerOk(['exec', 'owner', 'sh', '-c', 'while [ ! -f /shared/msg ]; do sleep 0.05; done']);
    assert.equal(await engine.dockerOk(['run', '--rm', '--volumes-from', 'owner', 'busybox', 'cat', '/shared/msg']), 'hello\n');
    const ro = await engine.docker(['run', '--rm', '--volumes-from', 'owner:ro', 'busybox', 'touch', '/shared/x']);
    assert.match(ro.stderr, /Read-only file system/);
  });

  it('will not remove a volume in use, and prunes anonymous (or with -a all) unused volumes', async () => {
    const inUse = await engine.docker(['volume', 'rm', 'shared']);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /remove shared: volume is in use - \[[0-9a-f]{64}\]/);
    assert.match((await engine.docker(['volume', 'rm', 'nosuch'])).stderr, /no such volume/);
    await engine.dockerOk(['rm', '-f', 'owner']);
    assert.ok((await engine.dockerOk(['volume', 'ls', '-q'])).includes('shared\n'), 'named volume survives its container');

    assert.equal((await engine.dockerOk(['volume', 'ls', '-q', '--filter', 'label=team=a'])).trim(), 'notes');
    assert.equal((await engine.dockerOk(['volume', 'ls', '-q', '--filter', 'name=fre'])).trim(), 'fresh');
    await engine.dockerOk(['create', '--name', 'user', '-v', 'notes:/n', 'busybox', 'true']);
    const dangling = (await engine.dockerOk(['volume', 'ls', '-q', '--filter', 'dangling=true'])).split('\n');
    assert.ok(!dangling.includes('notes') && dangling.includes('shared'));

    const df = await engine.dockerOk(['system', 'df', '-v']);
    assert.match(df, /^notes\s+1\s+5B$/m);

    await engine.dockerOk(['create', '--name', 'leaves-anon', 'withvolume', 'true']);
    await engine.dockerOk(['rm', 'leaves-anon']);
    const prunedAnon = await engine.dockerOk(['volume', 'prune', '-f']);
    assert.match(prunedAnon, /[0-9a-f]{64}/);
    assert.doesNotMatch(prunedAnon, /shared|fresh/);
    const prunedAll = await engine.dockerOk(['volume', 'prune', '-af']);
    assert.match(prunedAll, /shared/);
    assert.doesNotMatch(prunedAll, /notes/, 'a volume a container references stays');
    await engine.dockerOk(['rm', 'user']);
  });

  it('mounts tmpfs with a size, and local volumes with driver options', async () => {
    const df = await engine.dockerOk(['run', '--rm', '--mount', 'type=tmpfs,target=/fast,tmpfs-size=2097152', 'busybox', 'sh', '-c', 'df -k /fast | tail -1']);
    assert.match(df, /^tmpfs\s+2048\s/);
    await engine.dockerOk(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=3m', 'ramvol']);
    assert.match(await engine.dockerOk(['run', '--rm', '-v', 'ramvol:/r', 'busybox', 'sh', '-c', 'df -k /r | tail -1']), /^tmpfs\s+3072\s/);
    await engine.dockerOk(['volume', 'create', '--opt', 'type=none', '--opt', `device=${hostDir}`, '--opt', 'o=bind', 'hostvol']);
    assert.equal(await engine.dockerOk(['run', '--rm', '-v', 'hostvol:/h', 'busybox', 'cat', '/h/in.txt']), 'from host\n');
    assert.match((await engine.docker(['volume', 'create', '--opt', 'bogus=1', 'badopts'])).stderr, /invalid option key: "bogus"/);
  });

  it('reports volume and network events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await engine.dockerOk(['network', 'create', 'evnet']);
    await engine.dockerOk(['run', '--rm', '--network', 'evnet', '-v', 'evvol:/v', 'busybox', 'true']);
    await engine.dockerOk(['volume', 'rm', 'evvol']);
    await engine.dockerOk(['network', 'rm', 'evnet']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const events = await engine.dockerOk(['events', '--since', String(since), '--until', String(until), '--filter', 'type=volume', '--filter', 'type=network', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}']);
    // --since has whole seconds: keep this test's objects only.
    const ours = events.trim().split('\n').filter((l) => / evvol |evnet$/.test(l)).map((l) => l.split(' ').slice(0, 2).join(' '));
    assert.deepEqual(ours, ['network create', 'volume create', 'network connect', 'volume mount', 'network disconnect', 'volume unmount', 'volume destroy', 'network destroy']);
  });
});
