// sha256 digests as the OCI specs write them: "sha256:<64 hex>".
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';


const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

export function sha256Digest(data: string | Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** sha256 digest of everything a stream yields. */
export async function sha256OfStream(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return 'sha256:' + hash.digest('hex');
}

export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}

/** The 12-character form the CLI shows. */
export function shortId(id: string): string {
  return (id.startsWith('sha256:') ? digestHex(id) : id).slice(0, 12);
}
