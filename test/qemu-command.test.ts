// The VM settings -> QEMU and kernel command lines (no VM is booted here).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { GUEST_SSH_PORT, parseBootArguments } from '../electron/src/node/vm/guest-contract.js';
import { hostTscKhz } from '../electron/src/node/vm/host-tsc.js';
import { defaultAccel, hostGuestArch, kernelCommandLine, qemuCommand, type VmSettings } from '../electron/src/node/vm/qemu-command.js';

const settings: VmSettings = {
  cpus: 4,
  memoryMiB: 2048,
  imageDir: '/opt/berth/image',
  dataDisk: '/home/me/.berth/data.qcow2',
  sshPort: 2222,
  authorizedKey: 'ssh-ed25519 AAAAC3Nza host',
  consoleLog: '/tmp/console.log',
  sharedFolders: { users: '/Users' },
  arch: 'amd64',
};

describe('qemu command', () => {
  it('picks the accelerator per platform, and TCG for a guest of the other architecture', () => {
    const native = hostGuestArch();
    const foreign = native === 'amd64' ? 'arm64' : 'amd64';
    assert.equal(defaultAccel(native, 'darwin', false), 'hvf');
    assert.equal(defaultAccel(native, 'win32', false), 'whpx');
    assert.equal(defaultAccel(native, 'linux', true), 'kvm');
    assert.equal(defaultAccel(native, 'linux', false), 'tcg');
    assert.equal(defaultAccel(foreign, 'darwin', false), 'tcg');
    assert.equal(defaultAccel(foreign, 'linux', true), 'tcg');
  });

  it('builds a microvm with the root, the data disk, user networking with the SSH port, rng and 9p shares', () => {
    const { binary, args } = qemuCommand(settings, 'kvm');
    assert.equal(binary, 'qemu-system-x86_64');
    const joined = args.join(' ');
    assert.match(joined, /-M microvm,rtc=on -accel kvm -cpu host -smp 4 -m 2048/);
    assert.match(joined, /file=\/opt\/berth\/image\/rootfs\.squashfs,format=raw,if=none,read-only=on/);
    assert.match(joined, /file=\/home\/me\/\.berth\/data\.qcow2,format=qcow2,if=none,discard=unmap/);
    assert.match(joined, new RegExp(`hostfwd=tcp:127\\.0\\.0\\.1:2222-:${GUEST_SSH_PORT}\\b`));
    assert.match(joined, /virtio-rng-device/);
    assert.match(joined, /-device virtio-balloon-device,free-page-reporting=on/);
    assert.match(joined, /-fsdev local,id=fs-users,path=\/Users,security_model=none -device virtio-9p-device,fsdev=fs-users,mount_tag=users/);
    assert.equal(qemuCommand(settings, 'tcg').args[qemuCommand(settings, 'tcg').args.indexOf('-cpu') + 1], 'max');
  });

  it('shares over virtiofs with a virtiofsd per folder, shared memory and modern virtio-mmio', () => {
    const { args, helpers } = qemuCommand({ ...settings, sharing: 'virtiofs', runDir: '/run/berth' }, 'tcg');
    const joined = args.join(' ');
    assert.match(joined, /-M microvm,rtc=on,memory-backend=mem/);
    assert.match(joined, /-object memory-backend-memfd,id=mem,size=2048M,share=on -global virtio-mmio\.force-legacy=false/);
    assert.match(joined, /-chardev socket,id=vfs-users,path=\/run\/berth\/virtiofs-users\.sock -device vhost-user-fs-device,chardev=vfs-users,tag=users/);
    assert.deepEqual(helpers, [{ binary: '/usr/lib/qemu/virtiofsd', args: ['--socket-path=/run/berth/virtiofs-users.sock', '-o', 'source=/Users', '-o', 'cache=auto'], socket: '/run/berth/virtiofs-users.sock' }]);
    assert.deepEqual(parseBootArguments(kernelCommandLine({ ...settings, sharing: 'virtiofs' })).arguments.shares, [{ tag: 'users', kind: 'virtiofs', path: '/Users' }]);
  });

  it('hands the host key and the shares to the guest on the kernel command line, as the guest reads it', () => {
    const line = kernelCommandLine(settings, 'tcg');
    // The TSC's rate only under TCG (the host's, or 2 GHz), where microvm needs it told.
    assert.match(line, /^console=ttyS0 tsc_early_khz=\d{6,8} tsc=reliable quiet /);
    for (const accel of ['kvm', 'whpx'] as const) assert.doesNotMatch(kernelCommandLine(settings, accel), /tsc/);
    assert.match(qemuCommand(settings, 'kvm').args.join(' '), /-append console=ttyS0 quiet /);
    assert.deepEqual(parseBootArguments(line), { arguments: { authorizedKey: settings.authorizedKey, shares: [{ tag: 'users', kind: '9p', path: '/Users' }], debugShell: false }, problems: [] });
    assert.equal(parseBootArguments(kernelCommandLine({ ...settings, debugShell: true })).arguments.debugShell, true);
  });

  it('boots an arm64 guest on the virt machine: the kernel Image, virtio over PCI, GICv3 under TCG, the PL011 console', () => {
    const arm64 = { ...settings, arch: 'arm64' as const, imageDir: '/opt/berth/image/arm64' };
    const { binary, args } = qemuCommand(arm64, 'tcg');
    assert.equal(binary, 'qemu-system-aarch64');
    const joined = args.join(' ');
    assert.match(joined, /-M virt,highmem=on,gic-version=3 -accel tcg -cpu max -smp 4 -m 2048/);
    assert.match(joined, /-kernel \/opt\/berth\/image\/arm64\/Image -initrd \/opt\/berth\/image\/arm64\/initramfs\.cpio\.gz/);
    assert.match(joined, /-device virtio-blk-pci,drive=root .* -device virtio-blk-pci,drive=data/);
    assert.match(joined, /-device virtio-net-pci,netdev=net0 -device virtio-rng-pci -device virtio-balloon-pci,free-page-reporting=on/);
    assert.match(joined, /-device virtio-9p-pci,fsdev=fs-users,mount_tag=users/);
    assert.doesNotMatch(joined, /-device virtio-[a-z0-9]+-device|microvm/);
    assert.match(qemuCommand(arm64, 'hvf').args.join(' '), /-M virt,highmem=on,gic-version=max -accel hvf -cpu host/);
    const line = kernelCommandLine(arm64);
    assert.match(line, /^console=ttyAMA0 /);
    assert.doesNotMatch(line, /tsc/);
    const virtiofs = qemuCommand({ ...arm64, sharing: 'virtiofs', runDir: '/run/berth' }, 'tcg').args.join(' ');
    assert.match(virtiofs, /-M virt,highmem=on,gic-version=3,memory-backend=mem/);
    assert.match(virtiofs, /-device vhost-user-fs-pci,chardev=vfs-users,tag=users/);
    assert.doesNotMatch(virtiofs, /force-legacy/);
    assert.equal(hostGuestArch('arm64'), 'arm64');
    assert.equal(hostGuestArch('x64'), 'amd64');
  });

  it('doubles commas in paths inside QEMU options, and refuses a share the guest could not mount', () => {
    const odd = { ...settings, dataDisk: '/home/a,b/data.qcow2', sharedFolders: { s: '/home/a,b/src' } };
    const joined = qemuCommand(odd, 'tcg').args.join(' ');
    assert.match(joined, /file=\/home\/a,,b\/data\.qcow2,format=qcow2/);
    assert.match(joined, /path=\/home\/a,,b\/src,security_model=none/);
    assert.deepEqual(parseBootArguments(kernelCommandLine(odd)).arguments.shares, [{ tag: 's', kind: '9p', path: '/home/a,b/src' }]);
    assert.throws(() => qemuCommand({ ...settings, sharedFolders: { s: '/var' } }, 'tcg'), /would hide the guest's \/var\/lib\/berth/);
    // The kernel would cut a longer line short, and with it the last share's path.
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`share${i}`, `/Users/me/${'long-folder-name-'.repeat(6)}${i}`]));
    assert.throws(() => kernelCommandLine({ ...settings, sharedFolders: many }), /more than the 2047 it reads/);
  });
});

