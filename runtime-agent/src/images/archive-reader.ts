// Reads an image archive (`docker save` output, or an OCI layout tar such as skopeo's
// oci-archive) that arrives as a stream: entries are spooled into a private directory with their
// names checked, since manifest.json or index.json may come last and layers are read after them.
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

import { layerPath } from '../snapshots/layer-unpack.js';
import { InvalidParameterError } from '../util/errors.js';

export class SpooledArchive {
  private readonly links = new Map<string, string>();
  private readonly files = new Set<string>();

  private constructor(readonly dir: string) {}

  static async spool(source: Readable, dir: string): Promise<SpooledArchive> {
    const archive = new SpooledArchive(dir);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const extract = tarStream.extract();
    const consume = (async () => {
      for await (const entry of extract) {
        const { header } = entry;
        const rel = layerPath(header.name);
        if (rel === '' || header.type === 'directory') {
          entry.resume();
          continue;
        }
        if (header.type === 'symlink' || header.type === 'link') {
          // docker save (v1 format) links duplicate layers to one copy: `../<id>/layer.tar`.
          const target = header.type === 'symlink' ? path.posix.join(path.posix.dirname(rel), header.linkname ?? '') : (header.linkname ?? '');
          archive.links.set(rel, layerPath(target));
          entry.resume();
          continue;
        }
        if (header.type !== 'file' && header.type !== 'contiguous-file') {
          entry.resume();
          continue;
        }
        const file = path.join(dir, rel);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await pipeline(entry, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
        archive.files.add(rel);
      }
    })();
    try {
      await Promise.all([pipeline(source, extract), consume]);
    } catch (err) {
      if (err instanceof InvalidParameterError) throw err;
      throw new InvalidParameterError(`invalid archive: ${err instanceof Error ? err.message : String(err)}`);
    }
    return archive;
  }

  /** The spooled path of a member, following links inside the archive; undefined if absent. */
  resolve(name: string): string | undefined {
    let rel = layerPath(name);
    for (let hops = 0; hops < 16 && !this.files.has(rel); hops++) {
      const next = this.links.get(rel);
      if (next === undefined) return undefined;
      rel = next;
    }
    return this.files.has(rel) ? path.join(this.dir, rel) : undefined;
  }

  require(name: string): string {
    const file = this.resolve(name);
    if (!file) throw new InvalidParameterError(`invalid archive: ${name} is missing`);
    return file;
  }

  async readJson<T>(name: string): Promise<T> {
    const text = await fs.readFile(this.require(name), 'utf8');
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new InvalidParameterError(`invalid archive: ${name} is not valid JSON`);
    }
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }
}
