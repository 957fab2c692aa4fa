// The build context as POST /build sends it: a tar (plain or compressed) unpacked into a private
// directory as it arrives (never held in memory whole, hostile paths refused), or a bare
// Dockerfile (`docker build - < Dockerfile`). Plus the .dockerignore rules that apply to it.
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { unpackLayer } from '../snapshots/layer-unpack.js';
import { decompress, detectCompression } from '../util/compression.js';
import { DockerfileError } from './dockerfile.js';

/**
 * The largest Dockerfile a build reads. Real ones are kilobytes; the parser holds the whole text
 * (as a string, twice the bytes) on the engine's one thread.
 */
export const MAX_DOCKERFILE = 16 * 1024 * 1024;

/** Unpacks the request body into `dir` (which must exist and be empty). */
export async function receiveContext(body: Readable, dir: string): Promise<void> {
  const iterator = body[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const head = first.value as Buffer;
  const isTar = head.length >= 262 && head.subarray(257, 262).toString() === 'ustar';
  const rest = Readable.from((async function* () {
    yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value as Buffer;
  })());
  if (!isTar && detectCompression(head) === 'none') {
    // Not an archive: the body is the Dockerfile itself. Written as it comes, and refused past
    // MAX_DOCKERFILE: an endless body must not grow in memory or on disk. The excess is read and
    // dropped so that the client, still sending, gets the error (up to a point: then the
    // connection goes).
    let size = 0;
    const tooLarge = () => new DockerfileError(0, `the Dockerfile is too large (more than ${MAX_DOCKERFILE} bytes)`);
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size <= MAX_DOCKERFILE) done(null, chunk);
        else done(size > 16 * MAX_DOCKERFILE ? tooLarge() : null);
      },
    });
    await pipeline(rest, limit, createWriteStream(path.join(dir, 'Dockerfile')));
    if (size > MAX_DOCKERFILE) throw tooLarge();
    return;
  }
  // pipe() does not pass errors on: a client that goes away mid-context would leave the unpack
  // waiting forever for the rest (with its tar process and half a context on disk).
  const decompressed = decompress(rest);
  const completed = decompressed.pipe(completeTar());
  decompressed.on('error', (err) => completed.destroy(err));
  // A client that goes away is noticed at once, not after the megabytes already buffered on the
  // way (a compressed tar bomb kept its tar unpacking for ten seconds more).
  const gone = (err?: Error) => completed.destroy(err ?? new Error('the client closed the connection'));
  const aborted = () => gone();
  body.once('error', gone);
  body.once('aborted', aborted);
  try {
    await unpackLayer(completed, dir);
  } finally {
    body.off('error', gone);
    body.off('aborted', aborted);
  }
}

/**
 * The CLI rewrites the context tar when the Dockerfile comes from elsewhere (-f outside the
 * context, -f -) and sends it without the final padding and end-of-archive blocks. dockerd reads
 * such a tar; so do we, by completing it: zeros up to the block boundary, then two zero blocks
 * (tar readers ignore anything after a proper end).
 */
function completeTar(): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      done(null, Buffer.alloc((512 - (total % 512)) % 512 + 1024));
    },
  });
}

/** The patterns of a .dockerignore: its lines trimmed, without blank lines and `#` comments. */
export function dockerignoreLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/**
 * Which context paths COPY and ADD must not see: `<Dockerfile>.dockerignore` beside the Dockerfile
 * wins over `.dockerignore`, with Docker's pattern rules (`**`, `!` exceptions).
 */
export async function ignoreRules(contextDir: string, dockerfile: string): Promise<(relative: string) => boolean> {
  const candidates = [`${dockerfile}.dockerignore`, '.dockerignore'];
  for (const candidate of candidates) {
    const text = await fs.readFile(path.join(contextDir, candidate), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const patterns = dockerignoreLines(text);
    if (patterns.length === 0) break;
    // A CommonJS module: its factory is the default export.
    const factory = (await import('@balena/dockerignore')).default as unknown as (options?: { ignorecase?: boolean }) => { add(p: string[]): { ignores(p: string): boolean } };
    const rules = factory().add(patterns);
    return (relative) => relative !== '.' && rules.ignores(relative);
  }
  return () => false;
}
