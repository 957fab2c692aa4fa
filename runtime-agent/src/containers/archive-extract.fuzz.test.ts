// Property-based fuzz of `docker cp` into and out of a container (issue 9, hostile input): the
// request path and the tar come from the client, the symlinks in the rootfs from whoever controls
// the container. A root filesystem is planted with the symlinks a hostile container would make
// (to /, to ../../.., through a missing directory and back up, to the host path of a directory
// beside the rootfs); then
//   - resolveInRoot answers a path inside the root for any container path, and
//   - extractIntoRootfs, for any destination and any entries (names with `..` and absolute paths,
//     symlinks, hardlinks, devices, setuid modes), extracts or throws a clear EngineError and
//     changes nothing outside the root: a sibling directory with a secret keeps every byte,
//     mode and link count, and absolute host paths named by the request never appear.
//
// Runs are bounded; BERTH_FUZZ_RUNS=N runs every property N times, BERTH_FUZZ_SEED=S replays.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import { EngineError } from '../util/errors.js';
import { extractIntoRootfs } from './archive-extract.js';
import { resolveInRoot, type MountedPath } from './rootfs-paths.js';
import { type FuzzEntry, entryHeader, fingerprint, fuzzOptions, packTar } from '../testing/fuzz.js';

interface Sandbox {
  base: string;
  root: string;
  outside: string;
  /** Sources of a read-write and a read-only volume mounted at /vol and /ro. */
  volume: string;
  readOnly: string;
  mounts: MountedPath[];
  /** An absolute host path that requests and symlinks name directly. */
  absolute: string;
}

/**
 * A rootfs as a hostile container leaves it: symlinks that point at the container's / (which
 * must stay the container's), climb with `..`, go through a directory that does not exist and
 * back up, or name the host path of the directory next to the rootfs.
 */
async function makeSandbox(parent: string): Promise<Sandbox> {
  const base = await fs.mkdtemp(path.join(parent, 'run-'));
  const volume = path.join(base, 'volume');
  const readOnly = path.join(base, 'read-only');
  const mounts = [
    { Destination: '/vol', Source: volume, RW: true },
    { Destination: '/ro', Source: readOnly, RW: false },
  ];
  const sandbox = { base, root: path.join(base, 'rootfs'), outside: path.join(base, 'outside'), absolute: path.join(base, 'absolute-canary'), volume, readOnly, mounts };
  await fs.mkdir(volume);
  await fs.mkdir(readOnly);
  await fs.writeFile(path.join(readOnly, 'kept'), 'kept\n');
  await fs.mkdir(path.join(sandbox.root, 'etc'), { recursive: true });
  await fs.mkdir(path.join(sandbox.root, 'tmp'));
  await fs.writeFile(path.join(sandbox.root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await fs.mkdir(sandbox.outside);
  await fs.writeFile(path.join(sandbox.outside, 'secret'), 'secret\n', { mode: 0o600 });
  const links: Record<string, string> = {
    'to-root': '/',
    'climb': '../..',
    'through-missing': '/missing/../..',
    'through-missing-rel': 'missing/../..',
    'host-outside': sandbox.outside,
    'host-absolute': sandbox.absolute,
    'tmp/loop': '/tmp/loop',
    'etc/up': '..',
    'dangling': '/nowhere/at/all',
    'vol-climb': '/vol/../..',
    'vol/up': '../..',
  };
  await fs.mkdir(path.join(sandbox.root, 'vol'));
  await fs.mkdir(path.join(sandbox.root, 'ro'));
  for (const [name, target] of Object.entries(links)) await fs.symlink(target, name.startsWith('vol/') ? path.join(volume, name.slice(4)) : path.join(sandbox.root, name));
  return sandbox;
}


function inside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root + path.sep);
}

const SEGMENTS = ['vol', 'ro', 'vol-climb', 'kept', 'to-root', 'climb', 'through-missing', 'through-missing-rel', 'host-outside', 'host-absolute', 'tmp', 'loop', 'etc', 'up', 'passwd', 'dangling', 'missing', 'new', '..', '.', '', 'OUTSIDE', 'ABS'];
/** The planted symlinks that climb (each by at most two levels past the root). */
const CLIMBERS = new Set(['climb', 'through-missing', 'through-missing-rel', 'vol-climb', 'up']);
const containerPath = fc
  .tuple(fc.constantFrom('/', '', './', '../'), fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 6 }), fc.constantFrom('', '/', '/.'))
  // At most two climbing symlinks per path: with the explicit `..`s that bounds how far a path
  // could climb if the resolver stopped clamping (see NESTING).
  .filter(([, parts]) => parts.filter((p) => CLIMBERS.has(p)).length <= 2)
  .map(([head, parts, tail]) => head + parts.join('/') + tail);

