// The build context comes from the CLI through its session's FileSync.DiffCopy, in fsutil's
// protocol: the client walks the directory (applying the include and exclude patterns we send)
// and sends a STAT packet per entry, then an empty STAT; we answer with a REQ for each file we
// want, by its index in the walk; the client sends each file as DATA packets ending with an
// empty one; a FIN each way ends the transfer. Files are written as they come, never held whole.
import { chmodSync, closeSync, constants, fchmodSync, futimesSync, linkSync, mkdirSync, openSync, promises as fs, symlinkSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';

import { method } from './protos.js';
import { Code, GrpcError } from './grpc/status.js';
import type { Session } from './sessions.js';
import { kindOf, unixPermissions } from './file-mode.js';

const PACKET = { STAT: 0, REQ: 1, DATA: 2, FIN: 3, ERR: 4 } as const;

export const FILESYNC_DIFFCOPY = '/moby.filesync.v1.FileSync/DiffCopy';

export interface ReceiveOptions {
  /** The name the CLI knows the directory by: `context`, `dockerfile`. */
  name: string;
  includePatterns?: string[];
  excludePatterns?: string[];
  followPaths?: string[];
  signal?: AbortSignal;
  /** Bytes received so far, as they arrive. */
  onProgress?(bytes: number): void;
}

interface PendingFile {
  path: string;
  size: number;
  mode: number;
  modTime: number;
  received: number;
  /** A small file's data, written in one go when it is complete. */
  chunks: Buffer[];
  /** Its content's sha256 as it arrives: COPY's cache key takes it instead of reading the file again. */
  hash: Hash;
}

/**
 * Files up to this size are gathered in memory and written with synchronous calls when complete:
 * a context is mostly small files, and four asynchronous round trips through libuv's pool per file
 * (open, write, chmod, close) cost more than the writing. Larger files stream to disk.
 */
const SMALL_FILE = 1024 * 1024;
const MAX_BUFFERED = 64 * 1024 * 1024;

/** Open, write, mode and time in one go, without a round trip through the thread pool. */
function writeSmallFile(target: string, file: PendingFile): void {
  const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for (const chunk of file.chunks) writeSync(fd, chunk);
    fchmodSync(fd, unixPermissions(file.mode));
    const mtime = new Date(file.modTime / 1e6);
    futimesSync(fd, mtime, mtime);
  } finally {
    closeSync(fd);
  }
}

export interface Received {
  files: number;
  bytes: number;
  /** Each regular file's sha256 (hex), by path relative to the directory. */
  digests: Map<string, string>;
}

/** Receives the directory into `dest` (which must exist and be empty). */
export async function receiveDirectory(session: Session, dest: string, options: ReceiveOptions): Promise<Received> {
  if (!session.methods.has(FILESYNC_DIFFCOPY)) throw new GrpcError(Code.FAILED_PRECONDITION, `the client's session does not offer ${FILESYNC_DIFFCOPY}`);
  const metadata: Record<string, string | string[]> = { 'dir-name': options.name };
  if (options.includePatterns?.length) metadata['include-patterns'] = options.includePatterns;
  if (options.excludePatterns?.length) metadata['exclude-patterns'] = options.excludePatterns;
  if (options.followPaths?.length) metadata['followpaths'] = options.followPaths;
  const call = session.client.call(method('moby.filesync.v1.FileSync', 'DiffCopy'), metadata, options.signal);
  const writer = new TreeWriter(dest);
  const files = new Map<number, PendingFile>();
  /** The sha256 of every file received, by relative path. */
  const digests = new Map<string, string>();
  /** Bytes of small files waiting in memory. */
  let buffered = 0;
  /** Large files being written, by id. */
  const open = new Map<number, fs.FileHandle>();
  let nextId = 0;
  let walked = false;
  let remaining = 0;
  let bytes = 0;
  let finSent = false;
  const sendFin = async () => {
    writer.makeLinks(digests);
    finSent = true;
    await call.send({ type: PACKET.FIN });
    call.end();
  };
  try {
    for await (const packet of call.messages()) {
      switch (packet.type) {
        case PACKET.STAT: {
          if (walked) throw new GrpcError(Code.INVALID_ARGUMENT, 'a STAT packet came after the end of the walk');
          if (!packet.stat) {
            walked = true;
            remaining = files.size;
            for (const id of files.keys()) await call.send({ type: PACKET.REQ, ID: id });
            if (remaining === 0) await sendFin();
            break;
          }
          const id = nextId++;
          const file = writer.entry(packet.stat);
          if (file) files.set(id, file);
          break;
        }
        case PACKET.DATA: {
          const id = Number(packet.ID);
          const file = files.get(id);
          if (!file) throw new GrpcError(Code.INVALID_ARGUMENT, `DATA for file ${id}, which was not asked for`);
          const target = path.join(dest, file.path);
          const data = packet.data as Buffer;
          if (data.length === 0) {
            // The end of the file.
            files.delete(id);
            digests.set(file.path, file.hash.digest('hex'));
            const handle = open.get(id);
            open.delete(id);
            if (handle) {
              await handle.chmod(unixPermissions(file.mode));
              const mtime = new Date(file.modTime / 1e6);
              await handle.utimes(mtime, mtime);
              await handle.close();
            } else {
              writeSmallFile(target, file);
              buffered -= file.received;
            }
            remaining -= 1;
            if (remaining === 0) await sendFin();
            break;
          }
          file.received += data.length;
          if (file.received > file.size) throw new GrpcError(Code.INVALID_ARGUMENT, `${file.path} is larger than its stat said (${file.size} bytes)`);
          file.hash.update(data);
          // Small files wait in memory, up to MAX_BUFFERED in all: a client that starts many and
          // ends none has the rest streamed to disk like large files.
          if (file.size <= SMALL_FILE && !open.has(id) && buffered + data.length <= MAX_BUFFERED) {
            file.chunks.push(data);
            buffered += data.length;
          } else {
            let handle = open.get(id);
            if (!handle) {
              handle = await fs.open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
              open.set(id, handle);
              if (file.chunks.length) await handle.writev(file.chunks);
              buffered -= file.received - data.length;
              file.chunks = [];
            }
            await handle.write(data);
          }
          bytes += data.length;
          options.onProgress?.(bytes);
          break;
        }
        case PACKET.FIN:
          if (!finSent) throw new GrpcError(Code.INVALID_ARGUMENT, 'the client ended the transfer before sending every file');
          call.end();
          return { files: nextId, bytes, digests };
        case PACKET.ERR:
          throw new GrpcError(Code.UNKNOWN, `the client could not send ${options.name}: ${Buffer.from(packet.data ?? []).toString()}`);
        default:
          throw new GrpcError(Code.INVALID_ARGUMENT, `unexpected packet type ${packet.type} from the client`);
      }
    }
    if (!finSent || remaining > 0) throw new GrpcError(Code.UNAVAILABLE, 'the transfer ended before every file came');
    return { files: nextId, bytes, digests };
  } catch (err) {
    call.cancel();
    if (err instanceof GrpcError && err.code === Code.UNAVAILABLE) throw new GrpcError(Code.UNAVAILABLE, `the client's session went away while sending ${options.name} (${err.message})`);
    throw err;
  } finally {
    for (const handle of open.values()) await handle.close().catch(() => undefined);
  }
}

