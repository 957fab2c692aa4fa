// docker build (issue 5) with the real CLI: the classic builder's output, the layer cache,
// multi-stage builds, build args, ignore files, COPY/ADD options, and bad Dockerfiles.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry, run } from './support/berthd.js';
import { makeTar } from './support/tar.js';

async function context(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-build-'));
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
  return dir;
}

describe('docker build', () => {
  let engine: TestEngine;
  const dirs: string[] = [];
  const ctx = async (files: Record<string, string>) => {
    const dir = await context(files);
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
  });
  after(async () => {
    await engine.dispose();
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
  });

  it('builds with dockerd\'s output, reuses the cache, and records history', async () => {
    const dir = await ctx({ Dockerfile: 'FROM busybox\nRUN echo hi > /x\nCMD cat /x\n' });
    const first = await engine.docker(['build', '-t', 'three:1', '-t', 'three:2', dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Step 1\/3 : FROM busybox\n ---> [0-9a-f]{12}\nStep 2\/3 : RUN echo hi > \/x\n ---> Running in [0-9a-f]{12}\n/);
    assert.match(first.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged three:1\nSuccessfully tagged three:2\n$/);
    assert.equal(await engine.dockerOk(['run', '--rm', 'three:2']), 'hi\n');
    const second = await engine.dockerOk(['build', '-t', 'three:1', dir]);
    assert.equal((second.match(/ ---> Using cache/g) ?? []).length, 2);
    assert.equal(/Successfully built ([0-9a-f]{12})/.exec(second)?.[1], /Successfully built ([0-9a-f]{12})/.exec(first.stdout)?.[1]);
    const noCache = await engine.dockerOk(['build', '--no-cache', '-q', dir]);
    assert.match(noCache, /^sha256:[0-9a-f]{64}\n$/);
    const history = await engine.dockerOk(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'three:1']);
    assert.match(history, /^\/bin\/sh -c #\(nop\)  CMD \["\/bin\/sh" "-c" "cat \/x"\]\|0B\n\/bin\/sh -c echo hi > \/x\|3B\n/);
  });

  it('re-runs from the changed COPY only: dependencies before sources keep their layer', async () => {
    const dir = await ctx({
      Dockerfile: 'FROM busybox\nWORKDIR /app\nCOPY deps.txt .\nRUN cp deps.txt installed.txt\nCOPY src/ ./src/\nCMD cat installed.txt src/main.txt\n',
      'deps.txt': 'dep-a\n',
      'src/main.txt': 'v1\n',
    });
    await engine.dockerOk(['build', '-t', 'app', dir]);
    assert.equal(await engine.dockerOk(['run', '--rm', 'app']), 'dep-a\nv1\n');
    await fs.writeFile(path.join(dir, 'src/main.txt'), 'v2\n');
    const rebuilt = await engine.dockerOk(['build', '-t', 'app', dir]);
    // WORKDIR, COPY deps, RUN come from the cache; the source COPY and what follows run again.
    assert.match(rebuilt, /Step 4\/6 : RUN cp deps.txt installed.txt\n ---> Using cache/);
    assert.match(rebuilt, /Step 5\/6 : COPY src\/ .\/src\/\n ---> [0-9a-f]{12}\n/);
    assert.equal(await engine.dockerOk(['run', '--rm', 'app']), 'dep-a\nv2\n');
    // A changed mode is a change too.
    await fs.chmod(path.join(dir, 'deps.txt'), 0o600);
    assert.doesNotMatch(await engine.dockerOk(['build', dir]), /Step 3\/6 : COPY deps.txt .\n ---> Using cache/);
  });

  it('builds multi-stage images: COPY --from a stage, a non-root USER and a HEALTHCHECK, unused stages skipped', async () => {
    const dir = await ctx({
      Dockerfile: [
        'ARG GREETING=hello',
        'FROM busybox AS builder',
        'ARG GREETING',
        'RUN mkdir /out && echo "$GREETING from the builder" > /out/artifact.txt',
        'FROM busybox AS unused',
        'RUN echo this stage must not run && exit 1',
        'FROM busybox',
        'COPY --from=builder --chown=1000:1000 /out/artifact.txt /srv/artifact.txt',
        'USER 1000',
        'HEALTHCHECK --interval=5s --retries=2 CMD test -f /srv/artifact.txt',
        'EXPOSE 8080/tcp',
        'CMD ["cat", "/srv/artifact.txt"]',
        '',
      ].join('\n'),
    });
    const out = await engine.dockerOk(['build', '--build-arg', 'GREETING=hi', '-t', 'multi', dir]);
    assert.doesNotMatch(out, /must not run/);
    assert.equal(await engine.dockerOk(['run', '--rm', 'multi']), 'hi from the builder\n');
    const inspect = JSON.parse(await engine.dockerOk(['image', 'inspect', 'multi'])) as { Config: { User: string; Healthcheck: { Test: string[]; Interval: number; Retries: number }; ExposedPorts: Record<string, unknown> }; RootFS: { Layers: string[] } }[];
    assert.equal(inspect[0]?.Config.User, '1000');
    assert.deepEqual(inspect[0]?.Config.Healthcheck, { Test: ['CMD-SHELL', 'test -f /srv/artifact.txt'], Interval: 5e9, Retries: 2 });
    assert.deepEqual(Object.keys(inspect[0]?.Config.ExposedPorts ?? {}), ['8080/tcp']);
    // busybox's layer and the artifact only: nothing of the builder stage.
    assert.equal(inspect[0]?.RootFS.Layers.length, 2);
    assert.equal(await engine.dockerOk(['run', '--rm', 'multi', 'stat', '-c', '%u:%g', '/srv/artifact.txt']), '1000:1000\n');
    const target = await engine.dockerOk(['build', '--target', 'builder', '-q', dir]);
    assert.match(target, /^sha256:/);
  });

  it('honours .dockerignore with exceptions and **, -f outside the context, -f -, --label and --iidfile', async () => {
    const dir = await ctx({
      Dockerfile: 'FROM busybox\nCOPY . /ctx\nRUN find /ctx -type f | sort\n',
      '.dockerignore': '**/*.log\nsecret\n!keep.log\n',
      'a.txt': 'a',
      'keep.log': 'kept',
      'deep/x.log': 'ignored',
      'deep/y.txt': 'y',
      secret: 'no',
    });
    const out = await engine.dockerOk(['build', '--no-cache', '--label', 'team=builders', '--iidfile', path.join(dir, '..', `${path.basename(dir)}.iid`), '-t', 'ignored', dir]);
    const files = out.split('\n').filter((l) => l.startsWith('/ctx/'));
    assert.deepEqual(files, ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/a.txt', '/ctx/deep/y.txt', '/ctx/keep.log']);
    const iid = (await fs.readFile(path.join(dir, '..', `${path.basename(dir)}.iid`), 'utf8')).trim();
    await fs.rm(path.join(dir, '..', `${path.basename(dir)}.iid`), { force: true });
    assert.equal(iid, (await engine.dockerOk(['image', 'inspect', '-f', '{{.Id}}', 'ignored'])).trim());
    assert.equal((await engine.dockerOk(['image', 'inspect', '-f', '{{index .Config.Labels "team"}}', 'ignored'])).trim(), 'builders');

    const outside = await ctx({ 'elsewhere.Dockerfile': 'FROM busybox\nCOPY a.txt /a\nCMD cat /a\n' });
    await engine.dockerOk(['build', '-f', path.join(outside, 'elsewhere.Dockerfile'), '-t', 'outside', dir]);
    assert.equal(await engine.dockerOk(['run', '--rm', 'outside']), 'a');
    await engine.dockerOk(['build', '-f', '-', '-t', 'stdin', dir], { input: 'FROM busybox\nCOPY a.txt /b\nCMD cat /b\n' });
    assert.equal(await engine.dockerOk(['run', '--rm', 'stdin']), 'a');
  });

  it('passes --add-host and --network to RUN, copies from another image, and reads Dockerfile.dockerignore', async () => {
    const dir = await ctx({
      Dockerfile: 'FROM busybox\nRUN grep -E "(a|b)\\.test" /etc/hosts && ip -o link | grep -c eth0 || true\nCOPY --from=three:1 /x /from-image\nCOPY . /ctx\nRUN cat /from-image && ls /ctx\n',
      'Dockerfile.dockerignore': 'private*\n',
      'public.txt': 'p',
      'private.txt': 'secret',
    });
    const out = await engine.dockerOk(['build', '--no-cache', '--add-host', 'a.test:10.1.2.3', '--add-host', 'b.test:10.1.2.4', '--network', 'none', dir]);
    assert.match(out, /10\.1\.2\.3\ta\.test\n10\.1\.2\.4\tb\.test\n0\n/);
    assert.match(out, /\nhi\n/);
    assert.doesNotMatch(out, /private\.txt/);
    assert.match(out, /public\.txt/);
  });

  it('runs ENV/ARG substitution, heredocs, SHELL, ADD of a local tar and COPY --chmod', async () => {
    const dir = await ctx({
      Dockerfile: [
        'FROM busybox',
        'ARG VERSION=1.2',
        'ENV APP_HOME=/opt/app NAME="two words"',
        'ENV FULL=${APP_HOME}/v${VERSION} EMPTY=${UNSET:-fallback} ALT=${VERSION:+set}',
        'WORKDIR $APP_HOME',
        'ADD bundle.tar.gz unpacked/',
        'COPY --chmod=0750 run.sh ./',
        'RUN <<EOF',
        'echo "heredoc line 1" > heredoc.txt',
        'echo "$FULL $EMPTY $ALT $NAME" >> heredoc.txt',
        'EOF',
        'SHELL ["/bin/sh", "-e", "-c"]',
        'RUN stat -c %a run.sh >> heredoc.txt && cat unpacked/inner/file.txt >> heredoc.txt',
        'CMD ["cat", "heredoc.txt"]',
        '',
      ].join('\n'),
      'run.sh': '#!/bin/sh\necho run\n',
    });
    await fs.mkdir(path.join(dir, 'inner'));
    await fs.writeFile(path.join(dir, 'inner/file.txt'), 'from the tar\n');
    execFileSync('tar', ['-czf', path.join(dir, 'bundle.tar.gz'), '-C', dir, 'inner']);
    await fs.rm(path.join(dir, 'inner'), { recursive: true });
    await engine.dockerOk(['build', '-t', 'subst', dir]);
    assert.equal(await engine.dockerOk(['run', '--rm', 'subst']), 'heredoc line 1\n/opt/app/v1.2 fallback set two words\n750\nfrom the tar\n');
  });

  it('fails a RUN with its output, the step and the exit code, and tags nothing', async () => {
    const dir = await ctx({ Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 3\nCMD true\n' });
    const res = await engine.docker(['build', '-t', 'broken', dir]);
    assert.equal(res.code, 3);
    assert.match(res.stdout, /Step 2\/3 : RUN echo about to fail && exit 3\n ---> Running in [0-9a-f]{12}\nabout to fail\n/);
    assert.match(res.stderr, /The command '\/bin\/sh -c echo about to fail && exit 3' returned a non-zero code: 3/);
    assert.notEqual((await engine.docker(['image', 'inspect', 'broken'])).code, 0);
    assert.equal((await engine.dockerOk(['ps', '-aq'])).trim(), '', 'no intermediate container left');
  });

  it('refuses bad Dockerfiles with the line and a clear message, leaving no image', async () => {
    const cases: [string, RegExp][] = [
      ['FROM busybox\nRUNN echo\n', /Dockerfile parse error line 2: unknown instruction: RUNN/],
      ['RUN echo no base\n', /line 1: no build stage in current context/],
      ['FROM busybox\nCOPY --owner=1 a /a\n', /Dockerfile parse error line 2: Unknown flag: owner/],
      ['FROM busybox\nCOPY ../outside /x\n', /forbidden path outside the build context/],
      ['FROM busybox\nCOPY missing.txt /x\n', /COPY failed: file not found in build context or excluded by \.dockerignore: stat missing\.txt: file does not exist/],
      ['FROM busybox\nENV V=$VERSION\nARG VERSION=1\n', /line 2: ENV uses \$VERSION, but ARG VERSION is declared only later, on line 3/],
      ['FROM $NOPE\n', /base name \(\$NOPE\) should not be blank/],
    ];
    const before = (await engine.dockerOk(['images', '-aq'])).split('\n').filter(Boolean).length;
    for (const [dockerfile, message] of cases) {
      const dir = await ctx({ Dockerfile: dockerfile });
      const res = await engine.docker(['build', '-t', 'bad', dir]);
      assert.notEqual(res.code, 0, dockerfile);
      assert.match(res.stderr, message, dockerfile);
    }
    assert.notEqual((await engine.docker(['image', 'inspect', 'bad'])).code, 0);
    assert.equal((await engine.dockerOk(['images', '-aq'])).split('\n').filter(Boolean).length, before);
  });

  it('removes a built image together with its untagged build parents', async () => {
    const dir = await ctx({ Dockerfile: 'FROM busybox\nENV ONLY=here\nRUN touch /made\n' });
    await engine.dockerOk(['build', '-t', 'short-lived', dir]);
    const before = (await engine.dockerOk(['images', '-aq'])).split('\n').filter(Boolean).length;
    const out = await engine.dockerOk(['rmi', 'short-lived']);
    assert.equal((out.match(/^Deleted: /gm) ?? []).length >= 2, true, out);
    assert.equal((await engine.dockerOk(['images', '-aq'])).split('\n').filter(Boolean).length, before - 2);
  });

  it('uses --cache-from images pulled from a registry as a cache, step by step', async () => {
    const dir = await ctx({ Dockerfile: 'FROM busybox\nRUN echo ran-once > /f\nCOPY data /data\nENV MODE=cached\n', data: 'payload\n' });
    const ref = `${registry()}/berth/cachefrom-${process.pid}:1`;
    await engine.dockerOk(['build', '-q', '-t', ref, dir], { env: { DOCKER_BUILDKIT: '0' } });
    const layers = (await engine.dockerOk(['inspect', '-f', '{{json .RootFS.Layers}}', ref])).trim();
    await engine.dockerOk(['push', ref]);
    await engine.dockerOk(['rmi', ref]);
    await engine.dockerOk(['pull', '-q', ref]);
    const uncached = await engine.dockerOk(['build', '--no-cache', '-t', 'cachefrom-check', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.doesNotMatch(uncached, /Using cache/);
    await engine.dockerOk(['rmi', 'cachefrom-check']);
    const out = await engine.dockerOk(['build', '--cache-from', ref, '-t', 'cachefrom-result', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(out.match(/Using cache/g)?.length, 3, out);
    assert.doesNotMatch(out, /Running in/);
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{json .RootFS.Layers}}', 'cachefrom-result'])).trim(), layers);
    assert.equal(await engine.dockerOk(['run', '--rm', 'cachefrom-result', 'sh', '-c', 'cat /f /data; echo $MODE']), 'ran-once\npayload\ncached\n');
    await engine.dockerOk(['rmi', 'cachefrom-result', ref]);
  });

  it('builds from a remote context: a tar or a Dockerfile over HTTP, a Git repository, and names one it cannot fetch', async () => {
    const repo = await ctx({ 'app/Dockerfile': 'FROM busybox\nCOPY hello /hello\n', 'app/hello': 'from git\n' });
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@berth', '-c', 'user.name=berth', '-c', 'init.defaultBranch=main', ...args], { cwd: repo, stdio: 'pipe' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'context');
    const served = await ctx({ 'Dockerfile.txt': 'FROM busybox\nRUN echo from-url > /made\n' });
    execFileSync('git', ['clone', '-q', '--bare', repo, path.join(served, 'repo.git')]);
    execFileSync('git', ['update-server-info'], { cwd: path.join(served, 'repo.git') });
    execFileSync('tar', ['-C', await ctx({ Dockerfile: 'FROM busybox\nCOPY in-tar /in-tar\n', 'in-tar': 'from tar\n' }), '-cf', path.join(served, 'ctx.tar'), '.']);
    const server = http.createServer((req, res) => {
      const file = path.join(served, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      fs.readFile(file).then((body) => res.end(body), () => res.writeHead(404).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    try {
      // docker-py hands a URL to the engine as `remote=`, as dockerd expects.
      const build = async (remote: string) => {
        const res = await run('/usr/bin/python3', ['-c', `import docker\nimage, _ = docker.from_env().images.build(path=${JSON.stringify(remote)})\nprint(image.id)`], { env: engine.env() });
        assert.equal(res.code, 0, res.stderr);
        return res.stdout.trim();
      };
      assert.equal(await engine.dockerOk(['run', '--rm', await build(`${base}/ctx.tar`), 'cat', '/in-tar']), 'from tar\n');
      assert.equal(await engine.dockerOk(['run', '--rm', await build(`${base}/Dockerfile.txt`), 'cat', '/made']), 'from-url\n');
      assert.equal(await engine.dockerOk(['run', '--rm', await build(`${base}/repo.git#main:app`), 'cat', '/hello']), 'from git\n');
      const missing = await engine.request('POST', `/build?remote=${encodeURIComponent(`${base}/nothing.tar`)}`);
      assert.match(missing.body, new RegExp(`unable to prepare context: unable to download remote context ${base.replaceAll('.', '\\.')}/nothing\\.tar: 404`));
      const noGit = await engine.request('POST', `/build?remote=${encodeURIComponent(`${base}/absent.git`)}`);
      assert.match(noGit.body, /unable to prepare context: unable to 'git clone'/);
    } finally {
      server.close();
    }
  });

  it('gives RUN the build\'s resource limits, and refuses what the classic builder cannot do', async () => {
    const dir = await ctx({ Dockerfile: 'FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; df -k /dev/shm | tail -1\n' });
    const out = await engine.dockerOk(['build', '--no-cache', '--memory', '64m', '--shm-size', '32m', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.match(out, /^67108864$/m);
    assert.match(out, /^shm\s+32768\s/m);
    const arm = await engine.docker(['build', '--platform', 'linux/arm64', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.match(arm.stderr, /builds for linux\/amd64 only, not linux\/arm64/);
  });

  it('applies .dockerignore patterns with #, spaces and classes to a context sent as is (as an SDK sends it)', async () => {
    const context = await makeTar([
      { name: 'Dockerfile', content: 'FROM busybox\nCOPY . /ctx\nRUN find /ctx -type f | sort\n' },
      { name: '.dockerignore', content: '# a comment, not a pattern\nx#y\nsp ace\n\\#lit\n[a-c]z\r\n  padded  \n' },
      { name: 'x#y', content: '1' },
      { name: 'sp ace', content: '2' },
      { name: '#lit', content: '3' },
      { name: 'bz', content: '4' },
      { name: 'padded', content: '5' },
      { name: 'dz', content: 'kept' },
      { name: '# a comment, not a pattern', content: 'kept' },
    ]);
    const res = await engine.request('POST', '/build?nocache=1', context, { 'Content-Type': 'application/x-tar' });
    const lines = res.body.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { stream?: string }).stream ?? '').join('').split('\n').filter((l) => l.startsWith('/ctx/'));
    assert.deepEqual(lines, ['/ctx/# a comment, not a pattern', '/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/dz']);
  });

  it('keeps its step images as build cache that docker builder prune and system prune manage', async () => {
    const dir = await ctx({ Dockerfile: 'FROM busybox\nRUN echo one > /one\nRUN dd if=/dev/zero of=/blob bs=1k count=256 2>/dev/null\n' });
    const cache = async () => (JSON.parse((await engine.request('GET', '/v1.43/system/df?type=build-cache')).body) as { BuildCache: { ID: string; Size: number; Description: string }[] }).BuildCache;
    await engine.dockerOk(['build', '-q', '-t', 'cached-steps', dir], { env: { DOCKER_BUILDKIT: '0' } });
    const first = (await engine.dockerOk(['inspect', '-f', '{{.Id}}', 'cached-steps'])).trim();
    // A second build without the cache: the first build's images are no longer what any tag needs.
    await engine.dockerOk(['build', '-q', '--no-cache', '-t', 'cached-steps', dir], { env: { DOCKER_BUILDKIT: '0' } });
    const entries = await cache();
    assert.ok(entries.some((e) => `sha256:${e.ID}` === first), JSON.stringify(entries));
    assert.ok(entries.some((e) => e.Size >= 256 * 1024 && /dd if=\/dev\/zero/.test(e.Description)), JSON.stringify(entries));
    assert.match(await engine.dockerOk(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']), /^Build Cache [1-9]\d*$/m);

    const pruned = await engine.dockerOk(['builder', 'prune', '-f']);
    assert.match(pruned, /Total:\s+\d|Total reclaimed space: [1-9]/, pruned);
    const left = await cache();
    assert.ok(!left.some((e) => `sha256:${e.ID}` === first), 'the first build\'s images are gone');
    assert.ok(left.length > 0, 'what the tagged image is built on stays without -a');
    await engine.dockerOk(['builder', 'prune', '-af']);
    assert.deepEqual(await cache(), []);
    assert.equal(await engine.dockerOk(['run', '--rm', 'cached-steps', 'cat', '/one']), 'one\n');
    assert.match((await engine.docker(['builder', 'prune', '-f', '--filter', 'colour=blue'])).stderr, /invalid filter 'colour'/);
    // system prune asks /build/prune too (it failed while that was missing).
    const system = await engine.docker(['system', 'prune', '-af']);
    assert.equal(system.code, 0, system.stderr);
  });
});
