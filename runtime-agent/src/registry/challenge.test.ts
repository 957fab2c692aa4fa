import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseChallenges } from './challenge.js';

describe('WWW-Authenticate challenges', () => {
  it('parses a Bearer challenge with quoted parameters', () => {
    const [c] = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
    assert.equal(c?.scheme, 'bearer');
    assert.deepEqual(c?.params, { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' });
  });

  it('parses Basic and several headers', () => {
    const challenges = parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="x"']);
    assert.deepEqual(challenges.map((c) => c.scheme), ['basic', 'bearer']);
  });
});
