// What the GUI knows, in one zustand store: lists refreshed when the engine's events say something
// changed (no polling loop), and the error to show.
import { create } from 'zustand';

import { host } from './host';

export interface ContainerRow {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Labels: Record<string, string>;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
}
export interface ImageRow { Id: string; RepoTags: string[] | null; Size: number; Created: number }
export interface VolumeRow { Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null }
export interface NetworkRow { Id: string; Name: string; Driver: string; IPAM: { Config: { Subnet?: string }[] } }

interface State {
  containers: ContainerRow[];
  images: ImageRow[];
  volumes: VolumeRow[];
  networks: NetworkRow[];
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
        host.call<ContainerRow[]>('GET', '/containers/json?all=1'),
        host.call<ImageRow[]>('GET', '/images/json'),
        host.call<{ Volumes: VolumeRow[] }>('GET', '/volumes'),
        host.call<NetworkRow[]>('GET', '/networks'),
      ]);
      // Short-lived helpers (the volume browser's) are the GUI's own business, not the user's.
      set({ containers: containers.filter((c) => !c.Labels?.['io.berth.helper']), images, volumes: volumes.Volumes ?? [], networks, loaded: true });
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
    // A burst of events (compose up) refreshes once.
    return host.stream('/events', {
      onLine: () => {
        clearTimeout(timer);
        timer = setTimeout(() => void get().refresh(), 100);
      },
    });
  },
}));
