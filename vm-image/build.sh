#!/usr/bin/env bash
# Builds the Berth guest from Debian trixie's packages for ARCH (vm-image/debian-root.sh), not from
# this machine's files:
#   vmlinux          (amd64) Debian's generic kernel, uncompressed: QEMU microvm boots it through PVH
#   Image            (arm64) Debian's generic kernel as QEMU's virt machine and Apple's
#                    Virtualization framework boot it (uncompressed)
#   initramfs.cpio.gz  busybox and the modules that mount the root: its /init finds the disks
#   rootfs.squashfs  read-only root: Node, berthd in one file, crun, runc, conmon, iptables/nft,
#                    iproute2, e2fsprogs, kernel modules, and /sbin/berth-init
#   manifest.json    versions of every package, sizes and sha256 of every artifact
# Each architecture to its own folder: vm-image/dist/amd64, vm-image/dist/arm64. Same inputs (the packages, this
# checkout), same artifacts: file times are pinned to SOURCE_DATE_EPOCH, archives written sorted.
#   npm run vm-image            ARCH=arm64 npm run vm-image
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${ARCH:-amd64}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1764288000}"
WORK=vm-image/.work/$ARCH
case "$ARCH" in
  amd64) TRIPLET=x86_64-linux-gnu FOREIGN=aarch64 ;;
  arm64) TRIPLET=aarch64-linux-gnu FOREIGN=x86_64 ;;
  *) echo "vm-image: unknown ARCH $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac

bash vm-image/install-deps.sh
OUT=vm-image/dist/$ARCH
rm -rf "$WORK" "$OUT"
# Checkouts from before the per-architecture folders kept amd64's guest in dist/ itself.
rm -f vm-image/dist/{vmlinux,initramfs.cpio.gz,rootfs.squashfs,manifest.json}
mkdir -p "$WORK" "$OUT"
INITRD="$WORK/initramfs"
mkdir -p "$INITRD"

# ---- the packages, unpacked: the root starts as them ----
bash vm-image/debian-root.sh "$ARCH" "$WORK/debian"
ROOT="$WORK/debian/root"

# ---- kernel: Debian's generic image (the cloud one has no 9p) ----
KVER=$(ls "$ROOT/usr/lib/modules")
KPKG=$(awk -F'\t' '$1 ~ /^linux-image-[0-9]/ { print $1 " " $2; exit }' "$WORK/debian/packages.tsv")
VMLINUZ="$ROOT/boot/vmlinuz-$KVER"
if [ "$ARCH" = amd64 ]; then
  # PVH needs the ELF kernel: the payload inside the bzImage (zstd in trixie, xz before), decompressed.
  offset=$(grep -abo $'\x28\xb5\x2f\xfd' "$VMLINUZ" | head -1 | cut -d: -f1)
  if [ -n "$offset" ]; then tail -c +"$((offset + 1))" "$VMLINUZ" | zstd -dc 2>/dev/null >"$OUT/vmlinux" || true
  else
    offset=$(grep -abo $'\xfd7zXZ\x00' "$VMLINUZ" | head -1 | cut -d: -f1)
    tail -c +"$((offset + 1))" "$VMLINUZ" | xz -dc --single-stream >"$OUT/vmlinux" 2>/dev/null || true
  fi
  [ -s "$OUT/vmlinux" ] && head -c 4 "$OUT/vmlinux" | grep -q ELF || { echo "vm-image: could not extract vmlinux from $VMLINUZ" >&2; exit 1; }
