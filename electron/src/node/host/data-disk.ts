// The VM's data disk (qcow2) as this computer sees it. It grows as images and volumes arrive and
// shrinks again when they go: the guest mounts it with discard, QEMU punches the freed clusters out
// of the file (discard=unmap). What discard cannot reach (a qcow2 left fragmented, clusters freed
// while discard was off) `berth disk compact` gets back by rewriting the file with the VM stopped.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';

export interface DataDiskUsage {
  /** What the file really takes on this computer's disk (allocated blocks, not its apparent size). */
  fileBytes: number;
  /** The most the guest can fill: the setting diskGiB. */
  limitBytes: number;
}

/** Allocated bytes of a file: its blocks, or its apparent size on Windows, which reports none. */
export async function allocatedBytes(file: string): Promise<number> {
  const stat = await fs.stat(file);
  return process.platform === 'win32' ? stat.size : stat.blocks * 512;
}

export async function dataDiskUsage(file: string, limitGiB: number): Promise<DataDiskUsage | undefined> {
  const fileBytes = await allocatedBytes(file).catch(() => undefined);
  return fileBytes === undefined ? undefined : { fileBytes, limitBytes: limitGiB * 1024 ** 3 };
}

function qemuImg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-img', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`qemu-img ${args[0]}: ${stderr.trim() || `exit ${code}`}`))));
  });
}

/** Creates the data disk on the first start: a qcow2 that can grow to `sizeGiB` and takes almost nothing until then. */
export async function createDataDisk(file: string, sizeGiB: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', file, `${sizeGiB}G`]);
}

/**
 * Rewrites the qcow2 with only the clusters in use (`qemu-img convert`, which also skips zeroed
 * ones), checks the copy, then puts it in place of the original. Interrupted at any point, the
 * original is still there, whole: the copy is a separate file until the final rename.
 */
export async function compactDataDisk(file: string): Promise<{ before: number; after: number }> {
  const before = await allocatedBytes(file);
  const copy = `${file}.compact`;
  await fs.rm(copy, { force: true });
  try {
    await qemuImg(['check', '-q', file]);
    await qemuImg(['convert', '-O', 'qcow2', file, copy]);
    await qemuImg(['check', '-q', copy]);
    await fs.rename(copy, file);
  } finally {
    await fs.rm(copy, { force: true });
  }
  return { before, after: await allocatedBytes(file) };
}
