// The host side, measured: cold `berth start` until `docker version` answers; the /_ping round
// trip through the forwarded socket against the same request made inside the guest (the added
// cost of the link); `docker cp` of 100 MB through the forward; the host agent's CPU and RSS while
// the VM idles; what the VM holds of this computer: QEMU's RSS idle and 30 s after a container
// that filled 600 MB exited, and the data disk file after a 100 MB image was made and removed. Each session gets a fresh BERTH_HOME; one untimed start and stop goes first (so
// the first timed boot does not also pay for reading the guest image from disk), and each
// session's first pings are not counted. Needs vm-image/dist/amd64 (npm run vm-image).
//   node --import tsx scripts/bench/host.ts [sessions]      (default 1)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { cleanupOnSignal, minMedian, record } from './results.js';

const sessions = Number(process.argv[2] ?? 1);
const WARMUP_PINGS = 5;
const PINGS = 50;
const root = mkdtempSync(path.join(tmpdir(), 'berth-host-bench-'));
const berth = path.resolve(import.meta.dirname, '../../node_modules/.bin/berth');
let env: NodeJS.ProcessEnv = process.env;
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { env, encoding: 'utf8' });
const docker = (...args: string[]) => sh('docker', ['--context', 'berth', ...args]);

const cleanup = cleanupOnSignal(() => {
  if (env.BERTH_HOME) sh(berth, ['stop']);
  rmSync(root, { recursive: true, force: true });
});

const ping = (socket: string) => new Promise<number>((resolve, reject) => {
  const t = process.hrtime.bigint();
  http.get({ socketPath: socket, path: '/_ping', agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve(Number(process.hrtime.bigint() - t) / 1e6));
  }).on('error', reject);
});

// The same round trip made by Node inside the guest, against the engine's own socket; prints the
// timed samples as a JSON array.
const insideGuest = `node -e "const http=require('http');const t=[];let n=0;const go=()=>{const s=process.hrtime.bigint();http.get({socketPath:'/run/berth/docker.sock',path:'/_ping',agent:false},r=>{r.resume();r.on('end',()=>{if(++n>${WARMUP_PINGS})t.push(Number(process.hrtime.bigint()-s)/1e6);if(n<${WARMUP_PINGS + PINGS})go();else console.log(JSON.stringify(t))})})};go()"`;

