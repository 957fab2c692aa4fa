// What the guest tells the host about its memory, and when it gives its page cache back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseCpuTimes, parseMeminfo, shouldTrimCache } from './guest-memory.js';

const MEMINFO = `MemTotal:        1004000 kB
MemFree:          500000 kB
MemAvailable:     900000 kB
Buffers:            2048 kB
Cached:           300000 kB
Shmem:            100000 kB
`;

describe('guest memory', () => {
  it('reads /proc/meminfo as free does: used is total minus available; cache leaves tmpfs out', () => {
    assert.deepEqual(parseMeminfo(MEMINFO), { totalMiB: 980, usedMiB: 102, cacheMiB: 195 });
  });

  it('reads the CPUs\' total and idle time (iowait counts as idle) from /proc/stat', () => {
    assert.deepEqual(parseCpuTimes('cpu  100 5 50 1000 20 0 3 0 0 0\ncpu0 50 2 25 500 10 0 1 0 0 0\n'), { total: 1178, idle: 1020 });
  });

  it('gives the page cache back only when idle and there is enough of it', () => {
    const memory = parseMeminfo(MEMINFO);
    assert.equal(shouldTrimCache(0.99, memory), true);
    assert.equal(shouldTrimCache(0.5, memory), false, 'busy: the cache is what makes the next build fast');
    assert.equal(shouldTrimCache(0.99, { ...memory, cacheMiB: 10 }), false, 'too little to matter');
  });
});
