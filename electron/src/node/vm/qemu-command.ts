// Settings of the Berth VM -> the QEMU command line and the guest kernel's command line. The one
// place that knows the machine type, devices and accelerator choice; the VM provider and the tests
// both use it.
import { existsSync, readFileSync } from 'node:fs';

export type Accel = 'kvm' | 'hvf' | 'whpx' | 'tcg';

export interface VmSettings {
  cpus: number;
  memoryMiB: number;
  /** vm-image/dist (vmlinux, initramfs.cpio.gz, rootfs.squashfs). */
  imageDir: string;
  /** The persistent data disk (qcow2, created on first start). */
  dataDisk: string;
  /** Host port forwarded to the guest's SSH server. */
  sshPort: number;
  /** The host's public key (OpenSSH format), the only key the guest accepts. */
  authorizedKey: string;
  /** Folders shared with the guest (tag -> host path; no spaces in either). */
  sharedFolders?: Record<string, string>;
  /** How folders are shared: 9p (QEMU alone) or virtiofs (faster metadata, needs virtiofsd). */
  sharing?: '9p' | 'virtiofs';
  /** Where virtiofsd sockets go (virtiofs only). */
  runDir?: string;
  /** Serial console output. */
  consoleLog: string;
  accel?: Accel;
  debugShell?: boolean;
}

/**
 * KVM needs /dev/kvm and a CPU with virtualization extensions. Some nested setups (these test
 * machines) have the device but no vmx/svm, and QEMU then aborts setting MSRs: that is TCG's case.
 */
export function kvmUsable(): boolean {
  if (!existsSync('/dev/kvm')) return false;
  try {
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** The fastest accelerator this host offers: KVM on Linux (when it works), HVF on macOS, WHPX on Windows, else TCG; BERTH_ACCEL overrides. */
export function defaultAccel(platform: NodeJS.Platform = process.platform, kvm = kvmUsable()): Accel {
  const forced = process.env.BERTH_ACCEL;
  if (forced === 'kvm' || forced === 'hvf' || forced === 'whpx' || forced === 'tcg') return forced;
  const kvmUsable = kvm;
  if (platform === 'darwin') return 'hvf';
  if (platform === 'win32') return 'whpx';
  return kvmUsable ? 'kvm' : 'tcg';
}

export function kernelCommandLine(settings: VmSettings): string {
  return [
    'console=ttyS0',
    // microvm under TCG hangs in about two of three boots without these (vm-on-this-machine.md).
    'tsc_early_khz=2000000',
    'tsc=reliable',
    'quiet',
    'panic=-1',
    `berth.authorized_key=${Buffer.from(settings.authorizedKey.trim()).toString('base64')}`,
    // Shared folders appear in the guest at the host's own paths, as with Docker Desktop, so
    // `docker run -v /Users/me/src:/src` means the same folder on both sides.
    ...Object.entries(settings.sharedFolders ?? {}).map(([tag, hostPath]) => `berth.share=${tag}:${hostPath}${settings.sharing === 'virtiofs' ? ':virtiofs' : ''}`),
    ...(settings.debugShell ? ['berth.debug=1'] : []),
  ].join(' ');
}

/** A process the host starts before QEMU (virtiofsd for each virtiofs share). */
export interface HelperCommand {
  binary: string;
  args: string[];
  /** The socket QEMU connects to once the helper listens. */
  socket: string;
}

export function qemuCommand(settings: VmSettings, accel: Accel = settings.accel ?? defaultAccel()): { binary: string; args: string[]; helpers: HelperCommand[] } {
  const dir = settings.imageDir;
  const args = [
    '-M', 'microvm,rtc=on',
    '-accel', accel,
    '-cpu', accel === 'tcg' ? 'max' : 'host',
    '-smp', String(settings.cpus),
    '-m', String(settings.memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-serial', `file:${settings.consoleLog}`,
    '-kernel', `${dir}/vmlinux`,
    '-initrd', `${dir}/initramfs.cpio.gz`,
    '-append', kernelCommandLine(settings),
    '-drive', `id=root,file=${dir}/rootfs.squashfs,format=raw,if=none,read-only=on`,
    '-device', 'virtio-blk-device,drive=root',
    '-drive', `id=data,file=${settings.dataDisk},format=qcow2,if=none,discard=unmap,detect-zeroes=unmap`,
    '-device', 'virtio-blk-device,drive=data',
    // User networking: the guest reaches the host as 10.0.2.2 (host.docker.internal).
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${settings.sshPort}-:22`,
    '-device', 'virtio-net-device,netdev=net0',
    '-device', 'virtio-rng-device',
  ];
  const helpers: HelperCommand[] = [];
  const shares = Object.entries(settings.sharedFolders ?? {});
  if (settings.sharing === 'virtiofs' && shares.length) {
    // vhost-user needs the guest's memory shared with virtiofsd, and modern virtio-mmio.
    const machine = args.indexOf('microvm,rtc=on');
    args[machine] = 'microvm,rtc=on,memory-backend=mem';
    args.push('-object', `memory-backend-memfd,id=mem,size=${settings.memoryMiB}M,share=on`, '-global', 'virtio-mmio.force-legacy=false');
    for (const [tag, hostPath] of shares) {
      const socket = `${settings.runDir ?? '/tmp'}/virtiofs-${tag}.sock`;
      helpers.push({ binary: '/usr/lib/qemu/virtiofsd', args: [`--socket-path=${socket}`, '-o', `source=${hostPath}`, '-o', 'cache=auto'], socket });
      args.push('-chardev', `socket,id=vfs-${tag},path=${socket}`, '-device', `vhost-user-fs-device,chardev=vfs-${tag},tag=${tag}`);
    }
  } else {
    for (const [tag, hostPath] of shares) {
      args.push('-fsdev', `local,id=fs-${tag},path=${hostPath},security_model=none`, '-device', `virtio-9p-device,fsdev=fs-${tag},mount_tag=${tag}`);
    }
  }
  return { binary: 'qemu-system-x86_64', args, helpers };
}
