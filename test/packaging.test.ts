// The desktop app packaged by electron-builder with electron/electron-builder.ts, offline: the
// Linux --dir target with a stand-in for Electron's binary (which cannot be downloaded here), so
// what is checked is the layout our configuration produces, not Electron itself. Needs
// `npm run build` (electron/dist, renderer/dist); the guest images are vm-image/dist/amd64 and
// vm-image/dist/arm64 when both are built, else small stand-ins, so the VM image never has to be
// built for this test. One electron-builder run packages an x64 and an arm64 app, as `--mac` does
// for its two dmgs, and each must get the guest of its own architecture.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fs, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

// Installed with electron-builder (app-builder-lib depends on it), which is how the archive is written.
import { extractAll, extractFile, listPackage, statFile } from '@electron/asar';

import { copyGuestImage, guestArchFor, guestImageFolder, verifyGuestImage, type GuestArch, type GuestManifest } from '../scripts/package-guest-image.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const ELECTRON_DIR = path.join(ROOT, 'electron');
const BUILDER = path.join(ROOT, 'node_modules/electron-builder/cli.js');
const REAL_IMAGES = path.join(ROOT, 'vm-image/dist');
const electronPackage = JSON.parse(readFileSync(path.join(ELECTRON_DIR, 'package.json'), 'utf8')) as { main: string; dependencies: Record<string, string> };
// The version in node_modules, so the check follows upgrades of the devDependency.
const electronVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;

interface Run { code: number | null; output: string; ms: number }

function electronBuilder(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUILDER, ...args], { cwd: ELECTRON_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, ms: Date.now() - started }));
  });
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Runs `script` as an ES module in Node with `cwd` as its folder (the extracted archive). */
function nodeModuleScript(script: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

// Computed here rather than with the module under test, so a wrong hash there cannot agree with itself.
const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

/** Each app the main run packages, and the guest it must carry (electron-builder's names, Debian's). */
const APPS = [
  { appArch: 'x64', guestArch: 'amd64', unpacked: 'linux-unpacked' },
  { appArch: 'arm64', guestArch: 'arm64', unpacked: 'linux-arm64-unpacked' },
] as const;

/** A small guest for `arch` laid out as vm-image/build.sh writes one: the kernel under its arch's name. */
async function writeStandInGuest(dir: string, arch: GuestArch): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const artifacts: Record<string, { size: number; sha256: string }> = {};
  for (const name of [arch === 'amd64' ? 'vmlinux' : 'Image', 'initramfs.cpio.gz', 'rootfs.squashfs']) {
    const body = Buffer.from(`stand-in ${arch} ${name}\n`);
    await fs.writeFile(path.join(dir, name), body);
    artifacts[name] = { size: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  }
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ versions: { arch }, artifacts }));
}

/** Flips one byte of `file`: same size, other content. */
async function corrupt(file: string): Promise<void> {
  const body = await fs.readFile(file);
  body[0] = body[0]! ^ 0xff;
  await fs.writeFile(file, body);
}

