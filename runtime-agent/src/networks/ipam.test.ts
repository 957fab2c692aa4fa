import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { allocate, formatSubnet, intToIp, ipToInt, macForIp, overlaps, parseSubnet, poolConfig } from './ipam.js';

describe('ipam', () => {
  it('parses and normalizes subnets', () => {
    assert.equal(formatSubnet(parseSubnet('10.5.3.7/16')), '10.5.0.0/16');
    assert.throws(() => parseSubnet('10.5.0.0'), /invalid CIDR address/);
    assert.throws(() => parseSubnet('300.1.1.1/8'), /invalid CIDR address/);
  });

  it('detects overlapping subnets', () => {
    assert.equal(overlaps(parseSubnet('172.18.0.0/16'), parseSubnet('172.18.5.0/24')), true);
    assert.equal(overlaps(parseSubnet('172.18.0.0/16'), parseSubnet('172.19.0.0/16')), false);
  });

  it('allocates past the network, gateway and taken addresses, inside the ip-range', () => {
    const pool = poolConfig({ Subnet: '10.0.0.0/29' });
    assert.equal(intToIp(pool.gateway), '10.0.0.1');
    assert.equal(intToIp(allocate(pool, new Set())!), '10.0.0.2');
    assert.equal(intToIp(allocate(pool, new Set([ipToInt('10.0.0.2')]))!), '10.0.0.3');
    const full = new Set([2, 3, 4, 5, 6].map((n) => ipToInt(`10.0.0.${n}`)));
    assert.equal(allocate(pool, full), undefined, 'the broadcast address is never handed out');
    const ranged = poolConfig({ Subnet: '10.1.0.0/24', Gateway: '10.1.0.254', IPRange: '10.1.0.128/25' });
    assert.equal(intToIp(allocate(ranged, new Set())!), '10.1.0.128');
  });

  it('checks gateway and range against the subnet', () => {
    assert.throws(() => poolConfig({ Subnet: '10.1.0.0/24', Gateway: '10.2.0.1' }), /no matching subnet for gateway/);
    assert.throws(() => poolConfig({ Subnet: '10.1.0.0/24', IPRange: '10.1.0.0/16' }), /no matching subnet for range/);
  });

  it('derives dockerd\'s MAC from the address', () => {
    assert.equal(macForIp(ipToInt('172.17.0.2')), '02:42:ac:11:00:02');
  });
});
