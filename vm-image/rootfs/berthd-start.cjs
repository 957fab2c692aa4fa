// How berthd starts in the Berth guest: berth-init runs this file (/opt/berth/berthd-start.cjs),
// which loads the engine's bundle (/opt/berth/berthd.cjs) with two caches the guest makes itself
// and keeps on the data disk, in the folder berth-init names with --startup-cache:
//
//  - node.blob, a startup snapshot of Node with this file in it (`node --build-snapshot` of this
//    file), which berth-init hands to node as --snapshot-blob. Debian builds Node without its own
//    built-in snapshot, so every start ran Node's bootstrap JavaScript from source: under TCG that
//    was about 2 s of the boot. The snapshot holds that bootstrap and this loader, nothing of
//    berthd: the engine's modules load after it as on any start, so no engine state is frozen in it.
//  - berthd.code, V8's code cache of the bundle, so its 2 MB are not parsed and compiled again.
//
// A start without them makes them, 20 s in and at low priority, so that the next boot has them.
// They are written whole (a temporary file renamed), keyed by the bundle, this file and Node
// (build.sh writes the key, berth-init turns it into the folder), and not trusted: V8 checks the code
// cache and compiles from source if it does not fit; berth-init drops a snapshot Node refuses.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');

const BUNDLE = path.join(__dirname, 'berthd.cjs');
const CACHE_DELAY_MS = 20_000;

/** The cache folder from `--startup-cache DIR`, taken out of the arguments berthd parses. */
function takeCacheFolder() {
  const at = process.argv.indexOf('--startup-cache');
  if (at < 0) return undefined;
  const dir = process.argv[at + 1];
  process.argv.splice(at, 2);
  return dir;
}

function readIfExists(file) {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Write all or nothing: a boot cut off mid-write leaves the old file or none, never half of one. */
function writeWhole(file, data) {
  const partial = `${file}.partial`;
  fs.writeFileSync(partial, data);
  fs.renameSync(partial, file);
}

const consoleLine = (line) => process.stderr.write(`${line}\n`);

function start(fromSnapshot) {
  const cacheDir = takeCacheFolder();
  const codeFile = cacheDir && path.join(cacheDir, 'berthd.code');
  // vm here, not with the modules at the top: Node does not support it in a snapshot of one's own yet.
  const { Script } = require('node:vm');
  const cachedData = codeFile && readIfExists(codeFile);
  // The wrapper Node gives a CommonJS module, so the bundle runs as `node berthd.cjs` would run it.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(BUNDLE, 'utf8')}\n})`, {
    filename: BUNDLE,
    ...(cachedData ? { cachedData } : {}),
  });
  const bundle = { exports: {} };
  script.runInThisContext()(bundle.exports, require, bundle, BUNDLE, __dirname);
  if (!cacheDir) return;
  const needCode = !cachedData || script.cachedDataRejected;
  // berth-init leaves no-snapshot when Node refused or crashed on one: then none is made again.
  const needSnapshot = !fromSnapshot && !fs.existsSync(path.join(cacheDir, 'no-snapshot'));
  if (!needCode && !needSnapshot) return;
  // Later rather than now: the code cache then also holds what the first requests compiled, and the
  // engine's own start is not slowed.
  setTimeout(() => makeCaches(cacheDir, needCode ? { file: codeFile, script } : undefined, needSnapshot), CACHE_DELAY_MS).unref();
}

function makeCaches(cacheDir, code, needSnapshot) {
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    // Folders of earlier bundles or Node versions are of no use any more.
    for (const other of fs.readdirSync(path.dirname(cacheDir))) {
      if (other !== path.basename(cacheDir)) fs.rmSync(path.join(path.dirname(cacheDir), other), { recursive: true, force: true });
    }
    if (code) writeWhole(code.file, code.script.createCachedData());
  } catch (err) {
    consoleLine(`berth: startup cache not written: ${err.message}`);
    return;
  }
  if (!needSnapshot) return;
  const blob = path.join(cacheDir, 'node.blob');
  const partial = `${blob}.partial`;
  const began = Date.now();
  const { spawn } = require('node:child_process');
  const builder = spawn(process.execPath, ['--snapshot-blob', partial, '--build-snapshot', __filename], { stdio: ['ignore', 'ignore', 'pipe'] });
  // The lowest priority: containers and requests come first.
  if (builder.pid) require('node:os').setPriority(builder.pid, 19);
  let errors = '';
  builder.stderr.on('data', (chunk) => (errors += chunk));
  builder.on('error', (err) => consoleLine(`berth: startup snapshot not made: ${err.message}`));
  builder.on('exit', (code) => {
    if (code === 0 && fs.existsSync(partial)) {
      fs.renameSync(partial, blob);
      consoleLine(`berth: startup snapshot made in ${Date.now() - began} ms`);
    } else {
      fs.rmSync(partial, { force: true });
      consoleLine(`berth: startup snapshot not made (exit ${code}): ${errors.trim().split('\n').pop()}`);
    }
  });
}

// The built-in modules berthd uses that Node supports in a snapshot of one's own (the others, such as
// http, child_process, tls and http2, cannot be in one yet and are loaded at start): compiled and
// set up once here rather than on every start.
const SNAPSHOT_MODULES = ['assert', 'buffer', 'crypto', 'events', 'fs/promises', 'net', 'os', 'querystring', 'stream', 'stream/promises', 'url', 'util', 'zlib'];

if (v8.startupSnapshot.isBuildingSnapshot()) {
  for (const name of SNAPSHOT_MODULES) require(`node:${name}`);
  v8.startupSnapshot.setDeserializeMainFunction(() => start(true));
} else {
  start(false);
}
