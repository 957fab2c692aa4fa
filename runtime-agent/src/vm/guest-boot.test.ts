// The guest side of the boot arguments that can be checked without a VM: the mount commands for
// each kind of share, and reading /proc/self/mounts (whose mount points escape spaces) so that a
// berthd restarted by init leaves the folders it mounted before alone.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { applyBootArguments, mountArguments, mountPoints } from './guest-boot.js';
import { formatBootArguments } from './guest-contract.js';

describe('guest boot arguments, applied', () => {
  it('mounts 9p with the virtio transport and virtiofs by tag, at the host path as one argument', () => {
    assert.deepEqual(mountArguments({ tag: 'share0', kind: '9p', path: '/Users/me/My Projects' }), ['-t', '9p', '-o', 'trans=virtio,version=9p2000.L,msize=524288,cache=mmap', 'share0', '/Users/me/My Projects']);
    assert.deepEqual(mountArguments({ tag: 'share1', kind: 'virtiofs', path: '/a:b' }), ['-t', 'virtiofs', 'share1', '/a:b']);
  });

  it('reads mount points from /proc/self/mounts, undoing its octal escapes', () => {
    const mounts = 'overlay / overlay rw 0 0\nshare0 /Users/me/My\\040Projects 9p rw,trans=virtio 0 0\nshare1 /tab\\011dir virtiofs rw 0 0\n';
    assert.deepEqual([...mountPoints(mounts)], ['/', '/Users/me/My Projects', '/tab\tdir']);
  });

  it('writes the host key for the SSH server (0600), and an empty file when none was given', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-guest-boot-'));
    try {
      const file = path.join(dir, 'run/authorized_keys');
      const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2y5cQ3mQ9V0lV2oHc8G4n7o1r9j3cXr3kQ2YxkF0aZ host';
      const applied = await applyBootArguments(`quiet ${formatBootArguments({ authorizedKey: key, shares: [], debugShell: true }).join(' ')}`, file);
      assert.deepEqual(applied, { arguments: { authorizedKey: key, shares: [], debugShell: true }, problems: [] });
      assert.equal(readFileSync(file, 'utf8'), `${key}\n`);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      // A later boot without a key must not leave the earlier one valid.
      const without = await applyBootArguments('quiet berth.debug=yes', file);
      assert.equal(readFileSync(file, 'utf8'), '');
      assert.equal(without.problems.length, 2, without.problems.join('\n'));
      assert.match(without.problems[1]!, /no host key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
