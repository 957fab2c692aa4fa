// COPY and ADD as BuildKit's Dockerfile frontend has them (issue 18), through trixie's docker CLI
// 26.1 and buildx 0.13.1 against berthd: heredoc sources, --link (a layer reused on a changed base),
// symbolic --chmod, --chown, --exclude, --parents, and ADD's remote sources, which fail offline with
// one line naming the source. The classic builder (CLI 28 without buildx) keeps what dockerd's has.
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DOCKER, TestEngine, registry, run, type RunResult } from './support/berthd.js';
import { buildxClient, writeContext, type BuildxClient, type DockerOptions } from './support/buildx-client.js';

describe('BuildKit COPY and ADD: heredocs, --link, --chmod, --chown, --exclude, --parents, remote sources', () => {
  let engine: TestEngine;
  const work = mkdtempSync(path.join(tmpdir(), 'berth-buildkit-copy-'));
  let client: BuildxClient;
  const docker = (args: string[], options?: DockerOptions): Promise<RunResult> => client.docker(args, options);
  const dockerOk = (args: string[]): Promise<RunResult> => client.dockerOk(args);
  /** A context directory; a file name ending in `@0600` (say) gets that mode. */
  const context = (name: string, files: Record<string, string>): Promise<string> => writeContext(path.join(work, name), files);
  const build = (dir: string, tag: string, extra: string[] = []) => dockerOk(['build', '--progress=plain', '-t', tag, ...extra, dir]);
  const output = async (image: string, script: string) => (await dockerOk(['run', '--rm', image, 'sh', '-c', script])).stdout;
  /** A build that must fail: its one ERROR line. */
  const failure = async (dockerfile: string, files: Record<string, string> = {}): Promise<string> => {
    const dir = await context(`fail-${Math.random().toString(16).slice(2, 8)}`, { Dockerfile: dockerfile, ...files });
    const res = await docker(['build', '--progress=plain', dir]);
    assert.equal(res.code, 1, `the build should have failed:\n${res.stderr}`);
    const line = res.stderr.split('\n').find((l) => l.startsWith('ERROR: failed to solve:'));
    assert.ok(line, `no ERROR line in:\n${res.stderr}`);
    return line;
  };

  before(async () => {
    engine = await TestEngine.start();
    client = buildxClient(engine, path.join(work, 'docker-config'));
    await dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('writes heredoc sources: expanded with ARG and ENV unless the marker is quoted, 0644, with --chmod and --chown', async () => {
    const dir = await context('heredoc', {
      Dockerfile: [
        '# syntax=docker/dockerfile:1',
        'FROM busybox',
        'ARG NAME=world',
        'ENV GREETING=hello',
        'WORKDIR /work',
        'COPY <<EOF greeting.txt',
        '$GREETING ${NAME} "quoted" \'single\' \\$escaped',
        'EOF',
        'COPY <<"RAW" /raw.txt',
        '$GREETING stays ${NAME}',
        'RAW',
        'COPY --chmod=0750 --chown=1000:1001 <<one <<two /multi/',
        'first',
        'one',
        'second $NAME',
        'two',
        'ADD --chmod=u=rw,go= <<add /added.txt',
        'not an archive',
        'add',
      ].join('\n') + '\n',
    });
    const res = await build(dir, 'copy-heredoc:1', ['--build-arg', 'NAME=berth']);
    assert.match(res.stderr, /#\d+ \[\d\/6\] COPY <<EOF greeting\.txt\n#\d+ DONE/);
    assert.equal(
      await output('copy-heredoc:1', 'stat -c "%a %u:%g %n" /work/greeting.txt /raw.txt /multi/one /multi/two /added.txt /multi && cat /work/greeting.txt /raw.txt /multi/one /multi/two /added.txt'),
      ['644 0:0 /work/greeting.txt', '644 0:0 /raw.txt', '750 1000:1001 /multi/one', '750 1000:1001 /multi/two', '600 0:0 /added.txt', '755 1000:1001 /multi',
        'hello berth "quoted" \'single\' $escaped', '$GREETING stays ${NAME}', 'first', 'second berth', 'not an archive', ''].join('\n'),
    );
  });

  it('--chmod takes octal and symbolic modes (directories get x from X), --chown takes numbers, names and user:group', async () => {
    const dir = await context('modes', {
      Dockerfile: [
        '# syntax=docker/dockerfile:1',
        'FROM busybox',
        'RUN mkdir -p /etc && echo "app:x:1500:2000::/home/app:/bin/sh" >> /etc/passwd && echo "grp:x:2000:" >> /etc/group && echo "other:x:3000:" >> /etc/group',
        'COPY --chmod=u=rwx,g=rx,o=rx plain.txt /m/sym.sh',
        'COPY --chmod=+x plain.txt /m/plus-x.txt',
        'COPY --chmod=a+r,go-w secret.txt /m/a-plus-r.txt',
        'COPY --chmod=a=r,a+X tree /m/tree/',
        'COPY --chmod=640 plain.txt /m/octal.txt',
        'COPY --chown=app plain.txt /m/by-name.txt',
        'COPY --chown=app:other plain.txt /m/user-group.txt',
        'COPY --chown=1234:5678 --chmod=g+w plain.txt /m/numeric.txt',
        'COPY --chown=42 tree /m/owned/',
      ].join('\n') + '\n',
      'plain.txt@0644': 'plain\n',
      'secret.txt@0600': 'secret\n',
      'tree/file@0600': 'f\n',
      'tree/run.sh@0700': 'r\n',
      'tree/sub/deep@0644': 'd\n',
    });
    await fs.chmod(path.join(dir, 'tree/sub'), 0o750);
    await build(dir, 'copy-modes:1');
    const stats = await output('copy-modes:1', 'cd /m && stat -c "%a %u:%g %n" sym.sh plus-x.txt a-plus-r.txt tree/file tree/run.sh tree/sub tree/sub/deep octal.txt by-name.txt user-group.txt numeric.txt owned owned/file owned/sub');
    assert.equal(stats, [
      '755 0:0 sym.sh',
      '755 0:0 plus-x.txt',
      '644 0:0 a-plus-r.txt',
      '444 0:0 tree/file',
      '555 0:0 tree/run.sh',
      '555 0:0 tree/sub',
      '444 0:0 tree/sub/deep',
      '640 0:0 octal.txt',
      '644 1500:2000 by-name.txt',
      '644 1500:3000 user-group.txt',
      '664 1234:5678 numeric.txt',
      '755 42:42 owned',
      '600 42:42 owned/file',
      '750 42:42 owned/sub',
      '',
    ].join('\n'));
    const bad = await failure('FROM busybox\nCOPY --chmod=u+q plain.txt /x\n', { 'plain.txt': 'p\n' });
    assert.match(bad, /line 2: COPY --chmod: invalid chmod parameter: 'u\+q'/);
    const big = await failure('FROM busybox\nCOPY --chmod=17777 plain.txt /x\n', { 'plain.txt': 'p\n' });
    assert.match(big, /line 2: COPY --chmod: invalid chmod parameter: '17777'\. it should be octal string and between 0 and 07777/);
    const user = await failure('FROM busybox\nCOPY --chown=nobody-here plain.txt /x\n', { 'plain.txt': 'p\n' });
    assert.match(user, /line 2: unable to convert uid\/gid chown string to host mapping: can't find uid for user nobody-here/);
  });

  it('--exclude leaves paths out of COPY and ADD; --parents keeps source paths, below a ./ pivot when there is one', async () => {
    const dir = await context('paths', {
      Dockerfile: [
        '# syntax=docker/dockerfile:1.7-labs',
        'FROM busybox',
        'COPY --exclude=*.md --exclude=**/*.log app /ex/',
        'ADD --exclude=sub app /add-ex/',
        'COPY --exclude=*.txt app/* /glob-ex/',
        'COPY --parents pkgs/*/package.json /p/',
        'COPY --parents ./src/./deep/x/y.txt ./src/./top.txt /pivot/',
        'COPY --parents --exclude=**/*.js pkgs /pe/',
      ].join('\n') + '\n',
      'app/a.txt': 'a\n',
      'app/b.md': 'b\n',
      'app/sub/c.txt': 'c\n',
      'app/sub/d.log': 'd\n',
      'pkgs/one/package.json': '{}\n',
      'pkgs/one/index.js': 'x\n',
      'pkgs/two/package.json': '{}\n',
      'src/deep/x/y.txt': 'y\n',
      'src/top.txt': 't\n',
    });
    await fs.chmod(path.join(dir, 'src/deep'), 0o700);
    await build(dir, 'copy-paths:1');
    const listing = await output('copy-paths:1', 'for d in /ex /add-ex /glob-ex /p /pivot /pe; do find $d | sort; done; stat -c "%a %n" /pivot/deep');
    assert.equal(listing, [
      '/ex', '/ex/a.txt', '/ex/sub', '/ex/sub/c.txt',
      '/add-ex', '/add-ex/a.txt', '/add-ex/b.md',
      // A glob's matches: a file by its name, a directory's content relative to it (sub/c.txt is a .txt).
      '/glob-ex', '/glob-ex/b.md', '/glob-ex/d.log',
      '/p', '/p/pkgs', '/p/pkgs/one', '/p/pkgs/one/package.json', '/p/pkgs/two', '/p/pkgs/two/package.json',
      '/pivot', '/pivot/deep', '/pivot/deep/x', '/pivot/deep/x/y.txt', '/pivot/top.txt',
      '/pe', '/pe/pkgs', '/pe/pkgs/one', '/pe/pkgs/one/package.json', '/pe/pkgs/two', '/pe/pkgs/two/package.json',
      // --parents copies the directories on the way with their own mode.
      '700 /pivot/deep', '',
    ].join('\n'));
    const missing = await failure('# syntax=docker/dockerfile:1.7-labs\nFROM busybox\nCOPY --parents ./nope/./x.txt /d/\n');
    assert.match(missing, /line 3: COPY failed: file not found in build context or excluded by \.dockerignore: stat nope\/x\.txt: file does not exist/);
  });

  it('COPY --link makes a layer that does not depend on the base: reused (CACHED, same diff ID) after the base changed', async () => {
    const dockerfile = [
      '# syntax=docker/dockerfile:1',
      'FROM busybox',
      'ARG BASE=one',
      'RUN mkdir -p /app/deep && chown 1234 /app && chmod 700 /app && echo "$BASE" > /base.txt',
      'COPY --link files/ /app/deep/',
      'COPY --link --chown=7:7 <<EOF /app/note.txt',
      'linked',
      'EOF',
      'RUN cat /base.txt /app/deep/f.txt /app/note.txt && stat -c "%a %u %n" /app',
    ].join('\n') + '\n';
    const dir = await context('link', { Dockerfile: dockerfile, 'files/f.txt': 'content\n' });
    const first = await build(dir, 'copy-link:1');
    assert.match(first.stderr, /#\d+ \[3\/5\] COPY --link files\/ \/app\/deep\/\n#\d+ DONE/);
    // A base that differs: the RUN before runs again, the linked copies do not.
    const second = await build(dir, 'copy-link:2', ['--build-arg', 'BASE=two']);
    assert.match(second.stderr, /#\d+ \[2\/5\] RUN mkdir -p \/app\/deep .*\n#\d+ DONE/);
    assert.match(second.stderr, /#\d+ \[3\/5\] COPY --link files\/ \/app\/deep\/\n#\d+ CACHED/);
    assert.match(second.stderr, /#\d+ \[4\/5\] COPY --link --chown=7:7 <<EOF \/app\/note\.txt\n#\d+ CACHED/);
    assert.match(second.stderr, /#\d+ \[5\/5\] RUN cat .*\n(#\d+ [\d.]+ .*\n)*#\d+ DONE/);
    const layers = async (tag: string) => JSON.parse((await dockerOk(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', tag])).stdout) as string[];
    const [one, two] = [await layers('copy-link:1'), await layers('copy-link:2')];
    assert.equal(one.length, 5);
    assert.notEqual(one[1], two[1], 'the RUN layer differs');
    assert.equal(one[2], two[2], 'the first COPY --link layer is the same layer');
    assert.equal(one[3], two[3], 'the second COPY --link layer is the same layer');
    // The files are there on the new base. The linked layers made /app as BuildKit's link does
    // (0755, owned by the step's --chown user, the last one on top), not with the base's owner and mode.
    assert.equal(await output('copy-link:2', 'cat /base.txt /app/deep/f.txt /app/note.txt && stat -c "%a %u %n" /app /app/deep /app/note.txt'), 'two\ncontent\nlinked\n755 7 /app\n755 0 /app/deep\n644 7 /app/note.txt\n');
    // Without --link the same copy keeps /app as the base made it.
    const plain = await context('unlinked', { Dockerfile: dockerfile.replaceAll('--link ', ''), 'files/f.txt': 'content\n' });
    await build(plain, 'copy-unlinked:1');
    assert.equal(await output('copy-unlinked:1', 'stat -c "%a %u %n" /app'), '700 1234 /app\n');
    // A changed source is copied again, link or not.
    await fs.writeFile(path.join(dir, 'files/f.txt'), 'changed\n');
    const third = await build(dir, 'copy-link:3', ['--build-arg', 'BASE=two']);
    assert.match(third.stderr, /#\d+ \[3\/5\] COPY --link files\/ \/app\/deep\/\n#\d+ DONE/);
    assert.match(third.stderr, /#\d+ \[4\/5\] COPY --link --chown=7:7 <<EOF .*\n#\d+ CACHED/);
  });

  it('ADD of URLs and git repositories fails with one line naming the source; --checksum is checked', async () => {
    const sha = 'a'.repeat(64);
    const cases: [string, RegExp][] = [
      ['ADD https://example.invalid/file.tgz /x/', /line 2: ADD https:\/\/example\.invalid\/file\.tgz: berthd's builder does not download sources from the network; download it into the build context and COPY it instead$/],
      [`ADD --checksum=sha256:${sha} https://example.invalid/f /f`, /line 2: ADD https:\/\/example\.invalid\/f: berthd's builder does not download sources from the network \(--checksum included\); download it/],
      ['ADD --checksum=sha256:abc https://example.invalid/f /f', /line 2: ADD --checksum: invalid checksum digest length: 'sha256:abc'/],
      ['ADD --checksum=md5:abc https://example.invalid/f /f', /line 2: ADD --checksum: invalid checksum digest format: 'md5:abc'/],
      ['ADD https://github.com/moby/buildkit.git#v0.13.1 /src', /line 2: ADD https:\/\/github\.com\/moby\/buildkit\.git#v0\.13\.1: berthd's builder does not clone git repositories from the network; clone it into the build context and COPY it instead$/],
      ['ADD --keep-git-dir=true git@github.com:moby/buildkit.git /src', /line 2: ADD git@github\.com:moby\/buildkit\.git: berthd's builder does not clone git repositories from the network \(--keep-git-dir included\)/],
      [`ADD --checksum=sha256:${sha} local.txt /x`, /line 2: ADD --checksum=sha256:a+: checksum requires HTTP\(S\) or Git sources, and local\.txt is a local source$/],
      [`ADD --checksum=sha256:${sha} local.txt https://example.invalid/f /x/`, /line 2: ADD --checksum=sha256:a+: checksum can't be specified for multiple sources$/],
      ['COPY https://example.invalid/f /f', /line 2: source can't be a URL for COPY: https:\/\/example\.invalid\/f$/],
      ['COPY --link=maybe local.txt /x', /line 2: COPY --link: expecting boolean value for flag link, not: maybe$/],
      ['COPY --exclude= local.txt /x', /line 2: COPY --exclude: a pattern must not be empty$/],
      ['COPY local.txt <<EOF\nx\nEOF', /line 2: COPY cannot accept a heredoc as a destination$/],
      ['COPY <<EOF /never-closed\nx', /line 2: unterminated heredoc EOF$/],
    ];
    for (const [instruction, expected] of cases) {
      const line = await failure(`FROM busybox\n${instruction}\n`, { 'local.txt': 'l\n' });
      assert.match(line, expected, instruction);
    }
  });

  it('the classic builder (CLI 28, no buildx) copies heredocs and octal --chmod, ignores --link as dockerd does, and refuses what needs BuildKit', async () => {
    const classic = { ...client.env, DOCKER_CONFIG: path.join(work, 'classic-config') };
    await fs.mkdir(classic.DOCKER_CONFIG!, { recursive: true });
    const dir = await context('classic', {
      Dockerfile: 'FROM busybox\nARG WHO=classic\nCOPY --link --chmod=0700 <<EOF /hello.sh\necho hello $WHO\nEOF\nCMD ["sh", "/hello.sh"]\n',
    });
    const built = await run(DOCKER, ['build', '-q', '-t', 'copy-classic:1', dir], { env: classic });
    assert.equal(built.code, 0, built.stderr);
    assert.equal(await output('copy-classic:1', 'stat -c "%a" /hello.sh && sh /hello.sh'), '700\nhello classic\n');
    const refused: [string, RegExp][] = [
      ['COPY --parents a/b.txt /d/', /the --parents option requires BuildKit\. Refer to https:\/\/docs\.docker\.com\/go\/buildkit\//],
      ['COPY --exclude=*.md a /d/', /the --exclude option requires BuildKit\./],
      ['COPY --chmod=u+x a/b.txt /d/', /COPY --chmod=u\+x: a symbolic mode requires BuildKit/],
    ];
    for (const [instruction, expected] of refused) {
      const bad = await context(`classic-${refused.findIndex((r) => r[0] === instruction)}`, { Dockerfile: `FROM busybox\n${instruction}\n`, 'a/b.txt': 'b\n' });
      const res = await run(DOCKER, ['build', '-q', bad], { env: classic });
      assert.equal(res.code, 1, instruction);
      assert.match(res.stderr, expected, instruction);
    }
  });
});
