// electron-builder configuration for the Berth desktop app (docs/packaging.md explains how to use it).
// A TypeScript file rather than YAML so the guest image's location can be overridden from the
// environment with a default (YAML macros like ${env.X} fail when X is unset), and so a missing
// image stops the build with a message instead of producing an app that cannot boot its VM.
//
// Run from electron/ after `npm run build` at the root:  npx electron-builder --linux dir
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { Arch, type Configuration } from 'electron-builder';

// The guest image to ship: vm-image/dist of this checkout (`npm run vm-image`), or another build of
// it, e.g. one per target architecture. The packaging test points this at a small stand-in.
const imageDist = path.resolve(import.meta.dirname, process.env.BERTH_PACKAGE_IMAGE_DIR || '../vm-image/dist');
if (!existsSync(path.join(imageDist, 'manifest.json'))) {
  // manifest.json is written last by vm-image/build.sh, so its presence means the image is complete.
  throw new Error(`no guest image at ${imageDist} (manifest.json missing): run \`npm run vm-image\` or set BERTH_PACKAGE_IMAGE_DIR`);
}
const manifest = JSON.parse(readFileSync(path.join(imageDist, 'manifest.json'), 'utf8')) as { versions?: { arch?: string }; artifacts?: Record<string, { size: number }> };
for (const [name, { size }] of Object.entries(manifest.artifacts ?? {})) {
  // A file changed or truncated since the build would make a VM that fails to boot, not a packaging error.
  if (!existsSync(path.join(imageDist, name)) || statSync(path.join(imageDist, name)).size !== size) {
    throw new Error(`the guest image at ${imageDist} does not match its manifest.json (${name}): rebuild it with \`npm run vm-image\``);
  }
}
// The guest runs on the host's CPU (KVM, HVF, WHPX): an amd64 image in an arm64 app would only
// boot under emulation, if at all. The manifest names the image's architecture the Debian way.
const guestArch = manifest.versions?.arch;
const debianArch: Partial<Record<Arch, string>> = { [Arch.x64]: 'amd64', [Arch.arm64]: 'arm64' };

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
    // main.ts sets BERTH_IMAGE_DIR to process.resourcesPath/vm-image when app.isPackaged. Outside
    // app.asar because QEMU opens the kernel, initramfs and root filesystem itself.
    // The manifest's artifacts only: vm-image/dist also holds arm64's guest in a folder of its own.
    { from: imageDist, to: 'vm-image', filter: ['manifest.json', ...Object.keys(manifest.artifacts ?? {})] },
  ],
  // One invocation ships one guest image, so an app for another architecture is refused rather
  // than packaged with a guest it cannot run (docs/packaging.md: one architecture per run).
  beforePack: (context) => {
    const wanted = debianArch[context.arch];
    if (guestArch !== wanted) {
      throw new Error(`the guest image at ${imageDist} is ${guestArch ?? 'of unknown architecture'}, but this app is for ${Arch[context.arch]}: `
        + `build the image on ${wanted ?? Arch[context.arch]} Debian (ARCH=${wanted ?? Arch[context.arch]} npm run vm-image) and set BERTH_PACKAGE_IMAGE_DIR to it`);
    }
  },
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
