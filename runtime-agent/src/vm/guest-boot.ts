// berthd's first job in the guest, before the engine: do what the kernel command line asks, read
// through the guest contract (the host wrote it with the same module). The host's public key goes
// where the SSH server reads it; each shared folder is mounted at its host path. berth-init starts
// berthd again after a crash, so this runs again then: what is already mounted is left alone.
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';

import { runCommand } from '../util/command.js';
import { parseBootArguments, type GuestBootArguments, type GuestShare } from './guest-contract.js';

/** Where berthd in VM mode keeps the host's key for its SSH server (guest-internal: a tmpfs). */
export const AUTHORIZED_KEYS_FILE = '/run/berth/authorized_keys';

export interface AppliedBootArguments {
  arguments: GuestBootArguments;
  /** Words refused by the contract and shares that did not mount: for the console, not fatal. */
  problems: string[];
}

/** The `mount` command line for a share (busybox's or util-linux's mount). */
export function mountArguments(share: GuestShare): string[] {
  if (share.kind === 'virtiofs') return ['-t', 'virtiofs', share.tag, share.path];
  // msize: 512 KiB messages read 64 MiB in ~0.5 s under TCG (vm-on-this-machine.md); cache=mmap
  // lets programs mmap shared files (the default cache=none cannot).
  return ['-t', '9p', '-o', 'trans=virtio,version=9p2000.L,msize=524288,cache=mmap', share.tag, share.path];
}

/** Mount points in /proc/self/mounts, with its octal escapes (\040 for a space...) undone. */
export function mountPoints(procMounts: string): Set<string> {
  return new Set(procMounts.split('\n').map((line) => line.split(' ')[1]).filter((p): p is string => Boolean(p)).map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))));
}

export async function applyBootArguments(commandLine: string, authorizedKeysFile = AUTHORIZED_KEYS_FILE): Promise<AppliedBootArguments> {
  const { arguments: args, problems } = parseBootArguments(commandLine);
  // Written even when absent (empty): a key from an earlier boot must not stay valid.
  await fs.mkdir(path.dirname(authorizedKeysFile), { recursive: true });
  await fs.writeFile(authorizedKeysFile, args.authorizedKey ? `${args.authorizedKey}\n` : '', { mode: 0o600 });
  if (!args.authorizedKey) problems.push('no host key on the kernel command line (berth.authorized_key): the host cannot log in');

  const mounted = existsSync('/proc/self/mounts') ? mountPoints(readFileSync('/proc/self/mounts', 'utf8')) : new Set<string>();
  for (const share of args.shares) {
    if (mounted.has(share.path)) continue;
    try {
      await fs.mkdir(share.path, { recursive: true });
      await runCommand('mount', mountArguments(share));
    } catch (err) {
      problems.push(`shared folder ${share.tag} did not mount at ${share.path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { arguments: args, problems };
}
