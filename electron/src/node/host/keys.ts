// The host's SSH key pair for the guest link, made on first start, private half 0600.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

import ssh2 from 'ssh2';

export async function ensureKeyPair(privatePath: string, publicPath: string): Promise<{ privateKey: string; publicKey: string }> {
  if (!existsSync(privatePath) || !existsSync(publicPath)) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'berth host' });
    await fs.mkdir(path.dirname(privatePath), { recursive: true, mode: 0o700 });
    await fs.writeFile(privatePath, pair.private, { mode: 0o600 });
    await fs.writeFile(publicPath, pair.public + '\n', { mode: 0o644 });
  }
  await fs.chmod(privatePath, 0o600);
  return { privateKey: await fs.readFile(privatePath, 'utf8'), publicKey: (await fs.readFile(publicPath, 'utf8')).trim() };
}
