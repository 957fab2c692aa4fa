// The amd64 Berth guest under real QEMU (TCG on these machines; booted three times for the whole
// file): the host reaches berthd over SSH, the engine socket is forwarded, images load and run, the
// host's registry is reachable as host.docker.internal, an arm64 image runs through binfmt, a wrong
// key is refused, shutdown is clean and what the data disk holds survives it, and so does QEMU
// killed in the middle of a pull. The arm64 guest: vm-arm64.test.ts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import ssh2 from 'ssh2';

import { generateEd25519Pair } from '../electron/src/node/host/keys.js';
import { serveEngineSocket, waitForEngine } from '../electron/src/node/host/forwarding.js';
import { GUEST_ENGINE_SOCKET, milestoneUptime } from '../electron/src/node/vm/guest-contract.js';
import { GuestLink } from '../electron/src/node/vm/guest-link.js';
import { qemuCommand, type VmSettings } from '../electron/src/node/vm/qemu-command.js';
import { fixtureLayout } from './support/fixtures.js';
import { DOCKER, registry, run } from './support/berthd.js';
import { trixieClients } from './support/trixie-clients.js';

const IMAGE_DIR = path.resolve(import.meta.dirname, '../vm-image/dist/amd64');
const BOOT_TIMEOUT_MS = 120_000;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