describe('packaging the desktop app (electron-builder --dir, offline)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'berth-packaging-'));
  const out = path.join(work, 'out');
  const standIn = path.join(work, 'electron-dist');
  const standInImages = path.join(work, 'vm-image');
  const realImagesBuilt = APPS.every(({ guestArch }) => existsSync(path.join(REAL_IMAGES, guestArch, 'manifest.json')));
  const imageRoot = realImagesBuilt ? REAL_IMAGES : standInImages;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // With the real images the configuration's default path is what gets exercised.
  delete env.BERTH_PACKAGE_IMAGE_DIR;
  if (!realImagesBuilt) env.BERTH_PACKAGE_IMAGE_DIR = standInImages;
  const common = ['--linux', 'dir', `-c.electronDist=${standIn}`, `-c.electronVersion=${electronVersion}`];
  /** resources/ of each packaged app, by electron-builder's architecture name. */
  const resourcesOf: Record<string, string> = {};
  let resources = '';
  let asar = '';
  let entries: string[] = [];
  let packagingMs = 0;
  /** The x64 app's archive, extracted, to run the shipped modules in Node. */
  const extracted = path.join(work, 'extracted');

  before(async () => {
    for (const built of ['electron/dist/electron-main/main.js', 'electron/dist/electron-main/preload.cjs', 'renderer/dist/index.html']) {
      assert.ok(existsSync(path.join(ROOT, built)), `${built} is missing: run \`npm run build\` first`);
    }
    // An unpacked Electron for Linux is a folder with an `electron` executable (renamed to the
    // app's executableName) and whatever Chromium needs beside it; the layout check needs only the first.
    await fs.mkdir(path.join(standIn, 'resources'), { recursive: true });
    await fs.writeFile(path.join(standIn, 'electron'), '#!/bin/sh\necho "stand-in for Electron $*"\n', { mode: 0o755 });
    await fs.writeFile(path.join(standIn, 'LICENSE'), 'stand-in\n');
    if (!realImagesBuilt) {
      for (const { guestArch } of APPS) await writeStandInGuest(path.join(standInImages, guestArch), guestArch);
    }

    // Both architectures in one run, as `--mac` builds its two dmgs: the hooks run once per app.
    const run = await electronBuilder([...common, '--x64', '--arm64', `-c.directories.output=${out}`], env);
    packagingMs = run.ms;
    assert.equal(run.code, 0, `electron-builder failed:\n${run.output}`);
    for (const { appArch, unpacked } of APPS) {
      assert.ok(existsSync(path.join(out, unpacked)), `no ${unpacked} folder in ${out}: ${(await fs.readdir(out)).join(', ')}`);
      resourcesOf[appArch] = path.join(out, unpacked, 'resources');
    }
    // The app checks below look at the x64 one; the arm64 app differs only in its guest.
    resources = resourcesOf.x64!;
    asar = path.join(resources, 'app.asar');
    entries = listPackage(asar, { isPack: false }).map((entry) => entry.replaceAll(path.sep, '/').replace(/^\//, ''));
    extractAll(asar, extracted);
  });

  after(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  it('puts the compiled main process, its preload and a package.json pointing at it in app.asar', () => {
    assert.ok(existsSync(path.join(resources, '..', 'berth-desktop')), 'the executable is named berth-desktop');
    for (const file of ['dist/electron-main/main.js', 'dist/electron-main/preload.cjs', 'dist/electron-main/menus.js', 'dist/node/host/paths.js', 'package.json']) {
      assert.ok(entries.includes(file), `${file} is not in app.asar`);
    }
    const manifest = JSON.parse(extractFile(asar, 'package.json').toString()) as { main: string; type: string; productName: string; desktopName: string };
    assert.equal(manifest.main, 'dist/electron-main/main.js');
    assert.equal(manifest.main, electronPackage.main);
    // dist/ is ES modules: without "type": "module" Electron would load main.js as CommonJS.
    assert.equal(manifest.type, 'module');
    // app.name (and with it the userData folder) comes from productName.
    assert.equal(manifest.productName, 'Berth');
    // Linux windows are matched to berth-desktop.desktop through desktopName.
    assert.equal(manifest.desktopName, 'berth-desktop.desktop');
  });

  it('leaves sources, maps, declarations, tests and development packages out', () => {
    const unwanted = entries.filter((entry) => /\.(ts|cts|mts|map|tsbuildinfo)$/.test(entry) || /^(src|bin|test)\//.test(entry));
    assert.deepEqual(unwanted, []);
    const packages = new Set(entries.filter((e) => e.startsWith('node_modules/')).map((e) => e.split('/').slice(1, e.startsWith('node_modules/@') ? 3 : 2).join('/')));
    for (const dev of ['typescript', 'electron', 'electron-builder', 'app-builder-lib', '@types/node', 'tsx', 'cpu-features', 'nan', 'bare-fs', 'bare-url']) {
      assert.ok(!packages.has(dev), `${dev} should not be packaged`);
    }
    assert.ok(!entries.some((e) => e.startsWith('node_modules/ssh2/lib/protocol/crypto/build')), "ssh2's Node-only native binding should not be packaged");
    // Every runtime dependency of the app is there.
    for (const dependency of Object.keys(electronPackage.dependencies)) {
      assert.ok(entries.includes(`node_modules/${dependency}/package.json`), `${dependency} is missing from app.asar`);
    }
  });

  it("unpacks node-pty's native addon next to app.asar", () => {
    const platformPackage = `@lydell/node-pty-linux-${process.arch}`;
    const addon = `node_modules/${platformPackage}/pty.node`;
    // Marked unpacked in the archive's header: Electron's fs then reads it from app.asar.unpacked.
    assert.equal((statFile(asar, addon) as { unpacked?: boolean }).unpacked, true);
    const onDisk = path.join(resources, 'app.asar.unpacked', addon);
    assert.ok(existsSync(onDisk), `${onDisk} is missing`);
    assert.equal(readFileSync(onDisk).subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.ok(existsSync(path.join(resources, 'app.asar.unpacked/node_modules/@lydell/node-pty/index.js')));
  });

  it('ships the renderer as a resource', async () => {
    const index = await fs.readFile(path.join(resources, 'renderer/index.html'), 'utf8');
    const assets = [...index.matchAll(/(?:src|href)="(?:\.?\/)?(assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length > 0, 'index.html references its bundles');
    for (const asset of assets) assert.ok(existsSync(path.join(resources, 'renderer', asset)), `renderer/${asset} is missing`);
    assert.deepEqual((await fs.readdir(path.join(resources, 'renderer'), { recursive: true })).filter((f) => f.endsWith('.map')), []);
  });

  for (const { appArch, guestArch } of APPS) {
    it(`gives the ${appArch} app the ${guestArch} guest, its files as its manifest lists them, and nothing else`, async () => {
      const shipped = path.join(resourcesOf[appArch]!, 'vm-image');
      const source = path.join(imageRoot, guestArch);
      // The manifest as built, byte for byte: the app's start-up check reads its arch.
      const manifestText = await fs.readFile(path.join(shipped, 'manifest.json'), 'utf8');
      assert.equal(manifestText, await fs.readFile(path.join(source, 'manifest.json'), 'utf8'));
      const manifest = JSON.parse(manifestText) as Required<GuestManifest>;
      assert.equal(manifest.versions.arch, guestArch);
      // Flat in resources/vm-image (where imageDir() looks when there is no per-arch folder): the
      // manifest and its artifacts, no kernel or folder of the other architecture.
      assert.deepEqual((await fs.readdir(shipped)).sort(), ['manifest.json', ...Object.keys(manifest.artifacts)].sort());
      for (const [name, { size, sha256: recorded }] of Object.entries(manifest.artifacts)) {
        assert.equal(statSync(path.join(shipped, name)).size, size, `vm-image/${name}'s size`);
        assert.equal(await sha256(path.join(shipped, name)), recorded, `vm-image/${name}'s sha256`);
      }
    });
  }

  it("is found by the packaged app's own image lookup, which takes the guest for its architecture only", async () => {
    // What main.ts does when packaged (BERTH_IMAGE_DIR = resources/vm-image), then what a start
    // does: imageDir(settings.arch) and the manifest check, with the modules as shipped.
    const script = `const { imageDir } = await import('./dist/node/host/paths.js');\n`
      + `const { checkGuestImage } = await import('./dist/node/vm/guest-image.js');\n`
      + `const results = {};\n`
      + `for (const [app, resources] of Object.entries(${JSON.stringify(resourcesOf)})) for (const arch of ['amd64', 'arm64']) {\n`
      + `  const dir = imageDir(arch, { BERTH_IMAGE_DIR: resources + '/vm-image' });\n`
      + `  try { checkGuestImage(dir, arch); results[app + ' ' + arch] = dir; } catch (err) { results[app + ' ' + arch] = 'refused: ' + err.message; }\n`
      + `}\n`
      + `console.log(JSON.stringify(results));\n`;
    const result = await nodeModuleScript(script, extracted);
    assert.equal(result.code, 0, result.output);
    const found = JSON.parse(result.output) as Record<string, string>;
    assert.equal(found['x64 amd64'], path.join(resourcesOf.x64!, 'vm-image'));
    assert.equal(found['arm64 arm64'], path.join(resourcesOf.arm64!, 'vm-image'));
    // The other architecture's guest is not in the app: a start with that arch setting is refused.
    // (The wording is guest-image.ts's own, tested in host-settings.test.ts.)
    assert.match(found['x64 arm64']!, /^refused: /);
    assert.match(found['arm64 amd64']!, /^refused: /);
  });

  it('packages every module the main process imports (loaded in Node from the extracted archive)', async () => {
    // Everything under dist/ except the two files that need Electron itself. Importing them pulls
    // in ws, ssh2, tar-stream and node-pty from the packaged node_modules, so a file the `files`
    // filters dropped by mistake fails here rather than in the installed app.
    const modules = entries.filter((e) => /^dist\/.*\.js$/.test(e) && e !== 'dist/electron-main/main.js');
    const script = `for (const m of ${JSON.stringify(modules)}) await import('./' + m);\n`
      + `const { createRequire } = await import('node:module');\n`
      + `const pty = createRequire(process.cwd() + '/')('@lydell/node-pty');\n`
      + `if (typeof pty.spawn !== 'function') throw new Error('node-pty did not load');\n`
      + `process.exit(0);\n`;
    const result = await nodeModuleScript(script, extracted);
    assert.equal(result.code, 0, result.output);
  });

  it('reports the sizes of the output', async (t) => {
    const appDir = path.dirname(resources);
    const sizes = {
      appAsar: statSync(asar).size,
      unpacked: await du(path.join(resources, 'app.asar.unpacked')),
      renderer: await du(path.join(resources, 'renderer')),
      amd64Guest: await du(path.join(resourcesOf.x64!, 'vm-image')),
      arm64Guest: await du(path.join(resourcesOf.arm64!, 'vm-image')),
      total: await du(appDir),
    };
    t.diagnostic(`app.asar ${mb(sizes.appAsar)}, app.asar.unpacked ${mb(sizes.unpacked)}, renderer ${mb(sizes.renderer)}, `
      + `vm-image ${mb(sizes.amd64Guest)} amd64 / ${mb(sizes.arm64Guest)} arm64 (${realImagesBuilt ? 'built images' : 'stand-ins'}), `
      + `x64 --dir output without Electron ${mb(sizes.total)}; electron-builder for both apps ${(packagingMs / 1000).toFixed(1)} s`);
    // The app itself (main process and its node_modules) stays small: a regression guard against
    // a filter that stops working and lets sources or a development package in.
    assert.ok(sizes.appAsar < 5 * 1048576, `app.asar is ${mb(sizes.appAsar)}`);
  });

  // Two refusals through the real configuration: a check that exists but is not wired into
  // packaging would pass the unit tests below and fail here. The other ways a guest can be wrong
  // (missing, truncated, no manifest, ...) go through the same hook and are tested below without
  // electron-builder, whose every run costs ~3 s of CPU (2.5 s of it compiling its config schema).
  /** Packages an arm64 app from the guests under `root`; it must stop before any app folder is made. */
  async function refusedArm64Packaging(root: string, name: string): Promise<string> {
    const output = path.join(work, `out-${name}`);
    const run = await electronBuilder([...common, '--arm64', `-c.directories.output=${output}`], { ...env, BERTH_PACKAGE_IMAGE_DIR: root });
    assert.notEqual(run.code, 0, `packaging went through:\n${run.output}`);
    assert.ok(!existsSync(path.join(output, 'linux-arm64-unpacked')), 'an app folder was made for the refused image');
    return run.output;
  }

  it('refuses an amd64 guest for an arm64 app', async () => {
    // A folder with one guest (no arm64/ inside), as BERTH_PACKAGE_IMAGE_DIR may name.
    const amd64Only = path.join(work, 'amd64-only');
    await writeStandInGuest(amd64Only, 'amd64');
    const output = await refusedArm64Packaging(amd64Only, 'wrong-arch');
    assert.match(output, /the guest image at .*amd64-only is amd64, but this app needs arm64/);
  });

  it('refuses a guest whose artifact does not match its manifest, naming the file', async () => {
    const damaged = path.join(work, 'damaged');
    await writeStandInGuest(path.join(damaged, 'arm64'), 'arm64');
    await corrupt(path.join(damaged, 'arm64/rootfs.squashfs'));
    const output = await refusedArm64Packaging(damaged, 'damaged');
    assert.match(output, /rootfs\.squashfs in the guest image at .*damaged\/arm64 does not match its manifest's sha256/);
  });
});

describe('the guest image check (scripts/package-guest-image.ts)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'berth-guest-check-'));
  after(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  /** A fresh stand-in guest for `arch` in a folder of its own. */
  let made = 0;
  async function guest(arch: GuestArch): Promise<string> {
    const dir = path.join(work, `guest-${made++}`);
    await writeStandInGuest(dir, arch);
    return dir;
  }
  const editManifest = async (dir: string, edit: (m: Required<GuestManifest>) => void) => {
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')) as Required<GuestManifest>;
    edit(manifest);
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  };

  it("maps electron-builder's architectures to the guests' and refuses those without a guest", () => {
    assert.equal(guestArchFor('x64'), 'amd64');
    assert.equal(guestArchFor('arm64'), 'arm64');
    for (const other of ['ia32', 'armv7l', 'universal']) assert.throws(() => guestArchFor(other), /no guest image exists for .* apps/);
  });

  it('takes ROOT/ARCH when it holds a guest, else ROOT itself', async () => {
    const root = path.join(work, 'root');
    await writeStandInGuest(path.join(root, 'arm64'), 'arm64');
    assert.equal(guestImageFolder(root, 'arm64'), path.join(root, 'arm64'));
    assert.equal(guestImageFolder(root, 'amd64'), root);
  });

  it('accepts a complete guest of the asked architecture', async () => {
    const dir = await guest('arm64');
    assert.deepEqual(await verifyGuestImage(dir, 'arm64'), { dir, arch: 'arm64', artifacts: ['Image', 'initramfs.cpio.gz', 'rootfs.squashfs'] });
  });

  it('refuses each way a guest can be wrong, naming what is wrong', async () => {
    const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
      ['the other architecture', (dir) => editManifest(dir, (m) => (m.versions.arch = 'amd64')), /is amd64, but this app needs arm64/],
      ['no architecture', (dir) => editManifest(dir, (m) => delete m.versions.arch), /is of unknown architecture, but this app needs arm64/],
      ['a truncated artifact', (dir) => fs.truncate(path.join(dir, 'Image'), 3), /Image in the guest image at .* is 3 bytes, its manifest says \d+/],
      ['a changed artifact of the same size', (dir) => corrupt(path.join(dir, 'initramfs.cpio.gz')), /initramfs\.cpio\.gz in the guest image at .* does not match its manifest's sha256/],
      ['a missing artifact', (dir) => fs.rm(path.join(dir, 'rootfs.squashfs')), /guest image at .* is missing rootfs\.squashfs/],
      ['an artifact without a sha256', (dir) => editManifest(dir, (m) => delete m.artifacts.Image!.sha256), /gives no size and sha256 for Image/],
      ['no artifacts', (dir) => editManifest(dir, (m) => (m.artifacts = {})), /lists no artifacts/],
      ['an artifact outside the folder', (dir) => editManifest(dir, (m) => (m.artifacts['../manifest.json'] = { size: 1, sha256: 'x' })), /lists \.\.\/manifest\.json, which is not a file of the image folder/],
      ['a manifest that is not JSON', (dir) => fs.writeFile(path.join(dir, 'manifest.json'), '{'), /manifest\.json is not valid JSON/],
      ['no manifest', (dir) => fs.rm(path.join(dir, 'manifest.json')), /no arm64 guest image at .* \(manifest\.json missing\): build it with `ARCH=arm64 npm run vm-image`/],
    ];
    for (const [what, spoil, message] of cases) {
      const dir = await guest('arm64');
      await spoil(dir);
      await assert.rejects(verifyGuestImage(dir, 'arm64'), message, what);
    }
  });

  it('copies only the manifest and its artifacts, and refuses a source changed after its check', async () => {
    const dir = await guest('amd64');
    await fs.writeFile(path.join(dir, 'notes.txt'), 'not an artifact\n');
    const verified = await verifyGuestImage(dir, 'amd64');
    const dest = path.join(work, 'copied');
    await copyGuestImage(verified, dest);
    assert.deepEqual((await fs.readdir(dest)).sort(), ['initramfs.cpio.gz', 'manifest.json', 'rootfs.squashfs', 'vmlinux']);
    // The source rebuilt or damaged between beforePack's check and afterPack's copy.
    await corrupt(path.join(dir, 'vmlinux'));
    await assert.rejects(copyGuestImage(verified, path.join(work, 'copied-again')), /vmlinux in the guest image at .*copied-again does not match its manifest's sha256/);
  });
});
