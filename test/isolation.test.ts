// Isolation (issue 9): what a default container cannot do to the host, and that --privileged (or
// the one option named) is what opens each door. Every refusal is paired with a control that shows
// the same probe succeeding when the door is open, so a probe that is broken (a missing applet, a
// path that does not exist, a lost xattr) fails the test instead of passing it.
//
// Reference: every container-side probe was run against Debian's dockerd 20.10.24 (docker.io, with
// runc 1.1.5, on this cgroup v1 host) on a private socket, and berthd now answers the same, except
// where a comment says otherwise. That dockerd cannot start --privileged containers here (runc
// fails "unable to apply caps": the host's bounding set lacks CAP_SYS_RESOURCE), so the privileged
// controls follow moby's source (daemon/oci_linux.go) instead.
//
// The host side: the host agent's engine socket is 0600 (serveEngineSocket, tested directly), and
// berthd's SSH server (what the guest runs) takes the host's key only: not another key, not the
// host's public key with a signature made by another key, no password, no keyboard-interactive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import ssh2 from 'ssh2';

import { generateEd25519Pair } from '../electron/src/node/host/keys.js';
import { serveEngineSocket } from '../electron/src/node/host/forwarding.js';
import { TestEngine, registry, run, type RunResult } from './support/berthd.js';

/** Capability numbers (linux/capability.h) of the ones the checks name. */
const CAP = {
  CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8,
  NET_BIND_SERVICE: 10, NET_ADMIN: 12, NET_RAW: 13, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18,
  SYS_ADMIN: 21, MKNOD: 27, AUDIT_WRITE: 29, SETFCAP: 31,
} as const;
const bit = (cap: number) => 1n << BigInt(cap);

/** dockerd's 14 default capabilities (moby oci/caps/defaults.go). */
const DEFAULT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'] as const;
const DEFAULT_MASK = DEFAULT_CAPS.reduce((mask, name) => mask | bit(CAP[name]), 0n);

interface CapSets {
  CapInh: bigint;
  CapPrm: bigint;
  CapEff: bigint;
  CapBnd: bigint;
  CapAmb: bigint;
}

/** The Cap* lines of a /proc/<pid>/status. */
function capSets(status: string): CapSets {
  const get = (name: keyof CapSets) => {
    const hex = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1];
    assert.ok(hex, `no ${name} in:\n${status}`);
    return BigInt(`0x${hex}`);
  };
  return { CapInh: get('CapInh'), CapPrm: get('CapPrm'), CapEff: get('CapEff'), CapBnd: get('CapBnd'), CapAmb: get('CapAmb') };
}

