// SSH keys for berthd's server in the guest. ssh2's own ed25519 key generator strips every
// leading zero byte of the public key (mscdex/ssh2#1390, open in 1.17.0), so one key in 256
// comes out 31 bytes long and ssh2 itself cannot read it back: a guest with such a host key
// could never be reached. Only keys that ssh2 reads back are made or kept.
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** ssh2's module, loaded by the caller on first use (the SSH server is VM mode only). */
export type Ssh2 = typeof import('ssh2');

/** An ed25519 pair (OpenSSH format) whose halves both parse. */
export function generateEd25519Pair(ssh2: Ssh2): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

/**
 * The host key, made on first boot and kept beside the data. A kept key that ssh2 cannot read
 * (made by an earlier berthd with the generator's bug) is replaced; the host does not pin it.
 */
export async function ensureHostKey(ssh2: Ssh2, file: string): Promise<string> {
  const kept = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (kept !== undefined && !(ssh2.utils.parseKey(kept) instanceof Error)) return kept;
  const pair = generateEd25519Pair(ssh2);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(`${file}.pub`, pair.public);
  await fs.writeFile(file, pair.private, { mode: 0o600 });
  return pair.private;
}
