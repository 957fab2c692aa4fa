// Property-based fuzz of the image archive reader behind `docker load` (issue 9, hostile input).
// The archive is spooled into a private directory before manifest.json is read; whatever its
// entries (names with `..` and absolute paths, symlinks and hardlinks anywhere, devices, odd
// modes, duplicates), the properties are:
//   - spooling succeeds or throws an InvalidParameterError, never anything else;
//   - nothing is written outside the spool directory (a sibling with a secret stays as it was,
//     absolute paths named by the archive never appear), and nothing in it is a link or setuid;
//   - resolving any member name afterwards answers undefined or a regular file inside the spool.
//
// Runs are bounded; BERTH_FUZZ_RUNS=N runs every property N times, BERTH_FUZZ_SEED=S replays.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import { EngineError, InvalidParameterError } from '../util/errors.js';
import { SpooledArchive } from './archive-reader.js';
import { type FuzzEntry, entryHeader, fuzzOptions, packTar } from '../testing/fuzz.js';

const SEGMENTS = ['manifest.json', 'index.json', 'blobs', 'sha256', 'layer.tar', 'a', '..', '.', '', 'OUT', 'x'.repeat(110)];
/** Climbs at most seven levels; the spool sits deeper than that in the scratch directory. */
const memberName = fc.tuple(fc.constantFrom('', './', '../', 'ABS/'), fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 5 }), fc.constantFrom('', '/')).map(([head, parts, tail]) => head + parts.join('/') + tail);

const entry: fc.Arbitrary<FuzzEntry> = fc.record({
  name: memberName,
  type: fc.constantFrom('file', 'file', 'directory', 'symlink', 'link', 'character-device', 'fifo'),
  linkname: fc.oneof(memberName, fc.constantFrom('/', 'ABS/secret', '../../../../OUT/secret')),
  mode: fc.constantFrom(0o644, 0o4755, 0o7777, 0o000),
});

describe('image archive reader fuzz', () => {
  let scratch: string;
  let nest: string;
  before(async () => {
    scratch = await fs.mkdtemp(path.join(tmpdir(), 'berth-load-fuzz-'));
    nest = path.join(scratch, ...Array<string>(16).fill('d'));
    await fs.mkdir(nest, { recursive: true });
  });
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('spools any archive into its own directory, or refuses it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 8 }), fc.array(memberName, { maxLength: 5 }), async (entries, lookups) => {
        const base = await fs.mkdtemp(path.join(nest, 'run-'));
        const spool = path.join(base, 'spool');
        const outside = path.join(base, 'outside');
        const absolute = path.join(base, 'absolute-canary');
        const concrete = (text: string) => text.replace(/^ABS\//, `${absolute}/`).replace(/OUT/g, '../outside');
        try {
          await fs.mkdir(outside);
          await fs.writeFile(path.join(outside, 'secret'), 'secret\n');
          const tar = await packTar(entries.map((e) => {
            const content = e.type === 'file' ? Buffer.from('{}') : undefined;
            return { header: entryHeader(e, concrete, content?.length ?? 0), ...(content ? { content } : {}) };
          }));
          let archive: SpooledArchive | undefined;
          try {
            archive = await SpooledArchive.spool(Readable.from([tar]), spool);
          } catch (err) {
            assert.ok(err instanceof InvalidParameterError, `not an InvalidParameterError: ${err instanceof Error ? err.stack : String(err)}`);
          }
          assert.deepEqual((await fs.readdir(base)).sort(), existsSync(spool) ? ['outside', 'spool'] : ['outside'], 'something was written beside the spool directory');
          assert.deepEqual(await fs.readdir(outside), ['secret']);
          assert.equal(await fs.readFile(path.join(outside, 'secret'), 'utf8'), 'secret\n');
          assert.equal((await fs.stat(path.join(outside, 'secret'))).nlink, 1);
          assert.equal(existsSync(absolute), false);
          if (existsSync(spool)) {
            // Only plain files and directories, owner-only: links and modes of the archive are not reproduced.
            const walk = async (dir: string): Promise<void> => {
              for (const name of await fs.readdir(dir)) {
                const st = await fs.lstat(path.join(dir, name));
                assert.ok(st.isFile() || st.isDirectory(), `${name} is neither a file nor a directory`);
                assert.equal(st.mode & 0o7000, 0, `${name} has mode ${st.mode.toString(8)}`);
                if (st.isDirectory()) await walk(path.join(dir, name));
              }
            };
            await walk(spool);
          }
          if (!archive) return;
          for (const name of [...entries.map((e) => concrete(e.name)), ...lookups.map(concrete)]) {
            let file: string | undefined;
            try {
              file = archive.resolve(name);
            } catch (err) {
              assert.ok(err instanceof EngineError, String(err));
              continue;
            }
            if (file === undefined) continue;
            assert.ok(file.startsWith(spool + path.sep), `${name} resolved to ${file}`);
            assert.ok((await fs.lstat(file)).isFile());
          }
        } finally {
          await fs.rm(base, { recursive: true, force: true });
        }
      }),
      fuzzOptions(300),
    );
  });
});
