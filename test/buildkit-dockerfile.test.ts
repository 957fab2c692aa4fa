// The Dockerfile BuildKit users write (issue 18), built by trixie's buildx 0.13.1 against berthd:
// RUN --mount of caches, secrets, ssh agents, binds and tmpfs; RUN --network and --security;
// heredocs; stages that run side by side; named contexts; --no-cache-filter; and the errors a
// broken Dockerfile gets.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';

import tarStream from 'tar-stream';

import { TestEngine, registry, run, type RunResult } from './support/berthd.js';
import { buildxClient, writeContext, type BuildxClient, type DockerOptions } from './support/buildx-client.js';

const SYNTAX = '# syntax=docker/dockerfile:1\n';

describe('BuildKit Dockerfiles: RUN --mount, heredocs, parallel stages, named contexts', () => {
  let engine: TestEngine;
  const work = mkdtempSync(path.join(tmpdir(), 'berth-bk-dockerfile-'));
  let client: BuildxClient;
  const docker = (args: string[], options?: DockerOptions): Promise<RunResult> => client.docker(args, options);
  const dockerOk = (args: string[], options?: DockerOptions): Promise<RunResult> => client.dockerOk(args, options);
  const context = (name: string, files: Record<string, string>): Promise<string> => writeContext(path.join(work, name), files);
  const build = (dir: string, extra: string[] = [], options: { env?: NodeJS.ProcessEnv } = {}) => docker(['build', '--progress=plain', ...extra, dir], options);
  const buildOk = async (dir: string, extra: string[] = [], options: { env?: NodeJS.ProcessEnv } = {}) => {
    const res = await build(dir, extra, options);
    assert.equal(res.code, 0, `build failed:\n${res.stderr}`);
    return res.stderr;
  };

  before(async () => {
    engine = await TestEngine.start();
    client = buildxClient(engine, path.join(work, 'docker-config'));
    for (const image of ['busybox', 'debian']) {
      await dockerOk(['pull', '-q', `${registry()}/library/${image}`]);
      await dockerOk(['tag', `${registry()}/library/${image}`, image]);
    }
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('keeps a cache mount across builds, out of the layers, listed and pruned as build cache', async () => {
    const dockerfile = `${SYNTAX}FROM busybox
COPY package.json /app/
RUN --mount=type=cache,target=/root/.npm,uid=0,mode=0700 ls /root/.npm | sort > /app/seen.txt && cp /app/package.json /root/.npm/pkg-$(md5sum /app/package.json | cut -c1-8) && stat -c %a /root/.npm > /app/mode.txt
`;
    const dir = await context('cache-mount', { Dockerfile: dockerfile, 'package.json': '{"name":"app","version":"1.0.0"}\n' });
    await buildOk(dir, ['-t', 'cachemount:1']);
    assert.equal((await dockerOk(['run', '--rm', 'cachemount:1', 'cat', '/app/seen.txt'])).stdout, '');
    assert.equal((await dockerOk(['run', '--rm', 'cachemount:1', 'cat', '/app/mode.txt'])).stdout, '700\n');
    // The cache's files are not in the image, nor is its mount point.
    assert.equal((await dockerOk(['run', '--rm', 'cachemount:1', 'sh', '-c', 'ls -A /root/.npm 2>&1 || echo absent'])).stdout.includes('pkg-'), false);

    // A changed package.json re-runs the step, which finds the first run's files in the cache.
    await fs.writeFile(path.join(dir, 'package.json'), '{"name":"app","version":"2.0.0"}\n');
    const second = await buildOk(dir, ['-t', 'cachemount:2']);
    assert.doesNotMatch(second, /CACHED/);
    assert.match((await dockerOk(['run', '--rm', 'cachemount:2', 'cat', '/app/seen.txt'])).stdout, /^pkg-[0-9a-f]{8}\n$/);

    const du = await dockerOk(['buildx', 'du', '--verbose']);
    assert.match(du.stdout, /Description:\s+cached mount \/root\/\.npm from exec/);
    assert.match(du.stdout, /Type:\s+exec\.cachemount/);
    await dockerOk(['builder', 'prune', '-af']);
    assert.doesNotMatch((await dockerOk(['buildx', 'du', '--verbose'])).stdout, /cached mount/);
    await fs.writeFile(path.join(dir, 'package.json'), '{"name":"app","version":"3.0.0"}\n');
    await buildOk(dir, ['-t', 'cachemount:3']);
    assert.equal((await dockerOk(['run', '--rm', 'cachemount:3', 'cat', '/app/seen.txt'])).stdout, '', 'the pruned cache starts empty');
  });

  it('hands a secret to a step, as a file and as an env, and keeps it out of every layer, the history and docker save', async () => {
    const secret = 's3cr3t-value-4f1d';
    const secretFile = path.join(work, 'token.txt');
    await fs.writeFile(secretFile, secret);
    // The Dockerfile names only the secret's digest: its history must not hold the value either.
    const digest = createHash('md5').update(secret).digest('hex');
    const dockerfile = `${SYNTAX}FROM busybox
RUN --mount=type=secret,id=token test "$(md5sum < /run/secrets/token | cut -c1-32)" = ${digest} && echo file-ok && stat -c %a /run/secrets/token
RUN --mount=type=secret,id=token,env=TOKEN,required test "$(printf %s "$TOKEN" | md5sum | cut -c1-32)" = ${digest} && echo env-ok
RUN --mount=type=secret,id=absent ls /run/secrets 2>&1; echo optional-ok
`;
    const dir = await context('secret', { Dockerfile: dockerfile });
    const out = await buildOk(dir, ['--secret', `id=token,src=${secretFile}`, '-t', 'secretimg']);
    assert.match(out, /file-ok\n#\d+ [\d.]+ 400\n/);
    assert.match(out, /env-ok/);
    assert.match(out, /optional-ok/);
    assert.equal((await dockerOk(['run', '--rm', 'secretimg', 'sh', '-c', 'ls -A /run 2>&1; true'])).stdout.includes('secrets'), false);
    assert.doesNotMatch((await dockerOk(['history', '--no-trunc', 'secretimg'])).stdout, /s3cr3t/);
    const saved = path.join(work, 'secretimg.tar');
    await dockerOk(['save', '-o', saved, 'secretimg']);
    assert.equal(await tarHolds(await fs.readFile(saved), secret), false, 'the secret is in docker save');

    // required=true without the secret fails, naming the line and the secret.
    const failed = await build(await context('secret-required', { Dockerfile: `${SYNTAX}FROM busybox\nRUN --mount=type=secret,id=token,env=TOKEN,required true\n` }));
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /line 3: RUN --mount=type=secret,id=token,env=TOKEN,required: secret token is required/);
  });

  it('forwards the client\'s ssh agent into a step', async () => {
    const agentDir = path.join(work, 'agent');
    await fs.mkdir(agentDir);
    const sock = path.join(agentDir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !(await fs.stat(sock).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 100));
      const key = path.join(agentDir, 'id_ed25519');
      assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'berth-test-key', '-f', key])).code, 0);
      assert.equal((await run('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock } })).code, 0);
      // ssh-add -l's question in perl (the image has no ssh client): how many keys, and their comments.
      const listKeys = `perl -MIO::Socket::UNIX -e '$s=IO::Socket::UNIX->new(Peer=>$ENV{SSH_AUTH_SOCK}) or die "no agent: $!"; print $s pack("NC",1,11); read($s,$h,4); read($s,$b,unpack("N",$h)); ($t,$n)=unpack("CN",$b); print "agent-keys=$n\\n"; print "comment=$1\\n" if $b =~ /(berth-test-key)/'`;
      const dockerfile = `${SYNTAX}FROM debian\nRUN --mount=type=ssh ${listKeys}\n`;
      const dir = await context('ssh', { Dockerfile: dockerfile });
      const out = await buildOk(dir, ['--ssh', 'default', '--no-cache'], { env: { SSH_AUTH_SOCK: sock } });
      assert.match(out, /agent-keys=1\n/);
      assert.match(out, /comment=berth-test-key\n/);
      // Without --ssh a required agent is an error that says how to pass one.
      const missing = await build(await context('ssh-required', { Dockerfile: `${SYNTAX}FROM busybox\nRUN --mount=type=ssh,required=true true\n` }));
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /--ssh default/);
    } finally {
      agent.kill();
    }
  });

  it('binds the context, a stage and a tmpfs into a step; a bind\'s content is part of the cache key and its writes are dropped', async () => {
    const dockerfile = `${SYNTAX}FROM busybox AS tools
RUN mkdir /out && echo from-stage > /out/x
FROM busybox
RUN --mount=type=bind,source=src,target=/mnt/src --mount=type=bind,from=tools,source=/out,target=/mnt/tools --mount=type=tmpfs,target=/scratch,size=1m cat /mnt/src/a.txt /mnt/tools/x && grep -c ' /scratch tmpfs' /proc/mounts && echo scratch > /scratch/y && (touch /mnt/src/new 2>&1 | grep -c 'Read-only')
RUN --mount=type=bind,source=src,target=/mnt/rw,rw touch /mnt/rw/written && echo rw-ok
`;
    const dir = await context('bind', { Dockerfile: dockerfile, 'src/a.txt': 'one\n' });
    const out = await buildOk(dir, ['-t', 'bindimg']);
    assert.match(out, /one\n#\d+ [\d.]+ from-stage\n#\d+ [\d.]+ 1\n#\d+ [\d.]+ 1\n/);
    assert.match(out, /rw-ok/);
    await fs.access(path.join(dir, 'src/a.txt'));
    assert.equal(await fs.stat(path.join(dir, 'src/written')).then(() => true, () => false), false, 'rw bind writes reach the client');
    // Nothing of the mounts is in the image.
    assert.equal((await dockerOk(['run', '--rm', 'bindimg', 'sh', '-c', 'ls /mnt 2>&1; ls /scratch 2>&1; true'])).stdout, 'ls: /mnt: No such file or directory\nls: /scratch: No such file or directory\n');

    const again = await buildOk(dir);
    assert.match(again, /RUN --mount=type=bind,source=src,target=\/mnt\/src .*\n#\d+ CACHED/);
    await fs.writeFile(path.join(dir, 'src/a.txt'), 'two\n');
    const changed = await buildOk(dir);
    assert.match(changed, /\btwo\n/);
  });

  it('runs RUN --network=none, refuses --network=host and --security=insecure unless granted', async () => {
    const none = await context('net-none', { Dockerfile: `${SYNTAX}FROM busybox\nRUN --network=none ls /sys/class/net | tr '\\n' ' '; echo\n` });
    assert.match(await buildOk(none, ['--no-cache']), /#\d+ [\d.]+ lo \n/);

    const host = await context('net-host', { Dockerfile: `${SYNTAX}FROM busybox\nRUN --network=host ls /sys/class/net | wc -l\n` });
    const refused = await build(host);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /line 3: RUN --network=host: network\.host is not allowed/);
    const granted = await buildOk(host, ['--allow', 'network.host', '--no-cache']);
    const hostLinks = Number(/#\d+ [\d.]+ (\d+)\n/.exec(granted)?.[1]);
    assert.ok(hostLinks >= 2, `the host's interfaces are seen (${hostLinks})`);

    const insecure = await context('insecure', { Dockerfile: `${SYNTAX}FROM busybox\nRUN --security=insecure cat /proc/self/status | grep CapEff\n` });
    const refusedInsecure = await build(insecure);
    assert.notEqual(refusedInsecure.code, 0);
    assert.match(refusedInsecure.stderr, /RUN --security=insecure: security\.insecure is not allowed/);
    // Granted, the step runs privileged: every capability, where a sandboxed step has Docker's default set.
    const capabilities = (out: string) => /CapEff:\s+([0-9a-f]+)/.exec(out)?.[1];
    const sandboxed = capabilities(await buildOk(await context('sandboxed', { Dockerfile: `${SYNTAX}FROM busybox\nRUN cat /proc/self/status | grep CapEff\n` }), ['--no-cache']));
    const privileged = capabilities(await buildOk(insecure, ['--allow', 'security.insecure', '--no-cache']));
    assert.ok(sandboxed && privileged, 'both steps printed their capabilities');
    assert.ok(BigInt(`0x${privileged}`) > BigInt(`0x${sandboxed}`), `insecure ${privileged} has more capabilities than sandboxed ${sandboxed}`);
  });

  it('runs heredocs (a script, one with #!, several in a command) and prints the platform ARGs', async () => {
    const dockerfile = `${SYNTAX}FROM busybox
ARG TARGETPLATFORM BUILDPLATFORM TARGETARCH
RUN <<EOF
echo "target=$TARGETPLATFORM build=$BUILDPLATFORM"
echo second-line
EOF
RUN <<EOF
#!/bin/sh
echo "interpreted by $0"
EOF
RUN <<ONE cat > /one.txt && <<TWO cat > /two.txt
first file
ONE
second file
TWO
CMD cat /one.txt /two.txt
`;
    const dir = await context('heredoc', { Dockerfile: dockerfile });
    const out = await buildOk(dir, ['-t', 'heredocimg']);
    const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
    assert.match(out, new RegExp(`target=linux/${arch} build=linux/${arch}\\n#\\d+ [\\d.]+ second-line`));
    assert.match(out, /interpreted by \/dev\/pipes\/EOF/);
    assert.equal((await dockerOk(['run', '--rm', 'heredocimg'])).stdout, 'first file\nsecond file\n');
  });

  it('runs independent stages at the same time, shown side by side', async () => {
    const stage = (name: string) => `FROM busybox AS ${name}\nRUN cut -d' ' -f1 /proc/uptime > /start && sleep 3 && cut -d' ' -f1 /proc/uptime > /end\n`;
    const dockerfile = `${SYNTAX}${stage('left')}${stage('right')}FROM busybox\nCOPY --from=left /start /left-start\nCOPY --from=left /end /left-end\nCOPY --from=right /start /right-start\nCOPY --from=right /end /right-end\n`;
    const dir = await context('parallel', { Dockerfile: dockerfile });
    // rawjson: BuildKit's status messages as they come, each vertex with its start and end.
    const out = await buildOk(dir, ['-t', 'parallel', '--progress=rawjson']);
    const read = async (file: string) => Number((await dockerOk(['run', '--rm', 'parallel', 'cat', file])).stdout);
    const [leftStart, leftEnd, rightStart, rightEnd] = await Promise.all(['/left-start', '/left-end', '/right-start', '/right-end'].map(read));
    assert.ok(leftStart! < rightEnd! && rightStart! < leftEnd!, `the stages overlap: left ${leftStart}-${leftEnd}, right ${rightStart}-${rightEnd}`);
    // The progress shows both RUNs running at once.
    const spans = new Map<string, { started?: number; completed?: number }>();
    // One indented JSON object after another, each ending with a `}` line of its own.
    const messages = out.split(/^\}$/m).map((chunk) => chunk.slice(chunk.indexOf('{'))).filter((chunk) => chunk.startsWith('{')).map((chunk) => `${chunk}}`);
    for (const message of messages) {
      for (const v of (JSON.parse(message) as { vertexes?: { name: string; started?: string; completed?: string }[] }).vertexes ?? []) {
        const span = spans.get(v.name) ?? {};
        if (v.started) span.started = Date.parse(v.started);
        if (v.completed) span.completed = Date.parse(v.completed);
        spans.set(v.name, span);
      }
    }
    const left = [...spans].find(([name]) => name.startsWith('[left 2/2] RUN'))?.[1];
    const right = [...spans].find(([name]) => name.startsWith('[right 2/2] RUN'))?.[1];
    assert.ok(left?.started && left.completed && right?.started && right.completed, `both RUN vertexes started and completed: ${JSON.stringify([...spans.keys()])}`);
    assert.ok(left.started < right.completed && right.started < left.completed, 'the two RUN vertexes overlap in the progress');
  });

  it('takes --build-context (a directory and docker-image://) and --no-cache-filter', async () => {
    const extra = await context('named-extra', { 'note.txt': 'from the named context\n', 'skip.log': 'x', '.dockerignore': '*.log\n' });
    const dockerfile = `${SYNTAX}FROM base AS first
RUN echo first-stage-ran > /first
FROM busybox
COPY --from=extra . /extra/
COPY --from=first /first /first
RUN ls /extra && cat /extra/note.txt
`;
    const dir = await context('named', { Dockerfile: dockerfile });
    const args = ['--build-context', `extra=${extra}`, '--build-context', 'base=docker-image://busybox'];
    const out = await buildOk(dir, [...args, '-t', 'named']);
    assert.match(out, /\[context extra\] load from client/);
    assert.match(out, /note\.txt\n#\d+ [\d.]+ from the named context/);
    assert.doesNotMatch(out, /skip\.log/);

    const filtered = await buildOk(dir, [...args, '--no-cache-filter', 'first']);
    assert.match(filtered, /\[first 2\/2\] RUN echo first-stage-ran > \/first\n#\d+ DONE/);
    assert.match(filtered, /\[stage-1 2\/4\] COPY --from=extra \. \/extra\/\n#\d+ CACHED/);

    const unsupported = await build(dir, ['--build-context', 'extra=oci-layout:///nowhere']);
    assert.notEqual(unsupported.code, 0);
  });

  it('tells what is wrong with a bad mount or heredoc: the line, the flag and why', async () => {
    const cases: [string, RegExp][] = [
      ['RUN --mount=type=nfs,target=/x true', /line 3: RUN --mount=type=nfs,target=\/x: unsupported mount type "nfs"/],
      ['RUN --mount=type=cache true', /line 3: RUN --mount=type=cache: a cache mount needs a target/],
      ['RUN --mount=type=cache,target=/c,sharing=sometimes true', /sharing is shared, private or locked/],
      ['RUN --mount=type=bind,target=/x,colour=blue true', /unexpected key 'colour'/],
      ['RUN --network=bridge true', /RUN --network=bridge: unsupported network mode/],
      ['RUN <<EOF\necho never ends', /line 3: unterminated heredoc EOF/],
      ['RUN --mount=type=bind,source=../../../etc,target=/x cat /x/passwd', /line 3: RUN --mount failed: forbidden path outside the build context: \.\.\/\.\.\/\.\.\/etc/],
    ];
    for (const [instruction, expected] of cases) {
      const dir = await context(`bad-${cases.findIndex((c) => c[0] === instruction)}`, { Dockerfile: `${SYNTAX}FROM busybox\n${instruction}\n` });
      const res = await build(dir);
      assert.notEqual(res.code, 0, instruction);
      assert.match(res.stderr, expected, instruction);
    }
    // A platform the engine cannot run fails the build before any stage runs.
    const platform = await context('bad-platform', { Dockerfile: `${SYNTAX}FROM busybox AS first\nRUN echo must-not-run\nFROM --platform=linux/s390x busybox\nCOPY --from=first /etc/passwd /p\n` });
    const wrongPlatform = await build(platform);
    assert.notEqual(wrongPlatform.code, 0);
    assert.match(wrongPlatform.stderr, /line 4: FROM --platform=linux\/s390x: berthd builds for linux\/\w+ only/);
    assert.doesNotMatch(wrongPlatform.stderr, /must-not-run/);
    // The classic builder says these need BuildKit.
    const classic = await context('classic-mount', { Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/c true\n' });
    const res = await docker(['build', classic], { env: { DOCKER_BUILDKIT: '0' } });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr + res.stdout, /the --mount option requires BuildKit/);
  });
});

/** Whether any file in a tar (or in a tar inside it, gzipped or not) holds `text`. */
async function tarHolds(archive: Buffer, text: string): Promise<boolean> {
  if (archive.includes(text)) return true;
  const extract = tarStream.extract();
  let found = false;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (_header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        let body = Buffer.concat(chunks);
        if (body[0] === 0x1f && body[1] === 0x8b) body = gunzipSync(body);
        void (async () => {
          if (body.includes(text)) found = true;
          else if (body.length >= 512 && body.subarray(257, 262).toString() === 'ustar' && (await tarHolds(body, text))) found = true;
          next();
        })();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(archive);
  await done;
  return found;
}
