// What the Volumes pages read beyond the store's list: sizes and creation times from
// `GET /system/df`, and which containers mount each volume.
import type { ContainerStateStatus, Volume } from '../../../../electron/src/common/engine-types';
import * as engine from '../../engine-client';
import { useStore } from '../../store';
import { useLoad } from '../../useLoad';
import { containerName } from '../../user-containers';

export interface VolumeUser { id: string; name: string; state: ContainerStateStatus; destination: string; readOnly: boolean }

/** Sizes and users, reloaded whenever the store's volumes or containers change. */
export function useVolumeData() {
  const volumes = useStore((s) => s.volumes);
  const containers = useStore((s) => s.containers);
  // Only the volumes: sizing every image and container too would be wasted work.
  const df = useLoad(() => engine.systemDataUsage({ types: ['volume'] }), [volumes, containers]);
  const usage = new Map<string, Volume>((df.data?.Volumes ?? []).map((v) => [v.Name, v]));
  const users = new Map<string, VolumeUser[]>();
  for (const c of containers) {
    for (const m of c.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      users.set(m.Name, [...(users.get(m.Name) ?? []), { id: c.Id, name: containerName(c), state: c.State, destination: m.Destination, readOnly: !m.RW }]);
    }
  }
  return { usage, users, loading: df.loading && !df.data, error: df.error };
}

/** Asks first; the engine's answer (such as "volume is in use") comes back as the error text. */
export async function removeVolume(name: string, users: VolumeUser[] = []): Promise<{ removed: boolean; error?: string }> {
  if (!window.confirm(`Remove volume ${name}? Its data is deleted.`)) return { removed: false };
  try {
    await engine.removeVolume(name);
    return { removed: true };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // The engine names the users by ID only; the names are what the user knows them by.
    return { removed: false, error: users.length && /in use/.test(message) ? `${message} (used by ${users.map((u) => u.name).join(', ')})` : message };
  }
}
