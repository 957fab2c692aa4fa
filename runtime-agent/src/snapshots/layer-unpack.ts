// Unpacks one layer tar into an empty directory in the form overlayfs reads:
// `.wh.NAME` becomes a 0/0 character device NAME, `.wh..wh..opq` becomes the xattr
// trusted.overlay.opaque=y on its directory.
//
// GNU tar does the writing (owners, modes, hardlinks, devices, binary xattrs such as
// security.capability, and its own defences: it skips `..` members and creates symlinks that point
// outside as placeholders until the end). Beside it, a parser in Node reads the same bytes to
// compute the diff ID, find the whiteouts, and refuse hostile entries with a clear message. The
// caller unpacks into a private temporary directory and deletes it when this throws, so a refused
// layer leaves nothing behind.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

import { EngineError, InvalidParameterError } from '../util/errors.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** aufs bookkeeping entries (`.wh..wh.plnk`, ...) that overlayfs has no use for. */
const AUFS_META_PREFIX = '.wh..wh.';

export interface UnpackResult {
  /** sha256 of the uncompressed tar: the layer's diff ID. */
  diffId: string;
  /** Length of the uncompressed tar stream (needed to write it into `docker save` archives). */
  tarSize: number;
  /** Sum of the sizes of the regular files (what `docker images` adds up). */
  contentSize: number;
}

export class HostileLayerError extends InvalidParameterError {}

type EntryKind = 'dir' | 'symlink' | 'other';

/** Normalizes a member name to a relative path inside the layer, or throws when it escapes. */
export function layerPath(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.pop() === undefined) throw new HostileLayerError(`invalid tar entry ${JSON.stringify(name)}: path escapes the layer`);
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** Checks entries as they stream by; collects whiteouts for the second step. */
class LayerValidator {
  readonly kinds = new Map<string, EntryKind>();
  readonly whiteouts: string[] = [];
  readonly opaqueDirs: string[] = [];
  contentSize = 0;

  check(header: tarStream.Header): void {
    this.checkPax(header);
    const rel = layerPath(header.name);
    if (rel === '') return; // the layer root itself
    this.assertNoSymlinkAncestor(rel, header.name);
    const base = path.posix.basename(rel);
    const parent = path.posix.dirname(rel);
    if (base === OPAQUE_MARKER) {
      this.opaqueDirs.push(parent === '.' ? '' : parent);
      return;
    }
    if (base.startsWith(AUFS_META_PREFIX)) return;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const target = base.slice(WHITEOUT_PREFIX.length);
      if (target === '' || target === '.' || target === '..') throw new HostileLayerError(`invalid whiteout ${JSON.stringify(header.name)}`);
      this.whiteouts.push(parent === '.' ? target : `${parent}/${target}`);
      return;
    }
    switch (header.type) {
      case 'directory':
        this.kinds.set(rel, 'dir');
        break;
      case 'symlink':
        this.kinds.set(rel, 'symlink');
        break;
      case 'link': {
        const target = layerPath(header.linkname ?? '');
        if (target === '') throw new HostileLayerError(`invalid hardlink ${JSON.stringify(header.name)}: empty target`);
        this.assertNoSymlinkAncestor(target, header.linkname ?? '');
        if (this.kinds.get(target) === 'dir') throw new HostileLayerError(`invalid hardlink ${JSON.stringify(header.name)}: target is a directory`);
        this.kinds.set(rel, 'other');
        break;
      }
      case 'file':
      case 'contiguous-file':
      case 'character-device':
      case 'block-device':
      case 'fifo':
        if (header.type === 'file' || header.type === 'contiguous-file') this.contentSize += header.size ?? 0;
        this.kinds.set(rel, 'other');
        break;
      default:
        throw new HostileLayerError(`invalid tar entry ${JSON.stringify(header.name)}: unsupported type ${header.type}`);
    }
  }

  /**
   * Pax records that GNU tar reads and this parser does not would let the two see different
   * members. GNU sparse files carry their real name in GNU.sparse.name (checked by nobody here)
   * and can claim any size; no image builder writes them, so they are refused. A size record that
   * is not a plain number is read differently by the two parsers, which would desynchronise them.
   */
  private checkPax(header: tarStream.Header): void {
    const pax = header.pax as Record<string, string> | undefined;
    if (!pax) return;
    for (const key of Object.keys(pax)) {
      if (key.startsWith('GNU.sparse.')) throw new HostileLayerError(`invalid tar entry ${JSON.stringify(header.name)}: sparse files are not supported in layers`);
    }
    if (pax.size !== undefined && !/^\d{1,15}$/.test(pax.size)) throw new HostileLayerError(`invalid tar entry ${JSON.stringify(header.name)}: invalid size record ${JSON.stringify(pax.size.slice(0, 40))}`);
  }

  /** Writing through a symlink this layer created could land anywhere on the host. */
  private assertNoSymlinkAncestor(rel: string, original: string): void {
    let idx = rel.indexOf('/');
    while (idx !== -1) {
      const ancestor = rel.slice(0, idx);
      const kind = this.kinds.get(ancestor);
      if (kind === 'symlink') throw new HostileLayerError(`invalid tar entry ${JSON.stringify(original)}: it lies beneath the symlink ${JSON.stringify(ancestor)}`);
      if (kind === 'other') throw new HostileLayerError(`invalid tar entry ${JSON.stringify(original)}: ${JSON.stringify(ancestor)} is not a directory`);
      idx = rel.indexOf('/', idx + 1);
    }
  }
}

