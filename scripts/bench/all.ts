// `npm run bench`: every benchmark in scripts/bench/ in one run, berthd against Debian's dockerd
// 20.10 (and BuildKit for builds), one table on stdout and the raw samples in a JSON file.
//
// The benchmarks themselves do the measuring (each alternates the engines per iteration and throws
// its warm-ups away) and hand their samples over as JSON lines (BENCH_JSON, see results.ts); this
// runner prepares once (packages, build, a registry of its own), runs them one after the other,
// and checks after each that it left nothing behind: no process, no file in its temp dir, no
// mount, no link, no firewall rule. A difference in `iptables-save` (filter, nat) or `ip -o link`
// between before and after the run fails it, loudly.
//
//   node --import tsx scripts/bench/all.ts [--runs N] [--vm-runs N] [--quick] [--only a,b]
//     [--skip a,b] [--json FILE] [--foreign-ok]
// Progress goes to stderr (and FILE's .log); stdout has only the table.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { minMedian, type ResultRow } from './results.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
// npm runs scripts from the root; a --json path the user typed is relative to where they were.
const invokedFrom = process.env.INIT_CWD ?? process.cwd();
process.chdir(ROOT);

// ---- options ----------------------------------------------------------------------------------

const USAGE = `Usage: npm run bench -- [options]
  --runs N        timed iterations per operation of the engine benchmarks (default 10)
  --vm-runs N     timed VM boots of vm-boot, and timed sessions of host (default 3)
  --quick         skip the benchmarks that boot the VM (host, vm-boot)
  --only a,b      run only these suites (pull, run, ports, build, dashboard, host, vm-boot)
  --skip a,b      leave these suites out
  --json FILE     where the results go (default bench-results/latest.json; .md and .log beside it)
  --foreign-ok    a link or firewall difference that names nothing of the benchmarks' own is a
                  warning, not a failure (for runs on a host where other work adds and removes
                  bridges meanwhile)`;

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'vm-runs': { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string' },
    json: { type: 'string', default: 'bench-results/latest.json' },
    'foreign-ok': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const runs = positiveInt(opts.runs!, '--runs');
const vmRuns = positiveInt(opts['vm-runs']!, '--vm-runs');

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} wants a whole number of at least 1, not "${value}"`);
  return n;
}

function fail(message: string): never {
  console.error(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

// ---- the suites --------------------------------------------------------------------------------

interface Suite {
  id: string;
  /** Boots the VM (skipped by --quick, and needs vm-image/dist/amd64). */
  vm: boolean;
  command: string[];
}

const tsx = (file: string, ...args: string[]) => [process.execPath, '--import', 'tsx', file, ...args];
const SUITES: Suite[] = [
  { id: 'pull', vm: false, command: ['bash', 'scripts/bench/pull.sh', String(runs)] },
  { id: 'run', vm: false, command: ['bash', 'scripts/bench/run.sh', String(runs)] },
  { id: 'ports', vm: false, command: ['bash', 'scripts/bench/ports.sh', '5000', '10', String(runs)] },
  { id: 'build', vm: false, command: ['bash', 'scripts/bench/build.sh', String(runs)] },
  { id: 'dashboard', vm: false, command: tsx('scripts/bench/dashboard.ts', String(runs)) },
  { id: 'host', vm: true, command: tsx('scripts/bench/host.ts', String(vmRuns)) },
  { id: 'vm-boot', vm: true, command: tsx('scripts/bench/vm-boot.ts', String(vmRuns)) },
];
const ids = (list: string | undefined) => list?.split(',').map((s) => s.trim()).filter(Boolean);
for (const id of [...(ids(opts.only) ?? []), ...(ids(opts.skip) ?? [])]) {
  if (!SUITES.some((s) => s.id === id)) fail(`no suite "${id}"`);
}
const only = ids(opts.only);
const skip = ids(opts.skip) ?? [];
const selected = SUITES.filter((s) => (!only || only.includes(s.id)) && !skip.includes(s.id) && !(opts.quick && s.vm));
if (!selected.length) fail('no suite left to run');

if (process.getuid?.() !== 0) fail('the benchmarks need root (engines, bridges, iptables, apt)');
if (selected.some((s) => s.vm) && !existsSync('vm-image/dist/amd64/manifest.json')) {
  fail('host and vm-boot need the guest image: run `npm run vm-image` first, or pass --quick');
}

const jsonPath = opts.json === 'bench-results/latest.json' ? path.join(ROOT, opts.json) : path.resolve(invokedFrom, opts.json!);
const base = jsonPath.replace(/\.json$/, '');
mkdirSync(path.dirname(jsonPath), { recursive: true });
const log = createWriteStream(`${base}.log`);
const say = (line: string) => {
  process.stderr.write(`${line}\n`);
  log.write(`${line}\n`);
};

// ---- the host's state: links and firewall ------------------------------------------------------

/** Everything the run must leave as it found it, one comparable line each, in order. */
function networkState(): string[] {
  const out = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.split('\n');
  };
  const lines: string[] = [];
  for (const table of ['filter', 'nat']) {
    for (const line of out('iptables-save', ['-t', table])) {
      if (!line || line.startsWith('#')) continue; // the comments carry a timestamp
      // Chain lines end in [packets:bytes] counters, which change with any traffic.
      lines.push(`iptables ${table}: ${line.replace(/ \[\d+:\d+\]$/, '')}`);
    }
  }
  // Links by name (and bridge), not by flags or state: a bridge of someone else's goes from
  // NO-CARRIER to LOWER_UP when a container joins it, which is no change of ours. Sorted, since
  // their order is only that of their indexes (unlike rules, whose order within a chain matters).
  const links: string[] = [];
  for (const line of out('ip', ['-o', 'link', 'show'])) {
    const m = /^\d+: ([^:@]+)(?:@\S+)?: .*?(?: master (\S+))?(?: state|$)/.exec(line);
    if (m) links.push(`link ${m[1]}${m[2] ? ` (in ${m[2]})` : ''}`);
  }
  lines.push(...links.sort());
  lines.push(`sysctl net.ipv4.ip_forward=${readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()}`);
  return lines;
}

/** The names the benchmarks give their own bridges and subnets (see lib.sh). */
const OURS = /berthbench|10\.20[01]\.0\./;

interface NetworkDiff {
  added: string[];
  removed: string[];
  reordered: boolean;
}

function compare(before: string[], after: string[]): NetworkDiff | undefined {
  if (before.join('\n') === after.join('\n')) return undefined;
  const added = after.filter((l) => !before.includes(l));
  const removed = before.filter((l) => !after.includes(l));
  return { added, removed, reordered: !added.length && !removed.length };
}

/** Engines tear links down asynchronously (a veth dies with its namespace): give them time. */
async function settledDiff(before: string[], seconds: number): Promise<NetworkDiff | undefined> {
  let diff = compare(before, networkState());
  for (let i = 0; diff && i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    diff = compare(before, networkState());
  }
  return diff;
}

function describe(diff: NetworkDiff): string[] {
  const mark = (l: string) => (OURS.test(l) ? '  (the benchmarks\' own)' : '');
  return [
    ...diff.added.map((l) => `  + ${l}${mark(l)}`),
    ...diff.removed.map((l) => `  - ${l}${mark(l)}`),
    ...(diff.reordered ? ['  (same lines, in another order)'] : []),
  ];
}

const foreignOnly = (diff: NetworkDiff) => !diff.reordered && ![...diff.added, ...diff.removed].some((l) => OURS.test(l));

// ---- what a suite may leave behind: processes, files, mounts -----------------------------------

/** Processes of the suite: in its process group, or naming its temp dir (dockerd, its containerd
 *  shims, which leave the group with setsid, berthd, QEMU). */
function leftoverProcesses(pgid: number, dir: string): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // a zombie holds nothing
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (Number(fields[2]) === pgid || args.includes(dir)) found.push({ pid, args });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

/** Checks that the suite left nothing, removes what it did leave, and says what that was. */
async function collectLeftovers(pgid: number, dir: string): Promise<string[]> {
  const found: string[] = [];
  let procs = leftoverProcesses(pgid, dir);
  if (procs.length) {
    found.push(...procs.map((p) => `process ${p.pid}: ${p.args.slice(0, 200)}`));
    for (const p of procs) process.kill(p.pid, 'SIGTERM');
    for (let i = 0; i < 100 && (procs = leftoverProcesses(pgid, dir)).length; i++) await new Promise((r) => setTimeout(r, 100));
    for (const p of procs) process.kill(p.pid, 'SIGKILL');
  }
  const mounts = mountsUnder(dir);
  if (mounts.length) {
    found.push(...mounts.map((m) => `mount ${m}`));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  }
  // tsx keeps its compile cache in TMPDIR (tsx-UID) on purpose: that is no leftover of a benchmark.
  const files = (existsSync(dir) ? readdirSync(dir) : []).filter((f) => !/^tsx-\d+$/.test(f));
  if (files.length) found.push(...files.map((f) => `file ${path.join(dir, f)}`));
  rmSync(dir, { recursive: true, force: true });
  return found;
}

// ---- the machine -------------------------------------------------------------------------------

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout || r.stderr).split('\n')[0]!.trim() : 'not found';
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
  const osRelease = /PRETTY_NAME="([^"]*)"/.exec(existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '')?.[1];
  const status = spawnSync('git', ['status', '--porcelain', '--', 'runtime-agent', 'electron', 'scripts', 'vm-image'], { encoding: 'utf8' }).stdout.trim();
  return {
    nproc: os.availableParallelism(),
    cpu: cpuName(cpuinfo),
    memoryGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    kernel: os.release(),
    os: osRelease ?? 'unknown',
    dockerd: firstLine('dockerd', ['--version']),
    runc: firstLine('runc', ['--version']),
    dockerCli: firstLine('/usr/local/bin/docker', ['--version']),
    buildkitCli: firstLine('/usr/bin/docker', ['--version']),
    node: process.version,
    qemu: firstLine('qemu-system-x86_64', ['--version']),
    chromium: firstLine('/usr/bin/chromium', ['--version']),
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
    uncommittedChanges: status ? status.split('\n').length : 0,
  };
}

/** The model name alone can be as vague as "AMD EPYC" in a VM: family, model and clock say more. */
function cpuName(cpuinfo: string): string {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1]?.trim();
  const mhz = Number(field('cpu MHz'));
  const details = [`family ${field('cpu family')} model ${field('model')}`, ...(mhz ? [`${(mhz / 1000).toFixed(1)} GHz`] : []), ...(/\bhypervisor\b/.test(field('flags') ?? '') ? ['virtual machine'] : [])];
  return `${field('model name') ?? 'unknown'} (${details.join(', ')})`;
}

const loadavg = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

// ---- running ----------------------------------------------------------------------------------

let current: ChildProcess | undefined;
let interrupted: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = signal;
    say(`bench: ${signal}: stopping the current benchmark (its own cleanup runs), then checking what is left`);
    stopChild(current);
  });
}

/** SIGTERM to the benchmark's own process first, so its cleanup can stop the engines in order;
 *  only if it has not gone after a minute, the rest of its process group. */
function stopChild(child: ChildProcess | undefined): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const pgid = child.pid;
  child.kill('SIGTERM');
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // the group is gone
    }
  };
  const t1 = setTimeout(() => group('SIGTERM'), 60_000);
  const t2 = setTimeout(() => group('SIGKILL'), 75_000);
  child.once('exit', () => {
    clearTimeout(t1);
    clearTimeout(t2);
  });
}

/** Runs a command in the foreground of the log (prefixed lines on stderr), without the table. */
function runLogged(prefix: string, command: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; pgid: number }> {
  return new Promise((resolve) => {
    // detached: a process group of its own, so that what it leaves running can be found.
    const child = spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    current = child;
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => say(`[${prefix}] ${line}`));
    const timer = setTimeout(() => {
      say(`bench: ${prefix} ran longer than ${timeoutMs / 60_000} min; stopping it`);
      stopChild(child);
    }, timeoutMs);
    child.on('error', (err) => say(`bench: ${prefix}: ${err.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      resolve({ code, signal, pgid: child.pid ?? -1 });
    });
  });
}

