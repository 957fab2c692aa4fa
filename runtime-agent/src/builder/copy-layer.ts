// COPY and ADD: the files a step copies, resolved from the build context (or another stage's or
// image's filesystem), checksummed for the cache, and written as a layer tar with dockerd's rules:
// a directory source copies its content, a trailing `/` or several sources make the destination
// a directory, --chown/--chmod apply to everything copied, and ADD unpacks a local tar archive.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import tarStream from 'tar-stream';

import { decompress, detectFileCompression } from '../util/compression.js';
import { DockerfileError } from './dockerfile.js';

/**
 * Files up to this size are read with one synchronous call. A context is mostly small files, and
 * an asynchronous read costs several round trips through libuv's pool per file (open, read, read,
 * close): ~250 µs, against ~30 µs. Runs of them give the event loop a turn now and then.
 */
const SMALL_FILE = 256 * 1024;
const TURN_MS = 20;

/** Yields to the event loop when `since` is more than TURN_MS ago; returns the new mark. */
async function takeTurn(since: number): Promise<number> {
  if (Date.now() - since < TURN_MS) return since;
  await new Promise((resolve) => setImmediate(resolve));
  return Date.now();
}

export interface CopySource {
  /** Absolute path on this machine (inside the context or a mounted image). */
  absolute: string;
  /** Path relative to the source root, for messages and the checksum. */
  relative: string;
  stat: Stats;
}

