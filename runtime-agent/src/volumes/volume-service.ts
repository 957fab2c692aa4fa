// Volumes with the local driver: a directory under volumes/<name>/_data, or, with driver options,
// a filesystem mounted there (tmpfs, a bind of a host path, a device) while a container uses it.
// Records are written atomically beside the data: volumes/<name>/volume.json.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { EventBus } from '../events/event-bus.js';
import { readJsonIfExists, removeTempFiles, writeJsonAtomic } from '../util/atomic-file.js';
import { runCommand } from '../util/command.js';
import { dirSize } from '../util/dir-size.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import type { Filters } from '../util/filters.js';
import { log } from '../util/log.js';
import { ANONYMOUS_LABEL, isAnonymous, type VolumeRecord } from '../vocabulary/volume-record.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const LOCAL_OPTIONS = ['type', 'device', 'o', 'size'];

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Who uses a volume: IDs of containers that mount it, and those of them that run. */
export type VolumeUsers = (name: string) => { all: string[]; running: string[] };

export class VolumeService {
  private readonly records = new Map<string, VolumeRecord>();

  constructor(
    readonly root: string,
    private readonly events: EventBus,
    /** Which containers mount a volume (containers/container-usage.ts). */
    private readonly users: VolumeUsers,
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o701 });
    for (const name of await fs.readdir(this.root)) {
      const dir = path.join(this.root, name);
      await removeTempFiles(dir);
      const record = await readJsonIfExists<VolumeRecord>(path.join(dir, 'volume.json')).catch((err: unknown) => {
        log.warn('unreadable volume record, skipped', { name, error: String(err) });
        return undefined;
      });
      if (record) this.records.set(record.Name, record);
    }
  }

  private dir(name: string): string {
    return path.join(this.root, name);
  }

  all(): VolumeRecord[] {
    return [...this.records.values()];
  }

  find(name: string): VolumeRecord | undefined {
    return this.records.get(name);
  }

  get(name: string): VolumeRecord {
    const found = this.records.get(name);
    if (!found) throw new NotFoundError(`get ${name}: no such volume`);
    return found;
  }

  /** Creates a volume, or returns the existing one of that name (as dockerd does). */
  async create(body: VolumeCreateRequest): Promise<VolumeRecord> {
    const driver = body.Driver || 'local';
    if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const anonymous = !body.Name;
    const name = body.Name || randomBytes(32).toString('hex');
    // The name is a directory name: past 255 bytes mkdir fails with ENAMETOOLONG (a 500).
    if (name.length > 255) throw new InvalidParameterError(`create ${name.slice(0, 64)}...: volume name is too long (${name.length} characters, at most 255)`);
    if (!NAME_RE.test(name)) {
      throw new InvalidParameterError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const existing = this.records.get(name);
    if (existing) return existing;
    const options = body.DriverOpts && Object.keys(body.DriverOpts).length ? { ...body.DriverOpts } : null;
    validateOptions(options);
    const dir = this.dir(name);
    const record: VolumeRecord = {
      Name: name,
      Driver: 'local',
      Mountpoint: path.join(dir, '_data'),
      CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      Labels: { ...(body.Labels ?? {}), ...(anonymous ? { [ANONYMOUS_LABEL]: '' } : {}) },
      Scope: 'local',
      Options: options,
    };
    await fs.mkdir(record.Mountpoint, { recursive: true, mode: 0o755 });
    await writeJsonAtomic(path.join(dir, 'volume.json'), record);
    this.records.set(name, record);
    this.events.publish('volume', 'create', name, { driver: 'local' });
    return record;
  }

  async remove(name: string, force = false): Promise<void> {
    const record = this.records.get(name);
    if (!record) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const { all } = this.users(name);
    if (all.length) throw new ConflictError(`remove ${name}: volume is in use - [${all.join(', ')}]`);
    await this.unmount(record).catch(() => undefined);
    this.records.delete(name);
    // The record goes first: a crash mid-delete leaves data without a record, never the reverse.
    await fs.rm(path.join(this.dir(name), 'volume.json'), { force: true });
    await fs.rm(this.dir(name), { recursive: true, force: true });
    this.events.publish('volume', 'destroy', name, { driver: 'local' });
  }

  /** `anonymousOnly`: API 1.42 and later prune anonymous volumes only, unless the `all` filter says otherwise. */
  async prune(filters: Filters, anonymousOnly: boolean): Promise<{ deleted: string[]; reclaimed: number }> {
    const all = !anonymousOnly || (filters.bool('all') ?? false);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const record of this.all()) {
      if (!all && !isAnonymous(record)) continue;
      // As dockerd: volumes with driver options (a tmpfs, a bind, an NFS share) are never pruned.
      if (record.Options && Object.keys(record.Options).length) continue;
      if (this.users(record.Name).all.length) continue;
      if (!filters.matchPruneLabels(record.Labels)) continue;
      const size = await dirSize(record.Mountpoint);
      await this.remove(record.Name);
      deleted.push(record.Name);
      reclaimed += size;
    }
    return { deleted, reclaimed };
  }

  list(filters: Filters): VolumeRecord[] {
    return this.all().filter((v) => {
      const dangling = filters.bool('dangling');
      if (dangling !== undefined && dangling !== (this.users(v.Name).all.length === 0)) return false;
      if (filters.has('driver') && !filters.get('driver').includes(v.Driver)) return false;
      if (filters.has('name') && !filters.get('name').some((n) => v.Name.includes(n))) return false;
      return filters.matchLabels('label', v.Labels);
    });
  }

  /** `system df -v`: size of the data and how many containers use each volume. */
  async usage(): Promise<(VolumeRecord & { UsageData: { Size: number; RefCount: number } })[]> {
    return Promise.all(this.all().map(async (v) => ({ ...v, UsageData: { Size: await dirSize(v.Mountpoint), RefCount: this.users(v.Name).all.length } })));
  }

  /** Makes the volume's data available at its mountpoint (mounting it if it has driver options). */
  async mount(record: VolumeRecord): Promise<void> {
    if (!record.Options) return;
    if (await isMountpoint(record.Mountpoint)) return;
    const o = record.Options;
    const flags = [o.o, o.size ? `size=${o.size}` : undefined].filter((f): f is string => Boolean(f));
    const type = o.type ?? 'none';
    // type=none with o=bind (docker's recipe for a bind-backed volume) is a bind mount of device.
    const bind = type === 'none' || flags.some((f) => f.split(',').includes('bind'));
    const args = bind
      ? ['-o', [...new Set(['bind', ...flags.flatMap((f) => f.split(','))])].join(','), o.device ?? '']
      : ['-t', type, ...(flags.length ? ['-o', flags.join(',')] : []), o.device ?? type];
    await runCommand('mount', [...args, record.Mountpoint]).catch((err: unknown) => {
      throw new InvalidParameterError(`error while mounting volume '${record.Mountpoint}': ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Unmounts a volume with driver options once no running container uses it. */
  async release(record: VolumeRecord): Promise<void> {
    if (!record.Options || this.users(record.Name).running.length) return;
    await this.unmount(record);
  }

  private async unmount(record: VolumeRecord): Promise<void> {
    if (record.Options && (await isMountpoint(record.Mountpoint))) await runCommand('umount', [record.Mountpoint]);
  }
}

function validateOptions(options: Record<string, string> | null): void {
  for (const key of Object.keys(options ?? {})) {
    if (!LOCAL_OPTIONS.includes(key)) throw new InvalidParameterError(`create: invalid option key: "${key}"`);
  }
  if (options && !options.type && !options.device) throw new InvalidParameterError('create: missing required option: "device"');
}

async function isMountpoint(dir: string): Promise<boolean> {
  const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === dir);
}
