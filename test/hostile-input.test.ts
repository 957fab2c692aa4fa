// Hostile input (issue 9): a corpus of requests, archives and Dockerfiles that try to break the
// engine, against one berthd. Every case must get a clear error (a 4xx with a JSON message that
// names the problem, or an error in the stream for build and load), and after every case the
// engine must still answer /_ping, its process must be alive, and nothing may have been written
// outside where it belongs: a canary directory that hostile paths point at stays empty, /tmp paths
// that hostile tars name never appear, and the host's /etc/passwd and /etc/shadow keep their one
// link. Tar bombs and huge or endless bodies also check that the engine's memory stays bounded and
// that it keeps answering while it works on them. ~50 s.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

import { TestEngine, registry, run } from './support/berthd.js';
import { ControlConnection, encode, fakeSession, GO_DIR, GO_SYMLINK, type FakeDirectory } from './support/buildkit-wire.js';
import { blocks, collect, gzippedEntries, paxHeader, rawFile, rawHeader, END_OF_ARCHIVE } from './support/raw-tar.js';
import { dockerArchive, makeTar, type TarEntry } from './support/tar.js';

const BUSYBOX = `${registry()}/library/busybox`;
const API = '/v1.43';

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * A raw Engine API call with a deadline: a request the engine never answers fails the case. A
 * list of buffers goes out chunked, one chunk each. An answer that arrives while the body is
 * still being written (a refusal) counts, even if the engine then stops reading.
 */
function call(socket: string, method: string, urlPath: string, body?: string | Buffer | Buffer[], headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${method} ${urlPath.slice(0, 80)} within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (Array.isArray(body)) {
      void (async () => {
        for (const chunk of body) {
          if (answered || req.destroyed) break;
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })();
    } else req.end(body);
  });
}

/** The JSON error message of an answer, asserting it is one. */
function messageOf(answer: Answer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    assert.fail(`status ${answer.status} without a JSON body: ${JSON.stringify(answer.body.slice(0, 200))}`);
  }
  const message = (parsed as { message?: unknown }).message;
  assert.equal(typeof message, 'string', `no message in ${answer.body.slice(0, 200)}`);
  // Long enough to quote what was wrong (dockerd echoes an 8,000-character ID too), never megabytes.
  assert.ok((message as string).length > 0 && (message as string).length < 20_000, `message of ${(message as string).length} characters`);
  return message as string;
}

