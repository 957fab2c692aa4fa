// Boot time and idle memory of the Berth guest under QEMU: from QEMU's start to /_ping answering
// through the forwarded engine socket, split by the guest's own milestones (kernel, init, Node,
// engine), and the guest's memory in use once idle. Runs as many boots as asked (default 3) on one
// data disk, as `berth start` does every day, after a first boot on a fresh one: that first boot is
// recorded apart, and it stays up until berthd has made its startup caches on the disk
// (vm-image/rootfs/berthd-start.cjs), which the later boots use.
//   node --import tsx scripts/bench/vm-boot.ts [boots]            the amd64 guest
//   ARCH=arm64 node --import tsx scripts/bench/vm-boot.ts [boots]  the arm64 guest (TCG on amd64)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import ssh2 from 'ssh2';

import { generateEd25519Pair } from '../../electron/src/node/host/keys.js';
import { serveEngineSocket } from '../../electron/src/node/host/forwarding.js';
import { GUEST_ENGINE_SOCKET, milestoneUptime, type BootMilestone } from '../../electron/src/node/vm/guest-contract.js';
import { GuestLink } from '../../electron/src/node/vm/guest-link.js';
import { defaultAccel, qemuCommand, type GuestArch } from '../../electron/src/node/vm/qemu-command.js';

import { cleanupOnSignal, record } from './results.js';

const boots = Number(process.argv[2] ?? 3);
const arch: GuestArch = process.env.ARCH === 'arm64' ? 'arm64' : 'amd64';
const imageDir = path.resolve(import.meta.dirname, '../../vm-image/dist', arch);
const dir = mkdtempSync(path.join(tmpdir(), 'berth-vm-bench-'));
const keys = generateEd25519Pair();
const accel = defaultAccel(arch) === 'kvm' ? 'tcg' : defaultAccel(arch); // /dev/kvm here is not usable (vm-on-this-machine.md)

const ping = (socket: string) =>
  new Promise<boolean>((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(port));
  });
});

function guestExec(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('ready', () => client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let out = '';
      channel.on('data', (d: Buffer) => (out += d.toString()));
      channel.on('close', () => {
        client.end();
        resolve(out);
      });
    }));
    client.on('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'berth', privateKey: keys.privateKey });
  });
}

let qemu: ChildProcess | undefined;
const cleanup = cleanupOnSignal(async () => {
  if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
    qemu.kill('SIGKILL');
    await new Promise((r) => qemu!.once('exit', r));
  }
  await fs.rm(dir, { recursive: true, force: true });
});

const dataDisk = path.join(dir, 'data.qcow2');

// Boot 0 is the first, on a fresh data disk.
async function boot(i: number): Promise<void> {
  if (i === 0) await new Promise((r) => spawn('qemu-img', ['create', '-q', '-f', 'qcow2', dataDisk, '8G']).on('exit', r));
  const settings = { cpus: 2, memoryMiB: 1024, arch, imageDir, dataDisk, sshPort: await freePort(), authorizedKey: keys.publicKey, consoleLog: path.join(dir, `console${i}.log`), debugShell: true };
  const { binary, args } = qemuCommand(settings, accel);
  const start = Date.now();
  const vm = (qemu = spawn(binary, args, { stdio: 'ignore' }));
  const link = await GuestLink.connect({ port: settings.sshPort, privateKey: keys.privateKey, timeoutMs: 120_000 });
  const sshMs = Date.now() - start;
  const socket = path.join(dir, `docker${i}.sock`);
  const forward = await serveEngineSocket(socket, GUEST_ENGINE_SOCKET, () => link);
  while (!(await ping(socket))) await new Promise((r) => setTimeout(r, 50));
  const pingMs = Date.now() - start;
  const log = await fs.readFile(settings.consoleLog, 'utf8');
  const milestone = (name: BootMilestone) => String(milestoneUptime(log, name) ?? '?');
  const initAt = milestone('initStarted');
  const berthdAt = milestone('berthdStarting');
  const configuredAt = milestone('guestConfigured');
  const readyAt = milestone('engineReady');
  await new Promise((r) => setTimeout(r, 3000));
  const memory = (await guestExec(settings.sshPort, 'free -m | awk \'/Mem:/ {print $3}\'')).trim();
  const hostRss = (await fs.readFile(`/proc/${vm.pid}/status`, 'utf8')).match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  console.log(`${i ? `boot ${i}` : 'first boot (fresh data disk)'} (${arch}, ${accel}): /_ping through the forward at ${pingMs} ms (SSH at ${sshMs} ms); guest uptime: init ${initAt}s, berthd started ${berthdAt}s, boot arguments applied ${configuredAt}s, engine ready ${readyAt}s; memory in use when idle ${memory} MiB, QEMU's RSS ${Math.round(Number(hostRss) / 1024)} MiB`);
  if (i === 0) {
    first.push(pingMs);
    // The startup caches are made 20 s after a start without them; the later boots are to have them.
    const deadline = Date.now() + 180_000;
    while (!/berth: startup snapshot (made|not made)/.test(await fs.readFile(settings.consoleLog, 'utf8')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
  } else {
    samples.ping.push(pingMs);
    samples.ssh.push(sshMs);
    // A milestone missing from the console log is left out rather than counted as zero.
    for (const [key, at] of [['init', initAt], ['berthd', berthdAt], ['configured', configuredAt], ['ready', readyAt]] as const) if (at !== '?') samples[key].push(Math.round(Number(at) * 1000));
    if (memory) samples.memory.push(Number(memory));
    if (hostRss) samples.rss.push(Math.round(Number(hostRss) / 1024));
  }
  await link.control('shutdown');
  await new Promise((r) => vm.once('exit', r));
  forward.close();
  link.close();
}

const first: number[] = [];
const samples = { ping: [] as number[], ssh: [] as number[], init: [] as number[], berthd: [] as number[], configured: [] as number[], ready: [] as number[], memory: [] as number[], rss: [] as number[] };
try {
  for (let i = 0; i <= boots; i++) await boot(i);
  const common = { suite: arch === 'amd64' ? 'vm-boot' : `vm-boot-${arch}`, engine: 'berthd', goal: '', warmups: 1 };
  record({ ...common, name: `QEMU start → /_ping through the forward (${arch}, ${accel})`, unit: 'ms', goal: arch === 'amd64' ? '≤ 8 s under TCG, ≤ 2 s with KVM/HVF' : '≤ 2 s with HVF', samples: samples.ping });
  record({ ...common, warmups: 0, name: 'first boot on a fresh data disk → /_ping (no startup caches yet)', unit: 'ms', samples: first });
  record({ ...common, name: 'QEMU start → guest SSH answers', unit: 'ms', samples: samples.ssh });
  record({ ...common, name: 'guest uptime at init', unit: 'ms', samples: samples.init });
  record({ ...common, name: 'guest uptime at berthd start', unit: 'ms', samples: samples.berthd });
  record({ ...common, name: 'guest uptime at boot arguments applied', unit: 'ms', samples: samples.configured });
  record({ ...common, name: 'guest uptime at engine ready', unit: 'ms', samples: samples.ready });
  record({ ...common, name: 'guest memory in use when idle', unit: 'MiB', samples: samples.memory });
  record({ ...common, name: 'QEMU process RSS when idle', unit: 'MiB', samples: samples.rss });
} finally {
  await cleanup();
}
