// CPU, memory and disk of the machine berthd runs on (the VM's guest, or a Linux host), for the
// desktop app's dashboard. CPU use is measured between two calls, so the first one reports the
// average since boot; no timer samples in the background.
import { promises as fs } from 'node:fs';
import os from 'node:os';

export interface MachineUsage {
  cpus: number;
  cpuPercent: number;
  memoryTotal: number;
  memoryUsed: number;
  diskTotal: number;
  diskUsed: number;
}

let previous: { busy: number; total: number } | undefined;

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

export async function machineUsage(dataRoot: string): Promise<MachineUsage> {
  const now = cpuTimes();
  const since = previous ?? { busy: 0, total: 0 };
  previous = now;
  const elapsed = now.total - since.total;
  const disk = await fs.statfs(dataRoot);
  return {
    cpus: os.cpus().length,
    cpuPercent: elapsed > 0 ? Math.round(((now.busy - since.busy) / elapsed) * 1000) / 10 : 0,
    memoryTotal: os.totalmem(),
    // os.freemem() is MemAvailable on Linux: page cache the kernel can drop counts as free.
    memoryUsed: os.totalmem() - os.freemem(),
    diskTotal: disk.blocks * disk.bsize,
    diskUsed: (disk.blocks - disk.bfree) * disk.bsize,
  };
}
