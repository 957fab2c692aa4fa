// Set-up on a fresh machine (issue 14): `npm run app` says what it lacks when Electron cannot be
// downloaded and launches a supplied one; berthd refuses to start without the programs it runs,
// naming their Debian packages, and `berthd --check` lists them; berthd turns IPv4 forwarding on
// as dockerd does, so containers reach networks beyond the host on a machine that starts with it
// off. (That `npm ci` passes offline without ELECTRON_SKIP_BINARY_DOWNLOAD, .ci/run shows.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BERTHD, DOCKER, TestEngine, registry, run } from './support/berthd.js';
import { OrdinaryUser } from './support/ordinary-user.js';
import { OutsideNetwork } from './support/outside-network.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BERTHD_JS = path.join(ROOT, 'runtime-agent/bin/berthd.js');
const ELECTRON_VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;

/** The environment without anything that would point Electron's download somewhere. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(ELECTRON_|npm_|electron_)/i.test(key)));
  return { ...env, ...extra };
}

describe('npm run app: Electron only where the desktop app runs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-app-'));
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('says in one line what is missing and how to supply it when the download fails', async (t) => {
    if (existsSync(path.join(ROOT, 'node_modules/electron/dist/version'))) return t.skip('Electron was downloaded on this machine');
    // A mirror nobody listens on: the download fails here and anywhere else, at once.
    const env = cleanEnv({ HOME: dir, ELECTRON_MIRROR: 'http://127.0.0.1:9/', electron_config_cache: path.join(dir, 'cache') });
    const res = await run('npm', ['run', '--silent', 'app'], { env, cwd: ROOT });
    assert.equal(res.code, 1, res.stderr);
    const lines = res.stderr.trim().split('\n');
    const last = lines.at(-1) ?? '';
    assert.match(last, new RegExp(`^berth app: Electron ${ELECTRON_VERSION.replaceAll('.', '\\.')}'s binary is not installed and could not be downloaded \\(.+\\); unpack electron-v${ELECTRON_VERSION.replaceAll('.', '\\.')}-linux-${process.arch}\\.zip .* ELECTRON_OVERRIDE_DIST_PATH=/that/folder npm run app$`));
    assert.ok(lines.length <= 2, `more than a progress line and the message:\n${res.stderr}`);
  });

  it('runs the app in the Electron ELECTRON_OVERRIDE_DIST_PATH names, passing arguments on', async () => {
    const dist = path.join(dir, 'electron-dist');
    await fs.mkdir(dist);
    const record = path.join(dir, 'launched');
    // A stand-in for Electron's executable: it notes how it was started.
    await fs.writeFile(path.join(dist, 'electron'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${record}\nexit 7\n`, { mode: 0o755 });
    const res = await run('npm', ['run', '--silent', 'app', '--', '--inspect-test'], { env: cleanEnv({ HOME: dir, ELECTRON_OVERRIDE_DIST_PATH: dist }), cwd: ROOT });
    assert.equal(res.code, 7, res.stderr);
    assert.deepEqual(readFileSync(record, 'utf8').trim().split('\n'), [path.join(ROOT, 'electron'), '--inspect-test']);

    const empty = await run('npm', ['run', '--silent', 'app'], { env: cleanEnv({ HOME: dir, ELECTRON_OVERRIDE_DIST_PATH: path.join(dir, 'nowhere') }), cwd: ROOT });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^berth app: ELECTRON_OVERRIDE_DIST_PATH=.*nowhere holds no Electron \(expected .*nowhere\/electron\); unpack electron-v.*\.zip there\n$/);
  });
});

describe('berthd checks the programs it runs before it serves', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-deps-'));
  after(() => fs.rm(dir, { recursive: true, force: true }));

  /** A PATH folder with every program berthd runs but `left`, linked from where this machine has them. */
  async function pathWithout(...left: string[]): Promise<string> {
    const bin = await fs.mkdtemp(path.join(dir, 'bin-'));
    for (const name of ['runc', 'conmon', 'tar', 'ip', 'nsenter', 'mount', 'umount', 'iptables', 'iptables-restore', 'nft', 'getfattr', 'setfattr', 'ps', 'cp', 'rm', 'mknod', 'sh']) {
      if (left.includes(name)) continue;
      const found = (await run('sh', ['-c', `command -v ${name}`], { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } })).stdout.trim();
      assert.ok(found, `${name} is not installed on this machine`);
      symlinkSync(found, path.join(bin, name));
    }
    return bin;
  }

  /** berthd by its launcher, with only `bin` on PATH (node is started by its full path). */
  function berthd(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BERTHD_JS, ...args], { env: { PATH: bin }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
    });
  }

  it('exits at once without conmon, naming it and its package, and serves nothing', async () => {
    const socket = path.join(dir, 'no-conmon.sock');
    const res = await berthd(await pathWithout('conmon'), ['--host', `unix://${socket}`, '--data-root', path.join(dir, 'data')]);
    assert.equal(res.code, 1, res.stderr);
    assert.ok(res.ms < 2000, `took ${res.ms} ms`);
    assert.equal(res.stderr, 'berthd: cannot run containers without conmon (Debian package conmon); install with: apt-get install conmon\n');
    assert.equal(existsSync(socket), false);
    assert.equal(existsSync(path.join(dir, 'data')), false, 'the data root was made');
  });

  it('names every missing program in one message, with one apt line', async () => {
    const res = await berthd(await pathWithout('nft', 'conmon', 'setfattr', 'getfattr'), ['--host', `unix://${path.join(dir, 'x.sock')}`, '--data-root', path.join(dir, 'data')]);
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      'berthd: cannot run containers without conmon (Debian package conmon), nft (Debian package nftables), getfattr (Debian package attr), setfattr (Debian package attr); install with: apt-get install conmon nftables attr\n',
    );
  });

  it('refuses a tar that is not GNU tar, saying why', async () => {
    const bin = await pathWithout('tar');
    await fs.writeFile(path.join(bin, 'tar'), '#!/bin/sh\necho "tar (busybox) 1.36.1"\n', { mode: 0o755 });
    const res = await berthd(bin, ['--data-root', path.join(dir, 'data')]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^berthd: cannot run containers without tar \(.*\/tar: not GNU tar \(busybox\?\): layers need its --xattrs and --numeric-owner; Debian package tar\); install with: apt-get install tar\n$/);
  });

  it('--check lists what it found with versions and exits 0; 1 when something is missing', async () => {
    const ok = await run(BERTHD, ['--check']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok +runc +\/\S+\/runc +runc version \d+\.\d+/m);
    assert.match(ok.stdout, /^ok +conmon +\/\S+\/conmon +conmon version \d+\.\d+/m);
    assert.match(ok.stdout, /^ok +tar +\/\S+\/tar +tar \(GNU tar\) \d+\.\d+/m);
    assert.match(ok.stdout, /^ok +iptables +\/\S+ +iptables v\d/m);
    assert.match(ok.stdout, /^ok +seccomp profile +\/usr\/share\/\S+\.json/m);
    assert.match(ok.stdout, /\nberthd has everything it needs/);

    const missing = await berthd(await pathWithout('conmon', 'ip'), ['--check']);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^MISSING +conmon +Debian package conmon +supervises each container/m);
    assert.match(missing.stdout, /^MISSING +ip +Debian package iproute2 /m);
    assert.match(missing.stdout, /^ok +nft +\/\S+\/nft +nftables v/m);
    assert.match(missing.stdout, /^absent +zstd +Debian package zstd +zstd-compressed layers$/m);
    assert.match(missing.stdout, /\nberthd cannot run containers without conmon \(Debian package conmon\), ip \(Debian package iproute2\); install with: apt-get install conmon iproute2\n$/);
  });

  it('--default-runtime names the runtime it lacks', async () => {
    const res = await berthd(await pathWithout(), ['--default-runtime', 'no-such-runtime', '--data-root', path.join(dir, 'data')]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^berthd: cannot run containers without no-such-runtime \(Debian package runc or crun\)/);
  });
});