else
  # arm64's vmlinuz is the Image (trixie's plain, older ones gzipped): Apple's framework takes the plain one.
  if [ "$(head -c 2 "$VMLINUZ" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then gzip -dc "$VMLINUZ" >"$OUT/Image"; else cp "$VMLINUZ" "$OUT/Image"; fi
  head -c 64 "$OUT/Image" | tail -c 8 | grep -q ARMd || { echo "vm-image: $VMLINUZ is not an arm64 Image" >&2; exit 1; }
fi

# The modules the guest may need (the kernel loads them on demand through modprobe).
# The package's tree moves aside; the chosen directories come back, decompressed (.ko.xz in trixie:
# busybox's modprobe in the initramfs reads plain .ko), and depmod indexes them.
KMOD_SRC="$WORK/modules/$KVER"
KMOD_DST="$ROOT/usr/lib/modules/$KVER"
mkdir -p "$WORK/modules"
mv "$KMOD_DST" "$KMOD_SRC"
mkdir -p "$KMOD_DST/kernel"
for dir in fs/binfmt_misc.ko fs/9p fs/netfs fs/fscache fs/overlayfs fs/squashfs fs/ext4 fs/jbd2 fs/fuse fs/mbcache.ko net/9p net/bridge net/netfilter net/ipv4 net/ipv6 \
  net/sched net/core net/llc net/802 net/vmw_vsock drivers/virtio drivers/block/virtio_blk.ko drivers/net/virtio_net.ko \
  drivers/net/net_failover.ko drivers/net/veth.ko drivers/net/dummy.ko drivers/char/hw_random drivers/net/tun.ko lib crypto arch; do
  # A single module is NAME.ko, or NAME.ko.xz where the kernel package compresses them.
  [ -e "$KMOD_SRC/kernel/$dir" ] || [ ! -e "$KMOD_SRC/kernel/$dir.xz" ] || dir="$dir.xz"
  [ -e "$KMOD_SRC/kernel/$dir" ] || continue
  mkdir -p "$KMOD_DST/kernel/$(dirname "$dir")"
  cp -a "$KMOD_SRC/kernel/$dir" "$KMOD_DST/kernel/$(dirname "$dir")/"
done
cp "$KMOD_SRC"/modules.order "$KMOD_SRC"/modules.builtin* "$KMOD_DST/" 2>/dev/null || true
# Nested virtualization and the kernel's self-tests have no use in the guest.
rm -rf "$KMOD_DST/kernel/arch/x86/kvm" "$KMOD_DST"/kernel/lib/test_*.ko*
find "$KMOD_DST" -name '*.ko.xz' -exec xz -d {} +
sed -i 's/\.ko\.xz$/.ko/' "$KMOD_DST/modules.order"
depmod -b "$ROOT" "$KVER"
rm -rf "$ROOT/boot" "$WORK/modules"

# ---- the root filesystem: what the packages' maintainer scripts would have set up ----
# What the guest never uses: headers, static and pkg-config files, iconv's charsets, TypeScript's
# declarations and corepack of Node, debconf.
rm -rf "$ROOT/usr/include" "$ROOT/usr/lib/$TRIPLET/pkgconfig" "$ROOT/usr/lib/$TRIPLET/gconv" "$ROOT/usr/share/nodejs/@types" \
  "$ROOT/usr/share/nodejs/corepack" "$ROOT/usr/bin/corepack" "$ROOT/usr/share/debconf" "$ROOT/usr/share/perl5" "$ROOT/usr/bin/debconf"*
find "$ROOT/usr/lib" -name '*.a' -delete
# Of qemu-user's emulators, the other architecture's (FOREIGN) alone, with its binfmt line, which
# berth-init registers: docker run --platform of that architecture works.
find "$ROOT/usr/bin" -name 'qemu-*' ! -name "qemu-$FOREIGN" -delete
find "$ROOT/usr/libexec/qemu-binfmt" -mindepth 1 ! -name "$FOREIGN-binfmt-P" -delete
find "$ROOT/usr/lib/binfmt.d" "$ROOT/usr/share/qemu/binfmt.d" -name 'qemu-*.conf' ! -name "qemu-$FOREIGN.conf" -delete
[ -x "$ROOT/usr/bin/qemu-$FOREIGN" ] && [ -e "$ROOT/usr/lib/binfmt.d/qemu-$FOREIGN.conf" ] || { echo "vm-image: qemu-user has no $FOREIGN emulator" >&2; exit 1; }
# iptables through nft (Debian's alternatives would point these at xtables-nft-multi).
for name in iptables iptables-restore iptables-save ip6tables ip6tables-restore ip6tables-save; do ln -sf xtables-nft-multi "$ROOT/usr/sbin/$name"; done
for name in modprobe insmod rmmod lsmod depmod; do ln -sf /usr/bin/kmod "$ROOT/usr/sbin/$name"; done
# busybox for the rest of what berth-init and berthd call (the packages' own tools come first).
for applet in $("$ROOT/usr/bin/busybox" --list 2>/dev/null || busybox --list); do
  [ -e "$ROOT/usr/bin/$applet" ] || [ -e "$ROOT/usr/sbin/$applet" ] || ln -s busybox "$ROOT/usr/bin/$applet"
done
mkdir -p "$ROOT/usr/share/berth/seccomp"
cp /usr/share/berth/seccomp/docker-default.json "$ROOT/usr/share/berth/seccomp/"

# berthd in one file (esbuild), its loader, and its attach relay built for ARCH (runtime-agent/native).
# The bundle is CommonJS because the loader compiles it as a script, with V8's code cache: import.meta.url
# (protos.ts finds proto/ by it) becomes the bundle's own file URL, and import() a require (a script
# compiled by node:vm has no loader for import()).
mkdir -p "$ROOT/opt/berth"
npx esbuild runtime-agent/src/cli/berthd-vm.ts --bundle --platform=node --format=cjs --target=node20 --supported:dynamic-import=false \
  --external:'*.node' --legal-comments=none \
  --banner:js="const __berthModuleUrl = require('node:url').pathToFileURL(__filename).href;" --define:import.meta.url=__berthModuleUrl \
  --outfile="$ROOT/opt/berth/berthd.cjs" --log-level=warning
install -m 0644 vm-image/rootfs/berthd-start.cjs "$ROOT/opt/berth/berthd-start.cjs"
# What the startup caches (berthd-start.cjs) are made from: a new bundle, loader or Node makes new ones.
cat "$ROOT/opt/berth/berthd.cjs" "$ROOT/opt/berth/berthd-start.cjs" "$ROOT/usr/bin/node" "$ROOT"/usr/lib/*/libnode.so.* \
  | sha256sum | cut -c1-16 >"$ROOT/opt/berth/startup-key"
# BuildKit's .proto files, which berthd parses when a BuildKit client first calls (proto/ beside the bundle).
cp -r runtime-agent/src/buildkit/proto "$ROOT/opt/berth/proto"
bash runtime-agent/native/build.sh "$ARCH" "$ROOT/usr/libexec/berth/attach-relay"

# /etc, the mount points, and the init.
mkdir -p "$ROOT"/{etc,proc,sys,dev,run,tmp,var/lib/berth,root,mnt}
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
printf '127.0.0.1\tlocalhost berth\n10.0.2.2\thost.docker.internal\n' >"$ROOT/etc/hosts"
echo berth >"$ROOT/etc/hostname"
ln -sf /run/resolv.conf "$ROOT/etc/resolv.conf"
printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
install -m 0755 vm-image/rootfs/berth-init "$ROOT/sbin/berth-init"

# ---- initramfs: busybox, the modules that mount the disks, /init ----
mkdir -p "$INITRD"/{bin,dev,proc,sys,newroot,lib/modules/"$KVER"}
cp "$ROOT/usr/bin/busybox" "$INITRD/bin/busybox"
install -m 0755 vm-image/initramfs/init "$INITRD/init"
# Only what reaching the root takes: loading a module is slow under TCG (ext4 and its dependencies
# took most of a second), so berth-init loads the data disk's while it checks it.
BOOT_MODULES="virtio_mmio virtio_pci virtio_blk squashfs overlay"
deps_of() { # a module and everything it depends on, from modules.dep
  local mod="$1"
  local line; line=$(grep -aE "/${mod}\.ko(\.[a-z]+)?:" "$KMOD_DST/modules.dep" | head -1 || true)  # none: built in
  [ -n "$line" ] || return 0
  echo "${line%%:*}"
  for dep in ${line#*:}; do deps_of "$(basename "$dep" | sed 's/\.ko.*//')"; done
}
for mod in $BOOT_MODULES; do deps_of "$mod"; done | sort -u | while read -r rel; do
  mkdir -p "$INITRD/lib/modules/$KVER/$(dirname "$rel")"
  cp "$KMOD_DST/$rel" "$INITRD/lib/modules/$KVER/$rel"
