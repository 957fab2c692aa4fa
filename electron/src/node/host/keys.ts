// The host's SSH key pair for the guest link, made on first start, private half 0600.
//
// ssh2's ed25519 generator strips every leading zero byte of the public key (mscdex/ssh2#1390,
// open in 1.17.0): one key in 256 comes out 31 bytes long, and ssh2 cannot read it back, so that
// host could never log into its guest. Only keys ssh2 reads back are made or kept. Replacing a
// kept key is safe: the guest is given the public half on every boot.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import ssh2 from 'ssh2';

export interface HostKeyPair {
  privateKey: string;
  publicKey: string;
}

/** An ed25519 pair (OpenSSH format) whose halves both parse. */
export function generateEd25519Pair(comment?: string): HostKeyPair {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (parses(pair.private) && parses(pair.public)) return { privateKey: pair.private, publicKey: pair.public };
  }
}

export async function ensureKeyPair(privatePath: string, publicPath: string): Promise<HostKeyPair> {
  const kept = { privateKey: await fs.readFile(privatePath, 'utf8').catch(() => ''), publicKey: (await fs.readFile(publicPath, 'utf8').catch(() => '')).trim() };
  if (parses(kept.privateKey) && parses(kept.publicKey)) {
    await fs.chmod(privatePath, 0o600);
    return kept;
  }
  const pair = generateEd25519Pair('berth host');
  await fs.mkdir(path.dirname(privatePath), { recursive: true, mode: 0o700 });
  await fs.writeFile(privatePath, pair.privateKey, { mode: 0o600 });
  await fs.chmod(privatePath, 0o600);
  await fs.writeFile(publicPath, pair.publicKey + '\n', { mode: 0o644 });
  return pair;
}

function parses(key: string): boolean {
  return key !== '' && !(ssh2.utils.parseKey(key) instanceof Error);
}