describe('berthd as a system service: the shipped systemd unit and its socket group', () => {
  const UNIT = path.join(ROOT, 'runtime-agent/systemd/berthd.service');
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-unit-'));
  const group = `berthg${process.pid}`;
  const users: OrdinaryUser[] = [];
  let engine: ReturnType<typeof spawn> | undefined;
  after(async () => {
    engine?.kill('SIGTERM');
    if (engine && engine.exitCode === null) await new Promise((r) => engine!.once('exit', r));
    for (const user of users) await user.remove();
    await run('groupdel', [group]);
    await fs.rm(dir, { recursive: true, force: true });
  });

  const execStart = () => /^ExecStart=(.+)$/m.exec(readFileSync(UNIT, 'utf8'))?.[1]?.split(/\s+/) ?? [];

  it('is a unit systemd accepts, starting berthd with the data root and the socket group', async (t) => {
    const [binary, ...args] = execStart();
    assert.equal(binary, '/usr/local/bin/berthd');
    assert.deepEqual(args, ['--host', 'unix:///run/berth/docker.sock', '--data-root', '/var/lib/berth', '--group', 'berth']);
    if (!existsSync('/usr/bin/systemd-analyze')) return t.skip('systemd-analyze is not installed');
    // The same unit with ExecStart pointing at this checkout's berthd, which exists here.
    const copy = path.join(dir, 'berthd.service');
    await fs.writeFile(copy, readFileSync(UNIT, 'utf8').replace('ExecStart=/usr/local/bin/berthd', `ExecStart=${BERTHD}`));
    const verify = await run('systemd-analyze', ['verify', copy]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  it('shares the socket with its group: a member runs docker, another user is refused', async () => {
    assert.equal((await run('groupadd', ['--system', group])).code, 0);
    const gid = Number(/^[^:]+:[^:]*:(\d+):/.exec((await run('getent', ['group', group])).stdout)?.[1]);
    const member = await OrdinaryUser.create(path.join(dir, 'member'), { tag: 'm', groups: [group] });
    users.push(member);
    const stranger = await OrdinaryUser.create(path.join(dir, 'stranger'), { tag: 's' });
    users.push(stranger);
    // The unit's own arguments, with the socket and data root in this test's folder.
    const args = execStart().slice(1);
    const socket = path.join(dir, 'run/docker.sock');
    args[args.indexOf('--host') + 1] = `unix://${socket}`;
    args[args.indexOf('--data-root') + 1] = path.join(dir, 'data');
    args[args.indexOf('--group') + 1] = group;
    engine = spawn(BERTHD, [...args, '--bridge', `bu${process.pid}`.slice(0, 15)], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200)); // chmod and chown follow the listen
    const stats = await fs.stat(socket);
    assert.equal(stats.mode & 0o777, 0o660);
    assert.equal(stats.uid, 0);
    assert.equal(stats.gid, gid);
    await fs.chmod(dir, 0o755);
    await fs.chmod(path.dirname(socket), 0o755);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };
    const ok = await run(...member.command(DOCKER, ['version', '--format', '{{.Server.Os}}']), { env });
    assert.equal(ok.stdout.trim(), 'linux', ok.stderr);
    const refused = await run(...stranger.command(DOCKER, ['version', '--format', '{{.Server.Os}}']), { env });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /permission denied/);
  });

  it('refuses a group that does not exist, before serving', async () => {
    const res = await run(BERTHD, ['--host', `unix://${path.join(dir, 'g.sock')}`, '--data-root', path.join(dir, 'g'), '--group', 'no-such-group-here']);
    assert.equal(res.code, 2);
    assert.equal(res.stderr, 'berthd: group "no-such-group-here" not found (make it with: groupadd --system no-such-group-here)\n');
    assert.equal(existsSync(path.join(dir, 'g.sock')), false);
  });
});

