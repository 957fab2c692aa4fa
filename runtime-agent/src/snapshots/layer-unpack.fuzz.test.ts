// Property-based fuzz of the layer unpacker (issue 9, hostile input). Every layer of a pull, a
// `docker load`, an import, and every build context goes through unpackLayer: GNU tar writes, a
// parser in Node reads the same bytes and refuses what tries to leave the layer. Whatever the
// entries (names with `..` and absolute paths, symlinks and hardlinks pointing anywhere, devices,
// setuid modes, pax records, broken headers), the properties are:
//   - the result is a layer or a clear EngineError (never a TypeError or a hang);
//   - nothing outside the target directory changes: a sibling directory with a secret file stays
//     byte for byte, link count and mode as it was, and absolute paths named by the tar never
//     appear on the host;
//   - a layer is accepted only when no member name climbs out of it, and its diff ID is the
//     sha256 of the bytes given.
//
// Runs are bounded (each unpack runs GNU tar, ~10 ms); BERTH_FUZZ_RUNS=N runs every property N
// times, BERTH_FUZZ_SEED=S replays the seed a failure printed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';
import tarStream from 'tar-stream';

import { EngineError } from '../util/errors.js';
import { HostileLayerError, layerPath, unpackLayer } from './layer-unpack.js';
import { fingerprint, fuzzOptions, packTar } from '../testing/fuzz.js';

interface FuzzEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo' | 'contiguous-file';
  linkname: string;
  mode: number;
  content: Buffer;
  pax?: Record<string, string>;
}

/** One place the unpacker must never write to: a sibling of the target, and an absolute path. */
interface Sandbox {
  base: string;
  target: string;
  outside: string;
  /** An absolute host path that hostile entries name directly. */
  absolute: string;
}

async function makeSandbox(parent: string): Promise<Sandbox> {
  const base = await fs.mkdtemp(path.join(parent, 'run-'));
  const sandbox = { base, target: path.join(base, 'target'), outside: path.join(base, 'outside'), absolute: path.join(base, 'absolute-canary') };
  await fs.mkdir(sandbox.target);
  await fs.mkdir(sandbox.outside);
  await fs.writeFile(path.join(sandbox.outside, 'secret'), 'secret\n', { mode: 0o600 });
  await fs.mkdir(path.join(sandbox.outside, 'dir'), { mode: 0o755 });
  return sandbox;
}

/**
 * Name parts that matter to an unpacker; `OUT`, `ABS` and `SECRET` become real host paths of the
 * sandbox. Absolute names all lie in the sandbox and the sandbox sits 24 directories deep in the
 * scratch directory, deeper than any name here climbs: should a regression let the unpacker
 * follow them, it writes into the scratch directory (and the test fails), not onto the host.
 * (The damaged-tar property cannot promise that: noise in a header makes any name. There only
 * GNU tar's own defences, which strip `/` and skip `..`, keep the host safe.)
 */
const SEGMENTS = ['a', 'b', 'dir', '..', '.', '', 'link', 'hard', 'OUT', '.wh.a', '.wh..wh..opq', '.wh..wh.plnk', '.wh...', 'x'.repeat(120), 'é', '-rf', 'a\\b'];
const pathText = fc.tuple(fc.constantFrom('', './', '../', 'ABS/', 'ABS//'), fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 5 }), fc.constantFrom('', '/')).map(([head, parts, tail]) => head + parts.join('/') + tail);
const NESTING = 24;

function concrete(text: string, sandbox: Sandbox): string {
  return text
    .replace(/^ABS\//, `${sandbox.absolute}/`)
    .replace(/SECRET/g, path.join(sandbox.outside, 'secret'))
    .replace(/OUT/g, path.relative(sandbox.target, sandbox.outside));
}

const entry: fc.Arbitrary<FuzzEntry> = fc.record(
  {
    name: pathText,
    type: fc.constantFrom('file', 'file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo', 'contiguous-file'),
    linkname: fc.oneof(pathText, fc.constantFrom('/', 'SECRET', 'OUT/secret', '../../../../../../OUT/secret', 'ABS/x', '.', '..', '')),
    mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o6755, 0o7777, 0o000, 0o1777),
    content: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    pax: fc.option(
      fc.dictionary(fc.constantFrom('path', 'linkpath', 'size', 'GNU.sparse.name', 'GNU.sparse.major', 'GNU.sparse.minor', 'GNU.sparse.realsize', 'SCHILY.xattr.user.fuzz', 'uid', 'mtime'), fc.oneof(pathText, fc.constantFrom('0', '1', '10abc', '-1', '99999999999999999999', 'x'))),
      { nil: undefined },
    ),
  },
  { requiredKeys: ['name', 'type', 'linkname', 'mode', 'content'] },
);

