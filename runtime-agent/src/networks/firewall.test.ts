import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Firewall } from './firewall.js';

describe('firewall rules', () => {
  const firewall = new Firewall('b0');
  const rules = firewall.rules(
    [
      { bridge: 'b0', subnet: '172.17.0.0/16', internal: false, icc: true, masquerade: true },
      { bridge: 'br-x', subnet: '172.18.0.0/16', internal: true, icc: true, masquerade: true },
    ],
    [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, containerIp: '172.17.0.2', containerPort: 80, bridge: 'b0' }],
  ).split('\n');

  it('keeps everything in chains of its own', () => {
    assert.ok(rules.every((r) => !r.startsWith('-A') || /^-A BERTH-(FWD|NAT|DNAT)-b0 /.test(r)), rules.join('\n'));
  });

  it('isolates networks from each other but lets published ports and replies through first', () => {
    const accept = rules.indexOf('-A BERTH-FWD-b0 -d 172.17.0.2/32 -o b0 -p tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT');
    const replies = rules.indexOf('-A BERTH-FWD-b0 -o b0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
    const isolation = rules.indexOf('-A BERTH-FWD-b0 -i br-x -o b0 -j DROP');
    assert.ok(accept >= 0 && replies > accept && isolation > replies, rules.join('\n'));
    assert.ok(rules.includes('-A BERTH-FWD-b0 -i b0 -o br-x -j DROP'));
  });

  it('seals internal networks and masquerades only the others', () => {
    assert.ok(rules.includes('-A BERTH-FWD-b0 -i br-x ! -o br-x -j DROP'));
    assert.ok(rules.includes('-A BERTH-FWD-b0 ! -i br-x -o br-x -j DROP'));
    assert.ok(rules.includes('-A BERTH-NAT-b0 -s 172.17.0.0/16 ! -o b0 -j MASQUERADE'));
    assert.ok(!rules.some((r) => r.includes('-s 172.18.0.0/16 ! -o br-x')));
  });

  it('forwards a published port from its host address', () => {
    assert.ok(rules.includes('-A BERTH-DNAT-b0 -d 127.0.0.1/32 -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80'));
  });
});
