// Bytes of the regular files under a directory (what `docker ps -s` reports as a container's size).
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await dirSize(full);
    else if (entry.isFile()) total += (await fs.lstat(full)).size;
  }
  return total;
}
