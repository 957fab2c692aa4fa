// The guest image a start is about to boot, checked against what the settings ask for before QEMU
// runs: a missing image or one of the other architecture would otherwise show up as a kernel that
// does not boot, minutes later, with nothing to say why.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { GuestArch } from './qemu-command.js';

export interface GuestImage {
  dir: string;
  arch: GuestArch;
  /** The manifest's record of what went in (versions, packages, artifacts), as build.sh wrote it. */
  manifest: Record<string, unknown>;
}

export class GuestImageError extends Error {}

/** How to build the guest for `arch` (vm-image/README.md). */
export function guestBuildCommand(arch: GuestArch): string {
  return arch === 'amd64' ? 'npm run vm-image' : `ARCH=${arch} npm run vm-image`;
}

/**
 * The folder holding `arch`'s guest under `root`: `root/ARCH` when it has a manifest.json
 * (vm-image/dist as `npm run vm-image` writes it), else `root` itself (a folder with one guest, as
 * an installer ships it). The app and the packaging both find the guest this way.
 */
export function guestImageFolder(root: string, arch: GuestArch): string {
  const perArch = path.join(root, arch);
  return existsSync(path.join(perArch, 'manifest.json')) ? perArch : root;
}

/** Reads `dir`'s manifest and checks it is a guest for `arch` with every artifact present. */
export function checkGuestImage(dir: string, arch: GuestArch): GuestImage {
  const manifestFile = path.join(dir, 'manifest.json');
  const build = guestBuildCommand(arch);
  if (!existsSync(manifestFile)) throw new GuestImageError(`no ${arch} guest image in ${dir} (build it with \`${build}\`)`);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new GuestImageError(`${manifestFile} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const built = ((manifest.versions ?? {}) as Record<string, unknown>).arch;
  if (built !== arch) {
    const other = built === 'amd64' || built === 'arm64' ? `, or \`berth settings set arch ${built}\`` : '';
    throw new GuestImageError(`the guest image in ${dir} is for ${String(built ?? 'an unknown architecture')}, but the settings ask for ${arch} (build it with \`${build}\`${other})`);
  }
  const artifacts = Object.keys((manifest.artifacts ?? {}) as Record<string, unknown>);
  const missing = artifacts.filter((name) => !existsSync(path.join(dir, name)));
  if (artifacts.length === 0 || missing.length > 0) throw new GuestImageError(`the guest image in ${dir} is incomplete: missing ${missing.join(', ') || 'its artifact list'}`);
  return { dir, arch, manifest };
}