function runTarExtract(dir: string): { stdin: Writable; done: Promise<void>; kill: () => void } {
  const child = spawn(
    'tar',
    ['-x', '-f', '-', '-C', dir, '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=*', '--no-acls', '--warning=no-unknown-keyword', '--warning=no-timestamp'],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += d.toString();
  });
  child.stdin.on('error', () => undefined); // reported through the exit status
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new EngineError(500, `failed to run tar: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new HostileLayerError(`failed to extract layer: ${stderr.trim().split('\n').slice(0, 5).join('; ') || `tar exited with ${code ?? signal}`}`));
    });
  });
  return { stdin: child.stdin, done, kill: () => child.kill('SIGKILL') };
}

/** Turns the whiteout files tar wrote into the overlayfs form. */
async function convertWhiteouts(dir: string, validator: LayerValidator): Promise<void> {
  const devices: string[] = [];
  for (const rel of validator.whiteouts) {
    const parent = path.posix.dirname(rel);
    const marker = path.join(dir, parent, WHITEOUT_PREFIX + path.posix.basename(rel));
    // `recursive`: a hostile layer may send the marker as a directory (dockerd ignores its type).
    await fs.rm(marker, { recursive: true, force: true });
    const target = path.join(dir, rel);
    await fs.rm(target, { recursive: true, force: true });
    await fs.mkdir(path.dirname(target), { recursive: true });
    devices.push(target);
  }
  const opaque: string[] = [];
  for (const rel of validator.opaqueDirs) {
    const target = path.join(dir, rel);
    await fs.mkdir(target, { recursive: true });
    await fs.rm(path.join(target, OPAQUE_MARKER), { recursive: true, force: true });
    opaque.push(target);
  }
  // One process per kind of change, not one per file: layers from `apt-get remove` can hold hundreds.
  if (devices.length) await run('sh', ['-ec', 'for p do mknod -m 000 "$p" c 0 0; done', 'mknod-whiteouts', ...devices]);
  if (opaque.length) await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', '--', ...opaque]);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new EngineError(500, `failed to run ${cmd}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new EngineError(500, `${cmd} failed: ${stderr.trim()}`))));
  });
}

/**
 * Unpacks the uncompressed layer tar `source` into `dir` (which must exist and be empty).
 * Throws HostileLayerError for entries that try to leave the layer.
 */
export async function unpackLayer(source: Readable, dir: string): Promise<UnpackResult> {
  const hash = createHash('sha256');
  let tarSize = 0;
  const validator = new LayerValidator();
  // Which part failed first decides the error: a source that fails (a download cut off, a
  // client gone) is reported as itself, not as the "Premature close" or tar error it causes
  // downstream; a bad layer is reported as what is wrong with it, not as the teardown it causes.
  let first: { source: boolean; err: unknown } | undefined;
  const failed = (isSource: boolean) => (err: unknown) => {
    first ??= { source: isSource, err };
  };
  const tar = runTarExtract(dir);
  tar.done.catch(failed(false));
  const extract = tarStream.extract();
  extract.once('error', failed(false));
  source.once('error', failed(true));
  const parsed = (async () => {
    try {
      for await (const entry of extract) {
        try {
          validator.check(entry.header);
        } catch (err) {
          // Recorded before the loop ends: ending it tears the pipeline down, and the source's
          // "Premature close" must not pass for the cause.
          failed(false)(err);
          throw err;
        }
        entry.resume();
      }
    } catch (err) {
      failed(false)(err);
      throw err;
    }
  })();

  // Every byte goes to the hash, to GNU tar and on to the parser. Not with tee.pipe(tar.stdin):
  // GNU tar exits at the end-of-archive blocks without reading what follows (the padding of a
  // tar written in 10 KB records, as GNU tar and Python write them), a write to its closed stdin
  // then fails, and pipe() left the tee paused for a 'drain' that never comes: the build hung.
  const stdin = tar.stdin;
  let stdinOpen = true;
  stdin.once('close', () => (stdinOpen = false));
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      tarSize += chunk.length;
      if (!stdinOpen || stdin.write(chunk)) {
        done(null, chunk);
        return;
      }
      // Back-pressure from tar, until it drains or goes away.
      const go = () => {
        stdin.off('drain', go);
        stdin.off('close', go);
        done(null, chunk);
      };
      stdin.on('drain', go);
      stdin.on('close', go);
    },
    flush(done) {
      if (stdinOpen) stdin.end();
      done();
    },
  });
  try {
    await Promise.all([pipeline(source, tee, extract), parsed, tar.done]);
  } catch (err) {
    tar.kill();
    extract.destroy();
    // The caller deletes the directory next: tar must be gone first, or a file it creates in its
    // last moment makes that delete fail and leaves part of a refused layer behind.
    await tar.done.catch(() => undefined);
    const cause = first?.err ?? err;
    if (first?.source || cause instanceof EngineError) throw cause;
    // tar-stream's own complaints (bad header, checksum, cut short) are about the layer's bytes.
    throw new HostileLayerError(`invalid tar: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  await convertWhiteouts(dir, validator);
  return { diffId: 'sha256:' + hash.digest('hex'), tarSize, contentSize: validator.contentSize };
}
