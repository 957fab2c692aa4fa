// Host-side pieces that need no VM: settings validation and restart hints, endpoint names.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { dockerHost, imageDir } from '../electron/src/node/host/paths.js';
import { defaultSettings, parseSettingValue, restartNeeded, validateSettings } from '../electron/src/node/host/settings.js';
import { checkGuestImage } from '../electron/src/node/vm/guest-image.js';
import { ProviderNotAvailableError, providerFor } from '../electron/src/node/vm/provider.js';
import { hostGuestArch } from '../electron/src/node/vm/qemu-command.js';

describe('host settings', () => {
  it('accepts the defaults and refuses what cannot work, saying why', () => {
    assert.deepEqual(validateSettings({}), defaultSettings());
    assert.throws(() => validateSettings({ memoryMiB: 100 }), /memoryMiB must be at least 512/);
    assert.throws(() => validateSettings({ cpus: os.cpus().length + 1 }), /cpus must be a whole number from 1 to/);
    assert.throws(() => validateSettings({ sharedFolders: ['relative/path'] }), /absolute paths/);
    assert.throws(() => validateSettings({ bogus: 1 }), /unknown setting "bogus"/);
    assert.equal(defaultSettings().arch, hostGuestArch());
    assert.equal(validateSettings({ arch: 'arm64' }).arch, 'arm64');
    assert.throws(() => validateSettings({ arch: 'x86_64' }), /arch must be amd64 or arm64, got "x86_64"/);
  });

  it('parses CLI values and says which changes need a restart', () => {
    assert.deepEqual(parseSettingValue('sharedFolders', '/a, /b'), ['/a', '/b']);
    assert.equal(parseSettingValue('cpus', '3'), 3);
    assert.equal(parseSettingValue('autoStart', 'true'), true);
    const base = defaultSettings();
    assert.deepEqual(restartNeeded(base, { ...base, memoryMiB: base.memoryMiB + 512, autoStart: !base.autoStart }), ['memoryMiB']);
    assert.deepEqual(restartNeeded({ ...base, arch: 'amd64' }, { ...base, arch: 'arm64' }), ['arch']);
  });

  it('names the engine endpoint for the docker CLI, and the providers not built yet', () => {
    assert.equal(dockerHost('/home/me/.berth/run/docker.sock'), 'unix:///home/me/.berth/run/docker.sock');
    assert.equal(dockerHost('//./pipe/berth_engine'), 'npipe:////./pipe/berth_engine');
    assert.throws(() => providerFor('hyper-v', { qemu: () => { throw new Error('unused'); } }), ProviderNotAvailableError);
    assert.throws(() => providerFor('apple-virtualization', { qemu: () => { throw new Error('unused'); } }), /not built yet/);
  });

  describe('the guest image of an architecture', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'berth-images-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    const image = (dir: string, arch: string, files: string[] = ['Image', 'rootfs.squashfs']) => {
      mkdirSync(dir, { recursive: true });
      for (const file of files) writeFileSync(path.join(dir, file), 'x');
      const artifacts = Object.fromEntries(['Image', 'rootfs.squashfs'].map((f) => [f, { size: 1 }]));
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ versions: { arch }, artifacts }));
    };

    it('is vm-image/dist/ARCH of the checkout, or $BERTH_IMAGE_DIR (its ARCH folder when it has one)', () => {
      assert.match(imageDir('arm64', {}), /vm-image[/\\]dist[/\\]arm64$/);
      image(path.join(root, 'both', 'arm64'), 'arm64');
      assert.equal(imageDir('arm64', { BERTH_IMAGE_DIR: path.join(root, 'both') }), path.join(root, 'both', 'arm64'));
      assert.equal(imageDir('amd64', { BERTH_IMAGE_DIR: path.join(root, 'both') }), path.join(root, 'both'));
    });

    it('is checked against the settings before QEMU runs: missing, another architecture, incomplete', () => {
      image(path.join(root, 'arm'), 'arm64');
      assert.equal(checkGuestImage(path.join(root, 'arm'), 'arm64').arch, 'arm64');
      assert.throws(() => checkGuestImage(path.join(root, 'arm'), 'amd64'), /is for arm64, but the settings ask for amd64 .*berth settings set arch arm64/);
      assert.throws(() => checkGuestImage(path.join(root, 'nothing'), 'arm64'), /no arm64 guest image in .*ARCH=arm64 npm run vm-image/);
      image(path.join(root, 'half'), 'arm64', ['Image']);
      assert.throws(() => checkGuestImage(path.join(root, 'half'), 'arm64'), /incomplete: missing rootfs.squashfs/);
    });
  });
});
