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

export { isRunning } from '../vocabulary/container-record.js';
