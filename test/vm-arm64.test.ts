// The arm64 guest (issue 19), as an Apple Silicon Mac boots it, here on qemu-system-aarch64 with
// TCG: `berth settings set arch arm64` and `berth start`, then the docker CLI through the forwarded
// socket. The engine reports arm64; a multi-platform image runs its arm64 variant natively and its
// amd64 one through the guest's qemu-user binfmt handler; stdin goes through the attach relay; a
// shared folder and a published port work; `berth stop` is clean and the next start keeps the image.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DOCKER, registry, run } from './support/berthd.js';

const CHECKOUT = path.resolve(import.meta.dirname, '..');
const IMAGE_DIR = path.join(CHECKOUT, 'vm-image/dist/arm64');
const BERTH = path.join(CHECKOUT, 'node_modules/.bin/berth');

describe('the arm64 guest through berth start (qemu-system-aarch64, TCG here)', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'berth-arm64-'));
  const home = path.join(root, 'home');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    BERTH_HOME: path.join(home, '.berth'),
    DOCKER_CONFIG: path.join(home, '.docker'),
    ...(process.env.BERTH_ACCEL ? { BERTH_ACCEL: process.env.BERTH_ACCEL } : {}),
  };
  const berth = (args: string[]) => run(BERTH, args, { env });
  const docker = (args: string[], input?: string) => run(DOCKER, ['--context', 'berth', ...args], { env, input });
  const dockerOk = async (args: string[], input?: string) => {
    const res = await docker(args, input);
    assert.equal(res.code, 0, `docker ${args.join(' ')}:\n${res.stderr}`);
    return res.stdout;
  };
  // The fixture registry on the host, as the guest reaches it; its busybox index has linux/amd64
  // and linux/arm64 (scripts/fixtures), as Docker Hub's busybox does.
  const multiPlatform = () => `host.docker.internal:${registry().split(':')[1]}/library/busybox-multiarch:latest`;

  before(async () => {
    await fs.mkdir(home, { recursive: true });
    if (!existsSync(path.join(IMAGE_DIR, 'manifest.json'))) {
      const built = await run('bash', [path.join(CHECKOUT, 'vm-image/build.sh')], { env: { ...process.env, ARCH: 'arm64' } });
      assert.equal(built.code, 0, built.stderr);
    }
    for (const [key, value] of [['arch', 'arm64'], ['cpus', '2'], ['memoryMiB', '1024'], ['diskGiB', '8']]) {
      const set = await berth(['settings', 'set', key!, value!]);
      assert.equal(set.code, 0, set.stderr);
    }
  });
  after(async () => {
    await berth(['stop']);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('boots under qemu-system-aarch64 and the engine says arm64', async () => {
    const started = await berth(['start']);
    assert.equal(started.code, 0, `${started.stderr}${started.stdout}\n${await fs.readFile(path.join(home, '.berth/vm/console.log'), 'utf8').catch(() => '')}`);
    const status = JSON.parse((await berth(['status', '--json'])).stdout) as { state: string; vmPid: number; settings: { arch: string } };
    assert.equal(status.state, 'running');
    assert.equal(status.settings.arch, 'arm64');
    assert.match(await fs.readFile(`/proc/${status.vmPid}/cmdline`, 'utf8'), /^qemu-system-aarch64\0/);
    assert.equal((await dockerOk(['version', '--format', '{{.Server.Arch}}'])).trim(), 'arm64');
    assert.equal((await dockerOk(['info', '--format', '{{.Architecture}}'])).trim(), 'aarch64');
  });

  it('runs the arm64 variant of a multi-platform image natively, and the amd64 one through binfmt', async () => {
    assert.equal(await dockerOk(['run', '--rm', multiPlatform(), 'uname', '-m']), 'aarch64\n');
    assert.equal((await dockerOk(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', multiPlatform()])).trim(), 'linux/arm64');
    // The local image is arm64: asking for amd64 makes the CLI pull that variant, which runs emulated.
    assert.equal(await dockerOk(['run', '--rm', '--platform', 'linux/amd64', multiPlatform(), 'uname', '-m']), 'x86_64\n');
    assert.equal((await dockerOk(['image', 'inspect', '-f', '{{.Architecture}}', multiPlatform()])).trim(), 'amd64');
    await dockerOk(['pull', '-q', '--platform', 'linux/arm64', multiPlatform()]);
  });

  it('passes stdin through the attach relay, and keeps stdout and stderr apart', async () => {
    const res = await docker(['run', '-i', '--rm', multiPlatform(), 'sh', '-c', 'cat; echo "[eof]"; echo oops >&2'], 'typed on the host\n');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'typed on the host\n[eof]\n');
    assert.equal(res.stderr, 'oops\n');
  });

  it('reads and writes a shared host folder, and serves a published port on the host', async () => {
    const project = path.join(home, 'project');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'in.txt'), 'from the host\n');
    assert.equal(await dockerOk(['run', '--rm', '-v', `${project}:/src`, multiPlatform(), 'sh', '-c', 'cat /src/in.txt; echo from arm64 > /src/out.txt']), 'from the host\n');
    assert.equal(await fs.readFile(path.join(project, 'out.txt'), 'utf8'), 'from arm64\n');

    await dockerOk(['run', '-d', '--name', 'web', '-p', '127.0.0.1:18464:80', multiPlatform(), 'sh', '-c', 'mkdir -p /www && uname -m > /www/index.html && exec httpd -f -p 80 -h /www']);
    let page = '';
    for (let i = 0; i < 100 && page !== 'aarch64\n'; i++) {
      page = (await run('curl', ['-s', 'http://127.0.0.1:18464/'])).stdout;
      if (page !== 'aarch64\n') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(page, 'aarch64\n');
    await dockerOk(['rm', '-f', 'web']);
  });

  it('stops cleanly, and the next start keeps the image and starts berthd from its startup snapshot', async () => {
    const consoleLog = () => fs.readFile(path.join(home, '.berth/vm/console.log'), 'utf8');
    // berthd makes its startup caches 20 s after a start without them (vm-image/rootfs/berthd-start.cjs).
    for (let i = 0; i < 180 && !/berth: startup snapshot (made|not made)/.test(await consoleLog()); i++) await new Promise((r) => setTimeout(r, 1000));
    assert.match(await consoleLog(), /berth: startup snapshot made in \d+ ms/);
    const stopped = await berth(['stop']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(await consoleLog(), /berth: powering off/);
    const started = await berth(['start']);
    assert.equal(started.code, 0, started.stderr);
    assert.match(await consoleLog(), /berth: data disk check: berth-data: clean/);
    assert.match(await consoleLog(), /berth: berthd starts from its startup snapshot\r?\n[\s\S]*berth: engine ready at/);
    assert.equal(await dockerOk(['run', '--rm', multiPlatform(), 'uname', '-m']), 'aarch64\n');
  });
});
