import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

import { Firewall, missingJumps } from './firewall.js';

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

describe('firewall jumps', () => {
  const firewall = new Firewall('b0');
  // As iptables-save (1.8, nf_tables) prints them.
  const saved = [
    '*filter', ':FORWARD DROP [0:0]', ':BERTH-FWD-b0 - [0:0]', '-A FORWARD -j BERTH-FWD-b0', '-A FORWARD -j OTHER', 'COMMIT',
    '*nat', ':PREROUTING ACCEPT [0:0]', '-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT-b0', '-A OUTPUT -j BERTH-DNAT-b0', 'COMMIT', '',
  ].join('\n');

  it('inserts only the jumps iptables-save lacks, first in their chains', () => {
    const missing = missingJumps(firewall.jumps(), saved);
    // OUTPUT's jump lacks the addrtype match, so it is not ours; POSTROUTING has none.
    assert.deepEqual(missing.map((j) => `${j.table} ${j.chain}`), ['nat POSTROUTING', 'nat OUTPUT']);
    const rules = firewall.rules([], [], missing).split('\n');
    assert.ok(rules.indexOf('-I POSTROUTING 1 -j BERTH-NAT-b0') > rules.indexOf('*nat'));
    assert.ok(rules.includes('-I OUTPUT 1 -m addrtype --dst-type LOCAL -j BERTH-DNAT-b0'));
    assert.ok(!rules.some((r) => r.startsWith('-I FORWARD')));
  });

  it('does not tell one table\'s jump for another\'s', () => {
    const elsewhere = '*mangle\n-A FORWARD -j BERTH-FWD-b0\nCOMMIT\n';
    assert.deepEqual(missingJumps(firewall.jumps(), elsewhere).length, 4);
  });

  it('applied twice in a fresh network namespace, leaves each jump once (real iptables)', () => {
    const script = `
      import { Firewall } from ${JSON.stringify(new URL('./firewall.js', import.meta.url).pathname.replace(/\.js$/, '.ts'))};
      const firewall = new Firewall('b0');
      const net = [{ bridge: 'b0', subnet: '172.17.0.0/16', internal: false, icc: true, masquerade: true }];
      await firewall.apply(net, []);
      await firewall.apply(net, []);
    `;
    const run = spawnSync('unshare', ['-n', 'sh', '-c', 'node --import tsx --input-type=module -e "$0" && iptables-save', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const jumps = run.stdout.split('\n').filter((l) => /^-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING) .*BERTH-/.test(l));
    assert.deepEqual(jumps.sort(), [
      '-A FORWARD -j BERTH-FWD-b0',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-DNAT-b0',
      '-A POSTROUTING -j BERTH-NAT-b0',
      '-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT-b0',
    ]);
  });
});
