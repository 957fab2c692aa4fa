// BuildKit's API in berthd (issue 17), with the clients people run: trixie's docker CLI 26.1, whose
// `docker build` is buildx 0.13.1 talking to /grpc and /session, and compose v2 2.26.1. Builds,
// the cache and its CACHED steps, .dockerignore, outputs to the client, --iidfile, failures,
// --push with credentials, the cache as `builder prune` and `system prune` see it, and a compose
// stack built and brought up with --wait.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, authRegistry, registry, run, type RunResult } from './support/berthd.js';
import { buildxClient, writeContext, type BuildxClient, type DockerOptions } from './support/buildx-client.js';
import { trixieClients } from './support/trixie-clients.js';

const MULTI_STAGE = `FROM busybox AS build
ARG FLAVOUR=plain
WORKDIR /src
COPY . .
RUN echo "built $FLAVOUR" > /out.txt && ls /src | sort > /listing.txt && echo to-stdout
FROM busybox
LABEL stage=final
COPY --from=build /out.txt /listing.txt /
CMD ["cat", "/out.txt"]
`;

describe('BuildKit clients: buildx 0.13 and compose v2', () => {
  let engine: TestEngine;
  const clients = trixieClients();
  const work = mkdtempSync(path.join(tmpdir(), 'berth-buildkit-'));
  const config = path.join(work, 'docker-config');
  let client: BuildxClient;
  /** trixie's docker, with buildx and compose v2 as plugins. */
  const docker = (args: string[], options?: DockerOptions): Promise<RunResult> => client.docker(args, options);
  const dockerOk = (args: string[], options?: DockerOptions): Promise<RunResult> => client.dockerOk(args, options);
  const context = (name: string, files: Record<string, string>): Promise<string> => writeContext(path.join(work, name), files);

  before(async () => {
    engine = await TestEngine.start();
    client = buildxClient(engine, config);
    await dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('goes to BuildKit: /_ping says Builder-Version 2 and buildx picks the docker driver', async () => {
    const ping = await engine.request('GET', '/_ping');
    assert.equal(ping.headers['builder-version'], '2');
    const ls = await dockerOk(['buildx', 'ls']);
    assert.match(ls.stdout, /default\*?\s+docker\s/);
    assert.match(ls.stdout, /running\s+v0\.13\.\d+\s+linux\/amd64/);
  });

  it('builds a multi-stage Dockerfile with BuildKit output, and the rebuild is CACHED', async () => {
    const dir = await context('multi', { Dockerfile: MULTI_STAGE, 'a.txt': 'a\n', 'secret.env': 'TOKEN=1\n', 'logs/x.log': 'x\n', '.dockerignore': '*.env\nlogs\n' });
    const first = await dockerOk(['build', '--progress=plain', '--build-arg', 'FLAVOUR=spicy', '-t', 'multi:1', dir]);
    const out = first.stderr;
    assert.match(out, /#\d+ building with "default" instance using docker driver/);
    assert.match(out, /#\d+ \[internal\] load build definition from Dockerfile\n#\d+ transferring dockerfile: \d+B done/);
    // BuildKit's numbering: FROM of an image and the steps that change files (not ARG, LABEL, CMD).
    assert.match(out, /#\d+ \[build 4\/4\] RUN echo .* && echo to-stdout\n#\d+ [\d.]+ to-stdout\n#\d+ DONE/);
    assert.match(out, /#\d+ \[stage-1 2\/2\] COPY --from=build \/out.txt \/listing.txt \/\n#\d+ DONE/);
    assert.match(out, /#\d+ naming to docker.io\/library\/multi:1 done/);
    assert.doesNotMatch(out, /CACHED/);
    const run1 = await dockerOk(['run', '--rm', 'multi:1']);
    assert.equal(run1.stdout, 'built spicy\n');
    // .dockerignore is applied on the client's side: the ignored files never reach the engine.
    const listing = await dockerOk(['run', '--rm', 'multi:1', 'cat', '/listing.txt']);
    assert.equal(listing.stdout, 'Dockerfile\na.txt\n');
    const label = await dockerOk(['image', 'inspect', '-f', '{{index .Config.Labels "stage"}}', 'multi:1']);
    assert.equal(label.stdout, 'final\n');

    const second = await dockerOk(['build', '--progress=plain', '--build-arg', 'FLAVOUR=spicy', '-t', 'multi:1', dir]);
    assert.match(second.stderr, /#\d+ \[build 4\/4\] RUN echo .*\n#\d+ CACHED/);
    assert.match(second.stderr, /#\d+ \[stage-1 2\/2\] COPY --from=build .*\n#\d+ CACHED/);
    // A changed file re-runs the COPY and what follows, not the cached steps before it; the final
    // stage copies the same bytes as before, so its step is a cache hit again.
    await fs.writeFile(path.join(dir, 'a.txt'), 'changed\n');
    const third = await dockerOk(['build', '--progress=plain', '--build-arg', 'FLAVOUR=spicy', '-t', 'multi:1', dir]);
    assert.match(third.stderr, /#\d+ \[build 2\/4\] WORKDIR \/src\n#\d+ CACHED/);
    assert.match(third.stderr, /#\d+ \[build 3\/4\] COPY \. \.\n#\d+ DONE/);
    assert.match(third.stderr, /#\d+ \[build 4\/4\] RUN echo .*\n#\d+ [\d.]+ to-stdout\n#\d+ DONE/);
    assert.match(third.stderr, /#\d+ \[stage-1 2\/2\] COPY --from=build .*\n#\d+ CACHED/);
  });

  it('builds a --target, writes --iidfile and --metadata-file, and -q prints the ID', async () => {
    const dir = await context('target', { Dockerfile: MULTI_STAGE, 'a.txt': 'a\n' });
    const iid = path.join(work, 'iid');
    const metadata = path.join(work, 'metadata.json');
    const res = await dockerOk(['build', '-q', '--target', 'build', '--iidfile', iid, '--metadata-file', metadata, '-t', 'target:1', dir]);
    const id = (await dockerOk(['image', 'inspect', '-f', '{{.Id}}', 'target:1'])).stdout.trim();
    assert.equal(res.stdout.trim(), id);
    assert.equal(await fs.readFile(iid, 'utf8'), id);
    const md = JSON.parse(await fs.readFile(metadata, 'utf8')) as Record<string, string>;
    assert.equal(md['containerimage.config.digest'], id);
    assert.equal(md['image.name'], 'docker.io/library/target:1');
    assert.match(md['buildx.build.ref'] ?? '', /^default\/default\/\w+$/);
    // The build stage's own file is there, the final stage's label is not.
    assert.equal((await dockerOk(['run', '--rm', 'target:1', 'cat', '/out.txt'])).stdout, 'built plain\n');
    assert.equal((await dockerOk(['image', 'inspect', '-f', '{{index .Config.Labels "stage"}}', 'target:1'])).stdout, '\n');
  });

  it('builds a context from stdin (a tar through the session\'s upload) and a Dockerfile from stdin', async () => {
    const dir = await context('stdin', { Dockerfile: 'FROM busybox\nCOPY . /ctx\nRUN ls -A /ctx | tr "\\n" " "\n', 'a.txt': 'a\n', 'b.log': 'b\n', '.dockerignore': '*.log\n' });
    const tarball = path.join(work, 'stdin-context.tar');
    await run('tar', ['-C', dir, '-cf', tarball, '.']);
    const fromTar = await dockerOk(['build', '--progress=plain', '-t', 'stdin:tar', '-'], { input: await fs.readFile(tarball) });
    assert.match(fromTar.stderr, /#\d+ \[internal\] load remote build context\n#\d+ DONE/);
    assert.match(fromTar.stderr, /#\d+ [\d.]+ \.dockerignore Dockerfile a\.txt \n/);
    const fromStdin = await dockerOk(['build', '--progress=plain', '-t', 'stdin:df', '-'], { input: 'FROM busybox\nRUN echo from-stdin\n' });
    assert.match(fromStdin.stderr, /#\d+ \[2\/2\] RUN echo from-stdin\n#\d+ [\d.]+ from-stdin\n/);
    const withFile = await dockerOk(['build', '-q', '-f-', dir], { input: 'FROM busybox\nCOPY a.txt /only.txt\n' });
    assert.equal((await dockerOk(['run', '--rm', withFile.stdout.trim(), 'cat', '/only.txt'])).stdout, 'a\n');
  });

  it('receives hard links in the context, and cancels a build whose client goes away (Ctrl-C)', async () => {
    // fsutil sends the second name as a link to the first, before the first's data.
    const dir = await context('links', { Dockerfile: 'FROM busybox\nCOPY . /ctx\n', original: 'shared\n' });
    await fs.link(path.join(dir, 'original'), path.join(dir, 'linked'));
    await dockerOk(['build', '-t', 'links:1', dir]);
    assert.equal((await dockerOk(['run', '--rm', 'links:1', 'cat', '/ctx/original', '/ctx/linked'])).stdout, 'shared\nshared\n');

    const slow = await context('cancelled', { Dockerfile: 'FROM busybox\nRUN echo started && sleep 60\n' });
    const child = spawn(clients.docker, ['build', '--progress=plain', '-t', 'cancelled:1', slow], { env: client.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
      if (/\d started\n/.test(output)) resolve();
    }));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
    // The step's container is killed and removed, and nothing is tagged.
    for (let i = 0; i < 50 && (await dockerOk(['ps', '-aq'])).stdout.trim(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await dockerOk(['ps', '-aq'])).stdout.trim(), '');
    assert.equal((await docker(['image', 'inspect', 'cancelled:1'])).code, 1);
  });

  it('takes # syntax=docker/dockerfile:1.x and BuildKit\'s platform ARGs, and refuses another frontend or platform', async () => {
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const dir = await context('syntax', {
      Dockerfile: '# syntax=docker/dockerfile:1.6\nARG BASE=busybox\nFROM --platform=$BUILDPLATFORM ${BASE} AS build\nARG TARGETPLATFORM\nARG TARGETARCH\nRUN echo "target=$TARGETPLATFORM arch=$TARGETARCH"\n',
    });
    const built = await dockerOk(['build', '--progress=plain', dir]);
    assert.match(built.stderr, new RegExp(`#\\d+ [\\d.]+ target=linux/${arch} arch=${arch}\\n`));
    const frontend = await context('frontend', { Dockerfile: '# syntax=example.com/frontend:latest\nFROM busybox\n' });
    const refused = await docker(['build', frontend]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unsupported frontend "example\.com\/frontend:latest" in # syntax=: berthd builds Dockerfiles itself/);
    const platform = await context('platform', { Dockerfile: 'FROM --platform=linux/s390x busybox\nRUN true\n' });
    const wrong = await docker(['build', platform]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`FROM --platform=linux/s390x: berthd builds for linux/${arch} only`));
  });

  it('sends outputs to the client: -o type=local, type=tar and type=docker', async () => {
    const dir = await context('outputs', { Dockerfile: 'FROM scratch\nCOPY files/ /\n', 'files/top.txt': 'top\n', 'files/sub/deep.txt': 'deep\n' });
    await fs.chmod(path.join(dir, 'files/top.txt'), 0o640);
    const local = path.join(work, 'out-local');
    await dockerOk(['build', '-o', `type=local,dest=${local}`, dir]);
    assert.equal(await fs.readFile(path.join(local, 'top.txt'), 'utf8'), 'top\n');
    assert.equal(await fs.readFile(path.join(local, 'sub/deep.txt'), 'utf8'), 'deep\n');
    assert.equal((await fs.stat(path.join(local, 'top.txt'))).mode & 0o777, 0o640);

    const tarball = path.join(work, 'out.tar');
    await dockerOk(['build', '-o', `type=tar,dest=${tarball}`, dir]);
    const listing = await run('tar', ['-tf', tarball]);
    assert.deepEqual(listing.stdout.trim().split('\n').sort(), ['sub/', 'sub/deep.txt', 'top.txt']);

    const archive = path.join(work, 'image.tar');
    await dockerOk(['build', '-t', 'exported:1', '-o', `type=docker,dest=${archive}`, dir]);
    const load = await dockerOk(['load', '-i', archive]);
    assert.match(load.stdout, /Loaded image: exported:1/);
    const files = await dockerOk(['create', 'exported:1', 'none']);
    const copied = await run(clients.docker, ['cp', `${files.stdout.trim()}:/sub/deep.txt`, '-'], { env: client.env });
    assert.match(copied.stdout, /deep/);
  });

  it('fails a RUN with its output, the exit code, and exit status 1', async () => {
    const dir = await context('failing', { Dockerfile: 'FROM busybox\nRUN echo before-the-failure && echo on-stderr >&2 && exit 3\nRUN echo never\n' });
    const res = await docker(['build', '--progress=plain', '-t', 'failing:1', dir]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /#\d+ \[2\/3\] RUN echo before-the-failure .*\n#\d+ [\d.]+ before-the-failure\n#\d+ [\d.]+ on-stderr\n#\d+ ERROR: process "\/bin\/sh -c echo before-the-failure && echo on-stderr >&2 && exit 3" did not complete successfully: exit code: 3/);
    assert.match(res.stderr, /ERROR: failed to solve: process "\/bin\/sh -c echo before-the-failure .*" did not complete successfully: exit code: 3\n/);
    assert.doesNotMatch(res.stderr, /never/);
    assert.equal((await docker(['image', 'inspect', 'failing:1'])).code, 1);
    // And a broken Dockerfile is a clear error too.
    const broken = await context('broken', { Dockerfile: 'FROM busybox\nNOPE this\n' });
    const parse = await docker(['build', broken]);
    assert.equal(parse.code, 1);
    assert.match(parse.stderr, /ERROR: failed to solve: dockerfile parse error.*unknown instruction: NOPE/i);
  });

  it('pushes with --push to a registry that wants the credentials of docker login', async () => {
    const auth = authRegistry();
    const dir = await context('pushed', { Dockerfile: 'FROM busybox\nRUN echo pushed > /pushed.txt\n' });
    const name = `${auth.host}/buildkit/pushed:1`;
    const refused = await docker(['buildx', 'build', '--push', '-t', name, dir]);
    assert.notEqual(refused.code, 0);
    await dockerOk(['login', '-u', auth.user, '--password-stdin', auth.host], { input: `${auth.password}\n` });
    await dockerOk(['buildx', 'build', '--push', '-t', name, dir]);
    await dockerOk(['rmi', name]);
    await dockerOk(['pull', '-q', name]);
    assert.equal((await dockerOk(['run', '--rm', name, 'cat', '/pushed.txt'])).stdout, 'pushed\n');
  });

  it('shows and prunes the build cache: buildx du, builder prune -a, system df and system prune -af', async () => {
    const dir = await context('cache', { Dockerfile: 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n' });
    await dockerOk(['build', '-t', 'cache:1', dir]);
    await dockerOk(['rmi', 'cache:1']);
    const du = await dockerOk(['buildx', 'du']);
    assert.match(du.stdout, /^ID\s+RECLAIMABLE\s+SIZE\s+LAST ACCESSED\n/);
    assert.match(du.stdout, /\nReclaimable:\s+\d/);
    const df = await dockerOk(['system', 'df']);
    assert.match(df.stdout, /Build Cache\s+[1-9]\d*\s/);
    const pruned = await dockerOk(['builder', 'prune', '-af']);
    assert.match(pruned.stdout, /Total:\s+\d/);
    assert.match((await dockerOk(['system', 'df'])).stdout, /Build Cache\s+0\s/);
    assert.doesNotMatch((await dockerOk(['buildx', 'du'])).stdout, /^[0-9a-f]{64}/m);
    const system = await dockerOk(['system', 'prune', '-af']);
    assert.match(system.stdout, /Total reclaimed space:/);
  });

  it('builds and starts a compose v2 stack: up -d --build --wait with args, a target and a healthcheck', async () => {
    await dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    const dir = await context('stack', {
      'web/Dockerfile': 'FROM busybox AS base\nARG GREETING=hello\nRUN echo "$GREETING" > /greeting\nFROM base AS final\nHEALTHCHECK --interval=1s --timeout=2s --retries=30 CMD test -f /greeting\nCMD ["sh", "-c", "cat /greeting; exec sleep 3600"]\nFROM base AS unused\nRUN exit 1\n',
      'api/Dockerfile': 'FROM busybox\nRUN echo api > /name\nCMD ["sleep", "3600"]\n',
      'compose.yaml': 'services:\n  web:\n    build:\n      context: web\n      target: final\n      args:\n        GREETING: bonjour\n  api:\n    build: api\n',
    });
    try {
      const up = await dockerOk(['compose', '-p', 'bkstack', 'up', '-d', '--build', '--wait'], { cwd: dir });
      assert.match(up.stderr, /Container bkstack-web-1\s+Healthy/);
      const ps = await dockerOk(['compose', '-p', 'bkstack', 'ps', '--format', '{{.Service}} {{.Status}}'], { cwd: dir });
      assert.match(ps.stdout, /web Up .*\(healthy\)/);
      assert.match(ps.stdout, /api Up/);
      const logs = await dockerOk(['compose', '-p', 'bkstack', 'logs', '--no-log-prefix', 'web'], { cwd: dir });
      // compose v2 starts each line with an erase-line escape, terminal or not.
      assert.equal(logs.stdout.replace(/\x1b\[2K/g, '').trim(), 'bonjour');
      const image = await dockerOk(['image', 'inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}}', 'bkstack-web']);
      assert.equal(image.stdout, 'web\n');
    } finally {
      await docker(['compose', '-p', 'bkstack', 'down', '-t', '1'], { cwd: dir });
    }
  });

  it('keeps the classic builder for DOCKER_BUILDKIT=0', async () => {
    const dir = await context('classic', { Dockerfile: 'FROM busybox\nRUN echo classic > /c\n' });
    const res = await run(clients.docker, ['build', '-t', 'classic:1', dir], { env: { ...client.env, DOCKER_BUILDKIT: '0' } });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Step 2\/2 : RUN echo classic > \/c/);
    assert.match(res.stdout, /Successfully tagged classic:1/);
  });
});
