// One hook for what the resource pages read beyond the store's lists: a load that runs again when
// its inputs change (the store's lists change on engine events, so passing them keeps pages live).
// The last answer stays on screen while the next one loads, so live updates do not flicker.
import { useEffect, useState } from 'react';

import { host } from './host';
import { errorText } from './format';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
}

export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    let current = true;
    setState((old) => ({ ...old, loading: true }));
    load().then(
      (data) => current && setState({ data, error: undefined, loading: false }),
      (err: unknown) => current && setState((old) => ({ data: old.data, error: errorText(err), loading: false })),
    );
    // An answer that arrives after the inputs changed belongs to the old inputs.
    return () => {
      current = false;
    };
  }, deps);
  return state;
}

/** A GET on the Engine API, loaded again whenever one of `deps` changes. */
export function useEngine<T>(path: string | undefined, deps: readonly unknown[] = []): Loaded<T> {
  return useLoad(() => (path ? host.call<T>('GET', path) : Promise.resolve(undefined as T)), [path, ...deps]);
}

/** The subset of a container in `GET /containers/json` the resource pages use. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  State: string;
  Labels: Record<string, string> | null;
  Mounts?: { Type: string; Name?: string; Source: string; Destination: string; RW: boolean }[];
  NetworkSettings?: { Networks?: Record<string, { NetworkID: string; Aliases: string[] | null; IPAddress: string; MacAddress: string }> };
}

/** Containers the GUI makes for its own work (the volume browser's helper) are not the user's. */
export const HELPER_LABEL = 'io.berth.helper';

export function containerName(c: { Names: string[]; Id: string }): string {
  return c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
}

/** Every container of the engine, the helpers left out. */
export function userContainers(list: ContainerSummary[] | undefined): ContainerSummary[] {
  return (list ?? []).filter((c) => !c.Labels?.[HELPER_LABEL]);
}
