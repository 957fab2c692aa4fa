// electron-builder configuration for the Berth desktop app (docs/packaging.md explains how to use it).
// A TypeScript file rather than YAML because packaging picks and checks the guest image per target
// architecture in hooks, and because the image's location has a default that YAML's ${env.X}
// macros cannot express.
//
// Run from electron/ after `npm run build` at the root:  npx electron-builder --linux dir
import path from 'node:path';

import { Arch, type AfterPackContext, type Configuration } from 'electron-builder';

import { copyGuestImage, guestArchFor, guestImageFolder, verifyGuestImage, type VerifiedGuestImage } from '../scripts/package-guest-image.js';

// Where the guests come from: vm-image/dist of this checkout, which `npm run vm-image` and
// `ARCH=arm64 npm run vm-image` fill with amd64/ and arm64/, or another folder laid out the same
// way or holding a single guest. The packaging test points this at stand-ins.
const imageRoot = path.resolve(import.meta.dirname, process.env.BERTH_PACKAGE_IMAGE_DIR || '../vm-image/dist');

// Each app gets only the guest of its own architecture (an x64 dmg the amd64 guest, an arm64 dmg
// the arm64 one), checked against its manifest before anything is packaged. extraResources cannot
// do this: its ${arch} macro gives electron-builder's names (x64), not the folders' (amd64), and it
// copies without looking. beforePack checks, afterPack copies and checks the copy; one run may
// package several architectures in turn, hence the map.
const verifiedGuests = new Map<Arch, VerifiedGuestImage>();
// beforePack gets the same context as afterPack; electron-builder exports it under this one name.
type PackContext = AfterPackContext;

async function checkGuestImage(context: PackContext): Promise<void> {
  const arch = guestArchFor(Arch[context.arch]);
  verifiedGuests.set(context.arch, await verifyGuestImage(guestImageFolder(imageRoot, arch), arch));
}

// Into resources/vm-image itself (not vm-image/ARCH): main.ts sets BERTH_IMAGE_DIR to that folder
// when packaged, imageDir() uses it as it is when it has no per-architecture subfolder, and the
// app's start-up check then reads this manifest's arch. Outside app.asar because QEMU opens the
// kernel, initramfs and root filesystem itself.
async function shipGuestImage(context: PackContext): Promise<void> {
  // A universal mac app gets an afterPack of its own but no beforePack (its x64 and arm64 halves had
  // theirs, and @electron/universal should already have balked at their different guests): it is
  // refused here by name rather than as "not checked".
  guestArchFor(Arch[context.arch]);
  const image = verifiedGuests.get(context.arch);
  if (!image) throw new Error(`no guest image was checked for ${Arch[context.arch]} before packaging`);
  await copyGuestImage(image, path.join(context.packager.getResourcesDir(context.appOutDir), 'vm-image'));
}

const config: Configuration = {
  appId: 'dev.berth.desktop',
  productName: 'Berth',
  copyright: 'Copyright © Berth contributors',
  // Written into app.asar's package.json. Electron takes app.name, and with it the userData folder
  // and the macOS menu titles, from productName (else "@berth/electron"); on Linux it takes the
  // window's app_id / WM_CLASS from desktopName, which has to match the installed .desktop file
  // for the desktop to group windows under Berth's launcher (see linux.syncDesktopName).
  extraMetadata: { productName: 'Berth', desktopName: 'berth-desktop.desktop' },
  directories: {
    // Not electron/dist: that is tsc's output and is what we package.
    output: '../dist/desktop',
    buildResources: 'build',
  },
  // Only what the main process runs: tsc's JavaScript and package.json (its "main" and "type"
  // tell Electron where to start and that dist/ is ES modules). Declarations, source maps and the
  // TypeScript sources stay out. bin/berth.js (the CLI launcher) is not used by the app.
  files: [
    'package.json',
    'dist/**/*.js',
    'dist/**/*.cjs',
    '!**/*.test.js',
    // ssh2's crypto binding and cpu-features are optional native addons built against the Node that
    // ran `npm ci` (NAN, not N-API), so they cannot load in Electron; ssh2 requires both inside
    // try/catch and falls back to Node's crypto and its default cipher order. Shipping them would
    // only add dead weight and tempt a rebuild (which needs Electron's headers from the internet).
    '!**/node_modules/ssh2/lib/protocol/crypto/{build,src,binding.gyp}',
    '!**/node_modules/{cpu-features,buildcheck,nan}/**',
    // tar-stream and streamx pull in the bare-* packages for the Bare runtime; under Node and Electron
    // their "imports"/"exports" conditions pick node:fs and node:events instead, so these ~7 MB
    // (mostly prebuilt binaries for Bare) would never load.
    '!**/node_modules/bare-*/**',
    '!**/node_modules/**/*.{ts,cts,mts,map,md,markdown,gyp,gypi,cc,h}',
    '!**/node_modules/**/{test,tests,example,examples,docs,.github}/**',
  ],
  extraResources: [
    // main.ts loads the dashboard from process.resourcesPath/renderer when app.isPackaged.
    { from: '../renderer/dist', to: 'renderer', filter: ['**/*', '!**/*.map'] },
  ],
  // The guest image goes in resources/vm-image from these hooks, per architecture (see above).
  beforePack: checkGuestImage,
  afterPack: shipGuestImage,
  asar: true,
  // node-pty's addon (pty.node) and, on macOS, its spawn-helper executable must be real files: a
  // .node file or an executable cannot be loaded from inside an asar archive. node-pty already maps
  // app.asar to app.asar.unpacked for spawn-helper; the whole (small) packages go out together so
  // the JavaScript and the binary it requires sit side by side.
  asarUnpack: ['**/node_modules/@lydell/node-pty/**', '**/node_modules/@lydell/node-pty-*/**'],
  // @lydell/node-pty ships prebuilt N-API binaries, which load in Electron as they are; nothing else
  // we ship is native. Skipping the rebuild also keeps packaging offline.
  npmRebuild: false,
  mac: {
    category: 'public.app-category.developer-tools',
    target: [{ target: 'dmg', arch: ['arm64', 'x64'] }],
  },
  dmg: {
    artifactName: '${productName}-${version}-${arch}.${ext}',
  },
  win: {
    target: [{ target: 'nsis', arch: ['x64'] }],
  },
  nsis: {
    // An installer that asks where to install, like Docker Desktop's, rather than a silent one-click.
    oneClick: false,
    allowToChangeInstallationDirectory: true,
    artifactName: '${productName}-Setup-${version}-${arch}.${ext}',
  },
  linux: {
    target: [
      { target: 'AppImage', arch: ['x64'] },
      { target: 'deb', arch: ['x64'] },
    ],
    // Not "berth": the deb links the executable into /usr/bin, where the `berth` CLI lives.
    executableName: 'berth-desktop',
    syncDesktopName: true,
    category: 'Development',
    maintainer: 'Berth contributors <berth@users.noreply.github.com>',
    synopsis: 'Desktop container platform: a Docker-compatible engine in a small Linux VM',
  },
  deb: {
    // electron-builder's default dependencies for Electron apps, plus QEMU (the VM) and qemu-img
    // (the data disk), which the host agent runs from PATH on Linux.
    depends: ['libgtk-3-0', 'libnotify4', 'libnss3', 'libxss1', 'libxtst6', 'xdg-utils', 'libatspi2.0-0', 'libuuid1', 'libsecret-1-0', 'qemu-system-x86', 'qemu-utils'],
  },
};

export default config;