/** A tar of the entries, written with tar-stream (pax headers where a name or a record needs one). */
function packEntries(entries: FuzzEntry[], sandbox: Sandbox): Promise<Buffer> {
  return packTar(entries.map((e) => {
    const name = concrete(e.name, sandbox) || '.';
    const isFile = e.type === 'file' || e.type === 'contiguous-file';
    const pax = e.pax ? Object.fromEntries(Object.entries(e.pax).map(([k, v]) => [k, concrete(v, sandbox)])) : undefined;
    const header: Partial<tarStream.Header> & { name: string; pax?: Record<string, string> } = {
      name,
      type: e.type,
      mode: e.mode,
      uid: 0,
      gid: 0,
      mtime: new Date(1_700_000_000_000),
      size: isFile ? e.content.length : 0,
      ...(e.type === 'symlink' || e.type === 'link' ? { linkname: concrete(e.linkname, sandbox) } : {}),
      ...(e.type === 'character-device' || e.type === 'block-device' ? { devmajor: 1, devminor: 3 } : {}),
      ...(pax && Object.keys(pax).length ? { pax } : {}),
    };
    return { header, ...(isFile ? { content: e.content } : {}) };
  }));
}

/** Offsets of the 512-byte blocks whose checksum says they are headers. */
function headerOffsets(tar: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at + 512 <= tar.length; at += 512) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) continue;
    const stored = parseInt(block.subarray(148, 156).toString('latin1').replace(/[\0 ]/g, ''), 8);
    if (stored === checksum(block)) offsets.push(at);
  }
  return offsets;
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum;
}

