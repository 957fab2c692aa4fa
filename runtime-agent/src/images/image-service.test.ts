// Removal rules of ImageService, with the container half stood in by the usage hook.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tarStream from 'tar-stream';

import { ProgressReporter } from '../vocabulary/progress.js';
import { ArchiveService } from './archives.js';
import { EventBus } from '../events/event-bus.js';
import { ImageService, type ImageUser } from './image-service.js';

async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, size: Buffer.byteLength(content), mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('image removal rules', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-image-service-'));
  let users: ImageUser[] = [];
  const service = new ImageService(dir, new EventBus(), { imageUsers: () => users, snapshotRoots: () => [] });
  let id = '';

  before(async () => {
    await service.init();
    const layer = await tarOf({ 'hello.txt': 'hello' });
    const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } });
    const archive = await tarOf({ 'config.json': config, 'layer.tar': layer, 'manifest.json': JSON.stringify([{ Config: 'config.json', RepoTags: ['app:1'], Layers: ['layer.tar'] }]) });
    const [loaded] = await new ArchiveService(service).load(Readable.from([archive]), new ProgressReporter(() => undefined), true);
    id = loaded?.id ?? '';
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses to untag the last name of an image a stopped container uses, unless forced', async () => {
    users = [{ containerId: 'c'.repeat(64), running: false }];
    await assert.rejects(service.remove('app:1', { force: false, noPrune: false }), /conflict: unable to remove repository reference "app:1" \(must force\) - container cccccccccccc is using its referenced image/);
    await assert.rejects(service.remove(id, { force: false, noPrune: false }), /\(must be forced\) - image is being used by stopped container cccccccccccc/);
    assert.ok(service.images.get(id), 'nothing was removed');
  });

  it('refuses even with force while the container runs', async () => {
    users = [{ containerId: 'd'.repeat(64), running: true }];
    await assert.rejects(service.remove(id, { force: true, noPrune: false }), /\(cannot be forced\) - image is being used by running container dddddddddddd/);
  });

  it('removes with force once the container is stopped, and the snapshot goes too', async () => {
    users = [{ containerId: 'c'.repeat(64), running: false }];
    const records = await service.remove('app:1', { force: true, noPrune: false });
    assert.deepEqual(records[0], { Untagged: 'app:1' });
    assert.ok(records.some((r) => 'Deleted' in r && r.Deleted === id));
    assert.equal(service.images.get(id), undefined);
    assert.deepEqual((await service.snapshots.list()).length, 0);
  });
});
