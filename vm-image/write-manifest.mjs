// vm-image/dist/manifest.json: what went into the guest (name=value arguments, and every Debian
// package from the packages.tsv debian-root.sh wrote) and, for every artifact in the directory
// (files only: arm64's folder sits in amd64's), its size and sha256. Keys are sorted so the same
// build writes the same bytes.
//   node write-manifest.mjs DIR PACKAGES.tsv name=value...
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [dir, packageList, ...pairs] = process.argv.slice(2);
const versions = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]).sort(([a], [b]) => a.localeCompare(b)));
const packages = Object.fromEntries(
  readFileSync(packageList, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'))
    .map(([name, version, arch]) => [name, `${version} ${arch}`])
    .sort(([a], [b]) => a.localeCompare(b)),
);
const artifacts = {};
for (const name of readdirSync(dir).sort()) {
  if (name === 'manifest.json' || !statSync(path.join(dir, name)).isFile()) continue;
  const file = path.join(dir, name);
  artifacts[name] = { size: statSync(file).size, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}
writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ versions, packages, artifacts }, null, 2) + '\n');