function capture(command: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(command[0]!, command.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.stderr) for (const line of r.stderr.trimEnd().split('\n')) say(`[prepare] ${line}`);
  if (r.status !== 0) throw new Error(`${command.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

interface SuiteResult {
  suite: string;
  command: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  rows: number;
  leftovers: string[];
  network: string[];
}

const startedAt = new Date();
const info = machine();
const loadBefore = loadavg();
// The 1-minute load average every 10 s: with two cores, whether other work shared the machine
// shows here (though it also counts the benchmarks' own engines and QEMU).
const loadDuring: number[] = [];
setInterval(() => loadDuring.push(loadavg()[0]!), 10_000).unref();
say(`bench: ${selected.map((s) => s.id).join(', ')}; --runs ${runs}, --vm-runs ${vmRuns}; ${info.nproc} cores, load ${loadBefore.join(' ')}`);

const before = networkState();
const runDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-run-'));
// A registry of the run's own: the shared fixture registries are stopped by any `npm test` that
// ends meanwhile, which would fail a pull half-way through.
const registryEnv = { ...process.env, BERTH_FIXTURE_STATE: path.join(runDir, 'registry') };
const suiteResults: SuiteResult[] = [];
const rows: ResultRow[] = [];
let prepareError: string | undefined;
const runLeftovers: string[] = [];
try {
  say('bench: preparing (packages, reference engine, build, registry)');
  const prepared = await runLogged('prepare', ['bash', '-c', 'set -euo pipefail; source scripts/bench/lib.sh; bench_prepare'], process.env, 30 * 60_000);
  if (prepared.code !== 0) throw new Error(`preparing failed (exit ${prepared.code ?? prepared.signal})`);
  const fixtureEnv: Record<string, string> = {};
  for (const line of capture(['bash', 'scripts/fixtures/start.sh'], registryEnv).split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) fixtureEnv[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  if (!fixtureEnv.BERTH_TEST_REGISTRY) throw new Error('the fixture registry did not start');

  for (const suite of selected) {
    if (interrupted) break;
    const tmp = path.join(runDir, suite.id);
    const jsonl = path.join(runDir, `${suite.id}.jsonl`);
    mkdirSync(tmp);
    writeFileSync(jsonl, '');
    const env = { ...process.env, ...fixtureEnv, BENCH_PREPARED: '1', BENCH_JSON: jsonl, TMPDIR: tmp };
    // Each suite is compared with the state just before it, to tell which one changed something.
    const suiteBefore = networkState();
    say(`bench: ${suite.id}: ${suite.command.join(' ').replace(process.execPath, 'node')}`);
    const begin = Date.now();
    const { code, signal, pgid } = await runLogged(suite.id, suite.command, env, 45 * 60_000);
    const durationMs = Date.now() - begin;
    const result: SuiteResult = { suite: suite.id, command: suite.command.join(' '), exitCode: code, signal, durationMs, rows: 0, leftovers: [], network: [] };
    suiteResults.push(result);
    result.leftovers = await collectLeftovers(pgid, tmp);
    for (const line of readFileSync(jsonl, 'utf8').split('\n').filter(Boolean)) {
      const row = parseRow(line);
      if (row) {
        rows.push(row);
        result.rows++;
      } else say(`bench: ${suite.id}: ignoring a result line that is not a row: ${line.slice(0, 200)}`);
    }
    const diff = await settledDiff(suiteBefore, 15);
    if (diff) result.network = describe(diff);
    say(`bench: ${suite.id}: ${code === 0 ? 'done' : `FAILED (exit ${code ?? signal})`} in ${(durationMs / 1000).toFixed(0)} s, ${result.rows} rows`);
    for (const l of result.leftovers) say(`bench: ${suite.id} LEFT BEHIND ${l} (removed)`);
    if (diff) say(`bench: ${suite.id}: links or firewall differ from before it ran (+ added, - gone):\n${result.network.join('\n')}`);
  }
} catch (err) {
  prepareError = err instanceof Error ? err.message : String(err);
  say(`bench: ${prepareError}`);
} finally {
  spawnSync('bash', ['scripts/fixtures/registry.sh', 'stop'], { env: registryEnv, stdio: 'ignore' });
  // Whatever still names the run's directory (the registries, should stopping them have failed) is ours.
  for (const p of leftoverProcesses(-1, runDir)) {
    runLeftovers.push(`process ${p.pid}: ${p.args.slice(0, 200)}`);
    say(`bench: LEFT BEHIND process ${p.pid}: ${p.args.slice(0, 200)} (killed)`);
    process.kill(p.pid, 'SIGKILL');
  }
  rmSync(runDir, { recursive: true, force: true });
}

// ---- after the run: the host as it was? ---------------------------------------------------------

const finalDiff = await settledDiff(before, 20);
const finalLines = finalDiff ? describe(finalDiff) : [];
const networkFails = !!finalDiff && !(opts['foreign-ok'] && foreignOnly(finalDiff));
if (finalDiff) {
  say(`bench: ${networkFails ? 'FAILED: ' : 'warning: '}links or firewall differ from before the run (+ added, - gone):`);
  for (const l of finalLines) say(l);
  if (!networkFails) say('bench: none of it names the benchmarks\' bridges or subnets (--foreign-ok): another process on this host, presumably');
}

// ---- the table ----------------------------------------------------------------------------------

function parseRow(line: string): ResultRow | undefined {
  try {
    const r = JSON.parse(line) as Partial<ResultRow>;
    const ok = typeof r.suite === 'string' && typeof r.name === 'string' && typeof r.engine === 'string' && Array.isArray(r.samples) && r.samples.every((n) => typeof n === 'number' && Number.isFinite(n));
    return ok ? { suite: r.suite!, name: r.name!, engine: r.engine!, unit: r.unit || 'ms', goal: r.goal ?? '', warmups: r.warmups ?? 0, samples: r.samples! } : undefined;
  } catch {
    return undefined;
  }
}

interface TableLine {
  suite: string;
  operation: string;
  unit: string;
  berthd: { min: number; median: number; n: number };
  reference?: string;
  other?: { min: number; median: number; n: number };
  ratioMedian?: number;
  ratioMin?: number;
  goal: string;
}

const REFERENCE_NAMES: Record<string, string> = { dockerd: 'dockerd', buildkit: 'BuildKit' };
const referenceName = (row: ResultRow) => (row.suite === 'build' && row.engine === 'dockerd' ? 'dockerd (classic)' : REFERENCE_NAMES[row.engine] ?? row.engine);
const stats = (samples: number[]) => ({ ...minMedian(samples), n: samples.length });

const table: TableLine[] = [];
for (const row of rows.filter((r) => r.engine === 'berthd' && r.samples.length)) {
  const berthd = stats(row.samples);
  const refs = rows.filter((r) => r.suite === row.suite && r.name === row.name && r.engine !== 'berthd' && r.samples.length);
  if (!refs.length) table.push({ suite: row.suite, operation: row.name, unit: row.unit, berthd, goal: row.goal });
  // BuildKit first: it is the one berthd's builds are to beat.
  for (const ref of refs.sort((a, b) => Number(b.engine === 'buildkit') - Number(a.engine === 'buildkit'))) {
    const other = stats(ref.samples);
    table.push({ suite: row.suite, operation: row.name, unit: row.unit, berthd, reference: referenceName(ref), other, ratioMedian: berthd.median / other.median, ratioMin: berthd.min / other.min, goal: ref.goal });
  }
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const pair = (s: { min: number; median: number }, unit: string) => `${num(s.min)} / ${num(s.median)} ${unit}`;
const markdown = [
  '| suite | operation | berthd min / median | n | vs | min / median | ratio (median) | ratio (min) | goal |',
  '|---|---|---|---|---|---|---|---|---|',
  ...table.map((t) => `| ${t.suite} | ${t.operation} | ${pair(t.berthd, t.unit)} | ${t.berthd.n} | ${t.reference ?? '—'} | ${t.other ? pair(t.other, t.unit) : ''} | ${t.ratioMedian !== undefined ? `${t.ratioMedian.toFixed(2)}×` : ''} | ${t.ratioMin !== undefined ? `${t.ratioMin.toFixed(2)}×` : ''} | ${t.goal} |`),
].join('\n');

const finishedAt = new Date();
const loadAfter = loadavg();
const load = { mean: loadDuring.length ? Math.round((loadDuring.reduce((a, b) => a + b, 0) / loadDuring.length) * 100) / 100 : loadAfter[0]!, max: Math.max(loadAfter[0]!, ...loadDuring) };
const failedSuites = suiteResults.filter((s) => s.exitCode !== 0).map((s) => s.suite);
const leftoverSuites = suiteResults.filter((s) => s.leftovers.length).map((s) => s.suite);
const notRun = selected.filter((s) => !suiteResults.some((r) => r.suite === s.id)).map((s) => s.id);
const machineLine = `${info.nproc} cores (${info.cpu}), ${info.memoryGiB} GiB RAM, Linux ${info.kernel}, ${info.os}; ${info.dockerd}, ${info.runc}; load average ${loadBefore[0]} before, ${load.mean} mean and ${load.max} max during the run`;
const ok = !prepareError && !interrupted && !failedSuites.length && !leftoverSuites.length && !runLeftovers.length && !networkFails && !notRun.length;

const result = {
  ok,
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  durationMs: finishedAt.getTime() - startedAt.getTime(),
  options: { runs, vmRuns, quick: opts.quick, suites: selected.map((s) => s.id), foreignOk: opts['foreign-ok'] },
  machine: { ...info, loadavgBefore: loadBefore, loadavgAfter: loadAfter, loadavgDuring: load },
  suites: suiteResults,
  cleanup: { network: finalLines, networkFails, leftoverSuites, runLeftovers },
  problems: [
    ...(prepareError ? [prepareError] : []),
    ...(interrupted ? [`interrupted by ${interrupted}`] : []),
    ...failedSuites.map((s) => `${s} failed`),
    ...notRun.map((s) => `${s} did not run`),
    ...leftoverSuites.map((s) => `${s} left things behind`),
    ...(runLeftovers.length ? ['the run\'s own registry was still running'] : []),
    ...(networkFails ? ['links or firewall differ from before the run'] : []),
  ],
  table,
  rows: rows.map((r) => ({ ...r, ...minMedian(r.samples) })),
};
writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(`${base}.md`, `Run ${startedAt.toISOString()}, ${(result.durationMs / 60_000).toFixed(1)} min, --runs ${runs} --vm-runs ${vmRuns}, commit ${info.commit}${info.uncommittedChanges ? ` + ${info.uncommittedChanges} uncommitted changes` : ''}\n\nMachine: ${machineLine}\n\n${markdown}\n`);

console.log(markdown);
console.log(`\n${machineLine}`);
say(`bench: ${(result.durationMs / 60_000).toFixed(1)} min (${suiteResults.map((s) => `${s.suite} ${(s.durationMs / 1000).toFixed(0)} s`).join(', ')})`);
say(`bench: results in ${path.relative(ROOT, jsonPath)} (table also in ${path.relative(ROOT, `${base}.md`)}, output in ${path.relative(ROOT, `${base}.log`)})`);
if (!ok) say(`bench: FAILED: ${result.problems.join('; ')}`);
await new Promise((r) => log.end(r));
process.exit(ok ? 0 : interrupted ? 130 : 1);