const coldStart: number[] = [];
const forwarded: number[] = [];
const inside: number[] = [];
const copies: number[] = [];
const cpuPercent: number[] = [];
const rssMiB: number[] = [];
const vmIdleMiB: number[] = [];
const vmAfterFillMiB: number[] = [];
const diskBeforeMiB: number[] = [];
const diskAfterMiB: number[] = [];
try {
  const big = path.join(root, 'big.bin');
  writeFileSync(big, Buffer.alloc(100 * 1024 * 1024, 7));
  const archive = path.join(root, 'busybox.tar');
  spawnSync('skopeo', ['copy', '-q', `oci:${process.env.BERTH_FIXTURE_CACHE ?? '/var/cache/berth-fixtures'}/busybox`, `docker-archive:${archive}:busybox:latest`]);

  for (let session = 0; session <= sessions; session++) {
    const warmup = session === 0;
    const home = path.join(root, `s${session}`);
    mkdirSync(path.join(home, 'docker'), { recursive: true });
    env = { ...process.env, BERTH_HOME: path.join(home, 'berth'), DOCKER_CONFIG: path.join(home, 'docker'), BERTH_DEBUG_SHELL: '1' };
    for (const [k, v] of [['cpus', '2'], ['memoryMiB', '1024'], ['diskGiB', '8']]) sh(berth, ['settings', 'set', k!, v!]);
    const start = Date.now();
    const started = sh(berth, ['start']);
    if (started.status !== 0) throw new Error(`berth start failed:\n${started.stdout}${started.stderr}`);
    while (docker('version').status !== 0) await new Promise((r) => setTimeout(r, 100));
    const startMs = Date.now() - start;
    console.log(`${warmup ? 'warm-up (not counted): ' : `session ${session}: `}cold berth start until docker version answers: ${startMs} ms (TCG)`);
    if (warmup) {
      sh(berth, ['stop']);
      continue;
    }
    coldStart.push(startMs);

    const socket = path.join(env.BERTH_HOME!, 'run/docker.sock');
    const here: number[] = [];
    for (let i = 0; i < WARMUP_PINGS + PINGS; i++) {
      const ms = await ping(socket);
      if (i >= WARMUP_PINGS) here.push(ms);
    }
    const there = JSON.parse(sh(berth, ['ssh', insideGuest]).stdout.trim()) as number[];
    forwarded.push(...here);
    inside.push(...there);
    const link = minMedian(here).median - minMedian(there).median;
    console.log(`  /_ping median: through the forward ${minMedian(here).median.toFixed(2)} ms, inside the guest ${minMedian(there).median.toFixed(2)} ms: ${link.toFixed(2)} ms added by the link (new connection each time)`);

    docker('load', '-i', archive);
    docker('create', '--name', 'sink', 'busybox', 'true');
    const cp = Date.now();
    const copied = docker('cp', big, 'sink:/big.bin');
    if (copied.status) throw new Error(`docker cp failed: ${copied.stderr}`);
    copies.push(Date.now() - cp);
    console.log(`  docker cp of 100 MB through the forward: ${copies.at(-1)} ms`);

    const agentPid = Number(readFileSync(path.join(env.BERTH_HOME!, 'run/agent.pid'), 'utf8'));
    const cpu = () => readFileSync(`/proc/${agentPid}/stat`, 'utf8').split(' ').slice(13, 15).reduce((a, b) => a + Number(b), 0);
    const before = cpu();
    await new Promise((r) => setTimeout(r, 10_000));
    const ticks = cpu() - before;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agentPid}/status`, 'utf8'))?.[1]);
    cpuPercent.push(ticks / 10); // 100 ticks a second: ticks in 10 s / 10 = percent of a core
    rssMiB.push(Math.round(rss / 1024));
    console.log(`  host agent while the VM idles: ${ticks} CPU ticks in 10 s (${(ticks / 10).toFixed(1)}% of a core at 100 Hz), RSS ${Math.round(rss / 1024)} MB`);

    const vm = () => JSON.parse(sh(berth, ['status', '--json']).stdout) as { vmResidentMiB: number; dataDisk: { fileBytes: number } };
    const idleMiB = vm().vmResidentMiB;
    docker('run', '--rm', '--shm-size', '700m', 'busybox', 'sh', '-c', 'head -c 629145600 /dev/zero > /dev/shm/fill');
    const peakMiB = vm().vmResidentMiB;
    await new Promise((r) => setTimeout(r, 30_000));
    const afterMiB = vm().vmResidentMiB;
    vmIdleMiB.push(idleMiB);
    vmAfterFillMiB.push(afterMiB);
    console.log(`  QEMU's RSS: ${idleMiB} MiB idle, ${peakMiB} MiB when a container that filled 600 MB exited, ${afterMiB} MiB 30 s later`);

    const diskMiB = () => Math.round(vm().dataDisk.fileBytes / 1024 ** 2);
    const diskBefore = diskMiB();
    docker('run', '--name', 'big', 'busybox', 'sh', '-c', 'head -c 104857600 /dev/urandom > /big');
    docker('commit', 'big', 'big:1');
    docker('rm', 'big');
    const diskWith = diskMiB();
    docker('rmi', 'big:1');
    await new Promise((r) => setTimeout(r, 10_000));
    const diskAfter = diskMiB();
    diskBeforeMiB.push(diskBefore);
    diskAfterMiB.push(diskAfter);
    console.log(`  data disk file: ${diskBefore} MiB before, ${diskWith} MiB with a 100 MB image, ${diskAfter} MiB 10 s after rmi`);
    sh(berth, ['stop']);
  }

  const common = { suite: 'host', engine: 'berthd', warmups: 0 };
  record({ ...common, name: 'cold berth start → docker version answers', unit: 'ms', goal: '≤ 2 s with KVM/HVF (TCG here)', warmups: 1, samples: coldStart });
  record({ ...common, name: '/_ping through the forwarded socket', unit: 'ms', goal: '', warmups: WARMUP_PINGS, samples: forwarded });
  record({ ...common, name: '/_ping inside the guest', unit: 'ms', goal: '', warmups: WARMUP_PINGS, samples: inside });
  record({ ...common, name: 'docker cp 100 MB through the forward', unit: 'ms', goal: '', samples: copies });
  record({ ...common, name: 'host agent CPU while the VM idles', unit: '% of a core', goal: '', samples: cpuPercent });
  record({ ...common, name: 'host agent RSS while the VM idles', unit: 'MiB', goal: '', samples: rssMiB });
  record({ ...common, name: 'QEMU RSS while the VM idles (1 GiB guest)', unit: 'MiB', goal: '', samples: vmIdleMiB });
  record({ ...common, name: 'QEMU RSS 30 s after a 600 MB container exited', unit: 'MiB', goal: '≤ idle + 150 MiB', samples: vmAfterFillMiB });
  record({ ...common, name: 'data disk file before a 100 MB image', unit: 'MiB', goal: '', samples: diskBeforeMiB });
  record({ ...common, name: 'data disk file 10 s after the 100 MB image was removed', unit: 'MiB', goal: '≤ before + 20 MiB', samples: diskAfterMiB });
} finally {
  await cleanup();
}
