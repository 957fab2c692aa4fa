// Lists a directory of a volume through the Engine API alone, so it works with any engine: a
// helper container (created, never started) mounts the volume read-only, and the engine's archive
// of the directory is read for its direct children. File contents are skipped, not kept.
import { extract } from 'tar-stream';

import type { ContainerCreateRequest, ContainerCreateResponse, ContainerSummary, ImageSummary, Volume } from '../../common/engine-types.js';
import type { VolumeEntry } from '../../common/host-api.js';
import { callEngine, engineJson, engineResponse } from './engine-calls.js';

const MOUNT = '/berth-volume';
const MAX_ENTRIES = 5000;

/** The label that marks helper containers, which the GUI leaves out of the container list. */
export const HELPER_LABEL = 'io.berth.helper';

/** An image to base the helper on: one a container using the volume runs, else any local one. */
async function helperImage(socket: string, volume: string): Promise<string> {
  const users = await engineJson<ContainerSummary[]>(socket, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ volume: [volume] }))}`);
  if (users[0]) return users[0].ImageID;
  const images = await engineJson<ImageSummary[]>(socket, 'GET', '/images/json');
  if (!images[0]) throw new Error('browsing a volume needs an image on the engine (for a helper container that mounts it): pull one first');
  return images[0].Id;
}

export function normalizeVolumePath(requested: string): string {
  const parts: string[] = [];
  for (const part of requested.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new Error('the path must stay inside the volume');
    parts.push(part);
  }
  return parts.join('/');
}

export async function browseVolume(socket: string, volume: string, requested: string): Promise<VolumeEntry[]> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(volume)) throw new Error(`invalid volume name ${JSON.stringify(volume)}`);
  const relative = normalizeVolumePath(requested);
  await engineJson<Volume>(socket, 'GET', `/volumes/${volume}`);
  const helper: ContainerCreateRequest = {
    Image: await helperImage(socket, volume),
    Entrypoint: ['/berth-volume-browser-never-runs'],
    Labels: { [HELPER_LABEL]: 'volume-browser' },
    NetworkDisabled: true,
    HostConfig: { Mounts: [{ Type: 'volume', Source: volume, Target: MOUNT, ReadOnly: true, VolumeOptions: { NoCopy: true } }], NetworkMode: 'none' },
  };
  const created = await engineJson<ContainerCreateResponse>(socket, 'POST', '/containers/create', helper);
  try {
    const archive = await engineResponse(socket, 'GET', `/containers/${created.Id}/archive?path=${encodeURIComponent(`${MOUNT}/${relative}`)}`);
    return await directChildren(archive);
  } finally {
    await callEngine(socket, 'DELETE', `/containers/${created.Id}?force=1`).catch(() => undefined);
  }
}

/** The archive's top entry is the directory itself; its direct children are one level below. */
function directChildren(archive: NodeJS.ReadableStream): Promise<VolumeEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: VolumeEntry[] = [];
    let root: string | undefined;
    let rootIsDirectory = false;
    const unpack = extract();
    unpack.on('entry', (header, body, next) => {
      const name = header.name.replace(/\/+$/, '');
      if (root === undefined) {
        root = name;
        rootIsDirectory = header.type === 'directory';
      }
      const rest = name.startsWith(`${root}/`) ? name.slice(root.length + 1) : undefined;
      if (rest && !rest.includes('/') && entries.length < MAX_ENTRIES) {
        const type = header.type === 'file' || header.type === 'contiguous-file' ? 'file' : header.type === 'directory' ? 'directory' : header.type === 'symlink' ? 'symlink' : 'other';
        entries.push({
          name: rest,
          type,
          size: header.size ?? 0,
          mode: header.mode ?? 0,
          modified: (header.mtime ?? new Date(0)).toISOString(),
          ...(header.linkname && type === 'symlink' ? { linkTarget: header.linkname } : {}),
        });
      }
      body.on('end', next);
      body.resume();
    });
    unpack.on('finish', () => {
      if (root === undefined) return reject(new Error('the engine sent an empty archive'));
      if (!rootIsDirectory) return reject(new Error(`${root} is not a directory`));
      resolve(entries.sort((a, b) => (a.type === 'directory') !== (b.type === 'directory') ? (a.type === 'directory' ? -1 : 1) : a.name.localeCompare(b.name)));
    });
    unpack.on('error', reject);
    archive.on('error', reject);
    archive.pipe(unpack);
  });
}