export interface CopyPlan {
  sources: CopySource[];
  /** Destination inside the image, absolute. */
  destination: string;
  /** The destination is a directory (trailing slash, several sources, or a glob). */
  intoDirectory: boolean;
  owner?: { uid: number; gid: number };
  mode?: number;
  /** ADD: local tar archives are unpacked into the destination. */
  extractArchives: boolean;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves the source arguments of one COPY/ADD against a root (context or image filesystem).
 * Globs use the Dockerfile's rules; a path that leaves the root or matches nothing is an error.
 */
export async function resolveSources(root: string, patterns: string[], line: number, keyword: string, ignored: (relative: string) => boolean): Promise<CopySource[]> {
  const { minimatch } = await import('minimatch');
  const sources: CopySource[] = [];
  for (const pattern of patterns) {
    const cleaned = path.posix.normalize('/' + pattern).slice(1) || '.';
    const absolute = path.join(root, cleaned);
    if (!isInside(root, absolute) || pattern.split('/').includes('..') && !isInside(root, path.resolve(root, pattern))) {
      throw new DockerfileError(line, `${keyword} failed: forbidden path outside the build context: ${pattern} ()`);
    }
    if (/[*?[]/.test(cleaned)) {
      const matches: CopySource[] = [];
      const base = cleaned.split('/').findIndex((part) => /[*?[]/.test(part));
      const fixed = cleaned.split('/').slice(0, base).join('/');
      for (const relative of await walk(path.join(root, fixed), fixed)) {
        if (!minimatch(relative, cleaned, { dot: true }) || ignored(relative)) continue;
        matches.push({ absolute: path.join(root, relative), relative, stat: await fs.lstat(path.join(root, relative)) });
      }
      // A glob that matches nothing is an error, as in dockerd.
      if (matches.length === 0) throw new DockerfileError(line, `${keyword} failed: no source files were specified`);
      sources.push(...matches);
      continue;
    }
    const stat = await fs.lstat(absolute).catch(() => undefined);
    if (!stat || (cleaned !== '.' && ignored(cleaned))) throw new DockerfileError(line, `${keyword} failed: file not found in build context or excluded by .dockerignore: stat ${cleaned}: file does not exist`);
    // A symlink given by name is followed, but only to somewhere inside the root.
    if (stat.isSymbolicLink()) {
      const target = await fs.realpath(absolute).catch(() => undefined);
      if (!target || !isInside(await fs.realpath(root), target)) throw new DockerfileError(line, `${keyword} failed: forbidden path outside the build context: ${pattern} ()`);
      sources.push({ absolute: target, relative: cleaned, stat: await fs.stat(target) });
      continue;
    }
    sources.push({ absolute, relative: cleaned, stat });
  }
  return sources;
}

/** Every path below `dir`, relative to the root (`prefix` is dir's own relative path). */
async function walk(dir: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const relative = prefix && prefix !== '.' ? `${prefix}/${entry.name}` : entry.name;
    out.push(relative);
    if (entry.isDirectory()) out.push(...(await walk(path.join(dir, entry.name), relative)));
  }
  return out;
}

interface Entry {
  /** Path in the layer, relative (no leading slash). */
  name: string;
  source?: CopySource;
  stat: Stats;
  linkTarget?: string;
}

/** The files of a plan as layer entries, in the order they go into the tar. */
async function entries(plan: CopyPlan, ignored: (relative: string) => boolean): Promise<Entry[]> {
  const out: Entry[] = [];
  const dest = plan.destination.replace(/^\/+/, '');
  const add = async (absolute: string, relative: string, name: string) => {
    const stat = await fs.lstat(absolute);
    out.push({ name, stat, ...(stat.isSymbolicLink() ? { linkTarget: await fs.readlink(absolute) } : {}), source: { absolute, relative, stat } });
    if (stat.isDirectory()) {
      for (const child of (await fs.readdir(absolute)).sort()) {
        const childRelative = relative === '.' ? child : `${relative}/${child}`;
        if (ignored(childRelative)) continue;
        await add(path.join(absolute, child), childRelative, `${name}/${child}`);
      }
    }
  };
  for (const source of plan.sources) {
    if (source.stat.isDirectory()) {
      // A directory source copies its content, not the directory itself.
      for (const child of (await fs.readdir(source.absolute)).sort()) {
        const childRelative = source.relative === '.' ? child : `${source.relative}/${child}`;
        if (ignored(childRelative)) continue;
        await add(path.join(source.absolute, child), childRelative, path.posix.join(dest, child));
      }
      continue;
    }
    const name = plan.intoDirectory ? path.posix.join(dest, path.posix.basename(source.relative)) : dest;
    out.push({ name, stat: source.stat, source, ...(source.stat.isSymbolicLink() ? { linkTarget: await fs.readlink(source.absolute) } : {}) });
  }
  return out;
}

/** A file's sha256 (hex), known already: BuildKit's receiver hashes the context as it writes it. */
export type KnownDigests = ReadonlyMap<string, string>;

async function fileDigest(file: string, size: number): Promise<string> {
  if (size <= SMALL_FILE) return createHash('sha256').update(readFileSync(file)).digest('hex');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The cache checksum of what a plan copies: names, types, modes, owners, link targets and file
 * contents (their digests; not timestamps), as dockerd's classic builder keys COPY/ADD.
 */
export async function planChecksum(plan: CopyPlan, ignored: (relative: string) => boolean, known?: KnownDigests): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ destination: plan.destination, intoDirectory: plan.intoDirectory, owner: plan.owner, mode: plan.mode, extract: plan.extractArchives }));
  let turn = Date.now();
  for (const entry of await entries(plan, ignored)) {
    hash.update(`\n${entry.name}\0${entry.stat.mode}\0${plan.owner ? '' : `${entry.stat.uid}:${entry.stat.gid}`}\0${entry.linkTarget ?? ''}\0`);
    if (entry.stat.isFile() && entry.source) {
      hash.update(known?.get(entry.source.absolute) ?? (await fileDigest(entry.source.absolute, entry.stat.size)));
      turn = await takeTurn(turn);
    }
  }
  return hash.digest('hex');
}

/** Is this file a tar archive (plain or compressed) that ADD unpacks? */
async function isArchive(file: string): Promise<boolean> {
  const kind = await detectFileCompression(file).catch(() => 'none' as const);
  const handle = await fs.open(file, 'r');
  try {
    if (kind !== 'none') return true;
    const header = Buffer.alloc(512);
    const { bytesRead } = await handle.read(header, 0, 512, 0);
    return bytesRead === 512 && header.subarray(257, 262).toString() === 'ustar';
  } finally {
    await handle.close();
  }
}

