import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { familiarString, parseNormalizedNamed, parseReference, referenceString, withTagOrDigest } from './reference.js';

describe('image references', () => {
  it('normalizes like dockerd', () => {
    assert.equal(referenceString(parseNormalizedNamed('busybox')), 'docker.io/library/busybox:latest');
    assert.equal(referenceString(parseNormalizedNamed('user/app:1.2')), 'docker.io/user/app:1.2');
    assert.equal(referenceString(parseNormalizedNamed('index.docker.io/library/busybox')), 'docker.io/library/busybox:latest');
    assert.equal(referenceString(parseNormalizedNamed('localhost/app')), 'localhost/app:latest');
    assert.equal(referenceString(parseNormalizedNamed('127.0.0.1:5000/a/b/c:t')), '127.0.0.1:5000/a/b/c:t');
    const digest = 'sha256:' + 'a'.repeat(64);
    assert.equal(referenceString(parseNormalizedNamed(`busybox@${digest}`)), `docker.io/library/busybox@${digest}`);
  });

  it('shows familiar names', () => {
    assert.equal(familiarString(parseNormalizedNamed('docker.io/library/busybox:1')), 'busybox:1');
    assert.equal(familiarString(parseNormalizedNamed('docker.io/user/app')), 'user/app:latest');
    assert.equal(familiarString(parseNormalizedNamed('127.0.0.1:5000/library/x')), '127.0.0.1:5000/library/x:latest');
  });

  it('rejects bad references with dockerd messages', () => {
    assert.throws(() => parseReference('Bad:Name'), /repository name must be lowercase/);
    assert.throws(() => parseReference('UPPER/x'), /repository name must be lowercase/);
    assert.throws(() => parseReference(''), /invalid reference format/);
    assert.throws(() => parseReference('a b'), /invalid reference format/);
    assert.throws(() => parseReference('x:'), /invalid reference format/);
    assert.throws(() => parseReference('a'.repeat(64).replace(/a/g, 'b')), /cannot specify 64-byte hexadecimal strings/);
    assert.throws(() => parseReference('busybox@sha256:abc'), /invalid reference format/);
    assert.throws(() => parseReference('../etc/passwd'), /invalid reference format/);
  });

  it('combines fromImage with a tag or digest parameter', () => {
    const base = parseReference('busybox');
    assert.equal(withTagOrDigest(base, '1.36').tag, '1.36');
    const digest = 'sha256:' + 'b'.repeat(64);
    assert.equal(withTagOrDigest(base, digest).digest, digest);
    assert.throws(() => withTagOrDigest(base, 'sha256:zz'), /invalid reference format/);
  });
});
