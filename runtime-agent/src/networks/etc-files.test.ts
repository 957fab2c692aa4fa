import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { hostsFile, resolvConf } from './etc-files.js';

describe('etc files', () => {
  it('writes /etc/hosts with extra hosts before the container\'s own line', () => {
    const hosts = hostsFile({ hostname: 'web', ip: '172.18.0.2', extraHosts: ['db:10.0.0.5'] });
    assert.ok(hosts.startsWith('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'));
    assert.ok(hosts.endsWith('10.0.0.5\tdb\n172.18.0.2\tweb\n'));
    assert.ok(hostsFile({ hostname: 'a', domainname: 'example.com', ip: '10.0.0.2', extraHosts: [] }).endsWith('10.0.0.2\ta.example.com a\n'));
  });

  it('copies the host\'s resolvers without loopback ones, falling back to public resolvers', () => {
    const host = 'search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n';
    assert.equal(resolvConf({ host, embedded: false, dns: [], dnsSearch: [], dnsOptions: [] }), 'search corp.example\nnameserver 10.0.0.1\noptions edns0\n');
    assert.equal(resolvConf({ host: 'nameserver 127.0.0.53\n', embedded: false, dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });

  it('points user networks at the embedded server with ndots:0', () => {
    assert.equal(resolvConf({ host: 'search a.example\nnameserver 10.0.0.1\n', embedded: true, dns: ['1.1.1.1'], dnsSearch: [], dnsOptions: [] }), 'search a.example\nnameserver 127.0.0.11\noptions ndots:0\n');
  });

  it('uses --dns, --dns-search and --dns-option when given', () => {
    assert.equal(resolvConf({ host: 'nameserver 10.0.0.1\n', embedded: false, dns: ['9.9.9.9'], dnsSearch: ['x.test'], dnsOptions: ['timeout:1'] }), 'search x.test\nnameserver 9.9.9.9\noptions timeout:1\n');
  });
});
