// Host-side pieces that need no VM: settings validation and restart hints, endpoint names.
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';

import { dockerHost } from '../electron/src/node/host/paths.js';
import { defaultSettings, parseSettingValue, restartNeeded, validateSettings } from '../electron/src/node/host/settings.js';
import { ProviderNotAvailableError, providerFor } from '../electron/src/node/vm/provider.js';

describe('host settings', () => {
  it('accepts the defaults and refuses what cannot work, saying why', () => {
    assert.deepEqual(validateSettings({}), defaultSettings());
    assert.throws(() => validateSettings({ memoryMiB: 100 }), /memoryMiB must be at least 512/);
    assert.throws(() => validateSettings({ cpus: os.cpus().length + 1 }), /cpus must be a whole number from 1 to/);
    assert.throws(() => validateSettings({ sharedFolders: ['relative/path'] }), /absolute paths/);
    assert.throws(() => validateSettings({ bogus: 1 }), /unknown setting "bogus"/);
  });

  it('parses CLI values and says which changes need a restart', () => {
    assert.deepEqual(parseSettingValue('sharedFolders', '/a, /b'), ['/a', '/b']);
    assert.equal(parseSettingValue('cpus', '3'), 3);
    assert.equal(parseSettingValue('autoStart', 'true'), true);
    const base = defaultSettings();
    assert.deepEqual(restartNeeded(base, { ...base, memoryMiB: base.memoryMiB + 512, autoStart: !base.autoStart }), ['memoryMiB']);
  });

  it('names the engine endpoint for the docker CLI, and the providers not built yet', () => {
    assert.equal(dockerHost('/home/me/.berth/run/docker.sock'), 'unix:///home/me/.berth/run/docker.sock');
    assert.equal(dockerHost('//./pipe/berth_engine'), 'npipe:////./pipe/berth_engine');
    assert.throws(() => providerFor('hyper-v', { qemu: () => { throw new Error('unused'); } }), ProviderNotAvailableError);
    assert.throws(() => providerFor('apple-virtualization', { qemu: () => { throw new Error('unused'); } }), /not built yet/);
  });
});
