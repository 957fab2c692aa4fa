// COPY and ADD: the files a step copies, resolved from the build context (or another stage's or
// image's filesystem), checksummed for the cache, and written as a layer tar with dockerd's rules:
// a directory source copies its content, a trailing `/` or several sources make the destination
// a directory, --chown/--chmod apply to everything copied, and ADD unpacks a local tar archive.
// BuildKit's additions: --exclude patterns, --parents (a source keeps its path below a pivot), and
// heredoc sources (files written for the step, never unpacked).
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import tarStream from 'tar-stream';

import { decompress, detectFileCompression } from '../util/compression.js';
import type { ModeChange } from './copy-flags.js';
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
  /**
   * COPY --parents: the path the source keeps below the destination (relative to its pivot, the
   * part before `/./`, or to the root), and the pivot's absolute path (its directories are copied too).
   */
  parents?: { target: string; pivot: string };
  /** A heredoc's content, written to a file for the step: ADD never unpacks it. */
  inline?: boolean;
}

export interface CopyPlan {
  sources: CopySource[];
  /** Destination inside the image, absolute. */
  destination: string;
  /** The destination is a directory (trailing slash, several sources, or a glob). */
  intoDirectory: boolean;
  owner?: { uid: number; gid: number };
  /** --chmod: the mode of everything copied (not of the parent directories the step creates). */
  chmod?: ModeChange;
  /** --exclude: a copied path (relative to where it lands below the destination) left out. */
  exclude?: { patterns: string[]; matches: (relative: string) => boolean };
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
export async function resolveSources(root: string, patterns: string[], line: number, keyword: string, ignored: (relative: string) => boolean, options: { parents?: boolean } = {}): Promise<CopySource[]> {
  const { minimatch } = await import('minimatch');
  const sources: CopySource[] = [];
  for (const written of patterns) {
    // --parents: `a/./b/c` keeps `b/c` below the destination; without a `./` pivot, the whole path.
    const pivotAt = options.parents ? written.indexOf('/./') : -1;
    const pivotPart = pivotAt === -1 ? '' : path.posix.normalize('/' + written.slice(0, pivotAt)).slice(1);
    const pattern = pivotAt === -1 ? written : `${written.slice(0, pivotAt)}/${written.slice(pivotAt + 3)}`;
    const keep = (relative: string): CopySource['parents'] => (options.parents ? { target: pivotPart ? path.posix.relative(pivotPart, relative) : relative === '.' ? '' : relative, pivot: path.join(root, pivotPart) } : undefined);
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
        const parents = keep(relative);
        matches.push({ absolute: path.join(root, relative), relative, stat: await fs.lstat(path.join(root, relative)), ...(parents ? { parents } : {}) });
      }
      // A glob that matches nothing is an error, as in dockerd (BuildKit lets one pass with --parents).
      if (matches.length === 0 && !options.parents) throw new DockerfileError(line, `${keyword} failed: no source files were specified`);
      sources.push(...matches);
      continue;
    }
    const stat = await fs.lstat(absolute).catch(() => undefined);
    if (!stat || (cleaned !== '.' && ignored(cleaned))) throw new DockerfileError(line, `${keyword} failed: file not found in build context or excluded by .dockerignore: stat ${cleaned}: file does not exist`);
    // A symlink given by name is followed, but only to somewhere inside the root.
    if (stat.isSymbolicLink()) {
      const target = await fs.realpath(absolute).catch(() => undefined);
      if (!target || !isInside(await fs.realpath(root), target)) throw new DockerfileError(line, `${keyword} failed: forbidden path outside the build context: ${pattern} ()`);
      const parents = keep(cleaned);
      sources.push({ absolute: target, relative: cleaned, stat: await fs.stat(target), ...(parents ? { parents } : {}) });
      continue;
    }
    const parents = keep(cleaned);
    sources.push({ absolute, relative: cleaned, stat, ...(parents ? { parents } : {}) });
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
  const excluded = plan.exclude?.matches ?? (() => false);
  /** `copied`: the path relative to where the copy lands, which --exclude patterns match. */
  const add = async (absolute: string, relative: string, name: string, copied: string) => {
    const stat = await fs.lstat(absolute);
    out.push({ name, stat, ...(stat.isSymbolicLink() ? { linkTarget: await fs.readlink(absolute) } : {}), source: { absolute, relative, stat } });
    if (stat.isDirectory()) await addChildren(absolute, relative, name, copied);
  };
  const addChildren = async (absolute: string, relative: string, name: string, copied: string) => {
    for (const child of (await fs.readdir(absolute)).sort()) {
      const childRelative = relative === '.' ? child : `${relative}/${child}`;
      const childCopied = copied ? `${copied}/${child}` : child;
      if (ignored(childRelative) || excluded(childCopied)) continue;
      await add(path.join(absolute, child), childRelative, name ? `${name}/${child}` : child, childCopied);
    }
  };
  // --parents: the directories between the pivot and a source are copied too, once each.
  const parentDirs = new Set<string>();
  for (const source of plan.sources) {
    const target = source.parents?.target;
    if (target) {
      if (excluded(target)) continue;
      const parts = target.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (parentDirs.has(dir)) continue;
        parentDirs.add(dir);
        const absolute = path.join(source.parents!.pivot, dir);
        const stat = await fs.stat(absolute);
        out.push({ name: path.posix.join(dest, dir), stat, source: { absolute, relative: dir, stat } });
      }
      const name = path.posix.join(dest, target);
      if (source.stat.isDirectory()) {
        parentDirs.add(target);
        out.push({ name, stat: source.stat, source });
        await addChildren(source.absolute, source.relative, name, target);
      } else {
        out.push({ name, stat: source.stat, source, ...(source.stat.isSymbolicLink() ? { linkTarget: await fs.readlink(source.absolute) } : {}) });
      }
      continue;
    }
    if (source.stat.isDirectory()) {
      // A directory source copies its content, not the directory itself.
      await addChildren(source.absolute, source.relative, dest, '');
      continue;
    }
    if (excluded(path.posix.basename(source.relative))) continue;
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
  const octal = plan.chmod && /^[0-7]+$/.test(plan.chmod.text) ? parseInt(plan.chmod.text, 8) : undefined;
  const symbolic = plan.chmod && octal === undefined ? plan.chmod.text : undefined;
  hash.update(JSON.stringify({ destination: plan.destination, intoDirectory: plan.intoDirectory, owner: plan.owner, mode: octal, symbolicMode: symbolic, exclude: plan.exclude?.patterns, extract: plan.extractArchives }));
  let turn = Date.now();
  for (const entry of await entries(plan, ignored)) {
    hash.update(`\n${entry.name}\0${entry.stat.mode}\0${plan.owner ? '' : `${entry.stat.uid}:${entry.stat.gid}`}\0${entry.linkTarget ?? ''}\0${entry.source?.inline ? 'inline' : ''}`);
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
 * The layer tar of a plan. `existingDir` gives the parent directories the image already has: the
 * layer repeats them with their owner, mode and time (a layer whose tar lacks a parent would
 * unpack it as 0755 root, which hides the image's own above it). Missing ones are created 0755,
 * owned by --chown's user or root, as BuildKit and dockerd create them. COPY --link says none
 * exists: its layer stands alone.
 */
export function copyLayerTar(plan: CopyPlan, ignored: (relative: string) => boolean, existingDir: (name: string) => Promise<Stats | undefined>): Readable {
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
        const existing = await existingDir(dir);
        if (existing) pack.entry({ name: `${dir}/`, type: 'directory', mode: existing.mode & 0o7777, uid: existing.uid, gid: existing.gid, mtime: existing.mtime });
        else pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, uid: plan.owner?.uid ?? 0, gid: plan.owner?.gid ?? 0, mtime: new Date(0) });
      }
    };
    const owner = (_stat: Stats) => plan.owner ?? { uid: 0, gid: 0 };
    const mode = (stat: Stats) => (plan.chmod ? plan.chmod.apply(stat.mode & 0o7777, stat.isDirectory()) : stat.mode & 0o7777);
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
        if (plan.extractArchives && !entry.source.inline && (await isArchive(entry.source.absolute))) {
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