function fixChecksum(block: Buffer): void {
  block.write(checksum(block).toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

interface Mutation {
  kind: 'typeflag' | 'size' | 'truncate' | 'noise' | 'pad';
  which?: number;
  flag?: string;
  size?: string;
  at?: number;
  bytes?: Uint8Array;
}

/** Damage a tar the way a hostile or broken one is damaged: odd type flags, odd sizes, cut short, noise. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('typeflag' as const), which: fc.nat(), flag: fc.constantFrom('S', 'D', 'K', 'L', 'M', 'N', 'V', 'x', 'g', 'X', 'A', '9', '\0', '7') }),
  fc.record({ kind: fc.constant('size' as const), which: fc.nat(), size: fc.constantFrom('77777777777', '00000000001', '        -1 ', '\x80\0\0\0\0\x10\0\0\0\0\0\0', 'zzzzzzzzzzz') }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('noise' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  // Zeros after the end-of-archive blocks: GNU tar and Python pad to 10 KB records.
  fc.record({ kind: fc.constant('pad' as const), at: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(tar: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(tar);
  const headers = headerOffsets(out);
  switch (m.kind) {
    case 'typeflag':
    case 'size': {
      if (!headers.length) return out;
      const at = headers[(m.which ?? 0) % headers.length]!;
      const block = out.subarray(at, at + 512);
      if (m.kind === 'typeflag') block.write(m.flag ?? '0', 156, 'latin1');
      else Buffer.from(m.size ?? '', 'latin1').copy(block, 124, 0, 12);
      fixChecksum(block);
      return out;
    }
    case 'truncate':
      return out.subarray(0, (m.at ?? 0) % (out.length + 1));
    case 'pad':
      return Buffer.concat([out, Buffer.alloc(512 * (m.at ?? 1))]);
    default: {
      const at = (m.at ?? 0) % Math.max(1, out.length);
      Buffer.from(m.bytes ?? []).copy(out, at);
      return out;
    }
  }
}

/** Does this member name climb out of the layer, read lexically? (An oracle independent of layerPath.) */
function climbsOut(name: string): boolean {
  let depth = 0;
  for (const part of name.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return true;
  }
  return false;
}

describe('layer unpacker fuzz', () => {
  let scratch: string;
  let nest: string;
  before(async () => {
    scratch = await fs.mkdtemp(path.join(tmpdir(), 'berth-layer-fuzz-'));
    nest = path.join(scratch, ...Array<string>(NESTING).fill('d'));
    await fs.mkdir(nest, { recursive: true });
  });
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('layerPath gives a clean relative path inside the layer, or refuses', () => {
    fc.assert(
      fc.property(fc.oneof(pathText, fc.string({ unit: 'binary', maxLength: 200 })), (name) => {
        let rel: string;
        try {
          rel = layerPath(name);
        } catch (err) {
          assert.ok(err instanceof HostileLayerError, String(err));
          assert.ok(climbsOut(name), `refused ${JSON.stringify(name)}, which stays inside`);
          return;
        }
        assert.ok(!climbsOut(name), `accepted ${JSON.stringify(name)}, which climbs out`);
        assert.ok(!rel.startsWith('/'));
        assert.ok(rel === '' || rel.split('/').every((p) => p !== '' && p !== '.' && p !== '..'), rel);
        const joined = path.join('/root-of-layer', rel);
        assert.ok(joined === '/root-of-layer' || joined.startsWith('/root-of-layer/'));
      }),
      fuzzOptions(5000),
    );
  });

  /**
   * The tar as it arrives from a socket: in pieces cut at `cuts`, a few milliseconds apart (a
   * write after GNU tar has exited is what once stalled the unpacker).
   */
  const delivered = (tar: Buffer, cuts: number[]): Readable => {
    const points = [...new Set(cuts.map((c) => c % (tar.length + 1)))].sort((a, b) => a - b);
    const pieces = [0, ...points, tar.length].slice(1).map((end, i, all) => tar.subarray(i === 0 ? 0 : all[i - 1], end)).filter((p) => p.length);
    return Readable.from(
      (async function* () {
        for (const piece of pieces) {
          yield piece;
          await new Promise((r) => setTimeout(r, 3));
        }
      })(),
    );
  };

  const unpackProperty = (withMutation: boolean) => async (entries: FuzzEntry[], m: Mutation | null, cuts: number[]): Promise<void> => {
    const sandbox = await makeSandbox(nest);
    try {
      const clean = await packEntries(entries, sandbox);
      const tar = withMutation && m ? mutate(clean, m) : clean;
      const before = await fingerprint(sandbox.outside);
      let outcome: 'ok' | 'refused' = 'ok';
      try {
        // An unpack that never finishes (it hung on padding after the end-of-archive blocks)
        // fails the run instead of the whole test file.
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('unpackLayer did not finish within 10 s')), 10_000)));
        const result = await Promise.race([unpackLayer(delivered(tar, cuts), sandbox.target), hung]).finally(() => clearTimeout(timer));
        assert.equal(result.diffId, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
        assert.equal(result.tarSize, tar.length);
      } catch (err) {
        if (!(err instanceof EngineError)) throw new Error(`not an EngineError: ${err instanceof Error ? err.stack : String(err)}`);
        assert.ok(err.statusCode >= 400 && err.statusCode < 500, `${err.statusCode}: ${err.message}`);
        assert.ok(err.message.length > 0);
        outcome = 'refused';
      }
      assert.deepEqual(await fingerprint(sandbox.outside), before, 'the outside directory changed');
      assert.equal(existsSync(sandbox.absolute), false, 'an absolute path named by the tar appeared on the host');
      if (outcome === 'ok' && !withMutation) {
        // Names that climb out must have been refused (tar-stream reads pax `path` as the name).
        for (const e of entries) {
          const name = e.pax?.path !== undefined ? concrete(e.pax.path, sandbox) : concrete(e.name, sandbox);
          assert.ok(!climbsOut(name), `accepted a layer with the member ${JSON.stringify(name)}`);
        }
      }
    } finally {
      await fs.rm(sandbox.base, { recursive: true, force: true });
    }
  };

  it('unpacks or refuses any list of entries, and writes nothing outside the target', async () => {
    await fc.assert(fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 8 }), fc.constant(null), fc.array(fc.nat(), { maxLength: 3 }), unpackProperty(false)), fuzzOptions(150));
  });

  it('does the same for damaged tars: odd type flags, sizes of 8 GB or in base-256, cut short, noise, padding', async () => {
    await fc.assert(fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 6 }), mutation, fc.array(fc.nat(), { maxLength: 3 }), unpackProperty(true)), fuzzOptions(150));
  });

  it('refuses GNU sparse members, whose real name only GNU tar reads', async () => {
    // A pax 1.0 sparse file carries its name in GNU.sparse.name: the parser in Node would check
    // one name while GNU tar writes another.
    const sandbox = await makeSandbox(nest);
    try {
      const map = Buffer.alloc(512);
      map.write('1\n0\n5\n');
      const tar = await packEntries(
        [{ name: 'GNUSparseFile.0/innocent', type: 'file', linkname: '', mode: 0o644, content: Buffer.concat([map, Buffer.from('hello')]), pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'ABS/sparse', 'GNU.sparse.realsize': '1099511627776' } }],
        sandbox,
      );
      await assert.rejects(unpackLayer(Readable.from([tar]), sandbox.target), (err: Error) => err instanceof HostileLayerError && /sparse/.test(err.message));
    } finally {
      await fs.rm(sandbox.base, { recursive: true, force: true });
    }
  });
});
