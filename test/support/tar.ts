// Builds tars in memory for tests: layers (including hostile ones) and image archives.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(1_700_000_000_000), uid: 0, gid: 0, ...(e.linkname ? { linkname: e.linkname } : {}), ...(type === 'file' ? { size: content.length } : {}) },
        type === 'file' ? content : Buffer.alloc(0),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

/** An image config for the given plain layer tars. */
export function imageConfig(layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-02T03:04:05Z',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
      history: layers.map((_, i) => ({ created: '2026-01-02T03:04:05Z', created_by: `layer ${i}` })),
      ...extra,
    }),
  );
}

/** A `docker save`-style archive (manifest.json + config + plain layer tars). */
export async function dockerArchive(layers: Buffer[], repoTags: string[] | null, config = imageConfig(layers)): Promise<{ archive: Buffer; imageId: string }> {
  const imageId = sha256(config);
  const hex = imageId.slice(7);
  const entries: TarEntry[] = [
    { name: `${hex}.json`, content: config },
    ...layers.map((l, i) => ({ name: `layer${i}/layer.tar`, content: l })),
    { name: 'manifest.json', content: JSON.stringify([{ Config: `${hex}.json`, RepoTags: repoTags, Layers: layers.map((_, i) => `layer${i}/layer.tar`) }]) },
  ];
  return { archive: await makeTar(entries), imageId };
}
