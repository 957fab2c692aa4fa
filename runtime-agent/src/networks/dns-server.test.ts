import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import dnsPacket from 'dns-packet';

import { EmbeddedDns } from './dns-server.js';

const dns = new EmbeddedDns({
  addresses: (client, name) => (client === '172.18.0.5' && name === 'web' ? ['172.18.0.2', '172.18.0.3'] : undefined),
  reverse: (_client, ip) => (ip === '172.18.0.2' ? 'web1.appnet' : undefined),
  upstreams: () => [],
});

function query(name: string, type: 'A' | 'AAAA' | 'PTR'): Buffer {
  return dnsPacket.encode({ type: 'query', id: 42, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
}

describe('embedded DNS', () => {
  it('answers names of the engine with every matching address', async () => {
    const reply = dnsPacket.decode((await dns.answer(query('web', 'A'), '172.18.0.5'))!);
    assert.equal(reply.id, 42);
    assert.deepEqual(reply.answers?.map((a) => (a as dnsPacket.StringAnswer).data), ['172.18.0.2', '172.18.0.3']);
  });

  it('gives an empty success for AAAA of a known name, and reverse names', async () => {
    const aaaa = dnsPacket.decode((await dns.answer(query('web', 'AAAA'), '172.18.0.5'))!);
    assert.equal(aaaa.answers?.length, 0);
    assert.equal(aaaa.flags! & 0xf, 0);
    const ptr = dnsPacket.decode((await dns.answer(query('2.0.18.172.in-addr.arpa', 'PTR'), '172.18.0.5'))!);
    assert.equal((ptr.answers?.[0] as dnsPacket.StringAnswer | undefined)?.data, 'web1.appnet');
  });

  it('answers SERVFAIL when a foreign name has nowhere to go, and ignores garbage', async () => {
    const reply = dnsPacket.decode((await dns.answer(query('example.invalid', 'A'), '172.18.0.5'))!);
    assert.equal(reply.flags! & 0xf, 2);
    assert.equal(await dns.answer(Buffer.from('not dns'), '172.18.0.5'), undefined);
  });
});
