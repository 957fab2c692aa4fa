// The desktop app packaged by electron-builder with electron/electron-builder.ts, offline: the
// Linux --dir target with a stand-in for Electron's binary (which cannot be downloaded here), so
// what is checked is the layout our configuration produces, not Electron itself. Needs
// `npm run build` (electron/dist, renderer/dist); the guest image is vm-image/dist when it is
// built, else a small stand-in, so the VM image never has to be built for this test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

// Installed with electron-builder (app-builder-lib depends on it), which is how the archive is written.
import { extractAll, extractFile, listPackage, statFile } from '@electron/asar';

const ROOT = path.resolve(import.meta.dirname, '..');
const ELECTRON_DIR = path.join(ROOT, 'electron');
const BUILDER = path.join(ROOT, 'node_modules/electron-builder/cli.js');
const REAL_IMAGE = path.join(ROOT, 'vm-image/dist');
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

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

describe('packaging the desktop app (electron-builder --dir, offline)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'berth-packaging-'));
  const out = path.join(work, 'out');
  const standIn = path.join(work, 'electron-dist');
  const fakeImage = path.join(work, 'vm-image');
  const imageSource = existsSync(path.join(REAL_IMAGE, 'manifest.json')) ? REAL_IMAGE : fakeImage;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // With the real image the configuration's default path is what gets exercised.
  delete env.BERTH_PACKAGE_IMAGE_DIR;
  if (imageSource === fakeImage) env.BERTH_PACKAGE_IMAGE_DIR = fakeImage;
  const common = ['--linux', 'dir', `--${process.arch}`, `-c.electronDist=${standIn}`, `-c.electronVersion=${electronVersion}`];
  let resources = '';
  let asar = '';
  let entries: string[] = [];

  before(async () => {
    for (const built of ['electron/dist/electron-main/main.js', 'electron/dist/electron-main/preload.cjs', 'renderer/dist/index.html']) {
      assert.ok(existsSync(path.join(ROOT, built)), `${built} is missing: run \`npm run build\` first`);
    }
    // An unpacked Electron for Linux is a folder with an `electron` executable (renamed to the
    // app's executableName) and whatever Chromium needs beside it; the layout check needs only the first.
    await fs.mkdir(path.join(standIn, 'resources'), { recursive: true });
    await fs.writeFile(path.join(standIn, 'electron'), '#!/bin/sh\necho "stand-in for Electron $*"\n', { mode: 0o755 });
    await fs.writeFile(path.join(standIn, 'LICENSE'), 'stand-in\n');
    if (imageSource === fakeImage) {
      await fs.mkdir(fakeImage);
      const artifacts: Record<string, { size: number }> = {};
      for (const name of ['vmlinux', 'initramfs.cpio.gz', 'rootfs.squashfs']) {
        const body = `stand-in ${name}\n`;
        await fs.writeFile(path.join(fakeImage, name), body);
        artifacts[name] = { size: body.length };
      }
      // The configuration refuses a guest of another architecture than the app's (Debian's names).
      await fs.writeFile(path.join(fakeImage, 'manifest.json'), JSON.stringify({ versions: { arch: process.arch === 'x64' ? 'amd64' : process.arch }, artifacts }));
    }

    const run = await electronBuilder([...common, `-c.directories.output=${out}`], env);
    assert.equal(run.code, 0, `electron-builder failed:\n${run.output}`);
    const unpacked = (await fs.readdir(out)).find((name) => name.startsWith('linux') && name.endsWith('-unpacked'));
    assert.ok(unpacked, `no linux-*unpacked folder in ${out}: ${(await fs.readdir(out)).join(', ')}`);
    resources = path.join(out, unpacked, 'resources');
    asar = path.join(resources, 'app.asar');
    entries = listPackage(asar, { isPack: false }).map((entry) => entry.replaceAll(path.sep, '/').replace(/^\//, ''));
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

  it('ships the renderer and the guest image as resources', async () => {
    const index = await fs.readFile(path.join(resources, 'renderer/index.html'), 'utf8');
    const assets = [...index.matchAll(/(?:src|href)="(?:\.?\/)?(assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length > 0, 'index.html references its bundles');
    for (const asset of assets) assert.ok(existsSync(path.join(resources, 'renderer', asset)), `renderer/${asset} is missing`);
    assert.deepEqual((await fs.readdir(path.join(resources, 'renderer'), { recursive: true })).filter((f) => f.endsWith('.map')), []);

    const manifest = JSON.parse(await fs.readFile(path.join(imageSource, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { size: number }> };
    assert.ok(existsSync(path.join(resources, 'vm-image/manifest.json')));
    for (const [name, { size }] of Object.entries(manifest.artifacts)) {
      assert.equal(statSync(path.join(resources, 'vm-image', name)).size, size, `vm-image/${name}`);
    }
  });

  it('packages every module the main process imports (loaded in Node from the extracted archive)', async () => {
    const extracted = path.join(work, 'extracted');
    extractAll(asar, extracted);
    // Everything under dist/ except the two files that need Electron itself. Importing them pulls
    // in ws, ssh2, tar-stream and node-pty from the packaged node_modules, so a file the `files`
    // filters dropped by mistake fails here rather than in the installed app.
    const modules = entries.filter((e) => /^dist\/.*\.js$/.test(e) && e !== 'dist/electron-main/main.js');
    const script = `for (const m of ${JSON.stringify(modules)}) await import('./' + m);\n`
      + `const { createRequire } = await import('node:module');\n`
      + `const pty = createRequire(process.cwd() + '/')('@lydell/node-pty');\n`
      + `if (typeof pty.spawn !== 'function') throw new Error('node-pty did not load');\n`
      + `process.exit(0);\n`;
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: extracted, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.equal(result.code, 0, result.output);
  });

  it('reports the sizes of the output', async (t) => {
    const appDir = path.dirname(resources);
    const sizes = {
      appAsar: statSync(asar).size,
      unpacked: await du(path.join(resources, 'app.asar.unpacked')),
      renderer: await du(path.join(resources, 'renderer')),
      vmImage: await du(path.join(resources, 'vm-image')),
      total: await du(appDir),
    };
    t.diagnostic(`app.asar ${mb(sizes.appAsar)}, app.asar.unpacked ${mb(sizes.unpacked)}, renderer ${mb(sizes.renderer)}, vm-image ${mb(sizes.vmImage)} (${imageSource === REAL_IMAGE ? 'built image' : 'stand-in'}), --dir output without Electron ${mb(sizes.total)}`);
    // The app itself (main process and its node_modules) stays small: a regression guard against
    // a filter that stops working and lets sources or a development package in.
    assert.ok(sizes.appAsar < 5 * 1048576, `app.asar is ${mb(sizes.appAsar)}`);
  });

  it('refuses a guest image built for another architecture', async () => {
    const foreign = path.join(work, 'foreign-image');
    await fs.mkdir(foreign);
    await fs.writeFile(path.join(foreign, 'manifest.json'), JSON.stringify({ versions: { arch: 'riscv64' }, artifacts: {} }));
    const run = await electronBuilder([...common, `-c.directories.output=${path.join(work, 'out-foreign')}`], { ...env, BERTH_PACKAGE_IMAGE_DIR: foreign });
    assert.notEqual(run.code, 0);
    assert.match(run.output, /the guest image at .*foreign-image is riscv64, but this app is for (x64|arm64)/);
  });

  it('refuses to package without a guest image, saying how to get one', async () => {
    const run = await electronBuilder([...common, `-c.directories.output=${path.join(work, 'out-no-image')}`], { ...env, BERTH_PACKAGE_IMAGE_DIR: path.join(work, 'no-such-image') });
    assert.notEqual(run.code, 0);
    assert.match(run.output, /no guest image at .*no-such-image .*npm run vm-image/);
  });
});
