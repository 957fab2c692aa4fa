// `docker commit`: the container's changes become a new layer on top of its image, with the
// container's config (and `-c` changes) as the image config.
import { chainIds } from '../snapshots/chain-id.js';
import type { ImageService } from '../images/image-service.js';
import { applyChanges } from '../images/import.js';
import { MediaType, type ContainerConfig, type ImageConfig } from '../vocabulary/media-types.js';
import type { Reference } from '../vocabulary/reference.js';
import { sha256Digest } from '../util/digest.js';
import { changesTar } from './changes.js';
import type { ContainerService } from './container-service.js';
import { ContainerRootfs } from './rootfs.js';

export interface CommitOptions {
  tag?: Reference;
  comment: string;
  author: string;
  changes: string[];
  pause: boolean;
  /** Config fields given in the request body override the container's. */
  config?: ContainerConfig;
}

const IMAGE_CONFIG_KEYS = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'OnBuild', 'Healthcheck', 'Shell'] as const;

/**
 * Pauses a running container for a consistent snapshot. One that is exiting (its record still
 * says running, the runtime no longer does) has nothing left to freeze: commit it as it is, as
 * dockerd does, instead of failing with "not running". Says whether it paused.
 */
async function pauseUnlessExiting(containers: ContainerService, id: string): Promise<boolean> {
  try {
    await containers.pause(id);
    return true;
  } catch (err) {
    const state = await containers.runtime.state(id);
    if (state?.status === 'running') throw err;
    return false;
  }
}

export async function commitContainer(containers: ContainerService, images: ImageService, idOrName: string, options: CommitOptions): Promise<string> {
  const record = containers.store.get(idOrName);
  const parent = images.images.get(record.Image);
  const parentConfig: ImageConfig = parent ? await images.config(parent.id) : { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
  const paused = options.pause && record.State.Status === 'running' && (await pauseUnlessExiting(containers, record.Id));
  let blob: { digest: string; size: number };
  try {
    const upper = new ContainerRootfs(containers.store.dir(record.Id)).upper;
    blob = await images.content.ingest(changesTar(upper));
  } finally {
    // It may have been killed meanwhile: then there is nothing left to resume.
    if (paused) {
      await containers.unpause(record.Id).catch(async (err: unknown) => {
        if ((await containers.runtime.state(record.Id))?.status === 'paused') throw err;
      });
    }
  }
  const diffId = blob.digest;
  const diffIds = [...(parentConfig.rootfs?.diff_ids ?? []), diffId];
  const chains = chainIds(diffIds);
  const chainId = chains[chains.length - 1] ?? diffId;
  const created = new Date().toISOString();
  const containerConfig: ContainerConfig = {};
  for (const key of IMAGE_CONFIG_KEYS) {
    const value = (options.config as Record<string, unknown> | undefined)?.[key] ?? (record.Config as Record<string, unknown>)[key];
    if (value !== undefined && value !== null && value !== '') (containerConfig as Record<string, unknown>)[key] = value;
  }
  const config: ImageConfig = {
    ...parentConfig,
    created,
    container: record.Id,
    container_config: { ...record.Config },
    config: applyChanges(containerConfig, options.changes),
    ...(options.author ? { author: options.author } : {}),
    ...(options.comment ? { comment: options.comment } : {}),
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...(parentConfig.history ?? []), { created, created_by: [record.Path, ...record.Args].join(' '), ...(options.author ? { author: options.author } : {}), ...(options.comment ? { comment: options.comment } : {}) }],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const id = sha256Digest(configBytes);
  await images.leases.with([id, diffId, chainId], async () => {
    await images.snapshots.create(chainId, chains[chains.length - 2], diffId, () => images.content.openRead(diffId));
    await images.content.put(configBytes, id);
    await images.saveRecord(
      id,
      [...(parent?.layers ?? []), { diffId, chainId, blob: { mediaType: MediaType.OciLayer, digest: diffId, size: blob.size } }],
      parent ? { parent: parent.id } : {},
    );
    if (options.tag) await images.mutations.run('images', () => images.images.addRef(options.tag as Reference, id));
  });
  images.events.publish('container', 'commit', record.Id, { comment: options.comment, imageID: id, name: record.Name.slice(1) });
  return id;
}
