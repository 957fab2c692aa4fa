// Platform specifiers and matching by the rules dockerd takes from containerd: what each spelling
// means, the errors for bad ones (dockerd's words, checked against dockerd 20.10 on this machine),
// and which manifest of an index an engine for a platform chooses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EngineError } from '../util/errors.js';
import type { Descriptor, Platform } from '../vocabulary/media-types.js';
import { formatPlatform, hostPlatform, imagePlatformMatches, parsePlatform, parsePlatformSpecifier, platformMatches, selectManifest } from './platform.js';

const p = (s: string): Platform => {
  const [os = '', architecture = '', variant] = s.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
};
const entry = (platform: string, digest: string): Descriptor => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1, platform: p(platform) });

describe('platform specifiers', () => {
  it('reads each spelling as dockerd does, keeping the variant as given', () => {
    const host = hostPlatform();
    const cases: [string, string][] = [
      ['linux/amd64', 'linux/amd64'],
      ['linux/x86_64', 'linux/amd64'],
      ['Linux/X86-64', 'linux/amd64'],
      ['linux/amd64/v1', 'linux/amd64'],
      ['linux/amd64/v3', 'linux/amd64/v3'],
      ['linux/arm64', 'linux/arm64'],
      ['linux/aarch64', 'linux/arm64'],
      ['linux/arm64/v8', 'linux/arm64/v8'],
      ['linux/arm64/8', 'linux/arm64/v8'],
      ['linux/arm', 'linux/arm'],
      ['linux/arm/7', 'linux/arm/v7'],
      ['linux/armhf', 'linux/arm'],
      ['linux/armel', 'linux/arm/v6'],
      ['linux/i386', 'linux/386'],
      ['macos/arm64', 'darwin/arm64'],
      ['arm64', 'linux/arm64'],
      ['s390x', 'linux/s390x'],
      ['linux', `linux/${host.architecture}`],
      ['windows', `windows/${host.architecture}`],
    ];
    for (const [spec, formatted] of cases) assert.equal(formatPlatform(parsePlatformSpecifier(spec)), formatted, spec);
  });

  it('refuses bad specifiers with containerd\'s words as a 400', () => {
    const cases: [string, string][] = [
      ['linux/a!b', '"a!b" is an invalid component of "linux/a!b": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument'],
      ['linux/', '"" is an invalid component of "linux/": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument'],
      ['linux/arm64/v8/x', '"linux/arm64/v8/x": cannot parse platform specifier: invalid argument'],
      ['foo', '"foo": unknown operating system or architecture: invalid argument'],
      ['linux/*', '"linux/*": wildcards not yet supported: invalid argument'],
    ];
    for (const [spec, message] of cases) {
      assert.throws(() => parsePlatformSpecifier(spec), (err: unknown) => err instanceof EngineError && err.statusCode === 400 && err.message === message, spec);
    }
  });

  it('gives arm64 its v8 variant where callers compare with the engine\'s platform', () => {
    assert.deepEqual(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform(undefined), hostPlatform());
  });
});

describe('platform matching', () => {
  it('treats arm64 and arm64/v8 as one, and runs arm/v8..v5 on arm64, 386 on amd64', () => {
    assert.ok(platformMatches(p('linux/arm64'), p('linux/arm64/v8')));
    assert.ok(platformMatches(p('linux/arm64/v8'), p('linux/arm64')));
    assert.ok(platformMatches(p('linux/arm64'), p('linux/arm/v7')));
    assert.ok(platformMatches(p('linux/amd64'), p('linux/386')));
    assert.ok(platformMatches(p('linux/arm/v7'), p('linux/arm/v6')));
    assert.ok(!platformMatches(p('linux/arm/v6'), p('linux/arm/v7')));
    assert.ok(!platformMatches(p('linux/arm64/v7'), p('linux/arm64/v8')));
    assert.ok(!platformMatches(p('linux/amd64'), p('linux/arm64/v8')));
    assert.ok(!platformMatches(p('linux/386'), p('linux/amd64')));
    assert.ok(!platformMatches(p('windows/amd64'), p('linux/amd64')));
  });

  it('lets an image config without a variant serve any variant of its architecture', () => {
    assert.ok(imagePlatformMatches(p('linux/arm/v6'), p('linux/arm')));
    assert.ok(!imagePlatformMatches(p('linux/arm/v6'), p('linux/arm/v7')));
    assert.ok(!imagePlatformMatches(p('linux/arm64'), p('linux/amd64')));
  });

  it('chooses the best platform of an index, not the first that runs', () => {
    const index = [entry('linux/arm/v7', 'sha256:arm7'), entry('linux/arm64/v8', 'sha256:arm64'), entry('linux/amd64', 'sha256:amd64'), entry('linux/386', 'sha256:386')];
    assert.equal(selectManifest(index, p('linux/arm64')).digest, 'sha256:arm64');
    assert.equal(selectManifest(index, p('linux/amd64')).digest, 'sha256:amd64');
    assert.equal(selectManifest(index.filter((e) => e.digest !== 'sha256:arm64'), p('linux/arm64')).digest, 'sha256:arm7');
    assert.equal(selectManifest(index.filter((e) => e.digest !== 'sha256:amd64'), p('linux/amd64')).digest, 'sha256:386');
  });

  it('never picks an attestation or an entry without a platform, and says what is missing', () => {
    const index: Descriptor[] = [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:none', size: 1 }, entry('unknown/unknown', 'sha256:att')];
    assert.throws(() => selectManifest(index, p('linux/s390x')), (err: unknown) => err instanceof EngineError && err.statusCode === 404 && err.message === 'no matching manifest for linux/s390x in the manifest list entries');
    assert.throws(() => selectManifest(index, p('linux/amd64'), 'archive'), (err: unknown) => err instanceof EngineError && err.message === 'no matching manifest for linux/amd64 in the manifest list entries (archive)');
  });
});
