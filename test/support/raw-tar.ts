// Tar bytes written by hand, for the hostile-input corpus: headers that tar-stream's packer will
// not write (sizes of a terabyte in base-256, GNU sparse records, any type flag, pax records with
// any key) and archives of a million entries generated as a stream rather than held in memory.
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

export interface RawHeader {
  name: string;
  /** Type flag character: '0' file, '1' hardlink, '2' symlink, '3' char device, '5' directory, 'x' pax... */
  type?: string;
  mode?: number;
  size?: number | bigint;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uid?: number;
}

function octal(value: number | bigint, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** One 512-byte ustar header; sizes past the 8 GB octal field are written in base-256, as GNU tar does. */
export function rawHeader(h: RawHeader): Buffer {
  const block = Buffer.alloc(512);
  block.write(h.name, 0, 100, 'utf8');
  block.write(octal(h.mode ?? 0o644, 8), 100, 'latin1');
  block.write(octal(h.uid ?? 0, 8), 108, 'latin1');
  block.write(octal(0, 8), 116, 'latin1');
  const size = BigInt(h.size ?? 0);
  if (size < 8n ** 11n) block.write(octal(size, 12), 124, 'latin1');
  else {
    block[124] = 0x80;
    let rest = size;
    for (let i = 135; i > 124; i--) {
      block[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  }
  block.write(octal(1_700_000_000, 12), 136, 'latin1');
  block.write(h.type ?? '0', 156, 'latin1');
  if (h.linkname) block.write(h.linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.write(octal(h.devmajor ?? 0, 8), 329, 'latin1');
  block.write(octal(h.devminor ?? 0, 8), 337, 'latin1');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return block;
}

/** `content` padded to whole 512-byte blocks. */
export function blocks(content: Buffer): Buffer {
  return Buffer.concat([content, Buffer.alloc((512 - (content.length % 512)) % 512)]);
}

/** A pax extended header ('x') carrying `records` for the entry after it. */
export function paxHeader(records: Record<string, string>): Buffer {
  let body = '';
  for (const [key, value] of Object.entries(records)) {
    const line = ` ${key}=${value}\n`;
    // The length prefix counts itself.
    let length = line.length + 1;
    while (`${length}${line}`.length !== length) length++;
    body += `${length}${line}`;
  }
  const content = Buffer.from(body);
  return Buffer.concat([rawHeader({ name: 'PaxHeader', type: 'x', size: content.length }), blocks(content)]);
}

/** A regular file entry with its content. */
export function rawFile(name: string, content: Buffer | string, extra: Partial<RawHeader> = {}): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([rawHeader({ name, size: data.length, ...extra }), blocks(data)]);
}

export const END_OF_ARCHIVE = Buffer.alloc(1024);

/**
 * A gzip-compressed tar of `count` entries made by `entry(i)` (512-byte header blocks only),
 * produced as a stream: a million entries are 512 MB of tar, ~5 MB compressed.
 */
export function gzippedEntries(count: number, entry: (i: number) => RawHeader, prefix: Buffer = Buffer.alloc(0)): Readable {
  const perChunk = 2048;
  const source = Readable.from(
    (function* () {
      if (prefix.length) yield prefix;
      for (let i = 0; i < count; i += perChunk) {
        const n = Math.min(perChunk, count - i);
        const chunk = Buffer.alloc(512 * n);
        for (let j = 0; j < n; j++) rawHeader(entry(i + j)).copy(chunk, 512 * j);
        yield chunk;
      }
      yield END_OF_ARCHIVE;
    })(),
  );
  return source.pipe(createGzip({ level: 1 }));
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
