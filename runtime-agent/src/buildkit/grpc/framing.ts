// gRPC's length-prefixed messages (one flag byte, a 4-byte big-endian length, the bytes), read off
// an HTTP/2 stream as they complete, with a ceiling on one message's size.
import type { Readable, Writable } from 'node:stream';

import { Code, GrpcError } from './status.js';

/** BuildKit raises gRPC's default 4 MiB to 16 MiB for its own messages; so do we, and no more. */
export const MAX_MESSAGE = 16 * 1024 * 1024;

/**
 * HTTP/2 flow-control windows for what the peer sends us. The defaults (64 KiB a stream and a
 * connection) hold a context's transfer to one window update per 64 KiB.
 */
export const STREAM_WINDOW = 8 * 1024 * 1024;
export const CONNECTION_WINDOW = 32 * 1024 * 1024;

export function frame(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Writes one message; resolves when the stream can take more (or is gone). */
export async function writeMessage(stream: Writable, payload: Uint8Array): Promise<void> {
  if (stream.write(frame(payload))) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** The messages of a stream, each as its payload bytes. Ends when the stream does. */
export async function* readMessages(stream: Readable, maxMessage = MAX_MESSAGE): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let buffered = 0;
  let need = 5;
  let header: Buffer | undefined;
  const take = (n: number): Buffer => {
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    chunks = rest.length ? [rest] : [];
    buffered = rest.length;
    return out;
  };
  // next() rather than for-await: on a bad message the stream must stay open for the answer.
  const source = stream[Symbol.asyncIterator]();
  for (let read = await source.next(); !read.done; read = await source.next()) {
    const chunk = read.value as Buffer;
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= need) {
      if (!header) {
        header = take(5);
        if (header[0] !== 0) throw new GrpcError(Code.UNIMPLEMENTED, 'compressed gRPC messages are not accepted (no grpc-encoding was offered)');
        need = header.readUInt32BE(1);
        if (need > maxMessage) throw new GrpcError(Code.RESOURCE_EXHAUSTED, `gRPC message of ${need} bytes is larger than the limit of ${maxMessage}`);
      } else {
        yield Buffer.from(take(need));
        header = undefined;
        need = 5;
      }
    }
  }
  if (header || buffered > 0) throw new GrpcError(Code.INTERNAL, 'the stream ended in the middle of a gRPC message');
}