/**
 * Creates what the walk announces inside `root`, and refuses what would land outside it: absolute
 * paths, `..`, and entries under a symlink (a link to /etc followed by `etc/passwd` must not write
 * there). Directories are known because the walk sends a parent before its children.
 */
class TreeWriter {
  private readonly dirs = new Set<string>(['']);
  private readonly seen = new Set<string>();
  private readonly files = new Set<string>();
  private readonly links: { path: string; to: string }[] = [];

  constructor(private readonly root: string) {}

  /** The hard links of the walk, once the files they name are written; each gets its file's digest. */
  makeLinks(digests: Map<string, string>): void {
    for (const link of this.links) {
      linkSync(path.join(this.root, link.to), path.join(this.root, link.path));
      const digest = digests.get(link.to);
      if (digest) digests.set(link.path, digest);
    }
  }

  /** Creates a directory, symlink or hard link at once (synchronously: they are quick); returns a regular file to ask for. */
  entry(stat: { path: string; mode: number; size: number; modTime: number; linkname: string }): PendingFile | undefined {
    const relative = this.check(stat.path);
    const target = path.join(this.root, relative);
    const kind = kindOf(stat.mode);
    if (kind === 'dir') {
      mkdirSync(target, { mode: 0o755 });
      chmodSync(target, unixPermissions(stat.mode));
      this.dirs.add(relative);
      return undefined;
    }
    if (kind === 'symlink') {
      symlinkSync(stat.linkname, target);
      return undefined;
    }
    if (kind === 'other') return undefined; // devices, pipes, sockets: nothing a build copies
    if (stat.linkname) {
      // A hard link to a file the walk sent before.
      const existing = this.normalize(stat.linkname);
      if (!this.files.has(existing)) throw new GrpcError(Code.INVALID_ARGUMENT, `hard link ${relative} points to ${stat.linkname}, which was not sent before it`);
      // Made once every file is written: the file it names is still to come now.
      this.links.push({ path: relative, to: existing });
      return undefined;
    }
    if (!Number.isSafeInteger(Number(stat.size)) || stat.size < 0) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid size for ${relative}`);
    this.files.add(relative);
    return { path: relative, size: Number(stat.size), mode: stat.mode, modTime: Number(stat.modTime), received: 0, chunks: [], hash: createHash('sha256') };
  }

  private normalize(name: string): string {
    if (!name || name.includes('\0')) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid path ${JSON.stringify(name)} in the context`);
    if (name.startsWith('/') || name.split('/').includes('..')) throw new GrpcError(Code.INVALID_ARGUMENT, `path ${JSON.stringify(name)} in the context leaves its directory`);
    return path.posix.normalize(name);
  }

  private check(name: string): string {
    const relative = this.normalize(name);
    if (relative === '.' || this.seen.has(relative)) throw new GrpcError(Code.INVALID_ARGUMENT, `path ${JSON.stringify(name)} is sent twice`);
    const parent = path.posix.dirname(relative);
    if (!this.dirs.has(parent === '.' ? '' : parent)) throw new GrpcError(Code.INVALID_ARGUMENT, `${JSON.stringify(name)} comes before its directory, or under a symlink`);
    this.seen.add(relative);
    return relative;
  }
}
