// The guest's memory as the host should see it. QEMU gets back what the guest frees through the
// balloon's free page reporting (qemu-command.ts), but the kernel frees little on its own: what
// containers read stays in the page cache, which keeps host memory taken long after. So when the
// guest has been idle for a while, berthd drops the clean page cache, and those pages go back to
// the host too. Busy guests keep their cache: it is what makes the next build or pull fast.
import { readFile, writeFile } from 'node:fs/promises';

import { log } from '../util/log.js';

export interface GuestMemory {
  totalMiB: number;
  /** In use by processes and the kernel: MemTotal - MemAvailable, as `free` counts it. */
  usedMiB: number;
  /** Clean page cache the kernel could drop (file pages, not tmpfs/shmem). */
  cacheMiB: number;
}

const KIB_PER_MIB = 1024;

export function parseMeminfo(text: string): GuestMemory {
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  const total = field('MemTotal');
  return {
    totalMiB: Math.round(total / KIB_PER_MIB),
    usedMiB: Math.round((total - field('MemAvailable')) / KIB_PER_MIB),
    cacheMiB: Math.round(Math.max(0, field('Cached') - field('Shmem')) / KIB_PER_MIB),
  };
}

export async function readGuestMemory(): Promise<GuestMemory> {
  return parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
}

/** Total and idle jiffies of all CPUs, from /proc/stat's first line (idle counts iowait too). */
export function parseCpuTimes(stat: string): { total: number; idle: number } {
  const fields = (/^cpu\s+(.*)$/m.exec(stat)?.[1] ?? '').trim().split(/\s+/).map(Number);
  const [, , , idle = 0, iowait = 0] = fields;
  return { total: fields.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0), idle: idle + iowait };
}

export interface CacheTrimPolicy {
  /** The CPUs were at least this idle over the last interval (0..1). */
  minIdle: number;
  /** And there is at least this much cache to give back. */
  minCacheMiB: number;
}

export const DEFAULT_TRIM_POLICY: CacheTrimPolicy = { minIdle: 0.95, minCacheMiB: 64 };

export function shouldTrimCache(idleFraction: number, memory: GuestMemory, policy: CacheTrimPolicy = DEFAULT_TRIM_POLICY): boolean {
  return idleFraction >= policy.minIdle && memory.cacheMiB >= policy.minCacheMiB;
}

/**
 * Every `intervalMs`, drops the clean page cache when the guest was idle over the interval and
 * holds enough of it (`echo 1 > drop_caches`: file pages only; dirty ones are written first by the
 * kernel's own writeback, never lost). Returns a function that stops it.
 */
export function startIdleCacheTrim(intervalMs = 30_000, policy: CacheTrimPolicy = DEFAULT_TRIM_POLICY): () => void {
  let last: { total: number; idle: number } | undefined;
  const tick = async () => {
    try {
      const now = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
      const previous = last;
      last = now;
      if (!previous || now.total <= previous.total) return;
      const idleFraction = (now.idle - previous.idle) / (now.total - previous.total);
      const memory = await readGuestMemory();
      if (!shouldTrimCache(idleFraction, memory, policy)) return;
      await writeFile('/proc/sys/vm/drop_caches', '1');
      log.info('idle: page cache given back to the host', { cacheMiB: memory.cacheMiB });
    } catch (err) {
      log.warn('page cache trim failed', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