describe('IPv4 forwarding, as dockerd turns it on', () => {
  const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
  let was: { forward: string; policy: string };
  let outside: OutsideNetwork;
  const forwardPolicy = async () => /^-P FORWARD (\w+)$/m.exec((await run('iptables', ['-w', '-S', 'FORWARD'])).stdout)?.[1] ?? '';

  before(async () => {
    was = { forward: readFileSync(IP_FORWARD, 'utf8').trim(), policy: await forwardPolicy() };
    outside = await OutsideNetwork.create('f', 252);
  });
  after(async () => {
    await outside.remove();
    await fs.writeFile(IP_FORWARD, `${was.forward}\n`);
    await run('iptables', ['-w', '-P', 'FORWARD', was.policy]);
  });

  async function engineStartedWithForwardingOff(args: string[]): Promise<TestEngine> {
    await fs.writeFile(IP_FORWARD, '0\n');
    await run('iptables', ['-w', '-P', 'FORWARD', 'ACCEPT']);
    const engine = await TestEngine.start(args);
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    return engine;
  }

  it('turns it on, sets the FORWARD policy to DROP, and containers reach beyond the host', async () => {
    const engine = await engineStartedWithForwardingOff([]);
    try {
      assert.equal(readFileSync(IP_FORWARD, 'utf8').trim(), '1');
      assert.equal(await forwardPolicy(), 'DROP');
      assert.match(engine.log, /enabled IPv4 forwarding \(net\.ipv4\.ip_forward=1\) and set the FORWARD policy to DROP/);
      const out = await engine.dockerOk(['run', '--rm', `${registry()}/library/busybox`, 'sh', '-c', outside.fetchCommand()]);
      assert.equal(out, 'outside\n');
    } finally {
      await engine.dispose();
    }
  });

  it('--ip-forward-no-drop keeps the policy; --ip-forward=false leaves forwarding off, and nothing beyond the host answers', async () => {
    const keep = await engineStartedWithForwardingOff(['--ip-forward-no-drop']);
    try {
      assert.equal(readFileSync(IP_FORWARD, 'utf8').trim(), '1');
      assert.equal(await forwardPolicy(), 'ACCEPT');
    } finally {
      await keep.dispose();
    }
    const off = await engineStartedWithForwardingOff(['--ip-forward=false']);
    try {
      assert.equal(readFileSync(IP_FORWARD, 'utf8').trim(), '0');
      const res = await off.docker(['run', '--rm', `${registry()}/library/busybox`, 'sh', '-c', outside.fetchCommand(2)]);
      assert.notEqual(res.code, 0, res.stdout);
    } finally {
      await off.dispose();
    }
  });

  it('refuses a value that is no boolean, as dockerd\'s flags do', async () => {
    const res = await run(BERTHD, ['--ip-forward=maybe']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^berthd: invalid boolean value "maybe" for --ip-forward\n/);
  });
});