/** OUTSIDE and ABS stand for host paths of the sandbox (a request can name any host path). */
function concrete(text: string, sandbox: Sandbox): string {
  return text.replace(/ABS/g, sandbox.absolute.slice(1)).replace(/OUTSIDE/g, sandbox.outside.slice(1));
}

const entry: fc.Arbitrary<FuzzEntry> = fc.record({
  name: containerPath,
  type: fc.constantFrom('file', 'file', 'directory', 'symlink', 'link', 'character-device', 'fifo'),
  linkname: fc.oneof(containerPath, fc.constantFrom('/etc/passwd', '../../../../etc/passwd', 'ABS/x', '/', '')),
  mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o2755, 0o7777, 0o000),
});

function packEntries(entries: FuzzEntry[], sandbox: Sandbox): Promise<Buffer> {
  return packTar(entries.map((e) => {
    const content = e.type === 'file' ? Buffer.from('payload\n') : undefined;
    return { header: entryHeader(e, (text) => concrete(text, sandbox), content?.length ?? 0), ...(content ? { content } : {}) };
  }));
}

/**
 * How deep the sandboxes sit in the scratch directory: deeper than any path here can climb (a
 * destination and an entry name of seven `..` each and two symlinks that climb two levels each).
 * Should a regression let a path climb out of the root, the write lands in the scratch directory
 * and fails the test, instead of landing on the host.
 */
const NESTING = 24;

describe('docker cp (archive extraction) fuzz', () => {
  let scratch: string;
  let nest: string;
  let shared: Sandbox;
  before(async () => {
    scratch = await fs.mkdtemp(path.join(tmpdir(), 'berth-cp-fuzz-'));
    nest = path.join(scratch, ...Array<string>(NESTING).fill('d'));
    await fs.mkdir(nest, { recursive: true });
    shared = await makeSandbox(nest);
  });
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('resolves every container path to a host path inside the root or one of its mounts', async () => {
    await fc.assert(
      fc.asyncProperty(containerPath, fc.boolean(), async (text, followLast) => {
        let resolved: string;
        try {
          resolved = await resolveInRoot(shared.root, concrete(text, shared), followLast, shared.mounts);
        } catch (err) {
          assert.ok(err instanceof EngineError, String(err));
          return;
        }
        const where = [shared.root, shared.volume, shared.readOnly];
        assert.ok(where.some((dir) => inside(dir, resolved)), `${JSON.stringify(text)} resolved to ${resolved}, outside the rootfs and its mounts`);
      }),
      fuzzOptions(3000),
    );
  });

  it('extracts or refuses any entries at any destination, and writes nothing outside the root', async () => {
    await fc.assert(
      fc.asyncProperty(containerPath, fc.array(entry, { minLength: 1, maxLength: 6 }), async (destination, entries) => {
        const sandbox = await makeSandbox(nest);
        try {
          const tar = await packEntries(entries, sandbox);
          const before = await fingerprint(sandbox.outside);
          const readOnlyBefore = await fingerprint(sandbox.readOnly);
          try {
            await extractIntoRootfs(sandbox.root, concrete(destination, sandbox) || '/', Readable.from([tar]), sandbox.mounts);
          } catch (err) {
            if (!(err instanceof EngineError)) throw new Error(`not an EngineError: ${err instanceof Error ? err.stack : String(err)}`);
            assert.ok(err.statusCode >= 400 && err.statusCode < 500, `${err.statusCode}: ${err.message}`);
          }
          assert.deepEqual(await fingerprint(sandbox.outside), before, 'the directory beside the rootfs changed');
          assert.deepEqual(await fingerprint(sandbox.readOnly), readOnlyBefore, 'the read-only volume changed');
          assert.equal(existsSync(sandbox.absolute), false, 'a host path named by the request appeared');
          const siblings = (await fs.readdir(sandbox.base)).sort();
          assert.deepEqual(siblings, ['outside', 'read-only', 'rootfs', 'volume'], 'something was created beside the rootfs');
        } finally {
          await fs.rm(sandbox.base, { recursive: true, force: true });
        }
      }),
      fuzzOptions(200),
    );
  });
});
