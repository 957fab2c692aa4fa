// When the guest takes its clock to be off from the RTC (whole seconds, the host's time).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { clockIsOff } from './guest-clock.js';

describe('guest clock', () => {
  it('is in step anywhere within the RTC\'s second, with some slack for the read', () => {
    assert.equal(clockIsOff(1_000_000_000, 1_000_000), false);
    assert.equal(clockIsOff(1_000_000_999, 1_000_000), false);
    assert.equal(clockIsOff(999_999_950, 1_000_000), false);
    assert.equal(clockIsOff(1_000_001_050, 1_000_000), false);
  });

  it('is off when behind (a paused VM) or ahead by more than that', () => {
    assert.equal(clockIsOff(993_000_000, 1_000_000), true, '7 s behind after a pause');
    assert.equal(clockIsOff(999_999_800, 1_000_000), true);
    assert.equal(clockIsOff(1_000_001_200, 1_000_000), true);
  });
});