describe("the host's TSC rate, for a TCG guest's kernel", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-tsc-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cpufreqDir = path.join(dir, 'cpufreq');
  /** /proc/cpuinfo's first processor, as a VM on an AMD EPYC shows it. */
  const cpuinfo = (mhz: string, flags = 'fpu vme de pse tsc msr pae constant_tsc rep_good nopl hypervisor') => {
    const file = path.join(dir, `cpuinfo-${mhz}-${flags.length}`);
    writeFileSync(file, `processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\ncpu MHz\t\t: ${mhz}\ncache size\t: 512 KB\nflags\t\t: ${flags}\n\nprocessor\t: 1\ncpu MHz\t\t: ${mhz}\n`);
    return file;
  };

  it("is Linux's cpu MHz where that is the kernel's calibrated rate: no cpufreq, no APERF/MPERF", () => {
    assert.equal(hostTscKhz({ cpuinfo: cpuinfo('2096.004'), cpufreqDir }), 2_096_004);
  });

  it('is unknown where cpu MHz is a current frequency, or missing, or not Linux', () => {
    assert.equal(hostTscKhz({ cpuinfo: cpuinfo('2096.004', 'fpu tsc constant_tsc aperfmperf'), cpufreqDir }), undefined);
    mkdirSync(cpufreqDir);
    assert.equal(hostTscKhz({ cpuinfo: cpuinfo('1400.000'), cpufreqDir }), undefined);
    rmSync(cpufreqDir, { recursive: true });
    assert.equal(hostTscKhz({ cpuinfo: cpuinfo('0.000'), cpufreqDir }), undefined);
    assert.equal(hostTscKhz({ cpuinfo: path.join(dir, 'absent'), cpufreqDir }), undefined);
  });
});
