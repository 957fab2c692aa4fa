// A volume as the Engine API shows it (`volume inspect`), plus whether berthd made it for one
// container (anonymous: removed with `rm -v`, `run --rm`, and by a plain `volume prune`).
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  /** The local driver's options: type, device, o (as `mount -t type -o o device`). */
  Options: Record<string, string> | null;
}

/** dockerd marks anonymous volumes with this label. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export function isAnonymous(volume: VolumeRecord): boolean {
  return ANONYMOUS_LABEL in volume.Labels;
}