describe('the Berth guest (QEMU, TCG)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-vm-'));
  const keys = generateEd25519Pair();
  const wrongKeys = generateEd25519Pair();
  let settings: VmSettings;
  let qemu: ChildProcess | undefined;
  let link: GuestLink | undefined;
  let forward: net.Server | undefined;
  const socket = path.join(dir, 'docker.sock');
  const shared = path.join(dir, 'shared');
  const docker = (args: string[]) => run(DOCKER, args, { env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dir } });

  const helpers: ChildProcess[] = [];

  async function boot(): Promise<void> {
    const { binary, args, helpers: needed } = qemuCommand(settings, 'tcg');
    // A virtiofsd of the previous boot (whose QEMU was killed) still holds the socket's lock.
    for (const old of helpers.splice(0)) {
      if (old.exitCode !== null || old.signalCode !== null) continue;
      const gone = new Promise((resolve) => old.once('exit', resolve));
      old.kill();
      await gone;
    }
    for (const helper of needed) {
      await fs.rm(helper.socket, { force: true });
      helpers.push(spawn(helper.binary, helper.args, { stdio: 'ignore' }));
      for (let i = 0; i < 100 && !existsSync(helper.socket); i++) await new Promise((r) => setTimeout(r, 50));
    }
    qemu = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    qemu.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      link = await GuestLink.connect({ port: settings.sshPort, privateKey: keys.privateKey, timeoutMs: BOOT_TIMEOUT_MS });
    } catch (err) {
      const console = await fs.readFile(settings.consoleLog, 'utf8').catch(() => '');
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nQEMU (exit ${qemu.exitCode}): ${stderr}\nconsole tail:\n${console.split('\n').slice(-15).join('\n')}`);
    }
    forward = await serveEngineSocket(socket, GUEST_ENGINE_SOCKET, () => link);
    // SSH comes up alongside the engine's init.
    await waitForEngine(socket, BOOT_TIMEOUT_MS);
  }

  async function shutdown(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => qemu?.once('exit', (code) => resolve(code)));
    assert.deepEqual(await link?.control('shutdown'), { shuttingDown: true });
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
    assert.notEqual(code, 'timeout', 'the VM powers off by itself');
    link?.close();
    forward?.close();
    return code as number | null;
  }

  before(async () => {
    if (!existsSync(path.join(IMAGE_DIR, 'manifest.json'))) {
      const built = await run('bash', [path.resolve(import.meta.dirname, '../vm-image/build.sh')]);
      assert.equal(built.code, 0, built.stderr);
    }
    const dataDisk = path.join(dir, 'data.qcow2');
    assert.equal((await run('qemu-img', ['create', '-q', '-f', 'qcow2', dataDisk, '8G'])).code, 0);
    await fs.mkdir(shared);
    await fs.writeFile(path.join(shared, 'from-host.txt'), 'shared from the host\n');
    settings = { cpus: 2, memoryMiB: 1024, imageDir: IMAGE_DIR, dataDisk, sshPort: await freePort(), authorizedKey: keys.publicKey, consoleLog: path.join(dir, 'console.log'), sharedFolders: { share0: shared }, debugShell: true };
    await boot();
  });
  after(async () => {
    link?.close();
    forward?.close();
    if (qemu && qemu.exitCode === null) qemu.kill('SIGKILL');
    for (const helper of helpers) if (helper.exitCode === null) helper.kill();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers the Engine API through the forwarded socket', async () => {
    const version = await docker(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), 'linux/amd64');
    const status = await link!.control('status');
    assert.deepEqual(Object.keys(status).sort(), ['containers', 'memory', 'pid', 'status', 'time']);
    // The guest's own memory (`free`'s used and the clean page cache) and its clock, for the host to show and compare.
    const memory = status.memory as { totalMiB: number; usedMiB: number; cacheMiB: number };
    assert.ok(memory.totalMiB > 800 && memory.totalMiB <= 1024 && memory.usedMiB > 0 && memory.usedMiB < memory.totalMiB, JSON.stringify(memory));
    assert.ok(Math.abs((status.time as number) - Date.now()) < 5000, `guest clock ${status.time as number}, host ${Date.now()}`);
  });

  it('did what the kernel command line asked, through berthd (the console shows each milestone and no refused argument)', async () => {
    const console = await fs.readFile(settings.consoleLog, 'utf8');
    const at = (['initStarted', 'berthdStarting', 'guestConfigured', 'engineReady'] as const).map((m) => milestoneUptime(console, m));
    assert.ok(at.every((t) => t !== undefined), `milestones missing:\n${console}`);
    assert.deepEqual([...at].sort((a, b) => a! - b!), at, 'milestones in boot order');
    assert.doesNotMatch(console, /berth: (boot argument .* ignored|no host key|shared folder .* did not mount)/);
    // The debug shell (berth.debug=1) works, and the share is mounted at the host's path over 9p.
    const mounts = await link!.exec('cat /proc/self/mounts');
    assert.match(mounts.stdout, new RegExp(`^share0 ${shared.replaceAll('/', '\\/')} 9p `, 'm'), mounts.stdout);
  });

  it('loads an image and runs a container (crun, cgroup v2)', async () => {
    const archive = path.join(dir, 'busybox.tar');
    const copied = await run('skopeo', ['copy', '-q', `oci:${fixtureLayout('busybox')}`, `docker-archive:${archive}:busybox:latest`]);
    assert.equal(copied.code, 0, copied.stderr);
    const loaded = await docker(['load', '-i', archive]);
    assert.equal(loaded.code, 0, loaded.stderr);
    const ran = await docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(ran.stdout, 'hi\n', ran.stderr);
    const cgroup = await docker(['run', '--rm', '--memory', '64m', 'busybox', 'cat', '/sys/fs/cgroup/memory.max']);
    assert.equal(cgroup.stdout, `${64 * 1024 * 1024}\n`, cgroup.stderr);
  });

  it('builds through buildx: BuildKit over /grpc and /session, through the forwarded socket', async () => {
    const clients = trixieClients();
    const context = path.join(dir, 'buildx-context');
    await fs.mkdir(context, { recursive: true });
    await fs.writeFile(path.join(context, 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n');
    await fs.writeFile(path.join(context, 'hello.txt'), 'hello from the host\n');
    const env = clients.env(`unix://${socket}`, path.join(dir, 'buildx-config'));
    const built = await run(clients.docker, ['build', '--progress=plain', '-t', 'vm-buildx:1', context], { env });
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /#\d+ \[3\/3\] RUN cat \/hello.txt\n#\d+ [\d.]+ hello from the host\n/);
    assert.equal((await docker(['run', '--rm', 'vm-buildx:1', 'cat', '/hello.txt'])).stdout, 'hello from the host\n');
  });

  it('bind-mounts a shared host folder at its host path (9p)', async () => {
    const ran = await docker(['run', '--rm', '-v', `${shared}:/work`, 'busybox', 'sh', '-c', 'cat /work/from-host.txt && echo written-in-guest > /work/from-guest.txt']);
    assert.equal(ran.stdout, 'shared from the host\n', ran.stderr);
    assert.equal(await fs.readFile(path.join(shared, 'from-guest.txt'), 'utf8'), 'written-in-guest\n');
  });

  it('runs resize2fs on the data disk through the control channel (what follows a host-side disk growth)', async () => {
    const before = (await link!.control('resize')).sizeBytes as number;
    assert.ok(before > 7 * 1024 ** 3, String(before));
  });

  it('has no import() in the engine\'s bundle, which the loader\'s vm.Script could not serve (esbuild makes them requires)', async () => {
    // Such as the registry client's node:https for a pull over TLS, which the tests' plain-HTTP registry never takes.
    const found = await link!.exec('grep -nE "(^|[^A-Za-z0-9_.$])import\\(" /opt/berth/berthd.cjs | cut -c1-160');
    assert.equal(found.stdout, '');
    assert.match((await link!.exec('grep -c "node:https" /opt/berth/berthd.cjs')).stdout, /^[1-9]/);
  });

  it('pulls from the host\'s registry as host.docker.internal', async () => {
    const port = registry().split(':')[1];
    const pulled = await docker(['pull', '-q', `host.docker.internal:${port}/library/busybox:latest`]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /host\.docker\.internal/);
  });

  it('runs the other architecture\'s image through binfmt (qemu-user): --platform linux/arm64', async () => {
    // The fixture index has linux/amd64 and linux/arm64 (scripts/fixtures), as Docker Hub's busybox does.
    const reference = `host.docker.internal:${registry().split(':')[1]}/library/busybox-multiarch:latest`;
    const native = await docker(['run', '--rm', reference, 'uname', '-m']);
    assert.equal(native.stdout, 'x86_64\n', native.stderr);
    // The local image is amd64: the CLI pulls the arm64 variant, and the guest's qemu-aarch64 runs it.
    const emulated = await docker(['run', '--rm', '--platform', 'linux/arm64', reference, 'uname', '-m']);
    assert.equal(emulated.stdout, 'aarch64\n', emulated.stderr);
  });

  it('gives memory back to the host: a container fills 600 MB and exits (virtio-balloon free page reporting)', async () => {
    const residentMiB = async () => Math.round(Number(/^VmRSS:\s+(\d+) kB/m.exec(await fs.readFile(`/proc/${qemu!.pid}/status`, 'utf8'))?.[1]) / 1024);
    const before = await residentMiB();
    const filled = await docker(['run', '--rm', '--shm-size', '700m', 'busybox', 'sh', '-c', 'head -c 629145600 /dev/zero > /dev/shm/fill && wc -c < /dev/shm/fill']);
    assert.equal(filled.stdout.trim(), '629145600', filled.stderr);
    const peak = await residentMiB();
    let after = peak;
    for (let i = 0; i < 60 && after > before + 150; i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = await residentMiB();
    }
    console.log(`QEMU's RSS: ${before} MiB before, ${peak} MiB when the 600 MB container exited, ${after} MiB after`);
    assert.ok(peak > before + 400, `the 600 MB showed in QEMU's memory: ${before} MiB before, ${peak} MiB when the container exited`);
    assert.ok(after <= before + 150, `QEMU's memory went back within 30 s: ${before} MiB before, ${peak} MiB at the exit, ${after} MiB after`);
  });

  it('gives disk space back: a 100 MB image made and removed leaves the data disk file as it was', async () => {
    const allocatedMiB = async () => Math.round(((await fs.stat(settings.dataDisk)).blocks * 512) / 1024 ** 2);
    const before = await allocatedMiB();
    // Random bytes: zeros would not take space (the disk is attached with detect-zeroes=unmap).
    const made = await docker(['run', '--name', 'big', 'busybox', 'sh', '-c', 'head -c 104857600 /dev/urandom > /big']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await docker(['commit', 'big', 'big:1'])).code, 0);
    assert.equal((await docker(['rm', 'big'])).code, 0);
    await new Promise((r) => setTimeout(r, 1000));
    const grown = await allocatedMiB();
    assert.ok(grown > before + 80, `the image took space: ${before} MiB before, ${grown} MiB with it`);
    const removed = await docker(['rmi', 'big:1']);
    assert.equal(removed.code, 0, removed.stderr);
    let after = grown;
    for (let i = 0; i < 120 && after > before + 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = await allocatedMiB();
    }
    console.log(`data disk file: ${before} MiB before, ${grown} MiB with the 100 MB image, ${after} MiB after rmi`);
    assert.ok(after <= before + 20, `the space went back within 60 s: ${before} MiB before, ${grown} MiB with the image, ${after} MiB after`);
  });

  /** Runs `command` in the debug shell to kill berthd (the SSH server dies with it), then links up with the one init restarts. */
  async function killEngine(command: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('ready', () => client.exec(command, (err) => (err ? reject(err) : setTimeout(resolve, 200))));
      client.on('error', () => resolve()); // the server died with the engine: expected
      client.connect({ host: '127.0.0.1', port: settings.sshPort, username: 'berth', privateKey: keys.privateKey });
    });
    link?.close();
    forward?.close();
    link = await GuestLink.connect({ port: settings.sshPort, privateKey: keys.privateKey, timeoutMs: BOOT_TIMEOUT_MS });
    forward = await serveEngineSocket(socket, GUEST_ENGINE_SOCKET, () => link);
    await waitForEngine(socket, BOOT_TIMEOUT_MS);
    const images = await docker(['images', '--format', '{{.Repository}}']);
    assert.match(images.stdout, /^busybox$/m, images.stderr);
  }

  it('restarts berthd when it crashes', async () => {
    // The debug shell (berth.debug=1, which this test asks for) lets the test kill the engine.
    await killEngine('kill -9 $(pidof node)');
    assert.match(await fs.readFile(settings.consoleLog, 'utf8'), /berth: berthd exited with 137, restarting/);
  });

  it('starts berthd from the startup snapshot it made, and drops one Node refuses', async () => {
    const consoleLog = () => fs.readFile(settings.consoleLog, 'utf8');
    const guestShell = async (command: string) => (await link!.exec(command)).stdout;
    // Made 20 s after a start without one (vm-image/rootfs/berthd-start.cjs), with the code cache.
    for (let i = 0; i < 180 && !/berth: startup snapshot (made|not made)/.test(await consoleLog()); i++) await new Promise((r) => setTimeout(r, 1000));
    assert.match(await consoleLog(), /berth: startup snapshot made in \d+ ms/);
    const caches = await guestShell('ls /var/lib/berth/startup-cache/*/');
    assert.deepEqual(caches.split(/\s+/).filter(Boolean).sort(), ['berthd.code', 'node.blob']);
    await killEngine('kill -9 $(pidof node)');
    assert.match(await consoleLog(), /berth: berthd exited with 137, restarting\r?\nberth: berthd starts from its startup snapshot\r?\n/);
    // A damaged snapshot makes Node abort: init drops it and starts berthd without one from then on.
    await killEngine('for f in /var/lib/berth/startup-cache/*/node.blob; do echo damaged >"$f"; done; kill -9 $(pidof node)');
    assert.match(await consoleLog(), /berth: startup snapshot dropped \(berthd exited with 134\)/);
    assert.deepEqual((await guestShell('ls /var/lib/berth/startup-cache/*/')).split(/\s+/).filter(Boolean).sort(), ['berthd.code', 'no-snapshot']);
  });

  it('refuses a key it was not given', async () => {
    await assert.rejects(GuestLink.connect({ port: settings.sshPort, privateKey: wrongKeys.privateKey, timeoutMs: 10_000 }), /authentication/i);
  });

  it('shuts down cleanly and keeps the data disk for the next boot (sharing over virtiofs then)', async () => {
    await shutdown();
    assert.match(await fs.readFile(settings.consoleLog, 'utf8'), /berth: powering off/);
    // The second boot shares the folder over virtiofs instead of 9p.
    settings = { ...settings, sharing: 'virtiofs', runDir: dir };
    await boot();
    const console2 = await fs.readFile(settings.consoleLog, 'utf8');
    assert.match(console2, /berth: data disk check: berth-data: clean/);
    const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(images.stdout, /^busybox:latest$/m, images.stderr);
    const viaVirtiofs = await docker(['run', '--rm', '-v', `${shared}:/work`, 'busybox', 'cat', '/work/from-guest.txt']);
    assert.equal(viaVirtiofs.stdout, 'written-in-guest\n', viaVirtiofs.stderr);
  });

  it('survives QEMU killed in the middle of a pull: the data disk mounts and the engine is consistent', async () => {
    const port = registry().split(':')[1];
    const reference = `host.docker.internal:${port}/library/debian:bookworm`;
    const exited = new Promise((resolve) => qemu?.once('exit', resolve));
    const pulling = docker(['pull', reference]);
    // 2.5 s in, under TCG, the layers are still coming (the whole pull takes several times that).
    await new Promise((r) => setTimeout(r, 2500));
    qemu!.kill('SIGKILL');
    await exited;
    const interrupted = await pulling;
    assert.notEqual(interrupted.code, 0, 'the pull was cut off by the kill');
    link?.close();
    forward?.close();
    await boot();
    const console3 = await fs.readFile(settings.consoleLog, 'utf8');
    assert.match(console3, /berth: data disk check: berth-data: /);
    assert.doesNotMatch(console3, /data disk did not mount/);
    // What was there before is intact; the interrupted image is either absent or whole.
    const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(images.stdout, /^busybox:latest$/m, images.stderr);
    assert.equal((await docker(['run', '--rm', 'busybox', 'true'])).code, 0);
    if (images.stdout.includes(reference)) assert.equal((await docker(['run', '--rm', reference, 'true'])).code, 0);
    const again = await docker(['pull', '-q', reference]);
    assert.equal(again.code, 0, again.stderr);
    const ran = await docker(['run', '--rm', reference, 'cat', '/etc/debian_version']);
    assert.match(ran.stdout, /^12\./, ran.stderr);
    await shutdown();
  });
});
