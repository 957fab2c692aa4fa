// Layer blobs arrive gzip-, zstd- or un-compressed, and a docker-archive does not always say which.
// The first bytes do: gzip starts 1f 8b, zstd 28 b5 2f fd.
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type CompressionKind = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): CompressionKind {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

interface Stage {
  input: Writable;
  output: Readable;
}

/** A decompressor in another process: its CPU time is off the event loop and on the other core. */
function externalStage(command: string, args: string[]): Stage {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (err) => child.stdout.destroy(new Error(`${command}: ${err.message}`)));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new Error(`${command}: exit ${code}: ${stderr.trim()}`));
  });
  child.stdin.on('error', () => undefined); // an early exit surfaces through 'close' above
  return { input: child.stdin, output: child.stdout };
}

/**
 * ISA-L's igzip (Debian `isal`) inflates about twice as fast as zlib; layers are gzip nearly
 * always, and inflating is most of a pull's CPU. Node's zlib is the fallback.
 */
const IGZIP = ['/usr/bin/igzip', '/usr/local/bin/igzip'].find((p) => existsSync(p));

function stageFor(kind: CompressionKind): Stage {
  // Node 20's zlib has no zstd: Debian's `zstd` does it.
  if (kind === 'zstd') return externalStage('zstd', ['-d', '-c', '-q']);
  if (kind === 'gzip' && IGZIP) return externalStage(IGZIP, ['-d', '-c']);
  const transform = kind === 'gzip' ? createGunzip({ chunkSize: 1 << 18 }) : new PassThrough();
  return { input: transform, output: transform };
}

/**
 * Returns a stream of the decompressed bytes of `source`, whatever its compression.
 * Errors of the source or the decompressor surface on the returned stream.
 */
export function decompress(source: Readable): Readable {
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  if (source.destroyed) {
    // Failed (a cut-off download) before anyone listened: say so rather than wait forever.
    const cause = source.errored ?? new Error('stream closed before it was read');
    process.nextTick(() => output.destroy(cause));
    return output;
  }
  let decided = false;
  const onFirstChunk = (chunk: Buffer): void => {
    decided = true;
    source.pause();
    source.off('data', onFirstChunk);
    const stage = stageFor(detectCompression(chunk));
    stage.output.on('error', (err) => output.destroy(err));
    source.on('error', (err) => output.destroy(err));
    stage.output.pipe(output);
    stage.input.write(chunk);
    source.pipe(stage.input);
    source.resume();
  };
  source.on('data', onFirstChunk);
  source.once('end', () => {
    if (!decided) output.end();
  });
  source.once('error', (err) => {
    if (!decided) output.destroy(err);
  });
  return output;
}

/** The compression of a file, from its first bytes. */
export async function detectFileCompression(file: string): Promise<CompressionKind> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
