import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { blkioFromIoStat, blkioFromV1 } from './stats.js';

describe('block I/O counters', () => {
  it('reads cgroup v2 io.stat as dockerd reports it: read and write per device', () => {
    const stats = blkioFromIoStat('8:0 rbytes=4096 wbytes=1048576 rios=1 wios=16 dbytes=0 dios=0\n254:16 rbytes=0 wbytes=512 rios=0 wios=1 dbytes=0 dios=0\n');
    assert.deepEqual(stats.io_service_bytes_recursive, [
      { major: 8, minor: 0, op: 'read', value: 4096 },
      { major: 8, minor: 0, op: 'write', value: 1048576 },
      { major: 254, minor: 16, op: 'read', value: 0 },
      { major: 254, minor: 16, op: 'write', value: 512 },
    ]);
    assert.deepEqual(stats.io_serviced_recursive?.map((e) => e.value), [1, 16, 0, 1]);
    assert.equal(stats.io_queue_recursive, null);
  });

  it('reads cgroup v1 lists, leaving out the Total line', () => {
    assert.deepEqual(blkioFromV1('8:0 Read 8192\n8:0 Write 4096\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n'), [
      { major: 8, minor: 0, op: 'Read', value: 8192 },
      { major: 8, minor: 0, op: 'Write', value: 4096 },
      { major: 8, minor: 0, op: 'Sync', value: 0 },
      { major: 8, minor: 0, op: 'Async', value: 12288 },
      { major: 8, minor: 0, op: 'Total', value: 12288 },
    ]);
    assert.deepEqual(blkioFromV1(undefined), []);
  });
});
