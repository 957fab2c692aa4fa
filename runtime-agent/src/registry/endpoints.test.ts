import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RegistryHosts } from './endpoints.js';

describe('registry endpoints', () => {
  it('reaches loopback and localhost over plain HTTP, others over HTTPS', () => {
    const hosts = new RegistryHosts();
    assert.equal(hosts.baseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(hosts.baseUrl('127.5.6.7:80'), 'http://127.5.6.7:80');
    assert.equal(hosts.baseUrl('localhost:5000'), 'http://localhost:5000');
    assert.equal(hosts.baseUrl('[::1]:5000'), 'http://[::1]:5000');
    assert.equal(hosts.baseUrl('registry.example.com'), 'https://registry.example.com');
    assert.equal(hosts.baseUrl('docker.io'), 'https://registry-1.docker.io');
  });

  it('honours --insecure-registry hosts and CIDRs', () => {
    const hosts = new RegistryHosts(['myreg.local:5000', '10.1.0.0/16']);
    assert.equal(hosts.baseUrl('myreg.local:5000'), 'http://myreg.local:5000');
    assert.equal(hosts.baseUrl('10.1.2.3:443'), 'http://10.1.2.3:443');
    assert.equal(hosts.baseUrl('10.2.0.1'), 'https://10.2.0.1');
    assert.deepEqual(hosts.insecureHostnames, ['myreg.local:5000']);
    assert.ok(hosts.insecureCidrs.includes('10.1.0.0/16'));
  });
});
