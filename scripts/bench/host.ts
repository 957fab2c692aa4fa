// The host side, measured: cold `berth start` until `docker version` answers; the /_ping round
// trip through the forwarded socket against the same request made inside the guest (the added
// cost of the link); `docker cp` of 100 MB through the forward; the host agent's CPU and RSS while
// the VM idles. Uses a fresh BERTH_HOME; needs vm-image/dist (npm run vm-image).
//   node --import tsx scripts/bench/host.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = mkdtempSync(path.join(tmpdir(), 'berth-host-bench-'));
const env = { ...process.env, BERTH_HOME: path.join(root, 'berth'), DOCKER_CONFIG: path.join(root, 'docker'), BERTH_DEBUG_SHELL: '1' };
const berth = path.resolve(import.meta.dirname, '../../node_modules/.bin/berth');
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { env, encoding: 'utf8' });

try {
  for (const [k, v] of [['cpus', '2'], ['memoryMiB', '1024'], ['diskGiB', '8']]) sh(berth, ['settings', 'set', k!, v!]);
  const start = Date.now();
  sh(berth, ['start']);
  while (sh('docker', ['--context', 'berth', 'version']).status !== 0) await new Promise((r) => setTimeout(r, 100));
  console.log(`cold berth start until docker version answers: ${Date.now() - start} ms (TCG)`);

  const socket = path.join(env.BERTH_HOME, 'run/docker.sock');
  const ping = () => new Promise<number>((resolve) => {
    const t = process.hrtime.bigint();
    http.get({ socketPath: socket, path: '/_ping', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t) / 1e6));
    });
  });
  const forwarded: number[] = [];
  for (let i = 0; i < 50; i++) forwarded.push(await ping());
  forwarded.sort((a, b) => a - b);
  const inside = sh(berth, ['ssh', `node -e "const http=require('http');const t=[];let n=0;const go=()=>{const s=process.hrtime.bigint();http.get({socketPath:'/run/berth/docker.sock',path:'/_ping',agent:false},r=>{r.resume();r.on('end',()=>{t.push(Number(process.hrtime.bigint()-s)/1e6);if(++n<50)go();else{t.sort((a,b)=>a-b);console.log(t[25].toFixed(2))}})})};go()"`]).stdout.trim();
  const median = forwarded[25]!;
  console.log(`/_ping median: through the forward ${median.toFixed(2)} ms, inside the guest ${inside} ms: ${(median - Number(inside)).toFixed(2)} ms added by the link (new connection each time)`);

  const big = path.join(root, 'big.bin');
  writeFileSync(big, Buffer.alloc(100 * 1024 * 1024, 7));
  const archive = path.join(root, 'busybox.tar');
  sh('skopeo', ['copy', '-q', `oci:${process.env.BERTH_FIXTURE_CACHE ?? '/var/cache/berth-fixtures'}/busybox`, `docker-archive:${archive}:busybox:latest`]);
  sh('docker', ['--context', 'berth', 'load', '-i', archive]);
  sh('docker', ['--context', 'berth', 'create', '--name', 'sink', 'busybox', 'true']);
  const cp = Date.now();
  const copied = sh('docker', ['--context', 'berth', 'cp', big, 'sink:/big.bin']);
  console.log(`docker cp of 100 MB through the forward: ${Date.now() - cp} ms${copied.status ? ` (failed: ${copied.stderr})` : ''}`);

  const agentPid = Number(readFileSync(path.join(env.BERTH_HOME, 'run/agent.pid'), 'utf8'));
  const cpu = () => readFileSync(`/proc/${agentPid}/stat`, 'utf8').split(' ').slice(13, 15).reduce((a, b) => a + Number(b), 0);
  const before = cpu();
  await new Promise((r) => setTimeout(r, 10_000));
  const ticks = cpu() - before;
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agentPid}/status`, 'utf8'))?.[1];
  console.log(`host agent while the VM idles: ${ticks} CPU ticks in 10 s (${(ticks / 10).toFixed(1)}% of a core at 100 Hz), RSS ${Math.round(Number(rss) / 1024)} MB`);
} finally {
  sh(berth, ['stop']);
  execFileSync('rm', ['-rf', root]);
}
