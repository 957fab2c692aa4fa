// A container's mounts: planned once at create from -v (Binds), --mount (Mounts), --volumes-from
// and the image's VOLUMEs, kept in the record as dockerd's MountPoints, and turned into OCI mounts
// at every start (with the copy of image content into a new, empty volume).
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { OciMount } from '../oci/spec.js';
import { runCommand } from '../util/command.js';
import { InvalidParameterError, NotFoundError } from '../util/errors.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { ContainerRecord, MountPoint } from '../vocabulary/container-record.js';
import { resolveInRoot } from './rootfs-paths.js';

interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } | null } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

function checkDestination(destination: string, spec: string): string {
  if (!path.isAbsolute(destination)) throw new InvalidParameterError(`invalid volume specification: '${spec}': invalid mount config: mount path must be absolute`);
  if (destination === '/') throw new InvalidParameterError(`invalid volume specification: '${spec}': invalid mount config: destination can't be '/'`);
  return path.normalize(destination).replace(/\/$/, '');
}

/** Parses one -v value: "/host:/ctr[:opts]" or "name:/ctr[:opts]". */
function parseBind(spec: string): { source: string; destination: string; mode: string; rw: boolean; propagation: string; noCopy: boolean } {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new InvalidParameterError(`invalid volume specification: '${spec}'`);
  const mode = parts[2] ?? '';
  const options = mode ? mode.split(',') : [];
  for (const o of options) {
    if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...PROPAGATIONS].includes(o)) throw new InvalidParameterError(`invalid mode: ${mode}`);
  }
  return {
    source: parts[0],
    destination: checkDestination(parts[1], spec),
    mode,
    rw: !options.includes('ro'),
    propagation: options.find((o) => PROPAGATIONS.includes(o)) ?? '',
    noCopy: options.includes('nocopy'),
  };
}

export interface MountPlanInputs {
  binds: string[];
  mounts: ApiMount[];
  volumesFrom: string[];
  /** Config.Volumes: the image's VOLUMEs and -v /path. */
  anonymous: string[];
  volumes: VolumeService;
  findContainer(idOrName: string): ContainerRecord | undefined;
}

/** The mount points of a new container; creates the named and anonymous volumes it needs. */
export async function planMounts(inputs: MountPlanInputs): Promise<MountPoint[]> {
  const byDestination = new Map<string, MountPoint>();
  const add = (mount: MountPoint, duplicateIsError: boolean) => {
    if (byDestination.has(mount.Destination) && duplicateIsError) throw new InvalidParameterError(`Duplicate mount point: ${mount.Destination}`);
    byDestination.set(mount.Destination, mount);
  };

  for (const entry of inputs.volumesFrom) {
    const [name, mode] = entry.split(':');
    const source = inputs.findContainer(name ?? '');
    if (!source) throw new NotFoundError(`No such container: ${name}`);
    if (mode && mode !== 'ro' && mode !== 'rw') throw new InvalidParameterError(`invalid mode: ${mode}`);
    for (const m of source.MountPoints ?? []) {
      if (m.Type === 'tmpfs') continue;
      add({ ...m, ...(mode ? { Mode: mode, RW: mode === 'rw' } : {}) }, false);
    }
  }

  const fromBinds = new Set<string>();
  for (const spec of inputs.binds) {
    const bind = parseBind(spec);
    if (fromBinds.has(bind.destination)) throw new InvalidParameterError(`Duplicate mount point: ${bind.destination}`);
    fromBinds.add(bind.destination);
    if (path.isAbsolute(bind.source)) {
      // -v creates a missing host directory, as dockerd does (--mount does not). Only a missing
      // one: the source may be a file or a socket (`-v /var/run/docker.sock:...`), where mkdir
      // fails with EEXIST.
      if (!(await fs.lstat(bind.source).then(() => true, () => false))) await fs.mkdir(bind.source, { recursive: true });
      add({ Type: 'bind', Source: bind.source, Destination: bind.destination, Mode: bind.mode, RW: bind.rw, Propagation: bind.propagation || 'rprivate' }, false);
    } else {
      const volume = await inputs.volumes.create({ Name: bind.source });
      add({ Type: 'volume', Name: volume.Name, Source: volume.Mountpoint, Destination: bind.destination, Driver: 'local', Mode: bind.mode || 'z', RW: bind.rw, Propagation: '', NoCopy: bind.noCopy }, false);
    }
  }

  for (const m of inputs.mounts) {
    const type = m.Type ?? '';
    if (!m.Target) throw new InvalidParameterError(`invalid mount config for type "${type}": field Target must not be empty`);
    const destination = checkDestination(m.Target, m.Target);
    if (fromBinds.has(destination) || (byDestination.has(destination) && byDestination.get(destination)?.Type !== 'volume')) throw new InvalidParameterError(`Duplicate mount point: ${destination}`);
    if (type === 'bind') {
      if (!m.Source) throw new InvalidParameterError('invalid mount config for type "bind": field Source must not be empty');
      if (!path.isAbsolute(m.Source)) throw new InvalidParameterError(`invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`);
      const exists = await fs.stat(m.Source).then(() => true, () => false);
      if (!exists) {
        if (!m.BindOptions?.CreateMountpoint) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        await fs.mkdir(m.Source, { recursive: true });
      }
      const propagation = m.BindOptions?.Propagation || 'rprivate';
      if (!PROPAGATIONS.includes(propagation)) throw new InvalidParameterError(`invalid mount config for type "bind": invalid propagation mode: ${propagation}`);
      add({ Type: 'bind', Source: m.Source, Destination: destination, Mode: '', RW: !m.ReadOnly, Propagation: propagation }, true);
    } else if (type === 'volume') {
      const driver = m.VolumeOptions?.DriverConfig?.Name;
      const volume = await inputs.volumes.create({
        ...(m.Source ? { Name: m.Source } : {}),
        ...(driver ? { Driver: driver } : {}),
        DriverOpts: m.VolumeOptions?.DriverConfig?.Options ?? null,
        Labels: m.VolumeOptions?.Labels ?? null,
      });
      add({ Type: 'volume', Name: volume.Name, Source: volume.Mountpoint, Destination: destination, Driver: 'local', Mode: 'z', RW: !m.ReadOnly, Propagation: '', NoCopy: Boolean(m.VolumeOptions?.NoCopy) }, true);
    } else if (type === 'tmpfs') {
      if (m.Source) throw new InvalidParameterError('invalid mount config for type "tmpfs": field Source must be empty');
      const size = m.TmpfsOptions?.SizeBytes;
      if (size !== undefined && (!Number.isInteger(size) || size < 0)) throw new InvalidParameterError(`invalid mount config for type "tmpfs": invalid tmpfs size ${size}`);
      add({ Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: !m.ReadOnly, Propagation: '', ...(size ? { TmpfsSize: size } : {}), ...(m.TmpfsOptions?.Mode ? { TmpfsMode: m.TmpfsOptions.Mode } : {}) }, true);
    } else {
      throw new InvalidParameterError(`invalid mount config: mount type unknown: "${type}"`);
    }
  }

  for (const destination of inputs.anonymous) {
    const normalized = checkDestination(destination, destination);
    if (byDestination.has(normalized)) continue;
    const volume = await inputs.volumes.create({});
    add({ Type: 'volume', Name: volume.Name, Source: volume.Mountpoint, Destination: normalized, Driver: 'local', Mode: '', RW: true, Propagation: '' }, false);
  }
  return [...byDestination.values()];
}

