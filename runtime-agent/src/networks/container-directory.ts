// The containers the network code needs to see: the container store (state/container-store.ts), handed to the network
// service when the engine is made (networks/ imports nothing of containers/).
import type { ContainerRecord } from '../vocabulary/container-record.js';

export interface ContainerDirectory {
  all(): ContainerRecord[];
  find(idOrName: string): ContainerRecord | undefined;
  get(idOrName: string): ContainerRecord;
  dir(id: string): string;
  save(record: ContainerRecord): Promise<void>;
}

/** Running or paused: its process exists, so its endpoints are live. */
export const isRunning = (c: ContainerRecord): boolean => c.State.Status === 'running' || c.State.Status === 'paused';