/**
 * The layer tar of a plan. `existingDirs` tells which parent directories the image already has
 * (those keep their owner and mode; missing ones are created 0755 root).
 */
export function copyLayerTar(plan: CopyPlan, ignored: (relative: string) => boolean, dirExists: (name: string) => Promise<boolean>): Readable {
  const pack = tarStream.pack();
  const output = new PassThrough();
  void (async () => {
    const created = new Set<string>();
    const ensureParents = async (name: string) => {
      const parts = path.posix.dirname(name).split('/').filter((p) => p && p !== '.');
      for (let i = 1; i <= parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (created.has(dir)) continue;
        created.add(dir);
        if (!(await dirExists(dir))) pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(0) });
      }
    };
    const owner = (stat: Stats) => plan.owner ?? { uid: 0, gid: 0 };
    const mode = (stat: Stats) => (plan.mode !== undefined ? plan.mode : stat.mode & 0o7777);
    let turn = Date.now();
    for (const entry of await entries(plan, ignored)) {
      await ensureParents(entry.name);
      const { uid, gid } = owner(entry.stat);
      const common = { name: entry.name, uid, gid, mode: mode(entry.stat), mtime: entry.stat.mtime };
      if (entry.stat.isDirectory()) {
        created.add(entry.name);
        pack.entry({ ...common, name: `${entry.name}/`, type: 'directory' });
      } else if (entry.stat.isSymbolicLink()) {
        pack.entry({ ...common, type: 'symlink', linkname: entry.linkTarget ?? '' });
      } else if (entry.stat.isFile() && entry.source) {
        if (plan.extractArchives && (await isArchive(entry.source.absolute))) {
          await appendArchive(pack, entry.source.absolute, plan.destination.replace(/^\/+/, ''), ensureParents);
          continue;
        }
        if (entry.stat.size <= SMALL_FILE) {
          const data = readFileSync(entry.source.absolute);
          // Resolves once the tar's reader has room again: a context is not held in memory whole.
          await new Promise<void>((resolve, reject) => pack.entry({ ...common, type: 'file', size: data.length }, data, (err) => (err ? reject(err) : resolve())));
          turn = await takeTurn(turn);
          continue;
        }
        const sink = pack.entry({ ...common, type: 'file', size: entry.stat.size });
        await pipeline(createReadStream(entry.source.absolute), sink);
      }
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  pack.on('error', (err) => output.destroy(err));
  return pack.pipe(output);
}

/** ADD of a local archive: its members, re-rooted at the destination (paths that escape are refused). */
async function appendArchive(pack: tarStream.Pack, file: string, dest: string, ensureParents: (name: string) => Promise<void>): Promise<void> {
  const extract = tarStream.extract();
  const reading = pipeline(decompress(createReadStream(file)), extract);
  // Refusing a member below ends the loop and destroys the extractor, which rejects `reading`
  // ("Premature close") while nobody awaits it: an unhandled rejection. The loop's error is the one to report.
  reading.catch(() => undefined);
  for await (const member of extract) {
    const relative = path.posix.normalize(member.header.name).replace(/^\/+/, '');
    if (relative.startsWith('..')) throw new Error(`ADD failed: archive member ${member.header.name} leaves the destination`);
    const name = path.posix.join(dest, relative).replace(/\/$/, '');
    await ensureParents(name);
    const header = { ...member.header, name: member.header.type === 'directory' ? `${name}/` : name };
    if (header.type === 'link' && header.linkname) header.linkname = path.posix.join(dest, path.posix.normalize(header.linkname).replace(/^\/+/, ''));
    const sink = pack.entry(header);
    await pipeline(member, sink);
  }
  await reading;
}
