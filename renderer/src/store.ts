// What the GUI knows, in one zustand store: lists refreshed when the engine's events say something
// changed (no polling loop), and the error to show.
import { create } from 'zustand';

import type { ContainerSummary, ImageSummary, NetworkSummary, Volume } from '../../electron/src/common/engine-types';
import * as engine from './engine-client';
import { userContainers } from './user-containers';

interface State {
  /** The user's containers: the GUI's own helpers (the volume browser's) are left out. */
  containers: ContainerSummary[];
  images: ImageSummary[];
  volumes: Volume[];
  networks: NetworkSummary[];
  loaded: boolean;
  error: string | undefined;
  refresh(): Promise<void>;
  setError(error: string | undefined): void;
  watch(): () => void;
}

export const useStore = create<State>((set, get) => ({
  containers: [],
  images: [],
  volumes: [],
  networks: [],
  loaded: false,
  error: undefined,
  async refresh() {
    try {
      const [containers, images, volumes, networks] = await Promise.all([
        engine.listContainers({ all: true }),
        engine.listImages(),
        engine.listVolumes(),
        engine.listNetworks(),
      ]);
      set({ containers: userContainers(containers), images, volumes: volumes.Volumes ?? [], networks, loaded: true });
    } catch (err) {
      set({ error: err instanceof Error ? err.message : String(err), loaded: true });
    }
  },
  setError(error) {
    set({ error });
  },
  watch() {
    void get().refresh();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Any event may change a list, and a burst of them (compose up) refreshes once.
    return engine.watchEvents({
      onEvent: () => {
        clearTimeout(timer);
        timer = setTimeout(() => void get().refresh(), 100);
      },
    });
  },
}));
