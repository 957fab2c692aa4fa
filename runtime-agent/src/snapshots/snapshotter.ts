// Unpacked layers, one directory per chain ID, ready to be stacked as overlayfs lower dirs:
//   snapshots/<chain hex>/diff       the layer's files (whiteouts in overlayfs form)
//   snapshots/<chain hex>/meta.json  parent chain ID, diff ID, sizes
// A snapshot is built in snapshots/.tmp-*/ and renamed into place only when complete, so a crash
// leaves either no snapshot or a whole one; leftovers are swept at start.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { fsyncDir, readJsonIfExists, removeTempFiles } from '../util/atomic-file.js';
import { digestHex } from '../util/digest.js';
import { SystemError, isErrnoException } from '../util/errors.js';
import { SingleFlight } from '../util/keyed-lock.js';
import { removeTree } from '../util/remove-tree.js';
import { unpackLayer, type UnpackResult } from './layer-unpack.js';

export interface SnapshotInfo {
  chainId: string;
  parent?: string;
  diffId: string;
  tarSize: number;
  contentSize: number;
  created: string;
}

export class Snapshotter {
  private readonly inFlight = new SingleFlight();

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    await removeTempFiles(this.root);
  }

  private dir(chainId: string): string {
    return path.join(this.root, digestHex(chainId));
  }

  diffDir(chainId: string): string {
    return path.join(this.dir(chainId), 'diff');
  }

  async get(chainId: string): Promise<SnapshotInfo | undefined> {
    return readJsonIfExists<SnapshotInfo>(path.join(this.dir(chainId), 'meta.json'));
  }

  async has(chainId: string): Promise<boolean> {
    return (await this.get(chainId)) !== undefined;
  }

  /** Overlay lower dirs for the snapshot, top first (the order `lowerdir=` wants). */
  async lowerDirs(chainId: string): Promise<string[]> {
    const dirs: string[] = [];
    let current: string | undefined = chainId;
    while (current) {
      const info = await this.get(current);
      if (!info) throw new SystemError(`snapshot ${current} is missing`);
      dirs.push(this.diffDir(current));
      current = info.parent;
    }
    return dirs;
  }

  /**
   * Creates the snapshot `chainId` from the uncompressed layer tar that `open` returns, unless it
   * exists. `expectedDiffId` is checked against the bytes actually unpacked. When `gate` is given,
   * the snapshot is committed only once it resolves (a pull unpacks while it downloads, and the
   * blob's digest is known to be right only at the end); if it rejects, nothing is kept.
   * Concurrent calls for the same chain share one unpack.
   */
  async create(chainId: string, parent: string | undefined, expectedDiffId: string | undefined, open: () => Readable, gate?: Promise<unknown>): Promise<SnapshotInfo> {
    const existing = await this.get(chainId);
    if (existing) return existing;
    return this.inFlight.do(chainId, () => this.unpackInto(chainId, parent, expectedDiffId, open, gate)).promise;
  }

  private async unpackInto(chainId: string, parent: string | undefined, expectedDiffId: string | undefined, open: () => Readable, gate: Promise<unknown> | undefined): Promise<SnapshotInfo> {
    const tmp = path.join(this.root, `.tmp-${randomBytes(8).toString('hex')}`);
    await fs.mkdir(path.join(tmp, 'diff'), { recursive: true, mode: 0o755 });
    let result: UnpackResult;
    try {
      result = await unpackLayer(open(), path.join(tmp, 'diff'));
      if (expectedDiffId && result.diffId !== expectedDiffId) {
        throw new SystemError(`layer verification failed: expected diff ID ${expectedDiffId}, got ${result.diffId}`);
      }
      const info: SnapshotInfo = {
        chainId,
        ...(parent ? { parent } : {}),
        diffId: result.diffId,
        tarSize: result.tarSize,
        contentSize: result.contentSize,
        created: new Date().toISOString(),
      };
      await fs.writeFile(path.join(tmp, 'meta.json'), JSON.stringify(info));
      await gate;
      await fs.rename(tmp, this.dir(chainId));
      await fsyncDir(this.root);
      return info;
    } catch (err) {
      await removeTree(tmp);
      if (isErrnoException(err, 'ENOTEMPTY') || isErrnoException(err, 'EEXIST')) {
        const raced = await this.get(chainId);
        if (raced) return raced;
      }
      throw err;
    }
  }

  async remove(chainId: string): Promise<void> {
    // Rename first so a crash mid-delete never leaves a half-deleted snapshot under its real name.
    const doomed = path.join(this.root, `.tmp-rm-${randomBytes(8).toString('hex')}`);
    try {
      await fs.rename(this.dir(chainId), doomed);
    } catch (err) {
      if (isErrnoException(err, 'ENOENT')) return;
      throw err;
    }
    await removeTree(doomed);
  }

  async list(): Promise<string[]> {
    const names = await fs.readdir(this.root);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }
}