/** CapEff from output that has that line (and maybe not the others). */
function capEff(text: string): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  assert.ok(hex, `no CapEff in:\n${text}`);
  return BigInt(`0x${hex}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The security.capability xattr (struct vfs_cap_data, revision 2) for a file whose capabilities
 * are `cap` in the permitted or the inheritable set, with the effective bit: what
 * `setcap cap_x+ep` / `cap_x+ei` write. As hex for setfattr (scripts/install-deps.sh: attr).
 */
function fileCapXattr(cap: number, set: 'permitted' | 'inheritable'): string {
  const data = Buffer.alloc(20);
  data.writeUInt32LE(0x02000001, 0); // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
  data.writeUInt32LE(1 << cap, set === 'permitted' ? 4 : 8); // the low 32 capabilities
  return `0x${data.toString('hex')}`;
}

/** Runs a command as another user (uid and gid) and returns what it printed. */
function runAs(uid: number, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { uid, gid: uid, cwd: '/', env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A unix-socket client for another user: prints "connected" or the error code. */
const CONNECT_PROBE = `
const s = require('node:net').connect(process.env.PROBE_SOCKET);
s.on('connect', () => { console.log('connected'); s.destroy(); });
s.on('error', (e) => console.log(e.code));
`;

describe('isolation: a default container cannot reach the host; --privileged can', () => {
  let engine: TestEngine;
  const work = mkdtempSync(path.join(tmpdir(), 'berth-isolation-'));
  const hostKeys = generateEd25519Pair();
  const otherKeys = generateEd25519Pair();
  let sshPort = 0;

  /** `docker run --rm [options] busybox sh -c script` */
  const sh = (options: string[], script: string, image = 'busybox') => engine.docker(['run', '--rm', ...options, image, 'sh', '-c', script]);
  const shOk = async (options: string[], script: string, image = 'busybox') => {
    const res = await sh(options, script, image);
    assert.equal(res.code, 0, `docker run ${options.join(' ')} ${image} sh -c '${script}' exited ${res.code}:\n${res.stderr}${res.stdout}`);
    return res.stdout;
  };

  before(async () => {
    await fs.chmod(work, 0o755); // the -u nobody probes read files below it
    await fs.writeFile(path.join(work, 'authorized_keys'), `${hostKeys.publicKey}\n`);
    sshPort = await freePort();
    engine = await TestEngine.start([
      '--ssh-listen', `127.0.0.1:${sshPort}`,
      '--ssh-host-key', path.join(work, 'ssh_host_ed25519_key'),
      '--ssh-authorized-keys', path.join(work, 'authorized_keys'),
    ]);
    for (const image of ['busybox', 'debian']) {
      await engine.dockerOk(['pull', '-q', `${registry()}/library/${image}`]);
      await engine.dockerOk(['tag', `${registry()}/library/${image}`, image]);
    }
    // A setuid-root shell: bash -p keeps the effective uid it was started with, so $EUID shows
    // whether the setuid bit took effect.
    const context = path.join(work, 'suid-context');
    await fs.mkdir(context);
    await fs.writeFile(path.join(context, 'Dockerfile'), 'FROM debian\nRUN cp /bin/bash /usr/local/bin/rootbash && chmod 4755 /usr/local/bin/rootbash\n');
    await engine.dockerOk(['build', '-q', '-t', 'isolation-suid', context]);
  });

  after(async () => {
    await engine?.dispose();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('shows only its own processes; --pid host shows the host\'s', async () => {
    const pids = (await shOk([], 'ls /proc')).split(/\s+/).filter((n) => /^\d+$/.test(n)).map(Number);
    // sh (pid 1) and ls, nothing else: not this test's process, not the engine.
    assert.ok(pids.includes(1), `no pid 1 in ${pids.join(' ')}`);
    assert.ok(pids.length <= 3, `more processes than the container's own: ${pids.join(' ')}`);
    assert.equal((await sh([], `test -e /proc/${process.pid}`)).code, 1);
    const ps = await shOk([], 'ps -o pid,comm');
    assert.doesNotMatch(ps, /node|berthd|runc|conmon/);

    // Control: the same probe finds this test's process once the PID namespace is the host's.
    const cmdline = await shOk(['--pid', 'host'], `test -e /proc/${process.pid} && tr '\\0' ' ' < /proc/${process.pid}/cmdline`);
    assert.match(cmdline, /node/);
  });

  it('cannot mount: proc, tmpfs or the host\'s disk; --privileged mounts a tmpfs', async () => {
    // The host's first disk (vda here) as the container would have to reach it: by a node of its
    // own (mknod is a default capability, as with dockerd; the device cgroup is what stops it).
    const disk = /^\s*(\d+)\s+(\d+)\s+\d+\s+(\S+)$/m.exec(readFileSync('/proc/partitions', 'utf8'));
    assert.ok(disk, 'no block device in /proc/partitions');
    const [, major, minor, name] = disk;
    const out = await sh([], [
      'mkdir /m',
      'mount -t proc proc /m; echo "proc=$?"',
      'mount -t tmpfs tmpfs /m; echo "tmpfs=$?"',
      `mknod /tmp/disk b ${major} ${minor}; echo "mknod=$?"`,
      'mount -o ro /tmp/disk /m; echo "disk=$?"',
      'mount -o ro -t ext4 /tmp/disk /m; echo "ext4=$?"',
      'dd if=/tmp/disk of=/dev/null bs=512 count=1; echo "read=$?"',
      'grep -c " /m " /proc/mounts',
    ].join('\n'));
    for (const probe of ['proc', 'tmpfs', 'disk', 'ext4', 'read']) assert.match(out.stdout, new RegExp(`^${probe}=1$`, 'm'), `${probe} (${name}):\n${out.stdout}${out.stderr}`);
    assert.match(out.stdout, /^mknod=0$/m);
    assert.match(out.stdout, /^0$/m, 'something got mounted on /m');
    // busybox mount says this for EPERM and EACCES (mount(2) without CAP_SYS_ADMIN); open(2) of a
    // device the cgroup does not allow is EPERM. Not "No such device" or a missing file.
    assert.equal(out.stderr.match(/mount: permission denied \(are you root\?\)/g)?.length, 4, out.stderr);
    assert.match(out.stderr, /dd: can't open '\/tmp\/disk': Operation not permitted/);

    const privileged = await shOk(['--privileged'], 'mkdir /m && mount -t tmpfs tmpfs /m && grep " /m " /proc/mounts && umount /m');
    assert.match(privileged, /^tmpfs \/m tmpfs rw/);
  });

  it('has only the default devices; a node it makes for a host device cannot be opened; --privileged opens the host\'s', async () => {
    const devices = (await shOk([], 'ls /dev')).split(/\s+/).filter(Boolean).sort();
    // dockerd 20.10 lists the same.
    assert.deepEqual(devices, ['fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    // kmsg (c 1:11: the kernel log) and loop0 (b 7:0): made, then opened without reading.
    const out = await sh([], 'mknod /tmp/kmsg c 1 11 && mknod /tmp/loop b 7 0 && dd if=/tmp/kmsg of=/dev/null count=0; echo "kmsg=$?"; dd if=/tmp/loop of=/dev/null count=0; echo "loop=$?"');
    assert.match(out.stdout, /^kmsg=1$/m);
    assert.match(out.stdout, /^loop=1$/m);
    assert.match(out.stderr, /can't open '\/tmp\/kmsg': Operation not permitted/);
    assert.match(out.stderr, /can't open '\/tmp\/loop': Operation not permitted/);

    // Control: a privileged container has the host's device nodes and may open them.
    const wanted = ['kmsg', 'loop0'].filter((d) => existsSync(`/dev/${d}`));
    assert.ok(wanted.length > 0, 'the host has neither /dev/kmsg nor /dev/loop0');
    const privileged = await sh(['--privileged'], wanted.map((d) => `dd if=/dev/${d} of=/dev/null count=0; echo "${d}=$?"`).join('; '));
    for (const d of wanted) assert.match(privileged.stdout, new RegExp(`^${d}=0$`, 'm'), privileged.stderr);
  });

  it('cannot load kernel modules: no CAP_SYS_MODULE and init_module is refused; --privileged has both', async () => {
    // Garbage as a module: the kernel rejects it whatever happens, so the privileged control cannot
    // load anything. What differs is who refuses: EPERM from the capability check and the seccomp
    // filter in a default container, the module loader itself (ENOSYS on this kernel, built without
    // modules; ENOEXEC elsewhere) when privileged. (/lib/modules is absent in the image, so modprobe
    // would fail for that reason alone and proves nothing.)
    const probe = 'grep CapEff /proc/self/status; head -c 64 /dev/zero > /tmp/x.ko; insmod /tmp/x.ko; echo "insmod=$?"';
    const plain = await sh([], probe);
    assert.equal(capEff(plain.stdout) & bit(CAP.SYS_MODULE), 0n);
    assert.match(plain.stdout, /^insmod=1$/m);
    assert.match(plain.stderr, /insmod: can't insert '\/tmp\/x\.ko': Operation not permitted/);

    const privileged = await sh(['--privileged'], probe);
    assert.notEqual(capEff(privileged.stdout) & bit(CAP.SYS_MODULE), 0n);
    assert.match(privileged.stderr, /insmod: can't insert '\/tmp\/x\.ko': /);
    const modulesDisabled = existsSync('/proc/sys/kernel/modules_disabled') && readFileSync('/proc/sys/kernel/modules_disabled', 'utf8').trim() === '1';
    if (!modulesDisabled) assert.doesNotMatch(privileged.stderr, /Operation not permitted/, 'the privileged insmod was refused like the default one');
  });

  it('cannot reach the engine socket; a bind mount of it is the only way in', async () => {
    // Sockets two ways: find for the ones in the image's files, and each mount point tested with
    // [ -S ]: a bind-mounted socket sits on a regular file of the rootfs, and find goes by the
    // directory entry's type, so it never sees one. perl (debian image) speaks to unix sockets;
    // busybox's nc does not.
    const probe = `
      find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print
      cut -d' ' -f5 /proc/self/mountinfo | while read -r m; do [ -S "$m" ] && echo "$m"; done
      for s in ${engine.socket} /var/run/docker.sock /run/docker.sock; do
        perl -MIO::Socket::UNIX -e '$c = IO::Socket::UNIX->new(Peer => $ARGV[0]) or do { print "$ARGV[0]: $!\\n"; exit }; print $c "GET /_ping HTTP/1.0\\r\\n\\r\\n"; my @r = <$c>; print "$ARGV[0]: $r[-1]\\n"' "$s"
      done
      test -e ${engine.dataRoot}; echo "dataRoot=$?"`;
    const plain = await shOk([], probe, 'debian');
    // No socket anywhere, the engine's path and data root do not exist in the container.
    assert.doesNotMatch(plain, /^\/\S*$/m); // the scan prints bare paths; the other lines have ': ' or '='
    assert.match(plain, new RegExp(`^${engine.socket}: No such file or directory$`, 'm'));
    assert.match(plain, /^\/var\/run\/docker\.sock: No such file or directory$/m);
    assert.match(plain, /^dataRoot=1$/m);

    // Control: bind-mounted (-v, as users do), the same probe finds it and the engine answers.
    const mounted = await shOk(['-v', `${engine.socket}:/var/run/docker.sock`], probe, 'debian');
    assert.match(mounted, /^\/run\/docker\.sock$/m); // mounted where debian's /var/run -> /run leads
    assert.match(mounted, /^\/var\/run\/docker\.sock: OK$/m);
  });

  it('cannot write /proc/sys; --privileged writes a setting of its own network namespace only', async () => {
    // kernel.core_pattern is global (not namespaced) and the classic escape: a pipe there runs as
    // root on the host. The probe writes back the value it read, so even a failure of this test
    // leaves the host unchanged. net.ipv4.tcp_keepalive_time is per network namespace.
    const probe = (value: string) => `
      v=$(cat /proc/sys/kernel/core_pattern); printf '%s\\n' "$v" > /proc/sys/kernel/core_pattern; echo "core_pattern=$?"
      echo ${value} > /proc/sys/net/ipv4/tcp_keepalive_time; echo "keepalive=$?"; cat /proc/sys/net/ipv4/tcp_keepalive_time
      grep -E ' /proc/(sys|sysrq-trigger) ' /proc/self/mountinfo`;
    const hostKeepalive = readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8').trim();
    const plain = await sh([], probe('7201'));
    assert.match(plain.stdout, /^core_pattern=1$/m);
    assert.match(plain.stdout, /^keepalive=1$/m);
    assert.equal(plain.stderr.match(/Read-only file system/g)?.length, 2, plain.stderr);
    // /proc/sysrq-trigger is read-only as well (never written: on the host it would act). This
    // kernel has no magic SysRq, so there the runtime has nothing to make read-only.
    if (existsSync('/proc/sysrq-trigger')) assert.match(plain.stdout, / \/proc\/sysrq-trigger ro,/);
    assert.match(plain.stdout, / \/proc\/sys ro,/);

    // Control, privileged and on the default bridge (its own network namespace): the namespaced
    // setting takes the new value; the host's stays as it was. Nothing global is written.
    const privileged = await sh(['--privileged'], `echo 7201 > /proc/sys/net/ipv4/tcp_keepalive_time; echo "keepalive=$?"; cat /proc/sys/net/ipv4/tcp_keepalive_time; touch /proc/sys/kernel/core_pattern; echo "touch=$?"`);
    assert.match(privileged.stdout, /^keepalive=0\n7201$/m, privileged.stderr);
    assert.match(privileged.stdout, /^touch=0$/m, privileged.stderr); // writable, not written: touch opens without O_TRUNC
    assert.equal(readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8').trim(), hostKeepalive);
  });

  it('has /sys and the cgroup tree read-only and masks /proc and /sys paths; --privileged gets them', async () => {
    const probe = `
      grep -E ' /sys(/fs/cgroup/pids)? ' /proc/mounts
      touch /sys/kernel/probe; echo "sys=$?"
      mkdir /sys/fs/cgroup/pids/probe && rmdir /sys/fs/cgroup/pids/probe; echo "cgroup=$?"
      echo "firmware=$(ls /sys/firmware | wc -l) timer_list=$(wc -c < /proc/timer_list)"`;
    const plain = await sh([], probe);
    assert.match(plain.stdout, /^sysfs \/sys sysfs ro,/m);
    assert.match(plain.stdout, /^sys=1$/m);
    assert.match(plain.stdout, /^cgroup=1$/m);
    assert.equal(plain.stderr.match(/Read-only file system/g)?.length, 2, plain.stderr);
    // Masked as with dockerd: /sys/firmware is an empty read-only tmpfs, /proc/timer_list /dev/null.
    assert.match(plain.stdout, /^firmware=0 timer_list=0$/m);

    // Control: moby clears "ro" on /sys and the cgroup mount for --privileged and drops the masks
    // (berthd kept both read-only until this test). The cgroup probe is a child cgroup of the
    // container's own, removed at once.
    const privileged = await sh(['--privileged'], probe);
    assert.match(privileged.stdout, /^sysfs \/sys sysfs rw,/m);
    assert.match(privileged.stdout, /^cgroup=0$/m, privileged.stderr);
    const masked = /^firmware=(\d+) timer_list=(\d+)$/m.exec(privileged.stdout);
    assert.ok(masked, privileged.stdout);
    if (existsSync('/sys/firmware') && (await fs.readdir('/sys/firmware')).length) assert.ok(Number(masked[1]) > 0, 'privileged /sys/firmware is empty');
    if (existsSync('/proc/timer_list')) assert.ok(Number(masked[2]) > 0, 'privileged /proc/timer_list is empty');
  });

  it('runs under dockerd\'s seccomp profile: a user namespace is refused; seccomp=unconfined allows it', async () => {
    // unshare(CLONE_NEWUSER) needs no capability, so the seccomp filter is all that refuses it.
    const probe = 'grep Seccomp: /proc/self/status; unshare -U id -u; echo "unshare=$?"';
    const plain = await sh([], probe);
    assert.match(plain.stdout, /^Seccomp:\s+2$/m);
    assert.match(plain.stdout, /^unshare=1$/m);
    assert.match(plain.stderr, /unshare\(0x10000000\): Operation not permitted/);

    const maxUserNs = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8'));
    const unconfined = await sh(['--security-opt', 'seccomp=unconfined'], probe);
    assert.match(unconfined.stdout, /^Seccomp:\s+0$/m);
    if (maxUserNs > 0) assert.match(unconfined.stdout, /^65534\nunshare=0$/m, unconfined.stderr); // unmapped root shows as the overflow uid
  });

  it('grants dockerd\'s 14 default capabilities and none inheritable; --cap-drop ALL none; --privileged all the engine has', async () => {
    assert.equal(DEFAULT_MASK, 0xa80425fbn); // what Debian's dockerd shows in CapEff
    const root = capSets(await shOk([], 'cat /proc/self/status'));
    // CapInh empty as with dockerd >= 20.10.14 (CVE-2022-24769); berthd filled it until this test.
    assert.deepEqual(root, { CapInh: 0n, CapPrm: DEFAULT_MASK, CapEff: DEFAULT_MASK, CapBnd: DEFAULT_MASK, CapAmb: 0n });
    for (const cap of ['SYS_ADMIN', 'NET_ADMIN', 'SYS_MODULE', 'SYS_RAWIO'] as const) assert.equal(root.CapEff & bit(CAP[cap]), 0n, cap);

    const nobody = capSets(await shOk(['-u', 'nobody'], 'cat /proc/self/status'));
    assert.deepEqual(nobody, { CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: DEFAULT_MASK, CapAmb: 0n });

    const none = capSets(await shOk(['--cap-drop', 'ALL'], 'cat /proc/self/status'));
    assert.deepEqual(none, { CapInh: 0n, CapPrm: 0n, CapEff: 0n, CapBnd: 0n, CapAmb: 0n });

    // "All" is what the engine itself may grant (this host's root lacks CAP_SYS_RESOURCE).
    const engineBounding = capSets(readFileSync(`/proc/${engine.pid}/status`, 'utf8')).CapBnd;
    const privileged = capSets(await shOk(['--privileged'], 'cat /proc/self/status'));
    assert.equal(privileged.CapEff, engineBounding);
    assert.equal(privileged.CapBnd, engineBounding);
    assert.equal(privileged.CapInh, 0n);

    // docker exec builds its own process spec: the same sets.
    const id = (await engine.dockerOk(['run', '-d', 'busybox', 'sleep', '60'])).trim();
    try {
      assert.deepEqual(capSets(await engine.dockerOk(['exec', id, 'cat', '/proc/self/status'])), root);
      assert.deepEqual(capSets(await engine.dockerOk(['exec', '-u', 'nobody', id, 'cat', '/proc/self/status'])), nobody);
    } finally {
      await engine.docker(['rm', '-f', id]);
    }
  });

  it('does not let -u nobody gain inheritable file capabilities (CVE-2022-24769); permitted file capabilities still apply', async () => {
    // Two copies of busybox named after the applet they run, one with cap_net_raw=ei (inheritable)
    // and one with cap_net_raw=ep (permitted), in a bind-mounted host directory.
    const dir = path.join(work, 'filecaps');
    for (const set of ['inheritable', 'permitted'] as const) {
      const file = path.join(dir, set, 'cat');
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
      await fs.copyFile('/bin/busybox', file);
      await fs.chmod(file, 0o755);
      const res = await run('setfattr', ['-n', 'security.capability', '-v', fileCapXattr(CAP.NET_RAW, set), file]);
      assert.equal(res.code, 0, res.stderr);
    }
    const out = await shOk(['-u', 'nobody', '-v', `${dir}:/caps:ro`], '/caps/inheritable/cat /proc/self/status; echo ---; /caps/permitted/cat /proc/self/status');
    const [inheritable = '', permitted = ''] = out.split('---\n');
    // With an inheritable set in the process (as berthd had), the first would show NET_RAW.
    assert.equal(capSets(inheritable).CapEff, 0n);
    // Control: the file capabilities survive the mount and the kernel honours them (within the
    // bounding set), so the zero above is the process's empty inheritable set at work.
    assert.equal(capSets(permitted).CapEff, bit(CAP.NET_RAW));
  });

  it('keeps -u nobody from escalating through a setuid-root binary with no-new-privileges; without it the binary works', async () => {
    const probe = ['rootbash', '-p', '-c', 'echo "euid=$EUID"; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status'];
    const guarded = await engine.dockerOk(['run', '--rm', '-u', 'nobody', '--security-opt', 'no-new-privileges', 'isolation-suid', ...probe]);
    assert.match(guarded, /^euid=65534$/m);
    assert.match(guarded, /^CapEff:\s+0{16}$/m);
    assert.match(guarded, /^NoNewPrivs:\s+1$/m);
    // The `:true` spelling means the same.
    assert.match(await engine.dockerOk(['run', '--rm', '-u', 'nobody', '--security-opt', 'no-new-privileges:true', 'isolation-suid', ...probe]), /^euid=65534$/m);

    // Control: without the option the setuid bit does what it is for (as with dockerd).
    const open = await engine.dockerOk(['run', '--rm', '-u', 'nobody', 'isolation-suid', ...probe]);
    assert.match(open, /^euid=0$/m);
    assert.match(open, /^NoNewPrivs:\s+0$/m);
    assert.equal(capEff(open), DEFAULT_MASK);

    // docker exec into a no-new-privileges container inherits the flag.
    const id = (await engine.dockerOk(['run', '-d', '--security-opt', 'no-new-privileges', 'isolation-suid', 'sleep', '60'])).trim();
    try {
      assert.match(await engine.dockerOk(['exec', '-u', 'nobody', id, ...probe]), /^euid=65534$/m);
    } finally {
      await engine.docker(['rm', '-f', id]);
    }
  });

  describe('host side', () => {
    it('serves the host\'s engine socket 0600: another user cannot connect, whatever the umask', async () => {
      const dir = path.join(work, 'host-socket');
      await fs.mkdir(dir, { mode: 0o755 });
      await fs.chmod(dir, 0o755); // the directory must not be what keeps the other user out
      const socket = path.join(dir, 'docker.sock');
      const previous = process.umask(0); // the worst case: a socket would be created 0777
      let server: net.Server;
      try {
        server = await serveEngineSocket(socket, '/run/berth/docker.sock', () => undefined);
      } finally {
        process.umask(previous);
      }
      // An open socket in the same directory: the control that nobody can connect at all.
      const open = path.join(dir, 'open.sock');
      const openServer = net.createServer((c) => c.destroy());
      await new Promise<void>((resolve) => openServer.listen(open, resolve));
      await fs.chmod(open, 0o666);
      try {
        const stat = await fs.stat(socket);
        assert.ok(stat.isSocket());
        assert.equal(stat.mode & 0o777, 0o600);
        assert.equal(stat.uid, process.getuid?.());
        assert.equal((await runAs(65534, process.execPath, ['-e', CONNECT_PROBE], { PROBE_SOCKET: socket })).stdout.trim(), 'EACCES');
        assert.equal((await runAs(65534, process.execPath, ['-e', CONNECT_PROBE], { PROBE_SOCKET: open })).stdout.trim(), 'connected');
        // And the owner can (the link is down, so the forwarder closes it straight after).
        await new Promise<void>((resolve, reject) => net.connect(socket).once('connect', function (this: net.Socket) { this.destroy(); resolve(); }).once('error', reject));
      } finally {
        await new Promise((r) => server.close(r));
        await new Promise((r) => openServer.close(r));
      }
    });

    describe("berthd's SSH server (the guest's door)", () => {
      interface Attempt {
        accepted: boolean;
        client: ssh2.Client;
        /** What the server offered after refusing the attempt. */
        methodsLeft: string[] | null;
        hostKey: Buffer | undefined;
        error?: Error;
      }

      /** Tries to log in with exactly one method, then gives up. */
      async function attempt(method: ssh2.AnyAuthMethod): Promise<Attempt> {
        const client = new ssh2.Client();
        let methodsLeft: string[] | null = null;
        let hostKey: Buffer | undefined;
        let tried = false;
        // berthd starts its SSH server just after the API answers: retry a refused connection.
        for (let i = 0; ; i++) {
          const result = await new Promise<Attempt | 'retry'>((resolve) => {
            client.once('ready', () => resolve({ accepted: true, client, methodsLeft, hostKey }));
            client.once('error', (error: Error & { code?: string; level?: string }) => {
              if (error.code === 'ECONNREFUSED' && i < 50) return resolve('retry');
              resolve({ accepted: false, client, methodsLeft, hostKey, error });
            });
            client.connect({
              host: '127.0.0.1',
              port: sshPort,
              username: 'berth',
              readyTimeout: 10_000,
              hostVerifier: (key: Buffer) => {
                hostKey = key;
                return true;
              },
              authHandler: (left, _partial, next) => {
                if (tried) {
                  methodsLeft = left;
                  return (next as unknown as (v: false) => void)(false); // "no more methods"
                }
                tried = true;
                next(method);
              },
            });
          });
          if (result !== 'retry') return result;
          client.removeAllListeners();
          await new Promise((r) => setTimeout(r, 100));
        }
      }

      /** An agent that offers the host's public key and signs with `signer`. */
      class KeyAgent extends ssh2.BaseAgent {
        signatures = 0;
        constructor(private readonly offered: ssh2.ParsedKey, private readonly signer: ssh2.ParsedKey) {
          super();
        }
        getIdentities(cb: (err: Error | undefined, keys?: ssh2.ParsedKey[]) => void): void {
          cb(undefined, [this.offered]);
        }
        sign(_key: unknown, data: Buffer, options: unknown, cb?: (err: Error | undefined, signature?: Buffer) => void): void {
          const done = (typeof options === 'function' ? options : cb) as (err: Error | undefined, signature?: Buffer) => void;
          this.signatures++;
          done(undefined, this.signer.sign(data));
        }
      }

      const parse = (text: string) => {
        const key = ssh2.utils.parseKey(text);
        if (key instanceof Error) throw key;
        return key;
      };

      it('refuses another key, the host\'s public key signed by another key, a password, keyboard-interactive and none', async () => {
        const refusals: [string, ssh2.AnyAuthMethod][] = [
          ['another key', { type: 'publickey', username: 'berth', key: otherKeys.privateKey }],
          ['password', { type: 'password', username: 'berth', password: 'berth' }],
          ['keyboard-interactive', { type: 'keyboard-interactive', username: 'berth', prompt: (_n, _i, _l, prompts, finish) => finish(prompts.map(() => 'berth')) }],
          ['none', { type: 'none', username: 'berth' }],
        ];
        for (const [name, method] of refusals) {
          const result = await attempt(method);
          result.client.end();
          assert.equal(result.accepted, false, `${name} was accepted`);
          assert.match(String(result.error?.message), /authentication methods failed/, name);
          assert.deepEqual(result.methodsLeft, ['publickey'], name);
        }
        // The host's public key is not a secret: the server must check the signature, not just
        // the key offered. The agent signs with another key; the server had accepted the key's
        // offer (else the agent would not have been asked to sign).
        const forger = new KeyAgent(parse(hostKeys.publicKey), parse(otherKeys.privateKey));
        const forged = await attempt({ type: 'agent', username: 'berth', agent: forger });
        forged.client.end();
        assert.ok(forger.signatures > 0, 'the server refused the offer before any signature');
        assert.equal(forged.accepted, false, 'a signature by another key was accepted');
      });

      it('accepts the host\'s key (the same agent path, signing with the right key) and forwards the engine socket only', async () => {
        const agent = new KeyAgent(parse(hostKeys.publicKey), parse(hostKeys.privateKey));
        const login = await attempt({ type: 'agent', username: 'berth', agent });
        assert.equal(login.accepted, true, String(login.error));
        const client = login.client;
        try {
          // The host key the client saw is the one berthd keeps beside its data.
          const pinned = parse(await fs.readFile(path.join(work, 'ssh_host_ed25519_key.pub'), 'utf8'));
          assert.ok(login.hostKey?.equals(pinned.getPublicSSH()), 'host key differs from ssh_host_ed25519_key.pub');

          const openLocal = (socketPath: string) =>
            new Promise<ssh2.ClientChannel>((resolve, reject) => client.openssh_forwardOutStreamLocal(socketPath, (err, stream) => (err ? reject(err) : resolve(stream))));
          const stream = await openLocal(engine.socket);
          const answer = await new Promise<string>((resolve) => {
            let text = '';
            stream.on('data', (d: Buffer) => (text += d.toString()));
            stream.on('close', () => resolve(text));
            stream.end('GET /_ping HTTP/1.0\r\n\r\n');
          });
          assert.match(answer, /\r\n\r\nOK$/);
          // Any other socket (here the host agent's kind of path, and the runtime's own) is refused.
          await assert.rejects(openLocal('/run/berth/other.sock'));
          await assert.rejects(openLocal(path.join(engine.dataRoot, 'conmon.sock')));
          // No shell or commands without --ssh-debug-shell.
          await assert.rejects(new Promise((resolve, reject) => client.exec('id', (err, channel) => (err ? reject(err) : resolve(channel)))));
        } finally {
          client.end();
        }
      });
    });
  });
});
