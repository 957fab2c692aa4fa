// `npm run app`: the desktop app in Electron. `npm ci` never downloads Electron's binary (the
// root package.json denies electron's install script in `allowScripts`), because nothing but this
// window needs it and `npm ci` must pass offline. Here it is fetched once, where the app runs;
// offline, one line says what is missing and how to supply it.
//   ELECTRON_OVERRIDE_DIST_PATH=DIR  an unpacked Electron of the same version, used as it is
//   npm run app -- ARGS              ARGS go to Electron (after the app's folder)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const APP_DIR = path.join(ROOT, 'electron');
const requireFromApp = createRequire(path.join(APP_DIR, 'package.json'));
const ELECTRON_DIR = path.dirname(requireFromApp.resolve('electron/package.json'));
const { version } = JSON.parse(readFileSync(path.join(ELECTRON_DIR, 'package.json'), 'utf8')) as { version: string };

function fail(message: string): never {
  process.stderr.write(`berth app: ${message}\n`);
  process.exit(1);
}

/** The executable inside an unpacked Electron, as electron's own index.js names it. */
function executableIn(dist: string): string {
  if (process.platform === 'darwin') return path.join(dist, 'Electron.app/Contents/MacOS/Electron');
  return path.join(dist, process.platform === 'win32' ? 'electron.exe' : 'electron');
}

/** The zip Electron publishes for this machine, named as its releases name it. */
function releaseZip(): string {
  const platform = process.platform === 'win32' ? 'win32' : process.platform;
  return `electron-v${version}-${platform}-${process.arch}.zip`;
}

/** ELECTRON_OVERRIDE_DIST_PATH's Electron, which electron's own index.js also honours. */
function overrideBinary(): string | undefined {
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (!override) return undefined;
  const binary = executableIn(override);
  if (!existsSync(binary)) fail(`ELECTRON_OVERRIDE_DIST_PATH=${override} holds no Electron (expected ${binary}); unpack ${releaseZip()} there`);
  return binary;
}

/** The Electron an earlier `npm run app` downloaded, if it is this version's. */
function downloadedBinary(): string | undefined {
  const dist = path.join(ELECTRON_DIR, 'dist');
  let installed = '';
  try {
    installed = readFileSync(path.join(dist, 'version'), 'utf8').replace(/^v/, '').trim();
  } catch {
    return undefined;
  }
  const binary = executableIn(dist);
  return installed === version && existsSync(binary) ? binary : undefined;
}

/** electron's own install script (skipped by `npm ci`): fetches the zip and unpacks it. */
function download(): string {
  process.stderr.write(`berth app: downloading Electron ${version} (once; it stays in node_modules/electron)\n`);
  const result = spawnSync(process.execPath, [path.join(ELECTRON_DIR, 'install.js')], { cwd: ELECTRON_DIR, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  const reason = (result.stderr ?? '').split('\n').find((line) => line.trim())?.trim() ?? `exit ${result.status}`;
  const binary = downloadedBinary();
  if (result.status !== 0 || !binary) {
    fail(`Electron ${version}'s binary is not installed and could not be downloaded (${reason}); unpack ${releaseZip()} from Electron's releases into a folder and run: ELECTRON_OVERRIDE_DIST_PATH=/that/folder npm run app`);
  }
  return binary;
}

const binary = overrideBinary() ?? downloadedBinary() ?? download();
if (!existsSync(path.join(APP_DIR, 'dist/electron-main/main.js')) || !existsSync(path.join(ROOT, 'renderer/dist/index.html'))) {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) fail('npm run build failed');
}
const app = spawn(binary, [APP_DIR, ...process.argv.slice(2)], { stdio: 'inherit' });
app.on('error', (err) => fail(`could not start ${binary}: ${err.message}`));
app.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
