// Content-addressed blob storage (manifests, configs, compressed layers), in the manner of
// containerd's content store: a blob is streamed into `ingest/`, hashed while it is written,
// checked against the digest it claims, fsynced, and only then renamed into `blobs/sha256/<hex>`.
// A blob is therefore never visible half-written or with the wrong content.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { fsyncDir } from '../util/atomic-file.js';
import { digestHex, isDigest } from '../util/digest.js';
import { InvalidParameterError, NotFoundError, isErrnoException } from '../util/errors.js';

export class DigestMismatchError extends InvalidParameterError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch: expected ${expected}, got ${actual}`);
  }
}

export interface IngestOptions {
  /** The digest the content must have; the write fails and nothing is kept when it differs. */
  expectedDigest?: string;
  expectedSize?: number;
  /** Called with the byte count written so far (progress bars). */
  onProgress?: (written: number) => void;
  signal?: AbortSignal;
}

export class ContentStore {
  private readonly blobDir: string;
  private readonly ingestDir: string;

  constructor(root: string) {
    this.blobDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'ingest');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.blobDir, { recursive: true });
    // Whatever sits in ingest/ was interrupted by a crash: it was never committed, drop it.
    await fs.rm(this.ingestDir, { recursive: true, force: true });
    await fs.mkdir(this.ingestDir, { recursive: true });
  }

  blobPath(digest: string): string {
    if (!isDigest(digest)) throw new InvalidParameterError(`invalid digest format: ${JSON.stringify(digest)}`);
    return path.join(this.blobDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fs.access(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    try {
      return (await fs.stat(this.blobPath(digest))).size;
    } catch (err) {
      if (isErrnoException(err, 'ENOENT')) throw new NotFoundError(`content ${digest} not found`);
      throw err;
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.blobPath(digest));
    } catch (err) {
      if (isErrnoException(err, 'ENOENT')) throw new NotFoundError(`content ${digest} not found`);
      throw err;
    }
  }

  async readJson<T>(digest: string): Promise<T> {
    return JSON.parse((await this.read(digest)).toString('utf8')) as T;
  }

  openRead(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  /** Stores bytes already in memory (manifests, configs) after checking their digest. */
  async put(data: Uint8Array, expectedDigest?: string): Promise<string> {
    const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
    if (expectedDigest && expectedDigest !== digest) throw new DigestMismatchError(expectedDigest, digest);
    if (await this.has(digest)) return digest;
    const tmp = this.tempPath();
    const handle = await fs.open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.commit(tmp, digest);
    return digest;
  }

  /** Streams content into the store, verifying it on the way. Returns its digest and size. */
  async ingest(source: Readable, options: IngestOptions = {}): Promise<{ digest: string; size: number }> {
    const tmp = this.tempPath();
    const hash = createHash('sha256');
    let written = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        written += chunk.length;
        options.onProgress?.(written);
        done(null, chunk);
      },
    });
    const handle = await fs.open(tmp, 'wx', 0o644);
    try {
      await pipeline(source, meter, syncedFileSink(handle), options.signal ? { signal: options.signal } : {});
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    const digest = 'sha256:' + hash.digest('hex');
    if (options.expectedDigest && digest !== options.expectedDigest) {
      await fs.rm(tmp, { force: true });
      throw new DigestMismatchError(options.expectedDigest, digest);
    }
    if (options.expectedSize !== undefined && options.expectedSize !== written) {
      await fs.rm(tmp, { force: true });
      throw new InvalidParameterError(`size mismatch for ${digest}: expected ${options.expectedSize} bytes, got ${written}`);
    }
    await this.commit(tmp, digest);
    return { digest, size: written };
  }

  async delete(digest: string): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  async list(): Promise<string[]> {
    const names = await fs.readdir(this.blobDir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  private tempPath(): string {
    return path.join(this.ingestDir, randomBytes(12).toString('hex'));
  }

  private async commit(tmp: string, digest: string): Promise<void> {
    await fs.rename(tmp, this.blobPath(digest));
    await fsyncDir(this.blobDir);
  }
}

/**
 * A writable that writes into an open file and fsyncs it before finishing. (A FileHandle's own
 * write stream keeps a reference on the handle until the stream closes, which it never does with
 * autoClose off, and with autoClose on the descriptor is gone before it can be fsynced.)
 */
function syncedFileSink(handle: fs.FileHandle): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    writev(chunks, done) {
      const buffers = chunks.map((c) => c.chunk as Buffer);
      writeAll(handle, buffers).then(() => done(), done);
    },
    final(done) {
      handle.sync().then(() => done(), done);
    },
  });
}

async function writeAll(handle: fs.FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length) {
    const { bytesWritten } = await handle.writev(pending);
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const buf of pending) {
      if (skip >= buf.length) skip -= buf.length;
      else {
        rest.push(skip ? buf.subarray(skip) : buf);
        skip = 0;
      }
    }
    pending = rest;
  }
}
