// The guest image an installer ships, chosen and checked for the installer's CPU architecture.
// electron/electron-builder.ts calls these from its beforePack and afterPack hooks; they know
// nothing of electron-builder beyond its architecture names, so the packaging test can call them too.
//
// The guest runs on the host's CPU (KVM, HVF, WHPX): an amd64 guest in an arm64 app would boot only
// under emulation, if at all, and a file changed since the build makes a VM that fails minutes
// later with nothing to say why. So nothing is shipped that its manifest.json does not vouch for:
// the architecture it names, and the size and sha256 of every artifact it lists.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

import { guestBuildCommand as buildCommand, guestImageFolder } from '../electron/src/node/vm/guest-image.js';
import type { GuestArch } from '../electron/src/node/vm/qemu-command.js';

export { guestImageFolder, type GuestArch };

/** electron-builder's architecture names (its `Arch` enum) for the guests there are. */
const GUEST_FOR_APP_ARCH: Readonly<Record<string, GuestArch>> = { x64: 'amd64', arm64: 'arm64' };

export interface GuestManifest {
  versions?: { arch?: string };
  artifacts?: Record<string, { size?: number; sha256?: string }>;
}

/** A folder whose manifest passed `verifyGuestImage`: what to copy, and nothing else. */
export interface VerifiedGuestImage {
  dir: string;
  arch: GuestArch;
  /** manifest.json's artifacts, by file name. */
  artifacts: string[];
}

export class GuestImageRefused extends Error {}

/** The guest an app for electron-builder's `appArch` (x64, arm64, ...) needs; refuses the others. */
export function guestArchFor(appArch: string): GuestArch {
  const arch = GUEST_FOR_APP_ARCH[appArch];
  if (!arch) {
    // ia32 and armv7l have no guest; a universal mac app would need both guests and pick one at
    // run time, which the app does not do.
    throw new GuestImageRefused(`no guest image exists for ${appArch} apps: package x64 or arm64 (one architecture per run)`);
  }
  return arch;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  // 1 MiB reads rather than the default 64 KiB: a guest is ~100 MB, and the hash is cheaper than the reads.
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks that `dir` holds a complete guest for `arch`: its manifest names that architecture and
 * lists at least one artifact, and every listed file is there with the recorded size and sha256.
 * Throws GuestImageRefused naming the folder and the first file that does not match.
 */
export async function verifyGuestImage(dir: string, arch: GuestArch): Promise<VerifiedGuestImage> {
  const manifestFile = path.join(dir, 'manifest.json');
  const rebuild = `rebuild it with \`${buildCommand(arch)}\``;
  // build.sh writes manifest.json last, so without it the build did not finish (or never ran).
  if (!existsSync(manifestFile)) {
    throw new GuestImageRefused(`no ${arch} guest image at ${dir} (manifest.json missing): build it with \`${buildCommand(arch)}\` or set BERTH_PACKAGE_IMAGE_DIR`);
  }
  let manifest: GuestManifest;
  try {
    manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as GuestManifest;
  } catch (err) {
    throw new GuestImageRefused(`${manifestFile} is not valid JSON (${err instanceof Error ? err.message : String(err)}): ${rebuild}`);
  }
  const built = manifest.versions?.arch;
  if (built !== arch) {
    throw new GuestImageRefused(`the guest image at ${dir} is ${built ?? 'of unknown architecture'}, but this app needs ${arch}: `
      + `build it with \`${buildCommand(arch)}\` and package from vm-image/dist, or set BERTH_PACKAGE_IMAGE_DIR to an ${arch} guest`);
  }
  const artifacts = Object.entries(manifest.artifacts ?? {});
  if (artifacts.length === 0) throw new GuestImageRefused(`${manifestFile} lists no artifacts: ${rebuild}`);
  for (const [name, entry] of artifacts) {
    const { size, sha256 } = entry ?? {};
    const file = path.join(dir, name);
    // A name that climbs out of the folder would ship (or check) some other file.
    if (path.dirname(path.resolve(file)) !== path.resolve(dir)) throw new GuestImageRefused(`${manifestFile} lists ${name}, which is not a file of the image folder`);
    if (typeof size !== 'number' || typeof sha256 !== 'string') throw new GuestImageRefused(`${manifestFile} gives no size and sha256 for ${name}: ${rebuild}`);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) throw new GuestImageRefused(`the guest image at ${dir} is missing ${name}: ${rebuild}`);
    if (stat.size !== size) throw new GuestImageRefused(`${name} in the guest image at ${dir} is ${stat.size} bytes, its manifest says ${size}: ${rebuild}`);
    if ((await sha256Of(file)) !== sha256) throw new GuestImageRefused(`${name} in the guest image at ${dir} does not match its manifest's sha256: ${rebuild}`);
  }
  return { dir, arch, artifacts: artifacts.map(([name]) => name) };
}

/**
 * Copies a verified guest (its manifest and artifacts, nothing else from the folder) into `dest`,
 * then checks the copy the same way: the files that ship are the ones the manifest vouches for,
 * even if the source folder was rebuilt in between.
 */
export async function copyGuestImage(image: VerifiedGuestImage, dest: string): Promise<VerifiedGuestImage> {
  await fs.rm(dest, { recursive: true, force: true });
  await fs.mkdir(dest, { recursive: true });
  for (const name of ['manifest.json', ...image.artifacts]) {
    // FICLONE shares the blocks where the filesystem can (btrfs, xfs, APFS); a plain copy elsewhere.
    await fs.copyFile(path.join(image.dir, name), path.join(dest, name), fs.constants.COPYFILE_FICLONE);
  }
  return verifyGuestImage(dest, image.arch);
}