/** The error of a JSON message stream (build, load), or of a plain error answer. */
function streamError(answer: Answer): string | undefined {
  if (answer.status >= 400) return messageOf(answer);
  assert.equal(answer.status, 200, answer.body.slice(0, 300));
  for (const line of answer.body.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
    if (m.errorDetail?.message || m.error) return m.errorDetail?.message ?? m.error;
  }
  return undefined;
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Samples the engine's RSS and /_ping latency every 100 ms while `work` runs. */
async function watch<T>(engine: TestEngine, work: () => Promise<T>): Promise<{ result: T; peakRssKb: number; slowestPingMs: number; pings: number; ms: number }> {
  const pid = engine.pid ?? 0;
  let peakRssKb = rssKb(pid);
  let slowestPingMs = 0;
  let pings = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peakRssKb = Math.max(peakRssKb, rssKb(pid));
      const started = Date.now();
      const ping = await call(engine.socket, 'GET', '/_ping', undefined, {}, 5_000);
      assert.equal(ping.body, 'OK');
      slowestPingMs = Math.max(slowestPingMs, Date.now() - started);
      pings++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = Date.now();
  try {
    const result = await work();
    return { result, peakRssKb, slowestPingMs, pings, ms: Date.now() - started };
  } finally {
    done = true;
    await sampler;
  }
}

/** A request whose body the test writes itself (huge, slow, endless) on a raw socket. */
function rawRequest(socket: string, head: string): { conn: net.Socket; answer: Promise<string> } {
  const conn = net.connect(socket);
  let text = '';
  const answer = new Promise<string>((resolve) => {
    conn.on('data', (d: Buffer) => (text += d.toString('latin1')));
    conn.on('close', () => resolve(text));
    conn.on('error', () => resolve(text));
  });
  conn.write(head);
  return { conn, answer };
}

/** A tar padded with zeros to whole 10 KB records, as GNU tar and Python's tarfile write them. */
function recordPadded(tar: Buffer): Buffer {
  return Buffer.concat([tar, Buffer.alloc((10240 - (tar.length % 10240)) % 10240 + 10240)]);
}

interface ApiCase {
  name: string;
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  message?: RegExp;
}

describe('hostile input', () => {
  let engine: TestEngine;
  let scratch: string;
  /** A host directory hostile paths and symlinks point at: it must stay empty. */
  let canary: string;
  /** Names of /tmp paths that hostile tars name: none may appear on the host. */
  const unique = `berth-hostile-${randomBytes(4).toString('hex')}`;
  const hostTmp = path.join('/tmp', unique);
  const nlinks = { passwd: 0, shadow: 0 };
  const started = Date.now();

  before(async () => {
    engine = await TestEngine.start();
    scratch = await fs.mkdtemp(path.join(tmpdir(), 'berth-hostile-'));
    canary = await fs.mkdtemp(path.join(tmpdir(), 'berth-hostile-canary-'));
    await engine.dockerOk(['pull', '-q', BUSYBOX]);
    await engine.dockerOk(['tag', BUSYBOX, 'busybox']);
    // The container that archives are copied into and out of.
    await engine.dockerOk(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '600']);
    nlinks.passwd = (await fs.stat('/etc/passwd')).nlink;
    nlinks.shadow = (await fs.stat('/etc/shadow')).nlink;
  });

  after(async () => {
    await engine?.dispose();
    await fs.rm(scratch, { recursive: true, force: true });
    await fs.rm(canary, { recursive: true, force: true });
    await fs.rm(hostTmp, { recursive: true, force: true });
    console.log(`hostile-input: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  /** What every case must leave true. */
  async function assertUnharmed(): Promise<void> {
    const pid = engine.pid ?? 0;
    assert.doesNotThrow(() => process.kill(pid, 0), 'berthd is alive');
    const ping = await call(engine.socket, 'GET', '/_ping', undefined, {}, 5_000);
    assert.equal(ping.body, 'OK', 'berthd still answers /_ping');
    assert.deepEqual(await fs.readdir(canary), [], 'nothing was written into the canary directory');
    assert.deepEqual((await fs.readdir('/tmp')).filter((n) => n.startsWith(unique)), [], `${hostTmp}... was created on the host`);
    assert.equal((await fs.stat('/etc/passwd')).nlink, nlinks.passwd, '/etc/passwd gained a hard link');
    assert.equal((await fs.stat('/etc/shadow')).nlink, nlinks.shadow, '/etc/shadow gained a hard link');
  }

  async function runCase(c: ApiCase): Promise<void> {
    const body = c.body === undefined ? undefined : typeof c.body === 'string' || Buffer.isBuffer(c.body) ? c.body : JSON.stringify(c.body);
    const answer = await call(engine.socket, c.method ?? 'POST', c.path.startsWith('/_') ? c.path : API + c.path, body, c.headers);
    assert.equal(answer.status, c.status, `${c.method ?? 'POST'} ${c.path.slice(0, 100)} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    if (c.status >= 400) {
      const message = messageOf(answer);
      if (c.message) assert.match(message, c.message);
    }
    await assertUnharmed();
  }

  function table(title: string, cases: ApiCase[]): void {
    describe(title, () => {
      for (const c of cases) it(c.name, () => runCase(c));
    });
  }

  // ---- Engine API requests --------------------------------------------------------------------

  const malformed = ['{', '{"Image": }', 'nul', '[1,2', '{"Image":"busybox"} trailing', '{"a":"\\x"}', '\ufeff{}', 'NaN', Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), '['.repeat(100_000) + ']'.repeat(100_000)];
  const json = /invalid JSON/;
  table('malformed JSON', [
    // A byte-order mark is whitespace to JS: `\ufeff{}` is the empty object, which is refused as such.
    ...malformed.map((body, i) => ({ name: `container create, body ${i}: ${JSON.stringify(body.toString().slice(0, 24))}`, path: '/containers/create', body, status: 400, message: /invalid JSON|expected an object|Config cannot be empty/ })),
    { name: 'network create', path: '/networks/create', body: '{"Name": "x",', status: 400, message: json },
    { name: 'volume create', path: '/volumes/create', body: '{"Name": [}', status: 400, message: json },
    { name: 'exec create', path: '/containers/victim/exec', body: '{"Cmd": ["true"]', status: 400, message: json },
    { name: 'container update', path: '/containers/victim/update', body: 'Memory=1', status: 400, message: json },
    { name: 'network connect', path: '/networks/bridge/connect', body: '{"Container":', status: 400, message: json },
    { name: 'auth', path: '/auth', body: '{"username":"a","password":', status: 400, message: json },
    { name: 'commit config', path: '/commit?container=victim', body: '{"Cmd":', status: 400, message: json },
    { name: 'a Content-Type that is not JSON', path: '/containers/create', body: '<xml/>', headers: { 'Content-Type': 'application/xml' }, status: 400, message: /Content-Type/ },
  ]);

  const typeError = /cannot unmarshal \w+( [-\d.e+]+)? into Go (struct field [\w.]+|value) of type /;
  const create = (config: Record<string, unknown>) => ({ Image: 'busybox', ...config });
  table('wrong types', [
    ...(
      [
        ['Image a number', { Image: 5 }],
        ['Cmd a number', { Cmd: 5 }],
        ['Entrypoint an object', { Entrypoint: {} }],
        ['Env an object', { Env: { A: '1' } }],
        ['Env with a number', { Env: ['A=1', 2] }],
        ['Labels a list', { Labels: ['a=b'] }],
        ['a label value a number', { Labels: { a: 1 } }],
        ['ExposedPorts a list', { ExposedPorts: ['80/tcp'] }],
        ['Volumes a string', { Volumes: '/data' }],
        ['Tty a string', { Tty: 'yes' }],
        ['StopTimeout a string', { StopTimeout: '10' }],
        ['Healthcheck a string', { Healthcheck: 'curl' }],
        ['MacAddress a number', { MacAddress: 5 }],
        ['User a number', { User: 0 }],
        ['HostConfig a string', { HostConfig: 'privileged' }],
        ['HostConfig.Memory a string', { HostConfig: { Memory: 'lots' } }],
        ['HostConfig.Memory 1e30', { HostConfig: { Memory: 1e30 } }],
        ['HostConfig.CpuShares a fraction', { HostConfig: { CpuShares: 1.5 } }],
        ['HostConfig.Binds a string', { HostConfig: { Binds: '/:/host' } }],
        ['HostConfig.Binds with a number', { HostConfig: { Binds: [5] } }],
        ['HostConfig.PortBindings a list', { HostConfig: { PortBindings: [] } }],
        ['a port binding a string', { HostConfig: { PortBindings: { '80/tcp': '8080' } } }],
        ['HostConfig.Mounts an object', { HostConfig: { Mounts: {} } }],
        ['a mount source a number', { HostConfig: { Mounts: [{ Type: 'bind', Source: 5, Target: '/x' }] } }],
        ['HostConfig.RestartPolicy a string', { HostConfig: { RestartPolicy: 'always' } }],
        ['HostConfig.NetworkMode a number', { HostConfig: { NetworkMode: 5 } }],
        ['HostConfig.LogConfig.Config with a number', { HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': 5 } } } }],
        ['HostConfig.Privileged a string', { HostConfig: { Privileged: 'true' } }],
        ['HostConfig.Devices a string', { HostConfig: { Devices: '/dev/sda' } }],
        ['HostConfig.Ulimits a string', { HostConfig: { Ulimits: 'nofile=1' } }],
        ['HostConfig.BlkioWeight past uint16', { HostConfig: { BlkioWeight: 70000 } }],
        ['NetworkingConfig a number', { NetworkingConfig: 1 }],
        ['an endpoint a string', { NetworkingConfig: { EndpointsConfig: { bridge: 'x' } } }],
      ] as [string, Record<string, unknown>][]
    ).map(([name, config]) => ({ name: `container create: ${name}`, path: '/containers/create', body: create(config), status: 400, message: typeError })),
    { name: 'container create: a list body', path: '/containers/create', body: '[]', status: 400, message: /expected an object/ },
    { name: 'network create: Name a number', path: '/networks/create', body: { Name: 5 }, status: 400, message: typeError },
    { name: 'network create: IPAM a string', path: '/networks/create', body: { Name: 'hostile-n', IPAM: 'x' }, status: 400, message: typeError },
    { name: 'network create: IPAM.Config an object', path: '/networks/create', body: { Name: 'hostile-n', IPAM: { Config: {} } }, status: 400, message: typeError },
    { name: 'network create: a subnet a number', path: '/networks/create', body: { Name: 'hostile-n', IPAM: { Config: [{ Subnet: 5 }] } }, status: 400, message: typeError },
    { name: 'network create: Options a list', path: '/networks/create', body: { Name: 'hostile-n', Options: [] }, status: 400, message: typeError },
    { name: 'network create: Internal a string', path: '/networks/create', body: { Name: 'hostile-n', Internal: 'yes' }, status: 400, message: typeError },
    { name: 'network connect: EndpointConfig a list', path: '/networks/bridge/connect', body: { Container: 'victim', EndpointConfig: [] }, status: 400, message: typeError },
    { name: 'volume create: Name a number', path: '/volumes/create', body: { Name: 5 }, status: 400, message: typeError },
    { name: 'volume create: Labels a list', path: '/volumes/create', body: { Name: 'hostile-v', Labels: [] }, status: 400, message: typeError },
    { name: 'volume create: a driver option a number', path: '/volumes/create', body: { Name: 'hostile-v', DriverOpts: { type: 5 } }, status: 400, message: typeError },
    { name: 'exec create: Cmd a number', path: '/containers/victim/exec', body: { Cmd: 5 }, status: 400, message: typeError },
    { name: 'exec create: Env a string', path: '/containers/victim/exec', body: { Cmd: ['true'], Env: 'A=1' }, status: 400, message: typeError },
    { name: 'container update: Memory a string', path: '/containers/victim/update', body: { Memory: '1g' }, status: 400, message: typeError },
    { name: 'container update: RestartPolicy a number', path: '/containers/victim/update', body: { RestartPolicy: 5 }, status: 400, message: typeError },
    { name: 'commit: Cmd a number', path: '/commit?container=victim', body: { Cmd: 5 }, status: 400, message: typeError },
    { name: 'auth: password a number', path: '/auth', body: { username: 'a', password: 5 }, status: 400, message: typeError },
    { name: 'query: stop timeout not a number', path: '/containers/victim/stop?t=soon', status: 400, message: /invalid value for t/ },
    { name: 'query: resize height not a number', path: '/containers/victim/resize?h=x&w=80', status: 400, message: /height or width/ },
    { name: 'query: logs since not a time', method: 'GET', path: '/containers/victim/logs?stdout=1&since=yesterday', status: 400, message: /invalid time value/ },
    { name: 'query: wait condition unknown', path: '/containers/victim/wait?condition=bogus', status: 400, message: /invalid condition/ },
    { name: 'query: filters not JSON', method: 'GET', path: '/containers/json?filters=%7Bnope', status: 400 },
    { name: 'query: filters a list', method: 'GET', path: '/images/json?filters=%5B1%5D', status: 400 },
    { name: 'query: build args not JSON', path: '/build?buildargs=%7B', body: '', status: 400, message: /invalid buildargs/ },
  ]);

  table('missing and extra fields', [
    { name: 'container create with an empty object', path: '/containers/create', body: {}, status: 400, message: /Config cannot be empty/ },
    { name: 'container create with no body', path: '/containers/create', status: 400, message: /request body is empty/ },
    { name: 'container create with only a HostConfig', path: '/containers/create', body: { HostConfig: { Privileged: true } }, status: 400, message: /Config cannot be empty/ },
    { name: 'network create with no name', path: '/networks/create', body: {}, status: 400, message: /network name cannot be empty/ },
    { name: 'network connect with no container', path: '/networks/bridge/connect', body: {}, status: 400 },
    { name: 'exec create with no command', path: '/containers/victim/exec', body: {}, status: 400, message: /No exec command specified/ },
    { name: 'exec create with an empty command', path: '/containers/victim/exec', body: { Cmd: [] }, status: 400, message: /No exec command specified/ },
    { name: 'commit with no container', path: '/commit', status: 400, message: /container is required/ },
    { name: 'tag with no repository', path: '/images/busybox/tag', status: 400, message: /repo/ },
    { name: 'image create with neither image nor source', path: '/images/create', status: 400, message: /fromImage or fromSrc/ },
    { name: 'archive with no path', method: 'PUT', path: '/containers/victim/archive', body: Buffer.alloc(0), headers: { 'Content-Type': 'application/x-tar' }, status: 400, message: /path is required/ },
    { name: 'container create with unknown fields (ignored, as dockerd does)', path: '/containers/create?name=hostile-extra', body: { Image: 'busybox', Bogus: 1, HostConfig: { Nope: [1, 2] }, NetworkingConfig: { Whatever: {} } }, status: 201 },
    { name: 'volume create with unknown fields', path: '/volumes/create', body: { Name: 'hostile-extra', Extra: { a: 1 } }, status: 201 },
    { name: 'network create with unknown fields', path: '/networks/create', body: { Name: 'hostile-extra', Extra: [1] }, status: 201 },
  ]);

  // Not hex: 300 hex digits are looked up as an image ID prefix (404), as in dockerd.
  const longName = 'x'.repeat(300);
  table('bad references and IDs', [
    { name: 'image with capitals', path: '/containers/create', body: { Image: 'UPPER/case' }, status: 400, message: /repository name must be lowercase/ },
    { name: 'image with a bad digest', path: '/containers/create', body: { Image: 'busybox@sha256:xyz' }, status: 400, message: /invalid reference format/ },
    { name: 'image with an empty tag', path: '/containers/create', body: { Image: 'busybox:' }, status: 400, message: /invalid reference format/ },
    { name: 'image with only a tag', path: '/containers/create', body: { Image: ':latest' }, status: 400, message: /invalid reference format/ },
    { name: 'image with ../', path: '/containers/create', body: { Image: '../../etc/passwd' }, status: 400, message: /invalid reference format/ },
    { name: 'image with a NUL', path: '/containers/create', body: { Image: 'busybox\u0000' }, status: 400, message: /invalid reference format/ },
    { name: 'image name of 300 characters', path: '/containers/create', body: { Image: longName }, status: 400, message: /must not be more than 255 characters/ },
    { name: 'image ID that does not exist', path: '/containers/create', body: { Image: `sha256:${'0'.repeat(64)}` }, status: 404, message: /No such image/ },
    { name: 'image that does not exist', path: '/containers/create', body: { Image: 'nothing-here:latest' }, status: 404, message: /No such image: nothing-here:latest/ },
    { name: 'pull of ../..', path: '/images/create?fromImage=..%2F..%2Fx&tag=latest', status: 400, message: /invalid reference format/ },
    { name: 'pull with a bad tag', path: '/images/create?fromImage=busybox&tag=a%3Ab', status: 400, message: /invalid tag format/ },
    { name: 'tag to ../', path: '/images/busybox/tag?repo=..%2Fx', status: 400, message: /invalid reference format/ },
    { name: 'inspect image ../../etc/passwd', method: 'GET', path: '/images/..%2F..%2Fetc%2Fpasswd/json', status: 400, message: /invalid reference format/ },
    { name: 'remove image ../../etc', method: 'DELETE', path: '/images/..%2F..%2Fetc', status: 400, message: /invalid reference format/ },
    { name: 'save image ../', method: 'GET', path: '/images/get?names=..%2F..%2Fetc', status: 400, message: /invalid reference format/ },
    { name: 'push ../x', path: '/images/..%2Fx/push', status: 400, message: /invalid reference format/ },
    { name: 'container ../../etc', method: 'GET', path: '/containers/..%2F..%2Fetc/json', status: 404, message: /No such container/ },
    // URL parsing resolves the `..` segment: this asks for /v1.43/json, which is no route.
    { name: 'container ..', method: 'GET', path: '/containers/%2e%2e/json', status: 404, message: /page not found/ },
    { name: 'container NUL', method: 'GET', path: '/containers/%00/json', status: 404, message: /No such container/ },
    { name: 'container *', method: 'GET', path: '/containers/*/json', status: 404, message: /No such container/ },
    { name: 'container ID of 64 zeros', method: 'GET', path: `/containers/${'0'.repeat(64)}/json`, status: 404, message: /No such container/ },
    { name: 'container ID of 8,000 characters', method: 'GET', path: `/containers/${'f'.repeat(8000)}/json`, status: 404, message: /No such container/ },
    { name: 'remove container ../', method: 'DELETE', path: '/containers/..%2F', status: 404, message: /No such container/ },
    { name: 'exec ../../x', method: 'GET', path: '/exec/..%2F..%2Fx/json', status: 404, message: /No such exec instance/ },
    { name: 'exec start NUL', path: '/exec/%00/start', body: '{}', status: 404, message: /No such exec instance/ },
    { name: 'network ../../etc', method: 'GET', path: '/networks/..%2F..%2Fetc', status: 404 },
    { name: 'remove network NUL', method: 'DELETE', path: '/networks/%00', status: 404 },
    { name: 'volume ../../etc', method: 'GET', path: '/volumes/..%2F..%2Fetc', status: 404, message: /no such volume/ },
    { name: 'remove volume ../volumes', method: 'DELETE', path: '/volumes/..%2Fvolumes', status: 404, message: /no such volume/ },
    { name: 'archive of a container that does not exist', method: 'GET', path: '/containers/nope/archive?path=/', status: 404, message: /No such container/ },
    { name: 'a broken %-escape in the path', method: 'GET', path: '/containers/%E0%A4%A/json', status: 400, message: /invalid URL escape/ },
  ]);

  table('names with ../, NUL and length', [
    { name: 'container name ../../x', path: '/containers/create?name=..%2F..%2Fx', body: { Image: 'busybox' }, status: 400, message: /Invalid container name/ },
    { name: 'container name with a NUL', path: '/containers/create?name=a%00b', body: { Image: 'busybox' }, status: 400, message: /Invalid container name/ },
    { name: 'container name with a slash inside', path: '/containers/create?name=a%2Fb', body: { Image: 'busybox' }, status: 400, message: /Invalid container name/ },
    { name: 'container name of 300 characters (allowed, as in dockerd)', path: `/containers/create?name=hostile-${longName}`, body: { Image: 'busybox' }, status: 201 },
    { name: 'rename to ../x', path: '/containers/victim/rename?name=..%2Fx', status: 400, message: /Invalid container name/ },
    { name: 'volume name ../x', path: '/volumes/create', body: { Name: '../x' }, status: 400, message: /includes invalid characters/ },
    { name: 'volume name ..', path: '/volumes/create', body: { Name: '..' }, status: 400, message: /includes invalid characters/ },
    { name: 'volume name with a NUL', path: '/volumes/create', body: { Name: 'a\u0000b' }, status: 400, message: /includes invalid characters/ },
    { name: 'volume name of 300 characters', path: '/volumes/create', body: { Name: longName }, status: 400, message: /too long/ },
    { name: 'network name ../x', path: '/networks/create', body: { Name: '../x' }, status: 400, message: /invalid network name/ },
    { name: 'network name with a NUL', path: '/networks/create', body: { Name: 'n\u0000' }, status: 400, message: /invalid network name/ },
    { name: 'build tag ../x', path: '/build?t=..%2Fx', body: '', status: 400, message: /invalid reference format/ },
    { name: 'build Dockerfile ../../etc/passwd', path: '/build?dockerfile=..%2F..%2Fetc%2Fpasswd', body: '', status: 400, message: /must be within the build context/ },
  ]);

  describe('malformed HTTP', () => {
    const raw = async (request: string): Promise<{ status: number; message: string }> => {
      const { conn, answer } = rawRequest(engine.socket, request);
      const timer = setTimeout(() => conn.destroy(), 5_000);
      const text = await answer;
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      return { status, message: messageOf({ status, body, headers: {} }) };
    };
    it('a request target that is not a URL', async () => {
      const { status, message } = await raw('GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(status, 400);
      assert.match(message, /invalid request URL/);
      await assertUnharmed();
    });
    it('bytes that are not HTTP', async () => {
      const { status, message } = await raw('\x16\x03\x01\x02\x00 hello\r\n\r\n');
      assert.equal(status, 400);
      assert.match(message, /malformed HTTP request/);
      await assertUnharmed();
    });
    it('a request line of 100,000 characters', async () => {
      const { status, message } = await raw(`GET ${API}/containers/${'a'.repeat(100_000)}/json HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(status, 431);
      assert.match(message, /too large/);
      await assertUnharmed();
    });
    it('an upgrade (exec start) claiming a 50 GB body', async () => {
      const { status, message } = await raw(`POST ${API}/exec/x/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 50000000000\r\n\r\n{"Detach":false`);
      assert.equal(status, 400);
      assert.match(message, /request body is too large/);
      await assertUnharmed();
    });
  });

  describe('huge and endless bodies', () => {
    it('refuses a 50 MB container create, without holding it in memory', async () => {
      const before = rssKb(engine.pid ?? 0);
      for (const chunked of [false, true]) {
        const env = `A=${'x'.repeat(50 * 1024 * 1024)}`;
        const body = JSON.stringify({ Image: 'busybox', Env: [env] });
        const pieces = chunked ? Array.from({ length: Math.ceil(body.length / (1 << 20)) }, (_, i) => Buffer.from(body.slice(i << 20, (i + 1) << 20))) : body;
        const { result: answer, peakRssKb } = await watch(engine, () => call(engine.socket, 'POST', `${API}/containers/create`, pieces));
        assert.equal(answer.status, 400);
        assert.match(messageOf(answer), /request body is too large/);
        // The body is 50 MB; the limit is 8. Holding it (as a string, twice) would show here.
        assert.ok(peakRssKb - before < 40 * 1024, `RSS grew by ${Math.round((peakRssKb - before) / 1024)} MB (chunked: ${chunked})`);
      }
      await assertUnharmed();
    });

    it('survives a body that never ends: the client gives up, the engine is unaffected', async () => {
      for (const target of ['/containers/create', '/build', '/images/load', '/containers/victim/archive?path=/tmp', '/images/create?fromSrc=-']) {
        const method = target.includes('archive') ? 'PUT' : 'POST';
        const type = target === '/containers/create' ? 'application/json' : 'application/x-tar';
        const { conn, answer } = rawRequest(engine.socket, `${method} ${API}${target} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`);
        // A tar whose one file claims a terabyte, then zeros trickling in (the JSON case: an
        // opening brace and spaces), for a second; then the client disappears.
        const first = type === 'application/json' ? Buffer.from('{"Image": "busybox", "Env": ["A=') : rawHeader({ name: 'endless', size: 1n << 40n });
        conn.write(`${first.length.toString(16)}\r\n`);
        conn.write(first);
        conn.write('\r\n');
        const chunk = Buffer.alloc(64 * 1024, type === 'application/json' ? 0x61 : 0);
        const deadline = Date.now() + 1_000;
        while (Date.now() < deadline && !conn.destroyed) {
          conn.write(`${chunk.length.toString(16)}\r\n`);
          conn.write(chunk);
          conn.write('\r\n');
          await new Promise((r) => setTimeout(r, 20));
        }
        conn.destroy();
        await answer;
        await assertUnharmed();
      }
      // Whatever the endless bodies started is cleaned up: no build context, no spooled archive,
      // no half-imported layer is left behind, no tar process keeps running.
      const deadline = Date.now() + 10_000;
      const leftovers = async () => [
        ...(await fs.readdir(path.join(engine.dataRoot, 'build')).catch(() => [])),
        ...(await fs.readdir(path.join(engine.dataRoot, 'tmp')).catch(() => [])),
        ...(await fs.readdir(path.join(engine.dataRoot, 'image', 'ingest')).catch(() => [])),
        ...(await fs.readdir(path.join(engine.dataRoot, 'snapshots')).catch(() => [])).filter((n) => n.startsWith('.tmp-')),
      ];
      while ((await leftovers()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await leftovers(), []);
      const children = (await run('pgrep', ['-P', String(engine.pid), '-x', 'tar'])).stdout.trim();
      assert.equal(children, '', 'no tar process is left running');
    });
  });

  // ---- archives: layers (docker load), contexts (POST /build), docker cp (PUT archive) ---------

  /** `docker load` of one image with the given layer; the load's error, if any. */
  async function load(layer: Buffer, tag = 'berth/hostile:1'): Promise<{ error: string | undefined; answer: Answer }> {
    const { archive } = await dockerArchive([layer], [tag]);
    const answer = await call(engine.socket, 'POST', `${API}/images/load?quiet=1`, archive, { 'Content-Type': 'application/x-tar' }, 60_000);
    return { error: streamError(answer), answer };
  }

  async function lowerDir(tag: string): Promise<string> {
    return (await engine.dockerOk(['image', 'inspect', '-f', '{{.GraphDriver.Data.LowerDir}}', tag])).trim().split(':')[0] ?? '';
  }

  const climbs = `../../../../../../../..${hostTmp}/escaped`;
  const layerCases: [string, () => Buffer | Promise<Buffer>, RegExp | 'loads'][] = [
    ['an absolute path (stays inside the layer)', () => makeTar([{ name: `${hostTmp}/abs`, content: 'x' }]), 'loads'],
    ['padding to 10 KB records after the end, as GNU tar writes', async () => recordPadded(await makeTar([{ name: 'a', content: 'x' }])), 'loads'],
    // Read from the store in 64 KB pieces: the pieces after the end reached a GNU tar that had
    // exited, and the unpack hung.
    ['a quarter megabyte of zeros after the end', async () => Buffer.concat([await makeTar([{ name: 'a', content: randomBytes(100_000) }]), Buffer.alloc(256 * 1024)]), 'loads'],
    ['a pax path that climbs out', () => Buffer.concat([paxHeader({ path: climbs }), rawFile('innocent', 'x'), END_OF_ARCHIVE]), /path escapes the layer/],
    ['a GNU long name that climbs out', () => Buffer.concat([rawHeader({ name: '././@LongLink', type: 'L', size: climbs.length + 1 }), blocks(Buffer.from(climbs + '\0')), rawFile('innocent', 'x'), END_OF_ARCHIVE]), /path escapes the layer/],
    ['a symlink to / and a directory through it', () => makeTar([{ name: 'root', type: 'symlink', linkname: '/' }, { name: `root${hostTmp}/`, type: 'directory' }]), /beneath the symlink/],
    ['a symlink to / replaced by a directory, then a file in it (stays inside)', () => makeTar([{ name: 'root', type: 'symlink', linkname: '/' }, { name: 'root/', type: 'directory' }, { name: `root${hostTmp}/x`, content: 'x' }]), /failed to extract layer|beneath the symlink/],
    ['a hardlink to /etc/shadow', () => makeTar([{ name: 'shadow', type: 'link', linkname: '/etc/shadow' }]), /failed to extract layer|hardlink/],
    ['a hardlink through a symlink to /etc', () => makeTar([{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'shadow', type: 'link', linkname: 'etc/shadow' }]), /beneath the symlink/],
    ['a hardlink to a directory', () => makeTar([{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }]), /target is a directory/],
    ['device nodes (allowed in an image)', () => Buffer.concat([rawHeader({ name: 'dev/sda', type: '4', devmajor: 8, devminor: 0, mode: 0o660 }), rawHeader({ name: 'dev/mem', type: '3', devmajor: 1, devminor: 1 }), END_OF_ARCHIVE]), 'loads'],
    ['a setuid-root shell (allowed in an image)', () => makeTar([{ name: 'bin/rootshell', content: '#!/bin/sh\n', mode: 0o4755 }]), 'loads'],
    ['a file that claims a terabyte and ends after a megabyte', () => Buffer.concat([rawHeader({ name: 'huge', size: 1n << 40n }), Buffer.alloc(1 << 20)]), /invalid tar|Unexpected end|failed to extract/],
    ['an 8 GB size in octal with no data', () => Buffer.concat([rawHeader({ name: 'huge', size: 8n ** 11n - 1n }), END_OF_ARCHIVE]), /invalid tar|Unexpected end|failed to extract/],
    ['a GNU sparse file (whose real name only GNU tar reads)', () => Buffer.concat([paxHeader({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': climbs, 'GNU.sparse.realsize': String(2 ** 40) }), rawFile('GNUSparseFile.0/innocent', Buffer.concat([blocks(Buffer.from('1\n0\n5\n')), Buffer.from('hello')])), END_OF_ARCHIVE]), /sparse files are not supported/],
    ['a pax size that is not a number', () => Buffer.concat([paxHeader({ size: '10abc' }), rawFile('a', 'x'), END_OF_ARCHIVE]), /invalid size record/],
    ['an unknown type flag', () => Buffer.concat([rawHeader({ name: 'volume-label', type: 'V' }), END_OF_ARCHIVE]), /unsupported type/],
    ['a whiteout sent as a directory', () => makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/.wh.b/', type: 'directory' }]), 'loads'],
    ['a bad header checksum', () => { const t = Buffer.concat([rawFile('a', 'x'), END_OF_ARCHIVE]); t[0] = 0x62; return t; }, /invalid tar/],
  ];

  describe('layers via docker load', () => {
    for (const [label, make, expected] of layerCases) {
      it(label, async () => {
        await engine.docker(['rmi', '-f', 'berth/hostile:1']);
        const { error } = await load(await make());
        if (expected === 'loads') assert.equal(error, undefined, `load failed: ${error}`);
        else {
          assert.ok(error, 'the load must fail');
          assert.match(error, expected);
          assert.equal((await engine.docker(['image', 'inspect', 'berth/hostile:1'])).code, 1, 'no image was made');
        }
        const leftovers = (await fs.readdir(path.join(engine.dataRoot, 'snapshots'))).filter((n) => n.startsWith('.tmp-'));
        assert.deepEqual(leftovers, []);
        await assertUnharmed();
      });
    }

    it('keeps what a layer carries inside it, and the data root closed to other users', async () => {
      await engine.docker(['rmi', '-f', 'berth/hostile:1']);
      assert.equal((await load(await makeTar([{ name: `${hostTmp}/abs`, content: 'x' }, { name: 'bin/rootshell', content: '#!/bin/sh\n', mode: 0o4755 }]))).error, undefined);
      const layer = await lowerDir('berth/hostile:1');
      assert.equal(await fs.readFile(path.join(layer, hostTmp, 'abs'), 'utf8'), 'x', 'the absolute path landed inside the layer');
      assert.equal((await fs.stat(path.join(layer, 'bin/rootshell'))).mode & 0o7777, 0o4755, 'setuid is kept inside the image');
      // The setuid file is on the host, under the data root: only root may reach it (dockerd's
      // 0710, CVE-2021-41091), or any local user could run it and become root.
      assert.equal((await fs.stat(engine.dataRoot)).mode & 0o007, 0, 'the data root is closed to other users');
      await assertUnharmed();
    });

    const outer = (entries: TarEntry[]) => makeTar(entries);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const archiveCases: [string, () => Promise<Buffer>, RegExp][] = [
      ['an archive member that climbs out', () => outer([{ name: '../../escaped', content: 'x' }]), /path escapes/],
      ['manifest.json that is not JSON', () => outer([{ name: 'manifest.json', content: '[{' }]), /not valid JSON/],
      ['manifest.json with numbers for names', () => outer([{ name: 'manifest.json', content: JSON.stringify([{ Config: 5, Layers: [1] }]) }]), /malformed manifest.json entry/],
      ['manifest.json naming layers outside the archive', () => outer([{ name: 'c.json', content: config }, { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: ['../../../../etc/passwd'] }]) }]), /path escapes|is missing/],
      ['manifest.json linked to /etc/passwd', () => outer([{ name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }]), /neither manifest.json|is missing/],
      ['an image config with Cmd a number', () => outer([{ name: 'c.json', content: JSON.stringify({ os: 'linux', config: { Cmd: 5 }, rootfs: { type: 'layers', diff_ids: [] } }) }, { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: [] }]) }]), /cannot unmarshal number/],
      ['a diff ID that is a path', () => outer([{ name: 'c.json', content: JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:../../../etc'] } }) }, { name: 'l.tar', content: Buffer.alloc(1024) }, { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: ['l.tar'] }]) }]), /is not a sha256 digest/],
      ['an OCI index with a digest that is a path', () => outer([{ name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'index.json', content: JSON.stringify({ manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:../../../etc/passwd', size: 1 }] }) }]), /malformed descriptor/],
      ['an OCI index whose manifests are not a list', () => outer([{ name: 'index.json', content: JSON.stringify({ manifests: 5 }) }]), /no list of manifests/],
      ['a repository tag that is not a reference', () => outer([{ name: 'c.json', content: config }, { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['../Bad:tag'], Layers: [] }]) }]), /invalid reference format/],
      ['garbage', async () => randomBytes(4096), /invalid archive|invalid tar/],
    ];
    for (const [label, make, expected] of archiveCases) {
      it(`refuses ${label}`, async () => {
        const answer = await call(engine.socket, 'POST', `${API}/images/load?quiet=1`, await make(), { 'Content-Type': 'application/x-tar' });
        const error = streamError(answer);
        assert.ok(error, `no error: ${answer.body.slice(0, 200)}`);
        assert.match(error, expected);
        assert.deepEqual(await fs.readdir(path.join(engine.dataRoot, 'tmp')), [], 'the spooled archive is removed');
        await assertUnharmed();
      });
    }
  });

  /** POST /build with a context (a tar, or a bare Dockerfile); the build's error, if any. */
  async function build(context: Buffer, query = ''): Promise<{ error: string | undefined; answer: Answer }> {
    const answer = await call(engine.socket, 'POST', `${API}/build?rm=1&forcerm=1${query}`, context, { 'Content-Type': 'application/x-tar' }, 60_000);
    return { error: streamError(answer), answer };
  }

  const dockerfile = (text: string): TarEntry => ({ name: 'Dockerfile', content: text });

  /** The build's context directory goes once the build is over (just after its answer ends). */
  async function contextRemoved(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let left: string[] = [];
    while (Date.now() < deadline) {
      left = await fs.readdir(path.join(engine.dataRoot, 'build')).catch(() => []);
      if (left.length === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(left, [], 'the build context is removed');
  }
  describe('build contexts via POST /build', () => {
    const contextCases: [string, () => Promise<Buffer> | Buffer, RegExp | 'builds'][] = [
      ['a member that climbs out', () => makeTar([dockerfile('FROM busybox\n'), { name: climbs, content: 'x' }]), /path escapes/],
      // `tar -c . | docker build -`: the build hung for ever on the padding after the end.
      ['a context padded to 10 KB records, as GNU tar writes it', async () => recordPadded(await makeTar([dockerfile('FROM busybox\nLABEL padded=yes\n')])), 'builds'],
      ['an absolute path (stays in the context)', () => makeTar([dockerfile(`FROM busybox\nCOPY ${hostTmp.slice(1)}/abs /abs\n`), { name: `${hostTmp}/abs`, content: 'x' }]), 'builds'],
      ['a symlink to / and a file through it', () => makeTar([dockerfile('FROM busybox\n'), { name: 'root', type: 'symlink', linkname: '/' }, { name: `root${hostTmp}/x`, content: 'x' }]), /beneath the symlink/],
      ['a hardlink to /etc/shadow', () => makeTar([dockerfile('FROM busybox\n'), { name: 'shadow', type: 'link', linkname: '/etc/shadow' }]), /failed to extract|hardlink/],
      ['COPY of a symlink that points out of the context', () => makeTar([dockerfile('FROM busybox\nCOPY shadow /shadow\n'), { name: 'shadow', type: 'symlink', linkname: '/etc/shadow' }]), /forbidden path outside the build context|symlink|file not found/],
      ['COPY of ../', () => makeTar([dockerfile('FROM busybox\nCOPY ../../../etc/shadow /x\n')]), /forbidden path outside the build context/],
      ['ADD of a local tar that climbs out', async () => makeTar([dockerfile('FROM busybox\nADD evil.tar /\n'), { name: 'evil.tar', content: await makeTar([{ name: climbs, content: 'x' }]) }]), /leaves the destination|path escapes/],
      // ADD writes the parent directories itself: the symlink is replaced by a directory, which GNU tar refuses.
      ['ADD of a local tar with a symlink escape', async () => makeTar([dockerfile('FROM busybox\nADD evil.tar /\n'), { name: 'evil.tar', content: await makeTar([{ name: 'up', type: 'symlink', linkname: '/' }, { name: `up${hostTmp}/x`, content: 'x' }]) }]), /beneath the symlink|failed to extract layer/],
      ['a device node and a setuid file (copied into the image, not onto the host)', () => Buffer.concat([rawFile('Dockerfile', 'FROM busybox\nCOPY . /ctx/\n'), rawHeader({ name: 'mem', type: '3', devmajor: 1, devminor: 1 }), rawFile('suid', '#!/bin/sh\n', { mode: 0o4755 }), END_OF_ARCHIVE]), 'builds'],
      ['a file that claims a terabyte', () => Buffer.concat([rawFile('Dockerfile', 'FROM busybox\n'), rawHeader({ name: 'huge', size: 1n << 40n }), Buffer.alloc(1 << 20)]), /invalid tar|Unexpected end|failed to extract/],
      ['a gzip stream that is cut short', () => gzipSync(Buffer.concat([rawFile('Dockerfile', 'FROM busybox\n'), rawFile('big', randomBytes(100_000)), END_OF_ARCHIVE])).subarray(0, 5_000), /unexpected end|invalid tar|gzip|Unexpected end|failed to extract/i],
    ];
    for (const [label, make, expected] of contextCases) {
      it(label, async () => {
        const { error } = await build(await make());
        if (expected === 'builds') assert.equal(error, undefined, `build failed: ${error}`);
        else {
          assert.ok(error, 'the build must fail');
          assert.match(error, expected);
        }
        await contextRemoved();
        await assertUnharmed();
      });
    }

    const garbage: [string, () => string | Buffer, RegExp][] = [
      ['random bytes', () => Buffer.concat([Buffer.from('garbage '), randomBytes(4096)]), /unknown instruction|no FROM|parse error/],
      ['NUL bytes', () => Buffer.alloc(1000), /unknown instruction|no FROM|parse error/],
      ['an unknown instruction', () => 'FROM busybox\nFROBNICATE now\n', /line 2: unknown instruction: FROBNICATE/],
      ['an unterminated heredoc', () => 'FROM busybox\nRUN <<EOF\necho never closed\n', /line 2: unterminated heredoc EOF/],
      ['no FROM at all', () => 'RUN true\n', /needs a FROM|no FROM/],
      ['a bad escape directive', () => '# escape=xx\nFROM busybox\n', /invalid escape token/],
      ['a line of 10 MB of spaces (a quadratic regex took minutes)', () => `FROM busybox\nRUN ${' '.repeat(10_000_000)}x\nFROBNICATE\n`, /line 3: unknown instruction/],
      ['200,000 continuation lines (quadratic joining took two minutes)', () => `FROM busybox\nRUN true${' \\\n'.repeat(200_000)} && true\nFROBNICATE\n`, /unknown instruction: FROBNICATE/],
      ['a directive with a long run of spaces', () => `#escape=\\${' '.repeat(1_000_000)}x\nFROM busybox\n`, /invalid escape token|unknown instruction/],
      ['${...} nested 10,000 deep', () => `FROM busybox\nARG A\nENV B=${'${A:-'.repeat(10_000)}x${'}'.repeat(10_000)}\n`, /nested more than/],
      ['an unknown flag of 1 MB', () => `FROM busybox\nCOPY --${'x'.repeat(1_000_000)} a b\n`, /Unknown flag: x+\.\.\./],
      ['a Dockerfile over 16 MB', () => `FROM busybox\n#${'x'.repeat(17 * 1024 * 1024)}\n`, /too large/],
    ];
    for (const [label, make, expected] of garbage) {
      it(`a Dockerfile with ${label}`, async () => {
        const text = make();
        // Both ways the CLI sends one: inside a context tar, and bare (`docker build - < Dockerfile`).
        for (const context of [await makeTar([{ name: 'Dockerfile', content: text }]), Buffer.from(text)]) {
          const startedAt = Date.now();
          const { error } = await build(context);
          assert.ok(error, 'the build must fail');
          assert.match(error, expected);
          assert.ok(error.length < 1000, `a readable error, not ${error.length} characters`);
          assert.ok(Date.now() - startedAt < 10_000, `took ${Date.now() - startedAt} ms`);
          await assertUnharmed();
        }
      });
    }
  });

  describe('BuildKit: /grpc and the session', () => {
    let control: ControlConnection;
    before(async () => {
      control = await ControlConnection.open(engine.socket);
    });
    after(() => control.close());

    const SOLVE = '/moby.buildkit.v1.Control/Solve';
    const solveRequest = (ref: string, session: string, frontend = 'dockerfile.v0') =>
      encode('moby.buildkit.v1.SolveRequest', { Ref: ref, Session: session, Frontend: frontend, FrontendAttrs: { filename: 'Dockerfile' } });
    /** Every case also leaves no received context behind. */
    async function assertNoContextLeft(): Promise<void> {
      const left = await fs.readdir(path.join(engine.dataRoot, 'build')).catch(() => []);
      assert.deepEqual(left, [], 'a received context was left in the data root');
      await assertUnharmed();
    }

    it('answers malformed protobuf, an oversized message, an unknown method and an unknown frontend with gRPC errors', async () => {
      const malformed = await control.call(SOLVE, [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])]);
      assert.equal(malformed.status, 3);
      assert.match(malformed.message, /malformed moby\.buildkit\.v1\.SolveRequest|SolveRequest/);
      const head = Buffer.alloc(5);
      head.writeUInt32BE(100 * 1024 * 1024, 1);
      const oversized = await control.call(SOLVE, [], { rawBody: head });
      assert.equal(oversized.status, 8);
      assert.match(oversized.message, /larger than the limit/);
      const unknown = await control.call('/moby.buildkit.v1.Control/Nope', [Buffer.alloc(0)]);
      assert.equal(unknown.status, 12);
      const frontend = await control.call(SOLVE, [solveRequest('hostile-frontend', 'none', 'nope.v0')]);
      assert.equal(frontend.status, 3);
      assert.match(frontend.message, /frontend "nope\.v0" is not supported/);
      const llb = await control.call(SOLVE, [encode('moby.buildkit.v1.SolveRequest', { Ref: 'hostile-llb', Definition: { def: [Buffer.from('x')] } })]);
      assert.equal(llb.status, 12);
      assert.match(llb.message, /raw LLB definitions are not supported/);
      const orphan = await control.call('/moby.buildkit.v1.frontend.LLBBridge/Return', [Buffer.alloc(0)], { metadata: { 'buildkit-controlapi-buildid': 'no-such-build' } });
      assert.equal(orphan.status, 5);
      await assertNoContextLeft();
    });

    it('refuses an exporter option it cannot honour before building, and a session id used twice', async () => {
      const solve = encode('moby.buildkit.v1.SolveRequest', { Ref: 'hostile-exporter', Session: 'none', Frontend: 'dockerfile.v0', Exporters: [{ Type: 'moby', Attrs: { compression: 'zstd' } }] });
      const answer = await control.call(SOLVE, [solve]);
      assert.equal(answer.status, 3);
      assert.match(answer.message, /moby exporter: option compression="zstd" is not supported by berthd/);
      const id = `hostile${randomBytes(6).toString('hex')}`;
      const first = await fakeSession(engine.socket, id, {});
      try {
        await assert.rejects(fakeSession(engine.socket, id, {}), /409 Conflict/);
      } finally {
        first.close();
      }
      await assertNoContextLeft();
    });

    const DOCKERFILE = { stats: [{ path: 'Dockerfile', mode: 0o644, size: 26 }], contents: { Dockerfile: 'FROM busybox\nCOPY . /ctx\n' } };
    const contexts: [string, (id: string) => FakeDirectory, RegExp][] = [
      ['a path with ..', () => ({ stats: [{ path: `../${unique}`, mode: 0o644, size: 1 }] }), /leaves its directory/],
      ['an absolute path', () => ({ stats: [{ path: hostTmp, mode: 0o644, size: 1 }] }), /leaves its directory/],
      ['a file under a symlink to a host directory', () => ({ stats: [{ path: 'link', mode: GO_SYMLINK | 0o777, linkname: canary }, { path: 'link/x', mode: 0o644, size: 1 }] }), /under a symlink/],
      ['a hard link to a host file', () => ({ stats: [{ path: 'pw', mode: 0o644, linkname: '../../../../../../etc/passwd' }] }), /leaves its directory/],
      ['a file that never ends', () => ({
        stats: [{ path: 'endless', mode: 0o644, size: 10 }],
        onRequest: (_index, send) => {
          const chunk = Buffer.alloc(32 * 1024, 'x');
          const pump = () => {
            for (let i = 0; i < 64; i++) if (!send(chunk)) break;
            setTimeout(pump, 5).unref();
          };
          pump();
        },
      }), /larger than its stat said/],
      ['a client that disappears mid-transfer', () => ({
        stats: [{ path: 'dir', mode: GO_DIR | 0o755 }, { path: 'dir/half', mode: 0o644, size: 1024 * 1024 }],
        onRequest: (_index, send, _end, kill) => {
          send(Buffer.alloc(64 * 1024, 'y'));
          setTimeout(kill, 50).unref();
        },
      }), /the client's session went away while sending context/],
    ];
    for (const [label, context, message] of contexts) {
      it(`refuses a synced context with ${label}`, async () => {
        const id = `hostile${randomBytes(6).toString('hex')}`;
        const session = await fakeSession(engine.socket, id, { dockerfile: DOCKERFILE, context: context(id) });
        try {
          const answer = await control.call(SOLVE, [solveRequest(id, id)]);
          assert.notEqual(answer.status, 0, 'the solve failed');
          assert.match(answer.message, message);
        } finally {
          session.close();
        }
        await assertNoContextLeft();
      });
    }
  });

  describe('tar bombs', () => {
    it('unpacks a context of 1,000,000 entries in bounded time and memory, answering meanwhile', async (t) => {
      const before = rssKb(engine.pid ?? 0);
      // One million `./` directory entries (512 MB of tar, ~5 MB gzipped), then a Dockerfile that
      // fails at once: the work is all in reading the million headers.
      const bomb = await collect(gzippedEntries(1_000_000, () => ({ name: './', type: '5', mode: 0o755 })));
      const { result, peakRssKb, slowestPingMs, pings, ms } = await watch(engine, () => build(bomb));
      t.diagnostic(`1,000,000-entry context: ${ms} ms, RSS +${Math.round((peakRssKb - before) / 1024)} MB, slowest /_ping ${slowestPingMs} ms of ${pings}`);
      assert.match(result.error ?? '', /Cannot locate specified Dockerfile/);
      assert.ok(ms < 45_000, `took ${ms} ms`);
      assert.ok(peakRssKb - before < 100 * 1024, `RSS grew by ${Math.round((peakRssKb - before) / 1024)} MB`);
      assert.ok(slowestPingMs < 1_000, `a /_ping took ${slowestPingMs} ms`);
      await contextRemoved();
      await assertUnharmed();
    });

    it('stops unpacking 1,000,000 distinct files when the client goes away, and cleans up', async (t) => {
      const before = rssKb(engine.pid ?? 0);
      const bomb = await collect(gzippedEntries(1_000_000, (i) => ({ name: `d${i % 1000}/f${i}` })));
      const { result, peakRssKb, slowestPingMs } = await watch(engine, async () => {
        const req = http.request({ socketPath: engine.socket, method: 'POST', path: `${API}/build`, headers: { 'Content-Type': 'application/x-tar' } });
        req.on('error', () => undefined);
        req.end(bomb);
        await new Promise((r) => setTimeout(r, 3_000));
        req.destroy();
        // The engine notices, kills its tar and removes the half-unpacked context.
        // It reads what the socket still holds first (the client's last ~200 KB, some 20,000
        // entries), then removes what was unpacked.
        const left = Date.now();
        while (Date.now() - left < 30_000) {
          const context = await fs.readdir(path.join(engine.dataRoot, 'build')).catch(() => []);
          const tars = (await run('pgrep', ['-P', String(engine.pid), '-x', 'tar'])).stdout.trim();
          if (context.length === 0 && tars === '') return Date.now() - left;
          await new Promise((r) => setTimeout(r, 100));
        }
        return -1;
      });
      t.diagnostic(`1,000,000-file context abandoned: cleaned up ${result} ms after the client left, RSS +${Math.round((peakRssKb - before) / 1024)} MB, slowest /_ping ${slowestPingMs} ms`);
      assert.ok(result >= 0, 'the context and its tar were cleaned up within 30 s');
      assert.ok(peakRssKb - before < 100 * 1024);
      assert.ok(slowestPingMs < 1_000);
      await assertUnharmed();
    });
  });

  describe('docker cp into and out of a container', () => {
    const put = (containerPath: string, tar: Buffer) => call(engine.socket, 'PUT', `${API}/containers/victim/archive?path=${encodeURIComponent(containerPath)}`, tar, { 'Content-Type': 'application/x-tar' });
    const inContainer = async (file: string) => (await engine.docker(['exec', 'victim', 'cat', file])).stdout;

    it('refuses an entry that climbs out', async () => {
      const answer = await put('/tmp', await makeTar([{ name: climbs, content: 'x' }]));
      assert.equal(answer.status, 400);
      assert.match(messageOf(answer), /path escapes/);
      await assertUnharmed();
    });

    it('keeps absolute names and symlinks to / inside the container', async () => {
      const tar = await makeTar([
        { name: `${hostTmp}/abs`, content: 'abs' },
        { name: 'root', type: 'symlink', linkname: '/' },
        { name: `root${hostTmp}/through-link`, content: 'link' },
        { name: 'canary', type: 'symlink', linkname: canary },
        { name: 'canary/x', content: 'canary' },
      ]);
      const answer = await put('/', tar);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(await inContainer(`${hostTmp}/abs`), 'abs');
      assert.equal(await inContainer(`${hostTmp}/through-link`), 'link');
      assert.equal(await inContainer(`${canary}/x`), 'canary');
      await assertUnharmed();
    });

    it('refuses device nodes, keeps setuid inside the container, and hardlinks only inside it', async () => {
      const dev = await put('/tmp', Buffer.concat([rawHeader({ name: 'mem', type: '3', devmajor: 1, devminor: 1 }), END_OF_ARCHIVE]));
      assert.equal(dev.status, 400);
      assert.match(messageOf(dev), /unsupported entry type in archive: character-device/);
      const suid = await put('/tmp', await makeTar([{ name: 'suid', content: '#!/bin/sh\n', mode: 0o4755 }]));
      assert.equal(suid.status, 200);
      assert.equal((await engine.dockerOk(['exec', 'victim', 'stat', '-c', '%a', '/tmp/suid'])).trim(), '4755');
      // A hardlink names a member of the archive, from the extraction point: here /etc/passwd of
      // the container, whose own file is linked, not the host's.
      const link = await put('/', await makeTar([{ name: 'tmp/passwd-link', type: 'link', linkname: '/etc/passwd' }]));
      assert.equal(link.status, 200, link.body);
      assert.equal(await inContainer('/tmp/passwd-link'), await inContainer('/etc/passwd'));
      const climbing = await put('/tmp', await makeTar([{ name: 'shadow-link', type: 'link', linkname: '../../../../../../etc/shadow' }]));
      assert.equal(climbing.status, 400);
      await assertUnharmed();
    });

    it('resolves a destination through a missing directory and back up inside the container', async () => {
      // `/missing/../../../..<canary>`: joining the parts after a missing one without resolving
      // them climbed out of the rootfs.
      const answer = await put(`/missing/../../../../../../../..${canary}`, await makeTar([{ name: 'x', content: 'x' }]));
      assert.ok(answer.status === 200 || answer.status === 404 || answer.status === 400, answer.body);
      // And reading: a host file named the same way is not found in the container (it was served).
      const secret = randomBytes(16).toString('hex');
      const hostFile = path.join(scratch, 'host-secret');
      await fs.writeFile(hostFile, secret);
      const read = await call(engine.socket, 'GET', `${API}/containers/victim/archive?path=${encodeURIComponent(`/missing/../../../../../../../..${hostFile}`)}`);
      assert.equal(read.status, 404, read.body.slice(0, 200));
      assert.match(messageOf(read), /Could not find the file/);
      assert.doesNotMatch(read.body, new RegExp(secret));
      await assertUnharmed();
    });

    it('follows a symlink the container planted through a missing directory without leaving the rootfs', async () => {
      await engine.dockerOk(['exec', 'victim', 'ln', '-sfn', `/missing/../../../../../../../..${canary}`, '/escape']);
      const answer = await put('/escape', await makeTar([{ name: 'planted', content: 'x' }]));
      assert.ok(answer.status === 200 || answer.status === 400, answer.body);
      const cli = await engine.docker(['cp', path.join(import.meta.dirname, 'hostile-input.test.ts'), 'victim:/escape/via-cli']);
      assert.equal(cli.code, 0, cli.stderr);
      assert.ok((await inContainer(`${canary}/via-cli`)).includes('Hostile input'), 'the copy landed in the container');
      await assertUnharmed();
    });

    it('hands tar a container file named like an option as a file', async () => {
      await engine.dockerOk(['exec', 'victim', 'touch', '/tmp/--version']);
      const answer = await call(engine.socket, 'GET', `${API}/containers/victim/archive?path=${encodeURIComponent('/tmp/--version')}`);
      assert.equal(answer.status, 200);
      assert.doesNotMatch(answer.body, /GNU tar/, 'tar read the name as its --version option');
      const listing = await run('tar', ['-tf', '-'], { input: Buffer.from(answer.body, 'latin1') });
      assert.match(listing.stdout, /--version/);
      await assertUnharmed();
    });

    it('docker cp with ../ in both directions stays in the container', async () => {
      const out = path.join(scratch, 'passwd');
      const res = await engine.docker(['cp', 'victim:../../../../../../etc/passwd', out]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(await fs.readFile(out, 'utf8'), await inContainer('/etc/passwd'), "the container's /etc/passwd, not the host's");
      const file = path.join(scratch, 'payload');
      await fs.writeFile(file, 'payload');
      const into = await engine.docker(['cp', file, `victim:../../../../../..${hostTmp}-cp`]);
      assert.equal(into.code, 0, into.stderr);
      assert.equal(await inContainer(`${hostTmp}-cp`), 'payload');
      const missing = await engine.docker(['cp', 'victim:/nope/../../../../etc/shadow', path.join(scratch, 'shadow')]);
      if (missing.code === 0) assert.notEqual(await fs.readFile(path.join(scratch, 'shadow'), 'utf8'), readFileSync('/etc/shadow', 'utf8'), 'the host /etc/shadow was copied out');
      await assertUnharmed();
    });

    it('refuses a tar that claims a terabyte, and garbage', async () => {
      const huge = await put('/tmp', Buffer.concat([rawHeader({ name: 'huge', size: 1n << 40n }), Buffer.alloc(1 << 20)]));
      assert.equal(huge.status, 400);
      assert.match(messageOf(huge), /failed to extract archive/);
      const junk = await put('/tmp', randomBytes(4096));
      assert.equal(junk.status, 400);
      await assertUnharmed();
    });
  });

  describe('afterwards', () => {
    it('lists everything it keeps, and logged no crash and no 500', async () => {
      for (const args of [['ps', '-a'], ['images'], ['volume', 'ls'], ['network', 'ls']]) await engine.dockerOk(args);
      assert.deepEqual(engine.log.split('\n').filter((l) => /uncaught exception|unhandled rejection/.test(l)), []);
      const errors = engine.log.split('\n').filter((l) => /handler error/.test(l));
      assert.deepEqual(errors, [], 'a request ended in a 500');
      await assertUnharmed();
    });
  });
});
