// berthd in a network namespace of its own (issue 16), as rootless and CI setups run engines: it
// is entered with nsenter, so /sys still shows the host's devices, and the host has a bridge of
// the very name the engine uses. Link and address state must come from the engine's own
// namespace: networks are created, containers find each other by name, a published port answers
// inside that namespace, and all of it again after a restart, with the host's bridge untouched.
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, run } from './support/berthd.js';
import { fixtureLayout } from './support/fixtures.js';

describe('berthd in a network namespace of its own', () => {
  const namespace = `berthns${process.pid}`;
  const bridge = `bns${process.pid}`.slice(0, 15);
  const scratch = mkdtempSync(path.join(tmpdir(), 'berth-netns-'));
  let engine: TestEngine;
  /** A command inside the engine's namespace. */
  const inside = (cmd: string, args: string[]) => run('nsenter', [`--net=/run/netns/${namespace}`, '--', cmd, ...args]);

  before(async () => {
    for (const [cmd, args] of [['ip', ['netns', 'add', namespace]], ['ip', ['-n', namespace, 'link', 'set', 'lo', 'up']], ['ip', ['link', 'add', bridge, 'type', 'bridge']]] as const) {
      const res = await run(cmd, [...args]);
      assert.equal(res.code, 0, res.stderr);
    }
    engine = await TestEngine.start(['--bridge', bridge], ['nsenter', `--net=/run/netns/${namespace}`, '--']);
    // The fixture registry listens on the host's loopback, which this namespace does not reach.
    const archive = path.join(scratch, 'busybox.tar');
    assert.equal((await run('skopeo', ['copy', '-q', `oci:${fixtureLayout('busybox')}`, `docker-archive:${archive}:busybox:latest`])).code, 0);
    await engine.dockerOk(['load', '-q', '-i', archive]);
  });
  after(async () => {
    await engine?.dispose();
    await run('ip', ['link', 'del', bridge]);
    await run('ip', ['netns', 'del', namespace]);
    await fs.rm(scratch, { recursive: true, force: true });
  });

  async function checkNetworking(suffix: string): Promise<void> {
    await engine.dockerOk(['network', 'create', `app${suffix}`]);
    await engine.dockerOk(['run', '-d', '--name', `web${suffix}`, '--network', `app${suffix}`, '--network-alias', `site${suffix}`, '-p', '127.0.0.1:18561:80', 'busybox', 'sh', '-c', `mkdir /www && echo hello${suffix} > /www/index.html && exec httpd -f -p 80 -h /www`]);
    const byName = await engine.dockerOk(['run', '--rm', '--network', `app${suffix}`, 'busybox', 'sh', '-c', `for i in $(seq 20); do wget -qO- http://site${suffix}/ && exit 0; sleep 0.2; done; exit 1`]);
    assert.equal(byName, `hello${suffix}\n`);
    let page = '';
    for (let i = 0; i < 20 && page !== `hello${suffix}\n`; i++) {
      page = (await inside('curl', ['-s', '-m', '2', 'http://127.0.0.1:18561/'])).stdout;
      if (page !== `hello${suffix}\n`) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(page, `hello${suffix}\n`);
    await engine.dockerOk(['rm', '-f', `web${suffix}`]);
  }

  it('creates networks, resolves names and publishes ports inside its namespace', async () => {
    await checkNetworking('1');
    const devices = (await inside('ip', ['-o', 'link', 'show', 'dev', bridge])).stdout;
    assert.match(devices, new RegExp(`${bridge}: .*UP`));
  });

  it('does the same after a restart, when its bridges already exist', async () => {
    await engine.restart(['--bridge', bridge]);
    await checkNetworking('2');
  });

  it('leaves the host\'s device of the same name as it was', async () => {
    const host = (await run('ip', ['-o', '-4', 'addr', 'show', 'dev', bridge])).stdout;
    assert.equal(host, '', 'berthd gave the host\'s bridge an address');
    assert.doesNotMatch((await run('ip', ['-o', 'link', 'show', 'dev', bridge])).stdout, /state UP/);
  });
});
