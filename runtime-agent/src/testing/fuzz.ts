// What the property-based fuzz tests beside the code share (test-only; nothing in the engine
// imports it): run counts and replay, a fingerprint of a directory an escape must not change, and
// the shape of a generated archive entry.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type fc from 'fast-check';
import tarStream from 'tar-stream';

/** Bounded runs by default; BERTH_FUZZ_RUNS=N runs every property N times, BERTH_FUZZ_SEED=S replays. */
export function fuzzOptions(defaultRuns: number): fc.Parameters<unknown> {
  const runs = Number(process.env.BERTH_FUZZ_RUNS);
  const seed = Number(process.env.BERTH_FUZZ_SEED);
  return { numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns, includeErrorInReport: true, ...(Number.isInteger(seed) ? { seed } : {}) };
}

/** Everything about a directory tree that an escape could change: names, modes, links, owners, contents. */
export async function fingerprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of (await fs.readdir(d)).sort()) {
      const p = path.join(d, name);
      const st = await fs.lstat(p);
      const content = st.isFile() ? createHash('sha256').update(await fs.readFile(p)).digest('hex') : '';
      out.push(`${path.relative(dir, p)} mode=${st.mode.toString(8)} nlink=${st.nlink} uid=${st.uid} size=${st.size} ${content}`);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out;
}

/** A generated tar entry. */
export interface FuzzEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  linkname: string;
  mode: number;
}

/** The tar header of a generated entry; `rename` turns placeholder names into real paths. */
export function entryHeader(entry: FuzzEntry, rename: (text: string) => string, size: number): Partial<tarStream.Header> & { name: string } {
  return {
    name: rename(entry.name) || '.',
    type: entry.type,
    mode: entry.mode,
    uid: 0,
    gid: 0,
    size,
    mtime: new Date(1_700_000_000_000),
    ...(entry.type === 'symlink' || entry.type === 'link' ? { linkname: rename(entry.linkname) } : {}),
    ...(entry.type === 'character-device' ? { devmajor: 1, devminor: 3 } : {}),
  };
}

/** A whole tar in memory, written by tar-stream (pax headers where a name or a record needs one). */
export async function packTar(members: { header: Partial<tarStream.Header> & { name: string }; content?: Buffer }[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { header, content } of members) pack.entry(header, content ?? Buffer.alloc(0));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
