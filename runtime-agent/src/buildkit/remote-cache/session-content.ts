// The client's OCI content stores, reached through its session: BuildKit's client opens the
// directory of `--cache-to type=local,dest=DIR` / `--cache-from type=local,src=DIR` as a content
// store and serves it as containerd's content service, the store named by the
// `buildkit-attachable-store-id` metadata ("local:" + the directory as the client wrote it).
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

import { Code, GrpcError } from '../grpc/status.js';
import { method } from '../protos.js';
import type { Session } from '../sessions.js';

const SERVICE = 'containerd.services.content.v1.Content';
const STORE_ID = 'buildkit-attachable-store-id';
/** What one Write message carries (the client's gRPC server takes up to 4 MiB a message by default). */
const WRITE_CHUNK = 1024 * 1024;

export class SessionContentStore {
  constructor(
    private readonly session: Session,
    /** "local:" + the client's directory. */
    readonly storeId: string,
    private readonly signal: AbortSignal,
  ) {}

  /** Refuses, naming the store, when the client serves no content store on its session. */
  static open(session: Session, storeId: string, signal: AbortSignal, needs: ('Info' | 'Read' | 'Write')[]): SessionContentStore {
    for (const name of needs) {
      if (!session.methods.has(`/${SERVICE}/${name}`)) throw new GrpcError(Code.FAILED_PRECONDITION, `the client's session offers no content store (/${SERVICE}/${name}) for ${storeId}`);
    }
    return new SessionContentStore(session, storeId, signal);
  }

  private get metadata(): Record<string, string> {
    return { [STORE_ID]: this.storeId };
  }

  /** The size of the blob, or undefined when the store does not have it. */
  async size(digest: string): Promise<number | undefined> {
    try {
      const response = await this.session.client.unary(method(SERVICE, 'Info'), { digest }, this.metadata, this.signal);
      return Number(response.info?.size ?? 0);
    } catch (err) {
      if (err instanceof GrpcError && err.code === Code.NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** The blob's bytes as they come, checked to start where the last chunk ended. */
  async *read(digest: string): AsyncGenerator<Buffer> {
    const call = this.session.client.call(method(SERVICE, 'Read'), this.metadata, this.signal);
    await call.send({ digest, offset: 0, size: 0 });
    call.end();
    let offset = 0;
    try {
      for await (const message of call.messages()) {
        const data = Buffer.from((message.data as Uint8Array | undefined) ?? []);
        if (Number(message.offset ?? 0) !== offset) throw new GrpcError(Code.DATA_LOSS, `${this.storeId}: blob ${digest} came out of order (offset ${message.offset}, expected ${offset})`);
        offset += data.length;
        if (data.length) yield data;
      }
    } catch (err) {
      if (err instanceof GrpcError && err.code === Code.NOT_FOUND) throw new GrpcError(Code.NOT_FOUND, `cache ${this.storeId}: blob ${digest} is missing from the cache`);
      throw err;
    }
  }

  /** Reads a small blob whole (manifests, configs), refusing one larger than `limit`. */
  async readAll(digest: string, limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.read(digest)) {
      size += chunk.length;
      if (size > limit) throw new GrpcError(Code.INVALID_ARGUMENT, `${this.storeId}: blob ${digest} is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Writes a blob the store does not have yet: a stat opens the write, the data follows, a commit
   * with the expected size and digest makes it visible. Returns false when the store had it.
   */
  async write(digest: string, size: number, source: Readable | Buffer): Promise<boolean> {
    const call = this.session.client.call(method(SERVICE, 'Write'), this.metadata, this.signal);
    const ref = `berthd-${digest.replace(/^sha256:/, '').slice(0, 24)}-${randomBytes(4).toString('hex')}`;
    // Every request is answered; the answers are read as they come, so the window never fills.
    let answered = 0;
    let failure: unknown;
    let committed = false;
    const reader = (async () => {
      try {
        for await (const response of call.messages()) {
          answered += 1;
          if (Number(response.action) === 2) {
            if (response.digest && response.digest !== digest) throw new GrpcError(Code.DATA_LOSS, `${this.storeId}: the client stored ${response.digest} for ${digest}`);
            committed = true;
          }
        }
      } catch (err) {
        failure = err;
      }
    })();
    const exists = (err: unknown) => err instanceof GrpcError && err.code === Code.ALREADY_EXISTS;
    try {
      await call.send({ action: 'STAT', ref, total: size, expected: digest });
      let offset = 0;
      const chunks: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(source) ? [source] : (source as AsyncIterable<Buffer>);
      for await (const chunk of chunks) {
        for (let at = 0; at < chunk.length; at += WRITE_CHUNK) {
          if (failure) throw failure;
          const data = chunk.subarray(at, at + WRITE_CHUNK);
          await call.send({ action: 'WRITE', ref, offset, data });
          offset += data.length;
        }
      }
      if (offset !== size) throw new GrpcError(Code.INTERNAL, `blob ${digest}: ${offset} bytes read, ${size} expected`);
      await call.send({ action: 'COMMIT', ref, offset, total: size, expected: digest });
      call.end();
      await reader;
      if (failure) throw failure;
      if (!committed) throw new GrpcError(Code.UNAVAILABLE, `${this.storeId}: the client did not confirm blob ${digest} (${answered} answers)`);
      return true;
    } catch (err) {
      call.cancel();
      await reader;
      if (!Buffer.isBuffer(source)) source.destroy();
      // The store had the blob already (it says so as soon as the write names it).
      if (exists(failure ?? err)) return false;
      throw failure ?? err;
    }
  }
}
