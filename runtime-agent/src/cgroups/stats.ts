// Resource usage of a container's cgroup, as `docker stats` wants it, read from cgroup v1
// (this host: /sys/fs/cgroup/<controller>/berth/<id>) or v2 (the VM: /sys/fs/cgroup/berth/<id>).
import { existsSync, promises as fs } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const UNIFIED = existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'));
const CLOCK_TICKS = 100;

async function read(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

function num(value: string | undefined): number | undefined {
  if (value === undefined || value === 'max') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function keyValues(text: string | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.split(/\s+/);
    if (key && value !== undefined && !Number.isNaN(Number(value))) result[key] = Number(value);
  }
  return result;
}

/** Total CPU time of the machine in nanoseconds (`system_cpu_usage`), from /proc/stat. */
async function systemCpuUsage(): Promise<number> {
  const line = (await read('/proc/stat'))?.split('\n').find((l) => l.startsWith('cpu ')) ?? '';
  const jiffies = line.split(/\s+/).slice(1, 8).reduce((sum, v) => sum + Number(v || 0), 0);
  return (jiffies * 1e9) / CLOCK_TICKS;
}

export interface CgroupSample {
  read: string;
  cpu_stats: Record<string, unknown>;
  memory_stats: Record<string, unknown>;
  pids_stats: Record<string, unknown>;
  blkio_stats: Record<string, unknown>;
}

export async function sampleCgroup(cgroupPath: string): Promise<CgroupSample> {
  const rel = cgroupPath.replace(/^\//, '');
  const online = cpus().length;
  const system = await systemCpuUsage();
  if (UNIFIED) {
    const dir = path.join(CGROUP_ROOT, rel);
    const cpu = keyValues(await read(path.join(dir, 'cpu.stat')));
    const memStat = keyValues(await read(path.join(dir, 'memory.stat')));
    return {
      read: new Date().toISOString(),
      cpu_stats: {
        cpu_usage: { total_usage: (cpu.usage_usec ?? 0) * 1000, usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000, usage_in_usermode: (cpu.user_usec ?? 0) * 1000 },
        system_cpu_usage: system,
        online_cpus: online,
        throttling_data: { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 },
      },
      memory_stats: { usage: num(await read(path.join(dir, 'memory.current'))) ?? 0, stats: memStat, limit: num(await read(path.join(dir, 'memory.max'))) ?? hostMemory() },
      pids_stats: { current: num(await read(path.join(dir, 'pids.current'))) ?? 0, limit: num(await read(path.join(dir, 'pids.max'))) ?? 0 },
      blkio_stats: blkioFromIoStat(await read(path.join(dir, 'io.stat'))),
    };
  }
  const v1 = (controller: string, file: string) => read(path.join(CGROUP_ROOT, controller, rel, file));
  const acct = keyValues(await v1('cpuacct', 'cpuacct.stat'));
  const throttle = keyValues(await v1('cpu', 'cpu.stat'));
  const memStat = keyValues(await v1('memory', 'memory.stat'));
  const limit = num(await v1('memory', 'memory.limit_in_bytes'));
  return {
    read: new Date().toISOString(),
    cpu_stats: {
      cpu_usage: {
        total_usage: num(await v1('cpuacct', 'cpuacct.usage')) ?? 0,
        usage_in_kernelmode: ((acct.system ?? 0) * 1e9) / CLOCK_TICKS,
        usage_in_usermode: ((acct.user ?? 0) * 1e9) / CLOCK_TICKS,
      },
      system_cpu_usage: system,
      online_cpus: online,
      throttling_data: { periods: throttle.nr_periods ?? 0, throttled_periods: throttle.nr_throttled ?? 0, throttled_time: throttle.throttled_time ?? 0 },
    },
    memory_stats: {
      usage: num(await v1('memory', 'memory.usage_in_bytes')) ?? 0,
      max_usage: num(await v1('memory', 'memory.max_usage_in_bytes')) ?? 0,
      stats: memStat,
      // v1 reports "no limit" as a huge number: show the machine's memory, as dockerd does.
      limit: limit !== undefined && limit < hostMemory() ? limit : hostMemory(),
    },
    pids_stats: { current: num(await v1('pids', 'pids.current')) ?? 0, limit: num(await v1('pids', 'pids.max')) ?? 0 },
    blkio_stats: await blkioV1((file) => v1('blkio', file)),
  };
}

/** One line of Docker's blkio lists: a device, an operation, a count. */
interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** The lists dockerd fills; those this kernel does not keep are null, as in dockerd's answer. */
function blkioStats(serviceBytes: BlkioEntry[] | null, serviced: BlkioEntry[] | null): Record<string, BlkioEntry[] | null> {
  return {
    io_service_bytes_recursive: serviceBytes,
    io_serviced_recursive: serviced,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

/** cgroup v2's io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") as dockerd reports it: ops read and write. */
export function blkioFromIoStat(text: string | undefined): Record<string, BlkioEntry[] | null> {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [device, ...fields] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!m) continue;
    const values = Object.fromEntries(fields.map((f) => f.split('=')).map(([k, v]) => [k, Number(v)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...at, op: 'read', value: values.rbytes ?? 0 }, { ...at, op: 'write', value: values.wbytes ?? 0 });
    ios.push({ ...at, op: 'read', value: values.rios ?? 0 }, { ...at, op: 'write', value: values.wios ?? 0 });
  }
  return blkioStats(bytes, ios);
}

/** cgroup v1's "8:0 Read 4096" lines (the device-less "Total" line left out). */
export function blkioFromV1(text: string | undefined): BlkioEntry[] {
  const entries: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) entries.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return entries;
}

/** v1 keeps the proportional-weight files only with the CFQ/BFQ schedulers; the throttle ones always. */
async function blkioV1(read: (file: string) => Promise<string | undefined>): Promise<Record<string, BlkioEntry[] | null>> {
  const pick = async (name: string) => {
    const weighted = blkioFromV1(await read(`blkio.${name}`));
    return weighted.length ? weighted : blkioFromV1(await read(`blkio.throttle.${name}`));
  };
  return blkioStats(await pick('io_service_bytes_recursive'), await pick('io_serviced_recursive'));
}

function hostMemory(): number {
  return totalmem();
}

/** How many times the kernel's OOM killer acted in the cgroup (for State.OOMKilled). */
export async function oomKills(cgroupPath: string): Promise<number> {
  const rel = cgroupPath.replace(/^\//, '');
  const text = UNIFIED ? await read(path.join(CGROUP_ROOT, rel, 'memory.events')) : await read(path.join(CGROUP_ROOT, 'memory', rel, 'memory.oom_control'));
  return keyValues(text).oom_kill ?? 0;
}
