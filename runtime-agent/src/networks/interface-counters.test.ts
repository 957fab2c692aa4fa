import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseNetDev } from './interface-counters.js';

describe('interface counters', () => {
  it('reads /proc/<pid>/net/dev, without loopback', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0',
      '  eth0:    5230      41    1    2    0     0          0         0     1904      20    3    4    0     0       0          0',
    ].join('\n');
    assert.deepEqual(parseNetDev(text), {
      eth0: { rx_bytes: 5230, rx_packets: 41, rx_errors: 1, rx_dropped: 2, tx_bytes: 1904, tx_packets: 20, tx_errors: 3, tx_dropped: 4 },
    });
  });
});
