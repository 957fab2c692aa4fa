import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Filters, globMatch } from './filters.js';

describe('filters', () => {
  it('reads both the map and the legacy list form', () => {
    assert.equal(Filters.parse('{"dangling":{"true":true}}', ['dangling']).bool('dangling'), true);
    assert.equal(Filters.parse('{"dangling":["false"]}', ['dangling']).bool('dangling'), false);
    assert.equal(Filters.parse(null, ['dangling']).bool('dangling'), undefined);
  });

  it('rejects unknown filters and malformed JSON', () => {
    assert.throws(() => Filters.parse('{"nope":["1"]}', ['dangling']), /invalid filter 'nope'/);
    assert.throws(() => Filters.parse('{', ['dangling']), /invalid filter/);
    assert.throws(() => Filters.parse('{"dangling":["maybe"]}', ['dangling']).bool('dangling'), /invalid filter/);
  });

  it('matches labels by key and by key=value', () => {
    const f = Filters.parse('{"label":["a","b=2"]}', ['label']);
    assert.equal(f.matchLabels('label', { a: 'x', b: '2' }), true);
    assert.equal(f.matchLabels('label', { a: 'x', b: '3' }), false);
    assert.equal(f.matchLabels('label', null), false);
  });

  it('globs like Go path.Match', () => {
    assert.equal(globMatch('busy*', 'busybox'), true);
    assert.equal(globMatch('*', 'a/b'), false);
    assert.equal(globMatch('*/b*', 'a/busybox'), true);
    assert.equal(globMatch('b?sybox', 'busybox'), true);
  });
});