done
cp "$KMOD_DST"/modules.dep "$KMOD_DST"/modules.alias "$INITRD/lib/modules/$KVER/" 2>/dev/null || true
echo "$BOOT_MODULES" >"$INITRD/boot-modules"

# ---- pinned times, sorted archives ----
find "$ROOT" "$INITRD" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" mksquashfs "$ROOT" "$OUT/rootfs.squashfs" -comp zstd -Xcompression-level 15 -noappend -all-root -no-xattrs \
  -quiet -no-progress >/dev/null
(cd "$INITRD" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet | gzip -n -9) >"$OUT/initramfs.cpio.gz"

# ---- manifest: the main versions, and every package that went in ----
pkgver() { awk -F'\t' -v p="$1" '$1 == p { print $2; exit }' "$WORK/debian/packages.tsv"; }
node vm-image/write-manifest.mjs "$OUT" "$WORK/debian/packages.tsv" \
  "arch=$ARCH" "suite=${BERTH_GUEST_SUITE:-trixie}" "kernel=$KPKG" "kernel_release=$KVER" "node=$(pkgver nodejs)" "crun=$(pkgver crun)" \
  "runc=$(pkgver runc)" "conmon=$(pkgver conmon)" "qemu_user=$(pkgver qemu-user) $FOREIGN" "iptables=$(pkgver iptables)" "nftables=$(pkgver nftables)" "iproute2=$(pkgver iproute2)" \
  "e2fsprogs=$(pkgver e2fsprogs)" "busybox=$(pkgver busybox-static)" "berth=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "source_date_epoch=$SOURCE_DATE_EPOCH"
echo "vm-image: wrote $OUT" >&2
ls -la "$OUT" >&2
