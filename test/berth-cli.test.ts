// The host side end to end (issue 7), QEMU with TCG here, as an ordinary user the test creates
// (issue 14: nothing on the host side needs root): `berth start`, the real docker CLI on the
// "berth" context made under that user's home, a published port reached with curl on the host, a
// shared folder inside $HOME, `logs -f` and `run -it` through the forward, a killed VM noticed and
// recovered, and `berth stop` / `berth start` keeping images and volumes; and the dashboard
// managing the VM (troubleshoot checks, start with progress after the VM was killed).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { chromium } from 'playwright-core';

import { DOCKER, run } from './support/berthd.js';
import { fixtureLayout } from './support/fixtures.js';
import { OrdinaryUser } from './support/ordinary-user.js';
import { Terminal } from './support/terminal.js';

const IMAGE_DIR = path.resolve(import.meta.dirname, '../vm-image/dist/amd64');
const ARTIFACTS = path.resolve(import.meta.dirname, '.artifacts');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('berth CLI and the host side, as an ordinary user', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'berth-host-'));
  const home = path.join(root, 'home');
  let user: OrdinaryUser;
  // Only what a login would give the user, and no root's leftovers (XDG_RUNTIME_DIR, npm_*).
  // The debug shell lets the test kill the guest's engine (the reconnect test).
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    BERTH_HOME: path.join(home, '.berth'),
    DOCKER_CONFIG: path.join(home, '.docker'),
    BERTH_DEBUG_SHELL: '1',
    ...(process.env.BERTH_ACCEL ? { BERTH_ACCEL: process.env.BERTH_ACCEL } : {}),
  };
  const berthBinary = () => path.join(user.checkout, 'node_modules/.bin/berth');
  const berth = (args: string[]) => run(...user.command(berthBinary(), args), { env });
  const docker = (args: string[]) => run(...user.command(DOCKER, ['--context', 'berth', ...args]), { env });
  const dockerOk = async (args: string[]) => {
    const res = await docker(args);
    assert.equal(res.code, 0, `docker ${args.join(' ')}:\n${res.stderr}`);
    return res.stdout;
  };

  before(async () => {
    user = await OrdinaryUser.create(home);
    await user.own(root);
    await fs.mkdir(ARTIFACTS, { recursive: true });
    // Building the guest installs Debian packages: that part needs root, as the README says.
    if (!existsSync(path.join(IMAGE_DIR, 'manifest.json'))) {
      const built = await run('bash', [path.resolve(import.meta.dirname, '../vm-image/build.sh')]);
      assert.equal(built.code, 0, built.stderr);
    }
    for (const [key, value] of [['cpus', '2'], ['memoryMiB', '1024'], ['diskGiB', '8']]) {
      const set = await berth(['settings', 'set', key!, value!]);
      assert.equal(set.code, 0, set.stderr);
    }
  });
  after(async () => {
    await berth(['stop']);
    await user.remove();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('validates settings with clear errors', async () => {
    const bad = await berth(['settings', 'set', 'cpus', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cpus must be a whole number from 1 to \d+/);
    assert.match((await berth(['settings', 'set', 'colour', 'blue'])).stderr, /unknown setting "colour"/);
    assert.equal(JSON.parse((await berth(['settings', 'get', 'sharedFolders'])).stdout)[0], home);
  });

  it('starts, says so when started again, and creates the docker context', async () => {
    const started = await berth(['start']);
    assert.equal(started.code, 0, started.stderr + started.stdout);
    assert.match(started.stdout, /Berth is running: engine at unix:\/\/.*\/run\/docker\.sock/);
    assert.match((await berth(['start'])).stdout, /already running/);
    const status = JSON.parse((await berth(['status', '--json'])).stdout) as { state: string; vmPid: number };
    assert.equal(status.state, 'running');
    const socket = await fs.stat(path.join(home, '.berth/run/docker.sock'));
    assert.equal(socket.mode & 0o777, 0o600);
    assert.equal(socket.uid, user.uid, 'the socket belongs to the user who started Berth');
    assert.equal((await fs.stat(path.join(home, '.berth/ssh/id_ed25519'))).mode & 0o777, 0o600);
    // The context lives in the user's own docker config, and the docker CLI takes it from there.
    assert.equal((await fs.stat(path.join(home, '.docker/contexts'))).uid, user.uid);
    assert.match(await dockerOk(['version', '--format', '{{.Server.Os}}']), /linux/);
  });

  it('serves a published port on the host and shares folders inside $HOME', async () => {
    const archive = path.join(root, 'busybox.tar');
    assert.equal((await run('skopeo', ['copy', '-q', `oci:${fixtureLayout('busybox')}`, `docker-archive:${archive}:busybox:latest`])).code, 0);
    await user.own(archive);
    await dockerOk(['load', '-i', archive]);
    await dockerOk(['run', '-d', '--name', 'web', '-p', '127.0.0.1:18444:80', 'busybox', 'sh', '-c', 'mkdir -p /www && echo through-berth > /www/index.html && exec httpd -f -p 80 -h /www']);
    let page = '';
    for (let i = 0; i < 50 && page !== 'through-berth\n'; i++) {
      page = (await run('curl', ['-s', 'http://127.0.0.1:18444/'])).stdout;
      if (page !== 'through-berth\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(page, 'through-berth\n');
    assert.match((await berth(['status'])).stdout, /port 127\.0\.0\.1:18444\/tcp -> container [0-9a-f]{12}/);
    await dockerOk(['rm', '-f', 'web']);

    const project = path.join(home, 'project');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'in.txt'), 'from the host\n');
    await user.own(project);
    assert.equal(await dockerOk(['run', '--rm', '-v', `${project}:/src`, 'busybox', 'sh', '-c', 'cat /src/in.txt; echo from the container > /src/out.txt']), 'from the host\n');
    assert.equal(await fs.readFile(path.join(project, 'out.txt'), 'utf8'), 'from the container\n');
  });

  it('streams logs -f and runs -it through the forward', async () => {
    assert.equal(await dockerOk(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.3; done']), (await docker(['inspect', '-f', '{{.Id}}', 'talker'])).stdout);
    assert.equal(await dockerOk(['logs', '-f', 'talker']), 'line 1\nline 2\nline 3\n');
    const [setpriv, asUser] = user.command('env', [`HOME=${home}`, `DOCKER_CONFIG=${env.DOCKER_CONFIG}`, DOCKER, '--context', 'berth', 'run', '-it', '--rm', 'busybox', 'sh']);
    const term = await Terminal.open('berth-it', 100, 20, [setpriv, ...asUser]);
    try {
      await term.until('#');
      await term.type('echo typed-$((40+2))', 'Enter');
      await term.until('typed-42');
      await term.type('exit', 'Enter');
    } finally {
      await term.close();
    }
  });

  it('reconnects by itself when the guest\'s engine restarts, published ports included', async () => {
    await dockerOk(['run', '-d', '--name', 'web2', '-p', '127.0.0.1:18445:80', 'busybox', 'sh', '-c', 'mkdir -p /www && echo still-here > /www/index.html && exec httpd -f -p 80 -h /www']);
    await berth(['ssh', 'kill -9 $(pidof node)']);
    let version = await docker(['version', '--format', '{{.Server.Os}}']);
    for (let i = 0; i < 120 && version.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      version = await docker(['version', '--format', '{{.Server.Os}}']);
    }
    assert.equal(version.stdout.trim(), 'linux', version.stderr);
    let page = '';
    for (let i = 0; i < 50 && page !== 'still-here\n'; i++) {
      page = (await run('curl', ['-s', 'http://127.0.0.1:18445/'])).stdout;
      if (page !== 'still-here\n') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(page, 'still-here\n');
    await dockerOk(['rm', '-f', 'web2']);
  });

  it('answers within seconds of the VM running again after a minute paused, with the guest clock set again', async () => {
    await dockerOk(['run', '-d', '--name', 'napper', '-p', '127.0.0.1:18446:80', 'busybox', 'sh', '-c', 'mkdir -p /www && echo awake > /www/index.html && exec httpd -f -p 80 -h /www']);
    const page = async () => (await run('curl', ['-s', '--max-time', '1', 'http://127.0.0.1:18446/'])).stdout;
    for (let i = 0; i < 50 && (await page()) !== 'awake\n'; i++) await new Promise((r) => setTimeout(r, 100));
    const { vmPid } = JSON.parse((await berth(['status', '--json'])).stdout) as { vmPid: number };
    // A minute with the whole VM stopped, as a laptop's sleep leaves it (longer than the link's keep-alives' interval).
    process.kill(vmPid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 60_000));
    process.kill(vmPid, 'SIGCONT');
    const woke = Date.now();
    let psAfter = -1;
    let portAfter = -1;
    while (Date.now() - woke < 30_000 && (psAfter < 0 || portAfter < 0)) {
      if (psAfter < 0 && (await docker(['ps', '-q'])).code === 0) psAfter = Date.now() - woke;
      if (portAfter < 0 && (await page()) === 'awake\n') portAfter = Date.now() - woke;
    }
    // The guest's clock, by its control channel, against this host's (the midpoint of the round
    // trip), once the guest had 3 s to notice: it checks against the RTC every second.
    await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - woke))));
    const asked = Date.now();
    const status = JSON.parse((await berth(['status', '--json'])).stdout) as { guest: { time: number } };
    const answered = Date.now();
    const skew = status.guest.time - (asked + answered) / 2;
    const clockAfter = answered - woke;
    console.log(`after SIGCONT: docker ps answered in ${psAfter} ms, the published port in ${portAfter} ms; guest clock ${Math.round(skew)} ms off the round trip's midpoint (${answered - asked} ms) at ${clockAfter} ms`);
    assert.ok(psAfter >= 0 && psAfter <= 2000, `docker ps answered ${psAfter} ms after the VM ran again`);
    assert.ok(portAfter >= 0 && portAfter <= 2000, `the published port answered ${portAfter} ms after the VM ran again`);
    // The guest read its clock at some moment between asked and answered: within 1 s of the host's then.
    assert.ok(status.guest.time >= asked - 1000 && status.guest.time <= answered + 1000, `the guest clock is ${Math.round(skew)} ms off the host's (round trip ${answered - asked} ms)`);
    await dockerOk(['rm', '-f', 'napper']);
  });

  it('notices a killed VM, and the dashboard starts it again with progress', async () => {
    // The dashboard without --host manages Berth's VM: it runs the same agent as `berth start`.
    const dashboard = spawn(...user.command(berthBinary(), ['dashboard']), { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    try {
      const url = await new Promise<string>((resolve) => createInterface({ input: dashboard.stdout! }).once('line', resolve));
      const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
      await page.goto(`${url}#/troubleshoot`);
      for (const check of ['vm', 'engine', 'socket', 'context', 'shares']) await page.locator(`[data-check="${check}"][data-state="ok"]`).waitFor();
      await page.locator('[data-check="socket"]').getByText(/mode 0600/).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'troubleshoot-vm.png') });

      const status = JSON.parse((await berth(['status', '--json'])).stdout) as { vmPid: number };
      process.kill(status.vmPid, 'SIGKILL');
      let state = '';
      for (let i = 0; i < 50 && state !== 'stopped'; i++) {
        state = (JSON.parse((await berth(['status', '--json'])).stdout) as { state: string }).state;
        if (state !== 'stopped') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(state, 'stopped');

      await page.goto(`${url}#/dashboard`);
      const vm = page.getByLabel('Virtual machine');
      await vm.getByText('stopped', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Start', exact: true }).click();
      await page.getByLabel('Progress').getByText(/^Booting the VM/).waitFor();
      await page.getByLabel('Progress').getByText(/^Engine ready in [\d.]+ s\.$/).waitFor({ timeout: 180_000 });
      await vm.getByText('running', { exact: true }).waitFor({ timeout: 15_000 });
      await vm.getByText(/running qemu, (tcg|kvm)/).waitFor();
      await page.getByLabel('Engine', { exact: true }).getByText(/^linux\//).waitFor();
      await page.getByRole('progressbar', { name: 'Memory' }).waitFor();
      // What the VM holds of this computer's memory, and where its boot went.
      await page.getByLabel('Memory on this computer').getByText(/^The VM holds [\d.]+ [KMG]i?B of this computer’s memory/).waitFor({ timeout: 15_000 });
      await page.getByLabel('Boot milestones').getByText(/^Boot, by the guest’s clock: init at [\d.]+ s · berthd at [\d.]+ s · configured at [\d.]+ s · ready at [\d.]+ s$/).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-vm.png') });
      await page.goto(`${url}#/settings`);
      await page.getByText(/^The VM’s disk takes [\d.]+ [KMG]i?B of this computer’s disk now/).waitFor();
    } finally {
      await browser.close();
      dashboard.kill();
    }
    assert.match(await dockerOk(['images', '--format', '{{.Repository}}']), /^busybox$/m);
  });

  it('keeps images and named volumes across berth stop and start', async () => {
    await dockerOk(['run', '--rm', '-v', 'keep:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/file']);
    const stopped = await berth(['stop']);
    assert.equal(stopped.code, 0);
    assert.match(stopped.stdout, /Berth stopped/);
    assert.match((await berth(['status'])).stdout, /Berth: stopped/);
    assert.equal((await berth(['start'])).code, 0);
    assert.equal(await dockerOk(['run', '--rm', '-v', 'keep:/data', 'busybox', 'cat', '/data/file']), 'persisted\n');
  });

  it('shows what the VM holds of this computer, and compacts its disk only with the VM stopped', async () => {
    const status = JSON.parse((await berth(['status', '--json'])).stdout) as { vmResidentMiB: number; guest: { memory: { totalMiB: number; usedMiB: number } }; dataDisk: { fileBytes: number; limitBytes: number } };
    assert.ok(status.vmResidentMiB > 32 && status.vmResidentMiB < 4096, `QEMU's resident memory: ${status.vmResidentMiB} MiB`);
    assert.ok(status.guest.memory.totalMiB > 800 && status.guest.memory.totalMiB <= 1024, JSON.stringify(status.guest.memory));
    assert.ok(status.guest.memory.usedMiB > 0 && status.guest.memory.usedMiB < status.guest.memory.totalMiB);
    assert.equal(status.dataDisk.limitBytes, 8 * 1024 ** 3);
    assert.ok(status.dataDisk.fileBytes > 1024 ** 2, `the data disk holds an image and a volume: ${status.dataDisk.fileBytes} bytes`);
    const text = (await berth(['status'])).stdout;
    assert.match(text, /memory: the VM holds \d+ MiB of this computer's memory; the guest uses \d+ of \d+ MiB \(page cache \d+ MiB\)/);
    assert.match(text, /data disk: \d+ MiB on this computer's disk, of at most 8\.0 GiB/);

    const inUse = await berth(['disk', 'compact']);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /the data disk is in use: stop Berth first/);
    assert.equal((await berth(['stop'])).code, 0);
    const compacted = await berth(['disk', 'compact']);
    assert.equal(compacted.code, 0, compacted.stderr);
    assert.match(compacted.stdout, /^Data disk compacted: \d+ MiB -> \d+ MiB on this computer's disk\.$/m);
    assert.equal((await berth(['start'])).code, 0);
    assert.equal(await dockerOk(['run', '--rm', '-v', 'keep:/data', 'busybox', 'cat', '/data/file']), 'persisted\n');
  });
});
