// Which containers use what: images (rmi refuses, garbage collection keeps their layers), volumes
// (volume rm refuses) and the snapshots of removed containers still being cleared. It is made with
// the container store, before the image and volume services, which are handed it: they ask and the
// containers answer, and no service has to be told about another after it was made.
import type { ImageUsage, ImageUser } from '../images/image-service.js';
import type { VolumeUsers } from '../volumes/volume-service.js';
import { isRunning } from '../vocabulary/container-record.js';
import type { ContainerStore } from '../state/container-store.js';

export class ContainerUsage implements ImageUsage {
  /** Removed containers whose runtime state, mounts and directory are still being cleared. */
  readonly cleaning = new Map<string, { chainId: string | undefined; done: Promise<void> }>();

  constructor(private readonly store: ContainerStore) {}

  imageUsers(imageId: string): ImageUser[] {
    return this.store.all().filter((c) => c.Image === imageId).map((c) => ({ containerId: c.Id, running: isRunning(c) }));
  }

  /** Snapshots containers stand on, including those of removed ones not yet cleared. */
  snapshotRoots(): string[] {
    return [...this.store.all().map((c) => c.SnapshotChainId), ...[...this.cleaning.values()].map((c) => c.chainId)].filter((c): c is string => Boolean(c));
  }

  readonly volumeUsers: VolumeUsers = (name) => {
    const users = this.store.all().filter((c) => c.MountPoints?.some((m) => m.Name === name));
    return { all: users.map((c) => c.Id), running: users.filter(isRunning).map((c) => c.Id) };
  };
}
