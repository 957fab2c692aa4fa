// Containers as the user knows them: by name, and without the GUI's own helpers.
import type { ContainerSummary } from '../../electron/src/common/engine-types';

/**
 * Containers the GUI makes for its own work (the volume browser's helper) carry this label; they
 * are not the user's. The host side sets it (electron/src/node/dashboard/volume-browser.ts).
 */
export const HELPER_LABEL = 'io.berth.helper';

/** The name without its leading slash, or the short ID of a container without one. */
export function containerName(c: Pick<ContainerSummary, 'Names' | 'Id'>): string {
  return c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
}

/** Every container of the engine, the helpers left out. */
export function userContainers(list: ContainerSummary[] | undefined): ContainerSummary[] {
  return (list ?? []).filter((c) => !c.Labels?.[HELPER_LABEL]);
}
