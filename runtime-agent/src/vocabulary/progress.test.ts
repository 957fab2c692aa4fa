import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { humanSize } from '../util/human-size.js';
import { progressBar } from './progress.js';

describe('progress rendering', () => {
  it('sizes like go-units', () => {
    assert.equal(humanSize(527), '527B');
    assert.equal(humanSize(32768), '32.77kB');
    assert.equal(humanSize(2129920), '2.13MB');
    assert.equal(humanSize(116_000_000), '116MB');
  });

  it('draws the bar dockerd sends', () => {
    // Captured from dockerd 20.10: "[====>   ...]  196.6kB/2.13MB"
    assert.equal(progressBar(196608, 2129920), `[====>${' '.repeat(46)}]  196.6kB/2.13MB`);
    assert.equal(progressBar(2129920, 2129920), `[${'='.repeat(50)}>]   2.13MB/2.13MB`);
  });
});
