// Boot time and idle memory of the Berth guest under QEMU: from QEMU's start to /_ping answering
// through the forwarded engine socket, split by the guest's own milestones (kernel, init, Node,
// engine), and the guest's memory in use once idle. Runs as many boots as asked (default 3).
//   node --import tsx scripts/bench/vm-boot.ts [boots]
import { spawn } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import ssh2 from 'ssh2';

import { serveEngineSocket } from '../../electron/src/node/host/forwarding.js';
import { GuestLink } from '../../electron/src/node/vm/guest-link.js';
import { defaultAccel, qemuCommand } from '../../electron/src/node/vm/qemu-command.js';

const boots = Number(process.argv[2] ?? 3);
const imageDir = path.resolve(import.meta.dirname, '../../vm-image/dist');
const dir = mkdtempSync(path.join(tmpdir(), 'berth-vm-bench-'));
const keys = ssh2.utils.generateKeyPairSync('ed25519');
const accel = defaultAccel() === 'kvm' ? 'tcg' : defaultAccel(); // /dev/kvm here is not usable (vm-on-this-machine.md)

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
    client.connect({ host: '127.0.0.1', port, username: 'berth', privateKey: keys.private });
  });
}

await fs.writeFile(path.join(dir, 'placeholder'), '');
for (let i = 1; i <= boots; i++) {
  const dataDisk = path.join(dir, `data${i}.qcow2`);
  await new Promise((r) => spawn('qemu-img', ['create', '-q', '-f', 'qcow2', dataDisk, '8G']).on('exit', r));
  const settings = { cpus: 2, memoryMiB: 1024, imageDir, dataDisk, sshPort: await freePort(), authorizedKey: keys.public, consoleLog: path.join(dir, `console${i}.log`), debugShell: true };
  const { binary, args } = qemuCommand(settings, accel);
  const start = Date.now();
  const qemu = spawn(binary, args, { stdio: 'ignore' });
  const link = await GuestLink.connect({ port: settings.sshPort, privateKey: keys.private, timeoutMs: 120_000 });
  const sshMs = Date.now() - start;
  const socket = path.join(dir, `docker${i}.sock`);
  const forward = await serveEngineSocket(socket, '/run/berth/docker.sock', () => link);
  while (!(await ping(socket))) await new Promise((r) => setTimeout(r, 50));
  const pingMs = Date.now() - start;
  const log = await fs.readFile(settings.consoleLog, 'utf8');
  const milestone = (re: RegExp) => re.exec(log)?.[1] ?? '?';
  const initAt = milestone(/berth: init started at ([\d.]+)s/);
  const berthdAt = milestone(/berth: starting berthd at ([\d.]+)s/);
  const readyAt = milestone(/berthd is ready.*uptime="([\d.]+)"/);
  await new Promise((r) => setTimeout(r, 3000));
  const memory = await guestExec(settings.sshPort, 'free -m | awk \'/Mem:/ {print $3}\'');
  console.log(`boot ${i} (${accel}): /_ping through the forward at ${pingMs} ms (SSH at ${sshMs} ms); guest uptime: init ${initAt}s, berthd started ${berthdAt}s, engine ready ${readyAt}s; memory in use when idle ${memory.trim()} MiB`);
  await link.control('shutdown');
  await new Promise((r) => qemu.once('exit', r));
  forward.close();
  link.close();
}
await fs.rm(dir, { recursive: true, force: true });
