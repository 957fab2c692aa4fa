// The user's settings for the VM, validated with messages a person can act on, persisted in
// $BERTH_HOME/settings.json. Some changes only take effect when the VM restarts; `set` says which.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostGuestArch, type GuestArch } from '../vm/qemu-command.js';

export interface Settings {
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  /** Host folders that appear in the guest at the same path. */
  sharedFolders: string[];
  autoStart: boolean;
  /** The guest's architecture: the host's own by default; the other one boots under emulation (TCG). */
  arch: GuestArch;
}

export function defaultSettings(): Settings {
  return {
    cpus: Math.max(1, Math.min(4, Math.floor(os.cpus().length / 2) || 1)),
    memoryMiB: 2048,
    diskGiB: 64,
    sharedFolders: [os.homedir()],
    autoStart: false,
    arch: hostGuestArch(),
  };
}

const RESTART_NEEDED: (keyof Settings)[] = ['cpus', 'memoryMiB', 'diskGiB', 'sharedFolders', 'arch'];

export class SettingsError extends Error {}

export function validateSettings(value: unknown): Settings {
  const base = defaultSettings();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SettingsError('settings must be a JSON object');
  const s = { ...base, ...(value as Partial<Settings>) };
  const known = Object.keys(base);
  for (const key of Object.keys(value)) if (!known.includes(key)) throw new SettingsError(`unknown setting "${key}" (known: ${known.join(', ')})`);
  if (!Number.isInteger(s.cpus) || s.cpus < 1 || s.cpus > os.cpus().length) throw new SettingsError(`cpus must be a whole number from 1 to ${os.cpus().length} (this machine's CPUs), got ${JSON.stringify(s.cpus)}`);
  if (!Number.isInteger(s.memoryMiB) || s.memoryMiB < 512 || s.memoryMiB > Math.floor(os.totalmem() / 1048576)) {
    throw new SettingsError(`memoryMiB must be at least 512 and at most this machine's ${Math.floor(os.totalmem() / 1048576)} MiB, got ${JSON.stringify(s.memoryMiB)}`);
  }
  if (!Number.isInteger(s.diskGiB) || s.diskGiB < 8 || s.diskGiB > 4096) throw new SettingsError(`diskGiB must be a whole number from 8 to 4096, got ${JSON.stringify(s.diskGiB)}`);
  if (!Array.isArray(s.sharedFolders) || !s.sharedFolders.every((f) => typeof f === 'string' && path.isAbsolute(f) && !/\s/.test(f))) {
    throw new SettingsError('sharedFolders must be a list of absolute paths without spaces');
  }
  if (typeof s.autoStart !== 'boolean') throw new SettingsError('autoStart must be true or false');
  if (s.arch !== 'amd64' && s.arch !== 'arm64') throw new SettingsError(`arch must be amd64 or arm64, got ${JSON.stringify(s.arch)}`);
  return s;
}

export async function loadSettings(file: string): Promise<Settings> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return defaultSettings();
  }
  try {
    return validateSettings(JSON.parse(text));
  } catch (err) {
    throw new SettingsError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function saveSettings(file: string, settings: Settings): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(settings, null, 2) + '\n');
  await fs.rename(tmp, file);
}

/** Parses `berth settings set KEY VALUE` values: numbers, booleans, comma-separated lists. */
export function parseSettingValue(key: keyof Settings, raw: string): unknown {
  if (key === 'sharedFolders') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (key === 'autoStart') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

export function restartNeeded(before: Settings, after: Settings): string[] {
  return RESTART_NEEDED.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
