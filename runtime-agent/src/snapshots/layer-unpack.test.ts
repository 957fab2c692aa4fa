import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { layerPath } from './layer-unpack.js';

describe('layer member names', () => {
  it('normalizes names inside the layer', () => {
    assert.equal(layerPath('./etc/passwd'), 'etc/passwd');
    assert.equal(layerPath('/abs/file'), 'abs/file');
    assert.equal(layerPath('a/./b//c/'), 'a/b/c');
    assert.equal(layerPath('a/../b'), 'b');
    assert.equal(layerPath('./'), '');
  });

  it('refuses names that climb out of the layer', () => {
    assert.throws(() => layerPath('../x'), /path escapes the layer/);
    assert.throws(() => layerPath('a/../../x'), /path escapes the layer/);
    assert.throws(() => layerPath('/../../etc/shadow'), /path escapes the layer/);
  });
});
