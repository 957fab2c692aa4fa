// The first slice of containers (issue 3) with the real CLI: run, exit codes, logs, ps, inspect,
// stop/kill/rm, names, --rm, and containers that outlive berthd.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { DOCKER, TestEngine, registry, run } from './support/berthd.js';
import { makeTar } from './support/tar.js';
import { Terminal } from './support/terminal.js';

describe('containers: run and lifecycle', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
  });
  after(async () => {
    const ids = (await engine.dockerOk(['ps', '-aq'])).trim();
    if (ids) await engine.docker(['rm', '-f', ...ids.split('\n')]);
    await engine.dispose();
  });

  it('runs a command and streams its output', async () => {
    const res = await engine.docker(['run', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
  });

  it('propagates exit codes, and 127 with dockerd\'s message for an unknown command', async () => {
    assert.equal((await engine.docker(['run', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
    const missing = await engine.docker(['run', 'busybox', 'nosuchcommand']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /exec: "nosuchcommand": executable file not found in \$PATH/);
  });

  it('applies the image CMD, -e, -w, -u, --entrypoint and --hostname', async () => {
    const out = await engine.dockerOk(['run', '-e', 'GREETING=hi', '-w', '/tmp', '-u', 'nobody', '--hostname', 'box', '--entrypoint', 'sh', 'busybox', '-c', 'echo $GREETING $(pwd) $(id -un) $(hostname)']);
    assert.equal(out, 'hi /tmp nobody box\n');
    const cmd = await engine.dockerOk(['inspect', '-f', '{{json .Config.Cmd}}', (await engine.dockerOk(['create', 'busybox'])).trim()]);
    assert.equal(cmd.trim(), '["sh"]');
  });

  it('pipes stdin with -i and ends it on half-close', async () => {
    const out = await engine.dockerOk(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo "[eof]"'], { input: 'line one\nline two\n' });
    assert.equal(out, 'line one\nline two\n[eof]\n');
  });

  it('keeps stdout and stderr apart and passes large input whole through the attach socket', async () => {
    // 1 MiB of input is many of conmon's packets each way; every byte must arrive, in order.
    const input = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => 97 + (i % 26)));
    const res = await engine.docker(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'md5sum; echo to-stderr >&2; echo to-stdout'], { input });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${createHash('md5').update(input).digest('hex')}  -\nto-stdout\n`);
    assert.equal(res.stderr, 'to-stderr\n');
  });

  it('runs -it in a real terminal: size, resize, Ctrl-C and exit code', async () => {
    const env = Object.entries(engine.env()).filter(([k]) => k.startsWith('DOCKER_')).map(([k, v]) => `${k}=${v}`);
    const term = await Terminal.open('tty', 120, 30, ['env', ...env, DOCKER, 'run', '-it', '--name', 'tty', 'busybox', 'sh']);
    try {
      await term.until('/ #');
      await term.type('stty size; echo $((6*7))', 'Enter');
      await term.until('30 120');
      await term.until('42');
      await term.resize(100, 20);
      // The CLI forwards SIGWINCH asynchronously: ask until the new size shows.
      let resized = false;
      for (let i = 0; i < 30 && !resized; i++) {
        await term.type('clear; stty size', 'Enter');
        await new Promise((r) => setTimeout(r, 200));
        resized = (await term.screen()).includes('20 100');
      }
      assert.ok(resized, `the terminal size never reached the container:\n${await term.screen()}`);
      await term.type('sleep 60', 'Enter');
      await new Promise((r) => setTimeout(r, 300));
      await term.type('C-c');
      await term.type('echo interrupted', 'Enter');
      await term.until('interrupted\n');
      await term.type('exit 7', 'Enter');
      assert.equal((await engine.dockerOk(['wait', 'tty'])).trim(), '7');
    } finally {
      await term.close();
    }
  });

  it('detaches with ctrl-p ctrl-q, keeps the container running, and attaches again', async () => {
    await engine.dockerOk(['run', '-dit', '--name', 'detachable', 'busybox', 'sh']);
    const env = Object.entries(engine.env()).filter(([k]) => k.startsWith('DOCKER_')).map(([k, v]) => `${k}=${v}`).join(' ');
    const term = await Terminal.open('detach', 100, 20, ['sh']);
    try {
      await term.type(`env ${env} ${DOCKER} attach detachable; echo attach-exited`, 'Enter');
      await term.type('echo first-$((1+1))', 'Enter');
      await term.until('first-2');
      await term.type('C-p', 'C-q');
      await term.until('attach-exited');
      assert.match(await term.screen(), /read escape sequence/);
      assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Running}}', 'detachable'])).trim(), 'true');
      await term.type(`env ${env} ${DOCKER} attach detachable`, 'Enter');
      await term.type('echo second-$((2+2))', 'Enter');
      await term.until('second-4');
      await term.type('exit 4', 'Enter');
      assert.equal((await engine.dockerOk(['wait', 'detachable'])).trim(), '4');
    } finally {
      await term.close();
      await engine.docker(['rm', '-f', 'detachable']);
    }
  });

  it('execs into a running container: output, exit code, stdin, -u/-w/-e, -d, a missing command', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'exec-target', 'busybox', 'sleep', '300']);
    const res = await engine.docker(['exec', 'exec-target', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.equal(res.code, 5);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
    assert.equal(await engine.dockerOk(['exec', '-i', 'exec-target', 'cat'], { input: 'piped\n' }), 'piped\n');
    assert.equal(await engine.dockerOk(['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'X=1', 'exec-target', 'sh', '-c', 'echo $(id -un) $(pwd) $X']), 'nobody /tmp 1\n');
    await engine.dockerOk(['exec', '-d', 'exec-target', 'sh', '-c', 'echo detached > /tmp/d']);
    let content = '';
    for (let i = 0; i < 30 && content !== 'detached\n'; i++) {
      content = (await engine.docker(['exec', 'exec-target', 'cat', '/tmp/d'])).stdout;
      if (content !== 'detached\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(content, 'detached\n');
    const missing = await engine.docker(['exec', 'exec-target', 'nosuchcommand']);
    assert.equal(missing.code, 126);
    assert.match(missing.stdout + missing.stderr, /executable file not found in \$PATH/);
    await engine.dockerOk(['stop', '-t', '0', 'exec-target']);
    const stopped = await engine.docker(['exec', 'exec-target', 'true']);
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, /Container [0-9a-f]{64} is not running/);
    await engine.dockerOk(['rm', 'exec-target']);
  });

  it('enforces limits and isolation options', async () => {
    const cgroup = async (flags: string[], v1: string, v2: string) =>
      (await engine.dockerOk(['run', '--rm', ...flags, 'busybox', 'sh', '-c', `cat /sys/fs/cgroup/${v1} 2>/dev/null || cat /sys/fs/cgroup/${v2}`])).trim();
    assert.equal(await cgroup(['--memory', '32m'], 'memory/memory.limit_in_bytes', 'memory.max'), String(32 * 1024 * 1024));
    assert.equal(await cgroup(['--pids-limit', '5'], 'pids/pids.max', 'pids.max'), '5');
    assert.match(await cgroup(['--cpus', '0.5'], 'cpu/cpu.cfs_quota_us', 'cpu.max'), /^50000/);
    const oom = await engine.docker(['run', '--name', 'oom', '--memory', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x=$x$x; done']);
    assert.equal(oom.code, 137);
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.OOMKilled}}', 'oom'])).trim(), 'true');
    await engine.dockerOk(['rm', 'oom']);
    await engine.dockerOk(['run', '-d', '--name', 'updated', 'busybox', 'sleep', '300']);
    await engine.dockerOk(['update', '--memory', '48m', '--memory-swap', '96m', '--restart', 'on-failure:3', 'updated']);
    assert.equal((await engine.dockerOk(['exec', 'updated', 'sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'])).trim(), String(48 * 1024 * 1024));
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'updated'])).trim(), 'on-failure:3');
    await engine.dockerOk(['rm', '-f', 'updated']);
    const readOnly = await engine.docker(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
    assert.match(readOnly.stderr, /Read-only file system/);
    assert.match(await engine.dockerOk(['run', '--rm', '--read-only', '--tmpfs', '/data', 'busybox', 'sh', '-c', 'touch /data/x && grep " /data " /proc/mounts']), /^tmpfs \/data tmpfs/);
    assert.notEqual((await engine.docker(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'chown', 'nobody', '/tmp'])).code, 0);
    const defaultCaps = (await engine.dockerOk(['run', '--rm', 'busybox', 'grep', 'CapEff', '/proc/self/status'])).trim();
    assert.equal(defaultCaps, 'CapEff:\t00000000a80425fb', 'dockerd\'s default capability set');
    const privileged = (await engine.dockerOk(['run', '--rm', '--privileged', 'busybox', 'grep', 'CapEff', '/proc/self/status'])).trim();
    assert.notEqual(privileged, defaultCaps);
    assert.match(await engine.dockerOk(['run', '--rm', '--init', 'busybox', 'ps']), /1 root +\/usr\/bin\/tini/);
    const seccomp = async (...flags: string[]) => (await engine.dockerOk(['run', '--rm', ...flags, 'busybox', 'grep', 'Seccomp:', '/proc/self/status'])).trim();
    assert.equal(await seccomp(), 'Seccomp:\t2', 'the default seccomp filter is on');
    // dockerd's profile: namespaces need CAP_SYS_ADMIN (the containers project's profile would allow this).
    assert.notEqual((await engine.docker(['run', '--rm', 'busybox', 'unshare', '-U', 'true'])).code, 0);
    assert.equal((await engine.docker(['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'unshare', '-m', 'true'])).code, 0);
    assert.equal(await seccomp('--privileged'), 'Seccomp:\t0');
    assert.equal(await seccomp('--security-opt', 'seccomp=unconfined'), 'Seccomp:\t0');
    const nnp = await engine.dockerOk(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']);
    assert.equal(nnp.trim(), 'NoNewPrivs:\t1');
    const badMemory = await engine.docker(['run', '--rm', '--memory', '1k', 'busybox', 'true']);
    assert.match(badMemory.stderr, /Minimum memory limit allowed is 6MB/);
  });

  it('shows changes with diff, commits them with -c, and exports the filesystem', async () => {
    await engine.dockerOk(['run', '--name', 'changer', 'busybox', 'sh', '-c', 'echo new > /newfile; rm /bin/ls; mkdir /etc/d; echo x > /etc/d/f']);
    const diff = (await engine.dockerOk(['diff', 'changer'])).trim().split('\n');
    assert.deepEqual(diff, ['C /bin', 'D /bin/ls', 'C /etc', 'A /etc/d', 'A /etc/d/f', 'A /newfile']);
    const id = (await engine.dockerOk(['commit', '-c', 'CMD ["cat", "/newfile"]', '-m', 'from a test', 'changer', 'berth/committed:1'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await engine.dockerOk(['run', '--rm', 'berth/committed:1']), 'new\n');
    const check = await engine.docker(['run', '--rm', 'berth/committed:1', 'sh', '-c', 'cat /etc/d/f; ls /bin/ls']);
    assert.equal(check.stdout, 'x\n');
    assert.match(check.stderr, /No such file or directory/, 'the deletion was committed as a whiteout');
    assert.match(await engine.dockerOk(['history', 'berth/committed:1']), /from a test/);
    const archive = `${engine.dir}/changer.tar`;
    await engine.dockerOk(['export', '-o', archive, 'changer']);
    const listing = await run('tar', ['-tf', archive]);
    assert.match(listing.stdout, /^\.\/newfile$/m);
    assert.doesNotMatch(listing.stdout, /^\.\/bin\/ls$/m);
    await engine.dockerOk(['rm', 'changer']);
    await engine.dockerOk(['rmi', 'berth/committed:1']);
  });

  it('copies files both ways with docker cp, confined to the container through its symlinks', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'copier', 'busybox', 'sh', '-c', 'ln -s / /escape; sleep 300']);
    const hostFile = `${engine.dir}/from-host.txt`;
    await fs.writeFile(hostFile, 'from host\n');
    await engine.dockerOk(['cp', hostFile, 'copier:/tmp/']);
    assert.equal(await engine.dockerOk(['exec', 'copier', 'cat', '/tmp/from-host.txt']), 'from host\n');
    // /escape is a symlink to the container's /: the copy lands in the container, not on the host.
    const outside = `/tmp/berth-escape-${process.pid}.txt`;
    await engine.dockerOk(['cp', hostFile, `copier:/escape${outside}`]);
    await assert.rejects(fs.access(outside));
    assert.equal(await engine.dockerOk(['exec', 'copier', 'cat', outside]), 'from host\n');
    await engine.dockerOk(['cp', 'copier:/etc/passwd', `${engine.dir}/passwd`]);
    assert.match(await fs.readFile(`${engine.dir}/passwd`, 'utf8'), /^root:x:0:0/);
    const missing = await engine.docker(['cp', 'copier:/nonexistent', `${engine.dir}/x`]);
    assert.match(missing.stderr, /Could not find the file \/nonexistent in container/);
    await engine.dockerOk(['rm', '-f', 'copier']);
  });

  it('applies devices, ulimits, sysctls, shm size, CPU shares and sets, env files and stop signals', async () => {
    assert.match(await engine.dockerOk(['run', '--rm', '--device', '/dev/null:/dev/mynull', 'busybox', 'sh', '-c', 'echo x > /dev/mynull && ls -l /dev/mynull']), /^c.* 1, +3 /);
    const missing = await engine.docker(['run', '--rm', '--device', '/dev/nonexistent', 'busybox', 'true']);
    assert.match(missing.stderr, /error gathering device information while adding custom device "\/dev\/nonexistent"/);
    assert.ok(Number((await engine.dockerOk(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'ls /dev | wc -l'])).trim()) > 20, 'privileged containers see the host devices');
    assert.equal((await engine.dockerOk(['run', '--rm', '--ulimit', 'nofile=512:1024', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn'])).trim(), '512\n1024');
    assert.equal((await engine.dockerOk(['run', '--rm', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward'])).trim(), '1');
    assert.match(await engine.dockerOk(['run', '--rm', '--shm-size', '8m', 'busybox', 'df', '-k', '/dev/shm']), /\s8192\s/);
    const cpu = async (flag: string[], v1: string) => (await engine.dockerOk(['run', '--rm', ...flag, 'busybox', 'cat', `/sys/fs/cgroup/${v1}`])).trim();
    assert.equal(await cpu(['--cpu-shares', '512'], 'cpu/cpu.shares'), '512');
    assert.equal(await cpu(['--cpuset-cpus', '0'], 'cpuset/cpuset.cpus'), '0');
    const envFile = `${engine.dir}/vars.env`;
    await fs.writeFile(envFile, 'FROM_FILE=yes\n# a comment\nOTHER=2\n');
    assert.equal(await engine.dockerOk(['run', '--rm', '--env-file', envFile, 'busybox', 'sh', '-c', 'echo $FROM_FILE $OTHER']), 'yes 2\n');
    // --stop-signal USR1 reaches the process's trap; --stop-timeout bounds the wait before KILL.
    await engine.dockerOk(['run', '-d', '--name', 'graceful', '--stop-signal', 'USR1', '--stop-timeout', '5', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done']);
    await engine.dockerOk(['stop', 'graceful']);
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.ExitCode}}', 'graceful'])).trim(), '42');
    await engine.dockerOk(['rm', 'graceful']);
  });

  it('reports stats from the container\'s cgroup', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'busyloop', '--memory', '64m', 'busybox', 'sh', '-c', 'while true; do :; done']);
    const line = (await engine.dockerOk(['stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}', 'busyloop'])).trim();
    const [name, cpu, mem, pids] = line.split('|');
    assert.equal(name, 'busyloop');
    assert.ok(Number.parseFloat(cpu ?? '0') > 10, `a busy loop uses CPU: ${line}`);
    assert.match(mem ?? '', / \/ 64MiB$/);
    assert.equal(pids, '1');
    await engine.dockerOk(['rm', '-f', 'busyloop']);
  });

  it('runs healthchecks: starting, healthy, unhealthy, shown in ps, inspect and events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await engine.dockerOk(['run', '-d', '--name', 'gets-healthy', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sh', '-c', 'sleep 1; touch /tmp/ok; sleep 300']);
    await engine.dockerOk(['run', '-d', '--name', 'stays-sick', '--health-cmd', 'echo sick; exit 1', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '300']);
    assert.match(await engine.dockerOk(['ps', '--filter', 'name=gets-healthy', '--format', '{{.Status}}']), /\(health: starting\)/);
    const statusOf = async (name: string) => (await engine.dockerOk(['inspect', '-f', '{{.State.Health.Status}}', name])).trim();
    for (let i = 0; i < 50 && ((await statusOf('gets-healthy')) !== 'healthy' || (await statusOf('stays-sick')) !== 'unhealthy'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await statusOf('gets-healthy'), 'healthy');
    assert.equal(await statusOf('stays-sick'), 'unhealthy');
    assert.equal((await engine.dockerOk(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).trim(), 'stays-sick');
    assert.match(await engine.dockerOk(['inspect', '-f', '{{(index .State.Health.Log 0).Output}}', 'stays-sick']), /sick/);
    const events = await engine.dockerOk(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'event=health_status', '--format', '{{.Actor.Attributes.name}} {{.Action}}']);
    assert.match(events, /gets-healthy health_status: healthy/);
    assert.match(events, /stays-sick health_status: unhealthy/);
    await engine.dockerOk(['rm', '-f', 'gets-healthy', 'stays-sick']);
  });

  it('runs detached, shows it in ps, reads logs, stops with SIGKILL after the timeout', async () => {
    const id = (await engine.dockerOk(['run', '-d', '--name', 'ticker', '-l', 'role=test', 'busybox', 'sh', '-c', 'echo started; while true; do sleep 0.1; done'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await engine.dockerOk(['ps', '--filter', 'label=role=test', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps, /^ticker Up /);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('started'); i++) {
      logs = await engine.dockerOk(['logs', 'ticker']);
      if (!logs.includes('started')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, 'started\n');
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Running}} {{.State.Pid}}', 'ticker'])).trim().split(' ')[0], 'true');
    await engine.dockerOk(['stop', '-t', '1', 'ticker']);
    const state = await engine.dockerOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'ticker']);
    assert.equal(state.trim(), 'exited 137');
    assert.equal(await engine.dockerOk(['logs', 'ticker']), 'started\n', 'logs of a stopped container stay readable');
  });

  it('reads logs with --tail, -t, --since and --until, and follows until the container stops', async () => {
    await engine.dockerOk(['run', '--name', 'talker', 'busybox', 'sh', '-c', 'echo one; echo two >&2; echo three']);
    assert.equal(await engine.dockerOk(['logs', '--tail', '2', 'talker']), 'three\n');
    const both = await engine.docker(['logs', '--tail', '2', 'talker']);
    assert.equal(both.stdout, 'three\n');
    assert.equal(both.stderr, 'two\n');
    const stamped = await engine.dockerOk(['logs', '-t', 'talker']);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\S* one\n/);
    assert.equal(await engine.dockerOk(['logs', '--since', '2000-01-01T00:00:00Z', '--until', '2000-01-02T00:00:00Z', 'talker']), '');
    assert.equal(await engine.dockerOk(['logs', '--since', '2000-01-01T00:00:00Z', 'talker']), 'one\nthree\n');
    await engine.dockerOk(['run', '-d', '--name', 'follower', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.2; done']);
    assert.equal(await engine.dockerOk(['logs', '-f', 'follower']), 'line 1\nline 2\nline 3\n', 'logs -f ends when the container stops');
    await engine.dockerOk(['rm', 'talker', 'follower']);
  });

  it('restarts an always-restart container that died while berthd was down', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '300']);
    const pid = (await engine.dockerOk(['inspect', '-f', '{{.State.Pid}}', 'phoenix'])).trim();
    await engine.stop('SIGKILL');
    process.kill(Number(pid), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await engine.start();
    let state = '';
    for (let i = 0; i < 50 && state !== 'running 1'; i++) {
      state = (await engine.dockerOk(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'phoenix'])).trim();
      if (state !== 'running 1') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, 'running 1');
    assert.notEqual((await engine.dockerOk(['inspect', '-f', '{{.State.Pid}}', 'phoenix'])).trim(), pid);
    await engine.dockerOk(['rm', '-f', 'phoenix']);
  });

  it('writes json-file logs, rotates them by --log-opt, and keeps what was written while berthd was down', async () => {
    await engine.dockerOk(['run', '--name', 'rotating', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done']);
    const logPath = (await engine.dockerOk(['inspect', '-f', '{{.LogPath}}', 'rotating'])).trim();
    assert.match(logPath, /-json\.log$/);
    const first = JSON.parse((await fs.readFile(logPath, 'utf8')).split('\n')[0] ?? '{}') as { log: string; stream: string; time: string };
    assert.equal(first.stream, 'stdout');
    assert.match(first.time, /Z$/);
    for (const suffix of ['', '.1', '.2']) assert.ok((await fs.stat(logPath + suffix)).size <= 1024);
    await assert.rejects(fs.access(`${logPath}.3`));
    const lines = (await engine.dockerOk(['logs', 'rotating'])).trim().split('\n');
    assert.equal(lines[lines.length - 1], 'line-199-xxxxxxxxxxxxxxxxxxxx');
    assert.ok(lines.length < 200 && lines.length > 20, `older lines were rotated away (${lines.length} left)`);
    // dockerd's json-file takes max-file without max-size (nothing rotates then): so does berthd.
    assert.equal((await engine.docker(['run', '--rm', '--log-opt', 'max-file=2', 'busybox', 'true'])).code, 0);

    await engine.dockerOk(['run', '-d', '--name', 'writer', 'busybox', 'sh', '-c', 'echo before; sleep 1.5; echo during; sleep 30']);
    await engine.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 2000));
    await engine.start();
    let out = '';
    for (let i = 0; i < 30 && !out.includes('during'); i++) {
      out = await engine.dockerOk(['logs', 'writer']);
      if (!out.includes('during')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(out, 'before\nduring\n');
    await engine.dockerOk(['rm', '-f', 'rotating', 'writer']);
  });

  it('replays earlier output on attach with logs=1', async () => {
    await engine.dockerOk(['run', '--name', 'replayed', 'busybox', 'sh', '-c', 'echo earlier; echo oops >&2']);
    const res = await engine.request('POST', '/v1.43/containers/replayed/attach?logs=1&stdout=1&stderr=1');
    assert.equal(res.status, 200);
    const frames: string[] = [];
    const raw = Buffer.from(res.body, 'latin1');
    for (let i = 0; i + 8 <= raw.length; ) {
      const size = raw.readUInt32BE(i + 4);
      frames.push(`${raw[i]}:${raw.subarray(i + 8, i + 8 + size).toString()}`);
      i += 8 + size;
    }
    assert.deepEqual(frames.sort(), ['1:earlier\n', '2:oops\n']);
    await engine.dockerOk(['rm', 'replayed']);
  });

  it('lists with ps filters, -q, -n and prunes stopped containers', async () => {
    await engine.dockerOk(['run', '--name', 'exit0', 'busybox', 'true']);
    await engine.docker(['run', '--name', 'exit3', 'busybox', 'sh', '-c', 'exit 3']);
    await engine.dockerOk(['run', '-d', '--name', 'alive', 'busybox', 'sleep', '300']);
    const names = async (...args: string[]) => (await engine.dockerOk(['ps', ...args, '--format', '{{.Names}}'])).trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(await names('--filter', 'status=exited', '--filter', 'name=exit'), ['exit0', 'exit3']);
    assert.deepEqual(await names('-a', '--filter', 'exited=3', '--filter', 'name=exit'), ['exit3']);
    assert.deepEqual(await names('--filter', 'name=alive'), ['alive']);
    assert.deepEqual(await names('-a', '--filter', 'ancestor=busybox', '--filter', 'name=^alive$'), ['alive']);
    assert.equal((await engine.dockerOk(['ps', '-a', '-n', '1', '-q'])).trim().split('\n').length, 1);
    await engine.dockerOk(['exec', 'alive', 'sh', '-c', 'head -c 300000 /dev/zero > /big']);
    assert.match(await engine.dockerOk(['ps', '-s', '--filter', 'name=^alive$', '--format', '{{.Size}}']), /^3\d\dkB \(virtual \d/);
    const pruned = await engine.dockerOk(['container', 'prune', '-f']);
    assert.match(pruned, /Deleted Containers:/);
    assert.deepEqual(await names('-a', '--filter', 'name=exit'), []);
    assert.deepEqual(await names('--filter', 'name=alive'), ['alive'], 'running containers are not pruned');
    await engine.dockerOk(['rm', '-f', 'alive']);
  });

  it('refuses a name in use and removing a running container without -f', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '100']);
    const dup = await engine.docker(['create', '--name', 'busy', 'busybox']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /Conflict. The container name "\/busy" is already in use by container/);
    const rm = await engine.docker(['rm', 'busy']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /You cannot remove a running container [0-9a-f]{64}. Stop the container before attempting removal or force remove/);
    await engine.dockerOk(['rm', '-f', 'busy']);
    assert.equal((await engine.docker(['inspect', 'busy'])).code, 1);
  });

  it('kills with a signal and reports it through wait', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '100']);
    await engine.dockerOk(['kill', '-s', 'KILL', 'victim']);
    assert.equal((await engine.dockerOk(['wait', 'victim'])).trim(), '137');
  });

  it('removes --rm containers when they exit, and leaves no mount behind', async () => {
    const before = (await engine.dockerOk(['ps', '-aq'])).trim().split('\n').filter(Boolean).length;
    await engine.dockerOk(['run', '--rm', 'busybox', 'true']);
    const afterRun = (await engine.dockerOk(['ps', '-aq'])).trim().split('\n').filter(Boolean).length;
    assert.equal(afterRun, before);
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
    const running = (await engine.dockerOk(['ps', '-q'])).trim().split('\n').filter(Boolean).length;
    assert.equal(mounts.split('\n').filter((l) => l.includes(engine.dataRoot)).length, running);
  });

  it('answers an unknown image with dockerd\'s message', async () => {
    const res = await engine.request('POST', '/v1.43/containers/create', JSON.stringify({ Image: 'nosuchimage' }), { 'content-type': 'application/json' });
    assert.equal(res.status, 404);
    assert.match(JSON.parse(res.body).message, /No such image: nosuchimage:latest/);
  });

  it('restarts on failure with back-off, up to the retry count', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1']);
    let state = '';
    for (let i = 0; i < 60; i++) {
      state = (await engine.dockerOk(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'flaky'])).trim();
      if (state === 'exited 2') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, 'exited 2');
    await engine.dockerOk(['rm', 'flaky']);
  });

  it('pauses, unpauses, renames and lists processes', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '100']);
    await engine.dockerOk(['pause', 'sleeper']);
    assert.match(await engine.dockerOk(['ps', '--filter', 'name=sleeper', '--format', '{{.Status}}']), /\(Paused\)/);
    await engine.dockerOk(['unpause', 'sleeper']);
    assert.match(await engine.dockerOk(['top', 'sleeper']), /sleep 100/);
    await engine.dockerOk(['rename', 'sleeper', 'dreamer']);
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.Name}}', 'dreamer'])).trim(), '/dreamer');
    await engine.dockerOk(['rm', '-f', 'dreamer']);
  });

  it('streams container events with filters', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await engine.dockerOk(['run', '--name', 'evented', 'busybox', 'true']);
    await engine.dockerOk(['rm', 'evented']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const out = await engine.dockerOk(['events', '--since', String(since), '--until', String(until), '--filter', 'container=evented', '--format', '{{.Action}}']);
    assert.deepEqual(out.trim().split('\n'), ['create', 'start', 'die', 'destroy']);
  });

  it('refuses to remove an image a container uses, unless forced', async () => {
    const rootfs = await makeTar([{ name: 'bin/', type: 'directory' }]);
    await engine.dockerOk(['import', '-', 'berth/in-use:1'], { input: rootfs });
    await engine.dockerOk(['create', '--name', 'holder', 'berth/in-use:1', '/bin/none']);
    const refused = await engine.docker(['rmi', 'berth/in-use:1']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /conflict: unable to remove repository reference "berth\/in-use:1" \(must force\) - container [0-9a-f]{12} is using its referenced image/);
    await engine.dockerOk(['rm', 'holder']);
    assert.match(await engine.dockerOk(['rmi', 'berth/in-use:1']), /Deleted: sha256:/);
  });

  it('keeps containers running across a berthd restart and still sees them exit', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'sleep 2; exit 5']);
    const pid = (await engine.dockerOk(['inspect', '-f', '{{.State.Pid}}', 'survivor'])).trim();
    await engine.stop('SIGKILL');
    await fs.access(`/proc/${pid}`);
    await engine.start();
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Running}}', 'survivor'])).trim(), 'true');
    assert.equal((await engine.dockerOk(['wait', 'survivor'])).trim(), '5');
  });
});
