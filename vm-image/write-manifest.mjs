// vm-image/dist/manifest.json: what went into the guest (name=value arguments) and, for every
// artifact in the directory, its size and sha256. Keys are sorted so the same build writes the same bytes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [dir, ...pairs] = process.argv.slice(2);
const versions = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]).sort(([a], [b]) => a.localeCompare(b)));
const artifacts = {};
for (const name of readdirSync(dir).sort()) {
  if (name === 'manifest.json') continue;
  const file = path.join(dir, name);
  artifacts[name] = { size: statSync(file).size, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}
writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ versions, artifacts }, null, 2) + '\n');
