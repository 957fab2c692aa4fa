// Facts about the fixture images, read from the OCI layouts scripts/fixtures builds.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';

export function fixtureLayout(name: string): string {
  return path.join(process.env.BERTH_FIXTURE_CACHE ?? '/var/cache/berth-fixtures', name);
}

/** Sum of the regular file sizes of an image's layers: what `docker images` reports. */
export async function layerContentSize(name: string): Promise<number> {
  const layout = fixtureLayout(name);
  const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const blob = (d: string) => path.join(layout, 'blobs', 'sha256', d.slice(7));
  const manifest = JSON.parse(await fs.readFile(blob(index.manifests[0]?.digest ?? ''), 'utf8')) as { layers: { digest: string }[] };
  let total = 0;
  for (const layer of manifest.layers) {
    const extract = tarStream.extract();
    const counting = (async () => {
      for await (const entry of extract) {
        if (entry.header.type === 'file') total += entry.header.size ?? 0;
        entry.resume();
      }
    })();
    await Promise.all([pipeline(createReadStream(blob(layer.digest)), createGunzip(), extract), counting]);
  }
  return total;
}