/** The OCI mounts for a start, parents before children; volumes mounted and filled first. */
export async function prepareMounts(record: ContainerRecord, rootfs: string, volumes: VolumeService): Promise<OciMount[]> {
  const points = [...(record.MountPoints ?? [])].sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
  const result: OciMount[] = [];
  for (const m of points) {
    if (m.Type === 'tmpfs') {
      const options = ['nosuid', 'nodev', 'noexec', m.RW ? 'rw' : 'ro'];
      if (m.TmpfsSize) options.push(`size=${m.TmpfsSize}`);
      if (m.TmpfsMode) options.push(`mode=${m.TmpfsMode.toString(8)}`);
      result.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options });
      continue;
    }
    if (m.Type === 'volume' && m.Name) {
      const volume = volumes.find(m.Name);
      if (!volume) throw new NotFoundError(`get ${m.Name}: no such volume`);
      await volumes.mount(volume);
      if (!m.NoCopy) await copyImageContent(rootfs, m.Destination, volume.Mountpoint);
    } else if (!(await fs.stat(m.Source).then(() => true, () => false))) {
      throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
    }
    result.push({ destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', m.RW ? 'rw' : 'ro', m.Propagation || 'rprivate'] });
  }
  return result;
}

/**
 * A new, empty volume mounted over a directory of the image starts with that directory's
 * content, owner and mode (dockerd's copy-up). A volume with anything in it is left alone.
 */
async function copyImageContent(rootfs: string, destination: string, volumeDir: string): Promise<void> {
  if ((await fs.readdir(volumeDir)).length) return;
  let source: string;
  try {
    source = await resolveInRoot(rootfs, destination);
  } catch {
    return;
  }
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat?.isDirectory()) return;
  await fs.chown(volumeDir, stat.uid, stat.gid);
  await fs.chmod(volumeDir, stat.mode & 0o7777);
  if ((await fs.readdir(source)).length) await runCommand('cp', ['-a', `${source}/.`, `${volumeDir}/`]);
}

/** Mounts as the API shows them (inspect's Mounts, the Mounts of `docker ps`). */
export function mountsView(points: MountPoint[] | undefined): Record<string, unknown>[] {
  return (points ?? []).map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

/**
 * The mounts whose files the engine can reach from its own mount namespace (`docker cp`, the
 * archive API): volumes and binds. A tmpfs lives only in the container's namespace.
 */
export function hostReachableMounts(record: ContainerRecord): MountPoint[] {
  return (record.MountPoints ?? []).filter((m) => m.Type !== 'tmpfs');
}
