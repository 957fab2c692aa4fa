// What the Volumes pages read beyond the store's list: sizes and creation times from
// `GET /system/df`, and which containers mount each volume.
import { host } from '../../host';
import { useStore } from '../../store';
import { containerName, useEngine, userContainers, type ContainerSummary } from '../../useEngine';

export interface VolumeUsage {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Scope?: string;
  Labels?: Record<string, string> | null;
  Options?: Record<string, string> | null;
  /** -1 for both when the engine did not measure. */
  UsageData?: { Size: number; RefCount: number } | null;
}

export interface VolumeUser { id: string; name: string; state: string; destination: string; readOnly: boolean }

/** Sizes and users, reloaded whenever the store's volumes or containers change. */
export function useVolumeData() {
  const volumes = useStore((s) => s.volumes);
  const containers = useStore((s) => s.containers);
  // type=volume spares the engine sizing every image and container (API 1.42; older engines
  // ignore it and answer everything).
  const df = useEngine<{ Volumes: VolumeUsage[] | null }>('/system/df?type=volume', [volumes, containers]);
  const list = useEngine<ContainerSummary[]>('/containers/json?all=1', [containers]);
  const usage = new Map((df.data?.Volumes ?? []).map((v) => [v.Name, v]));
  const users = new Map<string, VolumeUser[]>();
  for (const c of userContainers(list.data)) {
    for (const m of c.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      users.set(m.Name, [...(users.get(m.Name) ?? []), { id: c.Id, name: containerName(c), state: c.State, destination: m.Destination, readOnly: !m.RW }]);
    }
  }
  return { usage, users, loading: df.loading && !df.data, error: df.error ?? list.error };
}

/** Asks first; the engine's answer (such as "volume is in use") comes back as the error text. */
export async function removeVolume(name: string, users: VolumeUser[] = []): Promise<{ removed: boolean; error?: string }> {
  if (!window.confirm(`Remove volume ${name}? Its data is deleted.`)) return { removed: false };
  try {
    await host.call('DELETE', `/volumes/${encodeURIComponent(name)}`);
    return { removed: true };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // The engine names the users by ID only; the names are what the user knows them by.
    return { removed: false, error: users.length && /in use/.test(message) ? `${message} (used by ${users.map((u) => u.name).join(', ')})` : message };
  }
}
