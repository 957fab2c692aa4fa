// Settings of the Berth VM -> the QEMU command line and the guest kernel's command line. The one
// place that knows the machine type, devices and accelerator choice; the VM provider and the tests
// both use it.
import { existsSync, readFileSync } from 'node:fs';

import { GUEST_SSH_PORT, formatBootArguments, type GuestShare } from './guest-contract.js';
import { hostTscKhz } from './host-tsc.js';

export type Accel = 'kvm' | 'hvf' | 'whpx' | 'tcg';

/** The guest's architecture, named the Debian way as the image's manifest names it. */
export type GuestArch = 'amd64' | 'arm64';

/** The guest that runs natively here: arm64 on Apple Silicon and other arm64 hosts, amd64 elsewhere. */
export function hostGuestArch(arch: string = process.arch): GuestArch {
  return arch === 'arm64' ? 'arm64' : 'amd64';
}

export interface VmSettings {
  cpus: number;
  memoryMiB: number;
  /** The guest image of `arch`: vm-image/dist/amd64 (vmlinux, ...) or vm-image/dist/arm64 (Image, ...). */
  imageDir: string;
  /** The guest's architecture (default: the host's); another one runs under TCG. */
  arch?: GuestArch;
  /** The persistent data disk (qcow2, created on first start). */
  dataDisk: string;
  /** Host port forwarded to the guest's SSH server. */
  sshPort: number;
  /** The host's public key (OpenSSH format), the only key the guest accepts. */
  authorizedKey: string;
  /** Folders shared with the guest (tag -> host path), mounted in the guest at the host path. */
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

/**
 * The fastest accelerator this host offers for a guest of `arch`: KVM on Linux (when it works), HVF
 * on macOS, WHPX on Windows, else TCG. A guest of another architecture than the host's always runs
 * under TCG. BERTH_ACCEL overrides.
 */
export function defaultAccel(arch: GuestArch = hostGuestArch(), platform: NodeJS.Platform = process.platform, kvm = kvmUsable()): Accel {
  const forced = process.env.BERTH_ACCEL;
  if (forced === 'kvm' || forced === 'hvf' || forced === 'whpx' || forced === 'tcg') return forced;
  if (arch !== hostGuestArch()) return 'tcg';
  const kvmUsable = kvm;
  if (platform === 'darwin') return 'hvf';
  if (platform === 'win32') return 'whpx';
  return kvmUsable ? 'kvm' : 'tcg';
}

/**
 * The shared folders as the guest mounts them: at the host's own paths, as with Docker Desktop, so
 * `docker run -v /Users/me/src:/src` means the same folder on both sides.
 */
export function guestShares(settings: VmSettings): GuestShare[] {
  const kind = settings.sharing === 'virtiofs' ? 'virtiofs' : '9p';
  return Object.entries(settings.sharedFolders ?? {}).map(([tag, hostPath]) => ({ tag, kind, path: hostPath }));
}

/** What the guest's kernel keeps of its command line (COMMAND_LINE_SIZE, x86 and arm64); it cuts the rest silently. */
const KERNEL_COMMAND_LINE_MAX = 2047;

/**
 * The amd64 kernel's TSC options. microvm under TCG hangs in about two of three boots while the
 * kernel calibrates its TSC (vm-on-this-machine.md), so it is told the rate: the host's (host-tsc.ts),
 * or 2 GHz when unknown, which berthd's clock follower then corrects. Under kvm, whpx or hvf the
 * kernel measures the rate itself: a rate told there would make a TSC clocksource run fast or slow.
 */
function tscOptions(accel: Accel): string[] {
  return accel === 'tcg' ? [`tsc_early_khz=${hostTscKhz() ?? 2_000_000}`, 'tsc=reliable'] : [];
}

/** The kernel's own options, then what the guest reads (guest-contract.ts); throws on a share the guest would refuse. */
export function kernelCommandLine(settings: VmSettings, accel: Accel = settings.accel ?? defaultAccel(settings.arch)): string {
  const arm64 = (settings.arch ?? hostGuestArch()) === 'arm64';
  const line = [
    // The virt machine's console is a PL011 UART; microvm's the 16550.
    arm64 ? 'console=ttyAMA0' : 'console=ttyS0',
    ...(arm64 ? [] : tscOptions(accel)),
    'quiet',
    'panic=-1',
    ...formatBootArguments({ authorizedKey: settings.authorizedKey, shares: guestShares(settings), debugShell: Boolean(settings.debugShell) }),
  ].join(' ');
  if (line.length > KERNEL_COMMAND_LINE_MAX) throw new Error(`the guest's kernel command line would be ${line.length} bytes, more than the ${KERNEL_COMMAND_LINE_MAX} it reads: share fewer folders, or folders with shorter paths`);
  return line;
}

/** A value inside one of QEMU's comma-separated options: a comma in it is written twice. */
const qemuOptionValue = (value: string) => value.replaceAll(',', ',,');

/** A process the host starts before QEMU (virtiofsd for each virtiofs share). */
export interface HelperCommand {
  binary: string;
  args: string[];
  /** The socket QEMU connects to once the helper listens. */
  socket: string;
}

/**
 * The QEMU command line for the settings. amd64: `microvm` with virtio-mmio devices, the ELF
 * kernel booted through PVH. arm64: `virt` with virtio over PCI, the kernel `Image`, GICv3 under
 * TCG and the host's best (`max`) with hvf or kvm.
 */
export function qemuCommand(settings: VmSettings, accel: Accel = settings.accel ?? defaultAccel(settings.arch)): { binary: string; args: string[]; helpers: HelperCommand[] } {
  const arm64 = (settings.arch ?? hostGuestArch()) === 'arm64';
  // The same devices on either machine: virtio-mmio ("-device") on microvm, PCI on virt.
  const device = (name: string) => `${name}-${arm64 ? 'pci' : 'device'}`;
  const machine = arm64 ? `virt,highmem=on,gic-version=${accel === 'tcg' ? '3' : 'max'}` : 'microvm,rtc=on';
  const dir = settings.imageDir;
  const args = [
    '-M', machine,
    '-accel', accel,
    '-cpu', accel === 'tcg' ? 'max' : 'host',
    '-smp', String(settings.cpus),
    '-m', String(settings.memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-serial', `file:${settings.consoleLog}`,
    '-kernel', `${dir}/${arm64 ? 'Image' : 'vmlinux'}`,
    '-initrd', `${dir}/initramfs.cpio.gz`,
    '-append', kernelCommandLine(settings, accel),
    '-drive', `id=root,file=${qemuOptionValue(`${dir}/rootfs.squashfs`)},format=raw,if=none,read-only=on`,
    '-device', `${device('virtio-blk')},drive=root`,
    '-drive', `id=data,file=${qemuOptionValue(settings.dataDisk)},format=qcow2,if=none,discard=unmap,detect-zeroes=unmap`,
    '-device', `${device('virtio-blk')},drive=data`,
    // User networking: the guest reaches the host as 10.0.2.2 (host.docker.internal).
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${settings.sshPort}-:${GUEST_SSH_PORT}`,
    '-device', `${device('virtio-net')},netdev=net0`,
    '-device', device('virtio-rng'),
    // Free page reporting: pages the guest frees go back to the host within seconds (QEMU drops
    // them from its memory), with no balloon size to set or tune.
    '-device', `${device('virtio-balloon')},free-page-reporting=on`,
  ];
  const helpers: HelperCommand[] = [];
  const shares = Object.entries(settings.sharedFolders ?? {});
  if (settings.sharing === 'virtiofs' && shares.length) {
    // vhost-user needs the guest's memory shared with virtiofsd (and, on microvm, modern virtio-mmio).
    args[args.indexOf(machine)] = `${machine},memory-backend=mem`;
    args.push('-object', `memory-backend-memfd,id=mem,size=${settings.memoryMiB}M,share=on`);
    if (!arm64) args.push('-global', 'virtio-mmio.force-legacy=false');
    for (const [tag, hostPath] of shares) {
      const socket = `${settings.runDir ?? '/tmp'}/virtiofs-${tag}.sock`;
      helpers.push({ binary: '/usr/lib/qemu/virtiofsd', args: [`--socket-path=${socket}`, '-o', `source=${hostPath}`, '-o', 'cache=auto'], socket });
      args.push('-chardev', `socket,id=vfs-${tag},path=${qemuOptionValue(socket)}`, '-device', `${device('vhost-user-fs')},chardev=vfs-${tag},tag=${tag}`);
    }
  } else {
    for (const [tag, hostPath] of shares) {
      args.push('-fsdev', `local,id=fs-${tag},path=${qemuOptionValue(hostPath)},security_model=none`, '-device', `${device('virtio-9p')},fsdev=fs-${tag},mount_tag=${tag}`);
    }
  }
  return { binary: arm64 ? 'qemu-system-aarch64' : 'qemu-system-x86_64', args, helpers };
}
