import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ChmodError, checkChecksum, excludeMatcher, isGitSource, isUrlSource, parseChmod } from './copy-flags.js';

const FILE = false;
const DIR = true;

describe('COPY --chmod', () => {
  it('takes octal modes up to 07777', () => {
    assert.equal(parseChmod('755').apply(0o600, FILE), 0o755);
    assert.equal(parseChmod('0640').apply(0o777, DIR), 0o640);
    assert.equal(parseChmod('4755').apply(0o644, FILE), 0o4755);
    assert.throws(() => parseChmod('17777'), /invalid chmod parameter: '17777'\. it should be octal string and between 0 and 07777/);
    assert.throws(() => parseChmod('0789'), ChmodError);
  });

  it('takes symbolic modes as chmod(1) does, relative to the mode a file has', () => {
    const cases: [string, number, boolean, number][] = [
      ['u=rwx,g=rx,o=rx', 0o600, FILE, 0o755],
      ['+x', 0o644, FILE, 0o755],
      ['a+r', 0o600, FILE, 0o644],
      ['go-w', 0o666, FILE, 0o644],
      ['=rw', 0o755, FILE, 0o644], // no class: the umask (022) is left alone
      ['+w', 0o444, FILE, 0o644],
      ['a=r,a+X', 0o600, FILE, 0o444], // X: no x for a file nobody executes
      ['a=r,a+X', 0o700, FILE, 0o555], // ... and x for one somebody does
      ['a=r,a+X', 0o750, DIR, 0o555], // ... and for a directory
      ['u+s,g+s', 0o755, FILE, 0o6755],
      ['o+s', 0o755, FILE, 0o755], // set-id bits are not for o
      ['+t', 0o777, DIR, 0o1777],
      ['g=u-w', 0o740, FILE, 0o750], // g gets u's bits, less w
      ['u=rw,go=', 0o777, FILE, 0o600],
    ];
    for (const [mode, from, isDir, want] of cases) assert.equal(parseChmod(mode).apply(from, isDir).toString(8), want.toString(8), `${mode} on ${from.toString(8)}`);
  });

  it('refuses what is neither', () => {
    for (const bad of ['u+q', 'x', 'u', '+x,', 'rwx', 'a=r;b']) assert.throws(() => parseChmod(bad), ChmodError, bad);
  });
});

describe("ADD's sources and --exclude", () => {
  it('tells git repositories from URLs and local paths', () => {
    for (const git of ['https://github.com/moby/buildkit.git', 'https://github.com/moby/buildkit.git#v0.13.1', 'git@github.com:moby/buildkit.git', 'git://example.com/x', 'ssh://git@example.com/x']) {
      assert.equal(isGitSource(git), true, git);
      assert.equal(isUrlSource(git), false, git);
    }
    for (const url of ['https://example.com/file.tgz', 'http://example.com/a.git.tar.gz', 'https://example.com/']) assert.equal(isUrlSource(url), true, url);
    for (const local of ['file.git', 'dir/x', 'github.com/moby/buildkit']) assert.equal(isGitSource(local) || isUrlSource(local), false, local);
  });

  it('checks --checksum digests', () => {
    assert.equal(checkChecksum(`sha256:${'a'.repeat(64)}`), undefined);
    assert.match(checkChecksum('sha256:abc') ?? '', /length/);
    assert.match(checkChecksum('md5:abc') ?? '', /format/);
  });

  it('matches --exclude patterns as .dockerignore does', async () => {
    const excluded = (await excludeMatcher(['*.md', '**/*.log', 'sub/keep*', '!sub/keep.txt']))!;
    assert.deepEqual(['a.md', 'x/a.md', 'x/y/z.log', 'sub/keepme', 'sub/keep.txt', 'a.txt'].map(excluded), [true, false, true, true, false, false]);
    assert.equal(await excludeMatcher([]), undefined);
  });
});
