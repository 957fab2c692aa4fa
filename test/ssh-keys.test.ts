// The SSH keys of the guest link (host's login key, guest's host key) are ones ssh2 can read:
// ssh2 1.17's own ed25519 generator makes one key in 256 that it cannot read back
// (mscdex/ssh2#1390), which CI once met as "Cannot parse privateKey: Malformed OpenSSH private key".
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import ssh2 from 'ssh2';

import { ensureKeyPair, generateEd25519Pair } from '../electron/src/node/host/keys.js';
import { ensureHostKey, generateEd25519Pair as generateGuestPair } from '../runtime-agent/src/vm/ssh-keys.js';

// A pair from ssh2's generator whose public key began with a zero byte, which it dropped.
const UNREADABLE_PRIVATE = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMgAAAAtz
c2gtZWQyNTUxOQAAAB9ZKao4sHeuPI8Gh9xqm+9dBpYux5taLQfadpIQfwqrAAAA
iMVlEdDFZRHQAAAAC3NzaC1lZDI1NTE5AAAAH1kpqjiwd648jwaH3Gqb710Gli7H
m1otB9p2khB/CqsAAAA/EFpFEDlug6+kJvFe7zF5WqlCu9tPZm5E+27qEMy/uPdZ
Kao4sHeuPI8Gh9xqm+9dBpYux5taLQfadpIQfwqrAAAAAAECAwQFBgc=
-----END OPENSSH PRIVATE KEY-----
`;
const UNREADABLE_PUBLIC = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH1kpqjiwd648jwaH3Gqb710Gli7Hm1otB9p2khB/Cqs=';

/** The key's raw ed25519 public key, or the parse error. */
function publicKeyBytes(key: string): number | Error {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) return parsed;
  // The SSH wire form: string "ssh-ed25519", string key.
  const wire = parsed.getPublicSSH();
  return wire.readUInt32BE(4 + wire.readUInt32BE(0));
}

describe('SSH keys of the guest link', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-keys-'));
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('the fixture is what ssh2 cannot read', () => {
    assert.match(String(ssh2.utils.parseKey(UNREADABLE_PRIVATE)), /Malformed OpenSSH private key/);
    assert.ok(ssh2.utils.parseKey(UNREADABLE_PUBLIC) instanceof Error);
  });

  it('makes only pairs ssh2 reads back, 32-byte keys (3000 of each side: ~12 would fail unchecked)', () => {
    const sizes = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const host = generateEd25519Pair();
      const guest = generateGuestPair(ssh2);
      for (const key of [host.privateKey, host.publicKey, guest.private, guest.public]) {
        const size = publicKeyBytes(key);
        if (size instanceof Error) assert.fail(`${size.message}:\n${key}`);
        sizes.set(String(size), (sizes.get(String(size)) ?? 0) + 1);
      }
    }
    assert.deepEqual([...sizes], [['32', 12000]]);
  });

  it("host: keeps a readable pair, and replaces one ssh2 cannot read", async () => {
    const privatePath = path.join(dir, 'host', 'ssh', 'id_ed25519');
    const publicPath = `${privatePath}.pub`;
    const first = await ensureKeyPair(privatePath, publicPath);
    assert.equal((await fs.stat(privatePath)).mode & 0o777, 0o600);
    assert.deepEqual(await ensureKeyPair(privatePath, publicPath), first);

    await fs.writeFile(privatePath, UNREADABLE_PRIVATE);
    await fs.writeFile(publicPath, UNREADABLE_PUBLIC + '\n');
    const replaced = await ensureKeyPair(privatePath, publicPath);
    assert.notEqual(replaced.privateKey, UNREADABLE_PRIVATE);
    assert.equal(publicKeyBytes(replaced.privateKey), 32);
    assert.equal(publicKeyBytes(replaced.publicKey), 32);
    assert.equal(await fs.readFile(privatePath, 'utf8'), replaced.privateKey);
    assert.equal(await fs.readFile(publicPath, 'utf8'), replaced.publicKey + '\n');
    assert.equal((await fs.stat(privatePath)).mode & 0o777, 0o600);
  });

  it('guest: keeps a readable host key, and replaces one ssh2 cannot read (or a cut one)', async () => {
    const file = path.join(dir, 'guest', 'ssh_host_ed25519_key');
    const first = await ensureHostKey(ssh2, file);
    assert.equal(await ensureHostKey(ssh2, file), first);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);

    for (const kept of [UNREADABLE_PRIVATE, first.slice(0, 100)]) {
      await fs.writeFile(file, kept);
      const replaced = await ensureHostKey(ssh2, file);
      assert.notEqual(replaced, kept);
      assert.equal(publicKeyBytes(replaced), 32);
      assert.equal(await fs.readFile(file, 'utf8'), replaced);
      assert.equal(publicKeyBytes(await fs.readFile(`${file}.pub`, 'utf8')), 32);
      // ssh2's server takes it.
      new ssh2.Server({ hostKeys: [replaced] }).close();
    }
  });
});
