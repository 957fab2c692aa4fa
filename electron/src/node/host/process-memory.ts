// How much of this computer's memory a process holds (its resident set): for the VM, the QEMU
// process, which is what a user sees in Activity Monitor or top, and what the balloon gives back.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The process's resident memory in MiB, or undefined where it cannot be read (gone, Windows). */
export async function residentMiB(pid: number): Promise<number | undefined> {
  try {
    if (process.platform === 'linux') {
      const kib = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      return kib === undefined ? undefined : Math.round(Number(kib) / 1024);
    }
    if (process.platform === 'win32') return undefined;
    // macOS and the BSDs: ps reports the resident size in KiB.
    const { stdout } = await run('ps', ['-o', 'rss=', '-p', String(pid)]);
    const kib = Number(stdout.trim());
    return Number.isFinite(kib) && kib > 0 ? Math.round(kib / 1024) : undefined;
  } catch {
    return undefined;
  }
}
