import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { portMap, portRequests, portSummary } from './port-bindings.js';

describe('port bindings', () => {
  it('turns -p and -P into requests', () => {
    const requests = portRequests({ '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, true, { '80/tcp': {}, '443/tcp': {} }, '0.0.0.0');
    assert.deepEqual(requests, [
      { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPorts: [8080, 8080] },
      { proto: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostPorts: [0, 0] },
      { proto: 'tcp', containerPort: 443, hostIp: '0.0.0.0', hostPorts: [0, 0] },
    ]);
    assert.deepEqual(portRequests({ '80': [{ HostIp: '', HostPort: '8000-8010' }] }, false, {}, '0.0.0.0')[0]?.hostPorts, [8000, 8010]);
  });

  it('rejects bad port specifications', () => {
    assert.throws(() => portRequests({ '80/tcp': [{ HostIp: '', HostPort: 'abc' }] }, false, {}, '0.0.0.0'), /invalid port specification/);
    assert.throws(() => portRequests({ '99999/tcp': null }, false, {}, '0.0.0.0'), /invalid port specification/);
  });

  it('reports bound and exposed-only ports as the API does', () => {
    const map = portMap([{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }], { '80/tcp': {}, '443/tcp': {} });
    assert.deepEqual(map, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
    assert.deepEqual(portSummary(map), [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { PrivatePort: 443, Type: 'tcp' }]);
  });
});
