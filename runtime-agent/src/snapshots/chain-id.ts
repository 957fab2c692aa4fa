// Chain IDs (OCI image-spec config.md): a layer's identity together with every layer below it,
// so the same diff on top of different parents is a different snapshot.
import { createHash } from 'node:crypto';

export function chainIds(diffIds: readonly string[]): string[] {
  const result: string[] = [];
  for (const diffId of diffIds) {
    const parent = result[result.length - 1];
    result.push(parent === undefined ? diffId : 'sha256:' + createHash('sha256').update(`${parent} ${diffId}`).digest('hex'));
  }
  return result;
}
