// docker login / push against an htpasswd registry (Basic auth), and Bearer-token auth.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { TestEngine, authRegistry, registry } from './support/berthd.js';
import { FakeRegistry } from './support/fake-registry.js';
import { makeTar } from './support/tar.js';

describe('registry authentication', () => {
  let engine: TestEngine;
  const auth = authRegistry();
  before(async () => {
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, `${auth.host}/berth/private:1`]);
  });
  after(async () => {
    await engine.dispose();
  });

  it('refuses a push without login with the registry\'s message', async () => {
    const res = await engine.docker(['push', `${auth.host}/berth/private:1`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /no basic auth credentials/);
  });

  it('rejects a wrong password at login', async () => {
    const res = await engine.docker(['login', '-u', auth.user, '--password-stdin', auth.host], { input: 'wrong-password\n' });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /401 Unauthorized/);
  });

  it('logs in, pushes, pulls with the stored credentials, and logs out', async () => {
    const login = await engine.dockerOk(['login', '-u', auth.user, '--password-stdin', auth.host], { input: `${auth.password}\n` });
    assert.match(login, /Login Succeeded/);
    const push = await engine.dockerOk(['push', `${auth.host}/berth/private:1`]);
    assert.match(push, /1: digest: sha256:[0-9a-f]{64}/);
    await engine.dockerOk(['rmi', `${auth.host}/berth/private:1`]);
    const pull = await engine.dockerOk(['pull', `${auth.host}/berth/private:1`]);
    assert.match(pull, /Status: Downloaded newer image/);
    await engine.dockerOk(['logout', auth.host]);
    const denied = await engine.docker(['pull', `${auth.host}/berth/private:2`]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /no basic auth credentials/);
  });

  it('builds FROM a private image with the credentials the CLI sends in X-Registry-Config (classic build)', async () => {
    const context = await makeTar([{ name: 'Dockerfile', content: `FROM ${auth.host}/library/busybox:latest\nRUN echo built-from-private > /made\n` }]);
    const denied = await engine.docker(['build', '--pull', '-q', '-'], { input: context, env: { DOCKER_BUILDKIT: '0' } });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr + denied.stdout, /no basic auth credentials/);
    await engine.dockerOk(['login', '-u', auth.user, '--password-stdin', auth.host], { input: `${auth.password}\n` });
    try {
      const id = (await engine.dockerOk(['build', '--pull', '-q', '-'], { input: context, env: { DOCKER_BUILDKIT: '0' } })).trim();
      assert.equal(await engine.dockerOk(['run', '--rm', id, 'cat', '/made']), 'built-from-private\n');
    } finally {
      await engine.dockerOk(['logout', auth.host]);
    }
    const garbled = await engine.request('POST', '/build', undefined, { 'X-Registry-Config': '%%%not-base64', 'Content-Type': 'application/x-tar' });
    assert.match(garbled.body, /invalid X-Registry-Config header/);
  });

  describe('Bearer token auth', () => {
    let fake: FakeRegistry;
    before(async () => {
      fake = await FakeRegistry.start();
      fake.addImage('team/app', 'v1', [await makeTar([{ name: 'app.txt', content: 'app' }])]);
      fake.bearer = { user: 'alice', password: 's3cret', token: 'token-123' };
    });
    after(async () => {
      await fake.close();
    });

    it('fetches a token from the realm with the stored credentials', async () => {
      const anonymous = await engine.docker(['pull', `${fake.host}/team/app:v1`]);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, /unauthorized|incorrect username or password/);
      await engine.dockerOk(['login', '-u', 'alice', '--password-stdin', fake.host], { input: 's3cret\n' });
      const pull = await engine.dockerOk(['pull', `${fake.host}/team/app:v1`]);
      assert.match(pull, /Pull complete/);
      assert.ok(fake.requests.some((r) => r.startsWith('GET /token?') && r.includes('scope=repository%3Ateam%2Fapp%3Apull')), fake.requests.join('\n'));
    });
  });
});
