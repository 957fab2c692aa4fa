// The layers hold (issue 15): dependency-cruiser with the rules in .dependency-cruiser.cjs finds no
// wrong-way import in the tree, and each rule does catch the import it is there for, named in the
// failure (checked on small trees made here, laid out like the real one).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { run } from './support/berthd.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const SOURCES = ['runtime-agent/src', 'electron/src', 'renderer/src'];

function cruise(cwd: string, folders: string[]) {
  return run(DEPCRUISE, ['--config', CONFIG, '--output-type', 'err', ...folders], { cwd });
}

describe('import rules (dependency-cruiser)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'berth-imports-'));
  after(() => fs.rm(scratch, { recursive: true, force: true }));

  it('finds no wrong-way import or loop in the tree', async () => {
    const res = await cruise(ROOT, SOURCES);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /no dependency violations found \(\d+ modules/);
  });

  /** A tree of `files` (path -> the relative module it imports, if any); the rule names it breaks. */
  async function violations(name: string, files: Record<string, string | undefined>): Promise<string> {
    const dir = path.join(scratch, name);
    for (const [file, imports] of Object.entries(files)) {
      await fs.mkdir(path.join(dir, path.dirname(file)), { recursive: true });
      await fs.writeFile(path.join(dir, file), imports ? `import { x } from '${imports}';\nexport const y = x;\n` : 'export const x = 1;\n');
    }
    cpSync(path.join(ROOT, 'tsconfig.base.json'), path.join(dir, 'tsconfig.base.json'));
    const res = await cruise(dir, Object.keys(files).map((f) => f.split('/').slice(0, 2).join('/')).filter((v, i, all) => all.indexOf(v) === i));
    assert.notEqual(res.code, 0, `no violation found for ${name}:\n${res.stdout}`);
    return res.stdout;
  }

  const cases: [string, string, Record<string, string | undefined>][] = [
    ['service-imports-api', 'a service reaching for the HTTP layer', { 'runtime-agent/src/images/pull.ts': '../api/progress.js', 'runtime-agent/src/api/progress.ts': undefined }],
    ['core-imports-service', 'core reaching up to a service', { 'runtime-agent/src/registry/client.ts': '../images/media-types.js', 'runtime-agent/src/images/media-types.ts': undefined }],
    ['service-imports-composition-root', 'a service reaching for the Engine', { 'runtime-agent/src/containers/queries.ts': '../engine.js', 'runtime-agent/src/engine.ts': undefined }],
    ['service-networks-imports-only-below', 'networks importing containers (the old loop)', { 'runtime-agent/src/networks/service.ts': '../containers/record.js', 'runtime-agent/src/containers/record.ts': undefined }],
    ['vocabulary-imports-above-util', 'the vocabulary importing a core module', { 'runtime-agent/src/vocabulary/record.ts': '../registry/client.js', 'runtime-agent/src/registry/client.ts': undefined }],
    ['runtime-agent-imports-host-or-gui', 'the engine importing the host side', { 'runtime-agent/src/api/server.ts': '../../../electron/src/node/host/paths.js', 'electron/src/node/host/paths.ts': undefined }],
    ['renderer-imports-beyond-common', 'the renderer importing Node code of the host', { 'renderer/src/page.ts': '../../electron/src/node/host/paths.js', 'electron/src/node/host/paths.ts': undefined }],
    ['no-circular', 'two modules importing each other', { 'runtime-agent/src/util/a.ts': './b.js', 'runtime-agent/src/util/b.ts': './a.js' }],
  ];
  for (const [rule, what, files] of cases) {
    it(`fails on ${what}, naming ${rule}`, async () => {
      const out = await violations(rule, files);
      assert.match(out, new RegExp(`error ${rule}: `), out);
    });
  }
});
