#!/usr/bin/env bash
# Builds the Berth guest from Debian packages into vm-image/dist/:
#   vmlinux          Debian's generic kernel, uncompressed (QEMU microvm boots it through PVH)
#   initramfs.cpio.gz  busybox and the modules that mount the root: its /init finds the disks
#   rootfs.squashfs  read-only root: Node, berthd in one file, crun, runc, conmon, iptables/nft,
#                    iproute2, e2fsprogs, kernel modules, and /sbin/berth-init
#   manifest.json    versions, sizes and sha256 of every artifact
# Same inputs (the Debian packages installed here, this checkout), same artifacts: file times are
# pinned to SOURCE_DATE_EPOCH and archives are written in sorted order.
#   npm run vm-image            (ARCH=arm64 selects Debian's arm64 packages where they can be had)
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${ARCH:-amd64}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1764288000}"
OUT=vm-image/dist
WORK=vm-image/.work
DEB_ARCH="$ARCH"
case "$ARCH" in amd64) TRIPLET=x86_64-linux-gnu ;; arm64) TRIPLET=aarch64-linux-gnu ;; *) echo "vm-image: unknown ARCH $ARCH" >&2; exit 2 ;; esac
if [ "$(dpkg --print-architecture)" != "$ARCH" ]; then
  echo "vm-image: building for $ARCH needs an $ARCH host (the guest takes this host's binaries); see vm-image/README.md" >&2
  exit 2
fi

bash vm-image/install-deps.sh
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK" "$OUT"
ROOT="$WORK/rootfs"
INITRD="$WORK/initramfs"
mkdir -p "$ROOT" "$INITRD"

# ---- kernel: Debian's generic image (the cloud one has no 9p), modules indexed with depmod ----
KPKG=$(apt-cache depends "linux-image-$DEB_ARCH" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
(cd "$WORK" && apt-get download "$KPKG:$DEB_ARCH" >/dev/null 2>&1)
mkdir -p "$WORK/kernel"
dpkg-deb -x "$WORK"/linux-image-*.deb "$WORK/kernel"
KVER=$(ls "$WORK/kernel/lib/modules")
KDEB_VERSION=$(dpkg-deb -f "$WORK"/linux-image-*.deb Version)
VMLINUZ="$WORK/kernel/boot/vmlinuz-$KVER"
# PVH needs the ELF kernel: the xz payload inside the bzImage, decompressed.
offset=$(grep -abo $'\xfd7zXZ\x00' "$VMLINUZ" | head -1 | cut -d: -f1)
tail -c +"$((offset + 1))" "$VMLINUZ" | xz -dc --single-stream >"$OUT/vmlinux" 2>/dev/null || true
[ -s "$OUT/vmlinux" ] || { echo "vm-image: could not extract vmlinux from $VMLINUZ" >&2; exit 1; }
cp "$VMLINUZ" "$WORK/vmlinuz"

# The modules the guest may need (the kernel loads them on demand through modprobe).
KMOD_SRC="$WORK/kernel/lib/modules/$KVER"
KMOD_DST="$ROOT/lib/modules/$KVER"
mkdir -p "$KMOD_DST/kernel"
for dir in fs/9p fs/netfs fs/fscache fs/overlayfs fs/squashfs fs/ext4 fs/jbd2 fs/fuse fs/mbcache.ko net/9p net/bridge net/netfilter net/ipv4 net/ipv6 \
  net/sched net/core net/llc net/802 net/vmw_vsock drivers/virtio drivers/block/virtio_blk.ko drivers/net/virtio_net.ko \
  drivers/net/net_failover.ko drivers/net/veth.ko drivers/net/dummy.ko drivers/char/hw_random drivers/net/tun.ko lib crypto arch; do
  [ -e "$KMOD_SRC/kernel/$dir" ] || continue
  mkdir -p "$KMOD_DST/kernel/$(dirname "$dir")"
  cp -a "$KMOD_SRC/kernel/$dir" "$KMOD_DST/kernel/$(dirname "$dir")/"
done
cp "$KMOD_SRC"/modules.order "$KMOD_SRC"/modules.builtin* "$KMOD_DST/" 2>/dev/null || true
depmod -b "$ROOT" "$KVER"

# ---- the root filesystem ----
copy_with_libs() {
  # A binary and the shared libraries it loads, at the same paths as on this machine.
  local bin="$1" target="${2:-$1}"
  mkdir -p "$ROOT$(dirname "$target")"
  cp -L "$bin" "$ROOT$target"
  { ldd "$bin" 2>/dev/null || true; } | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
    [ -e "$ROOT$lib" ] && continue
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
}
for bin in /usr/bin/node /usr/bin/crun /usr/sbin/runc /usr/bin/conmon /usr/bin/tini-static /usr/sbin/xtables-nft-multi \
  /usr/sbin/nft /sbin/ip /usr/bin/nsenter /sbin/mkfs.ext4 /sbin/e2fsck /sbin/resize2fs /sbin/blkid /bin/tar /usr/bin/zstd /usr/bin/setfattr \
  /usr/bin/getfattr /bin/kmod /usr/bin/igzip /bin/ps; do
  [ -e "$bin" ] && copy_with_libs "$bin"
done
# iptables loads its matches and targets as plugins (libxt_conntrack.so...), which ldd does not see.
mkdir -p "$ROOT/usr/lib/$TRIPLET"
cp -a "/usr/lib/$TRIPLET/xtables" "$ROOT/usr/lib/$TRIPLET/"
for name in iptables iptables-restore iptables-save ip6tables ip6tables-restore ip6tables-save; do ln -sf xtables-nft-multi "$ROOT/usr/sbin/$name"; done
mkdir -p "$ROOT/sbin"
for name in modprobe insmod rmmod lsmod depmod; do ln -sf /bin/kmod "$ROOT/sbin/$name"; done
cp /bin/busybox "$ROOT/bin/busybox"
for applet in $("$ROOT/bin/busybox" --list); do
  [ -e "$ROOT/bin/$applet" ] || [ -e "$ROOT/sbin/$applet" ] || [ -e "$ROOT/usr/bin/$applet" ] || [ -e "$ROOT/usr/sbin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done
mkdir -p "$ROOT/usr/share/berth/seccomp"
cp /usr/share/berth/seccomp/docker-default.json "$ROOT/usr/share/berth/seccomp/"

# berthd in one file (esbuild), plus the one native addon it loads (attach sockets).
mkdir -p "$ROOT/opt/berth/node_modules"
npx esbuild runtime-agent/src/cli/berthd-vm.ts --bundle --platform=node --format=esm --target=node20 \
  --external:node-unix-socket --external:'*.node' --legal-comments=none \
  --banner:js="import { createRequire as __berthRequire } from 'node:module'; import { fileURLToPath as __berthPath } from 'node:url'; import { dirname as __berthDirname } from 'node:path'; const require = __berthRequire(import.meta.url); const __filename = __berthPath(import.meta.url); const __dirname = __berthDirname(__filename);" \
  --outfile="$ROOT/opt/berth/berthd.mjs" --log-level=warning
# BuildKit's .proto files, which berthd parses when a BuildKit client first calls (proto/ beside the bundle).
cp -r runtime-agent/src/buildkit/proto "$ROOT/opt/berth/proto"
for pkg in node-unix-socket "node-unix-socket-linux-x64-gnu" "node-unix-socket-linux-arm64-gnu"; do
  [ -d "node_modules/$pkg" ] && cp -a "node_modules/$pkg" "$ROOT/opt/berth/node_modules/"
done

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
cp /bin/busybox "$INITRD/bin/busybox"
install -m 0755 vm-image/initramfs/init "$INITRD/init"
BOOT_MODULES="virtio_mmio virtio_pci virtio_blk squashfs overlay ext4 crc32c_generic"
deps_of() { # a module and everything it depends on, from modules.dep
  local mod="$1"
  local line; line=$(grep -E "/${mod}\.ko(\.[a-z]+)?:" "$KMOD_DST/modules.dep" | head -1)
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

# ---- manifest ----
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }
node vm-image/write-manifest.mjs "$OUT" \
  "arch=$ARCH" "kernel=$KPKG $KDEB_VERSION" "kernel_release=$KVER" "node=$(node --version)" "crun=$(pkgver crun)" "runc=$(pkgver runc)" \
  "conmon=$(pkgver conmon)" "iptables=$(pkgver iptables)" "nftables=$(pkgver nftables)" "iproute2=$(pkgver iproute2)" \
  "e2fsprogs=$(pkgver e2fsprogs)" "busybox=$(pkgver busybox-static)" "berth=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "source_date_epoch=$SOURCE_DATE_EPOCH"
echo "vm-image: wrote $OUT" >&2
ls -la "$OUT" >&2
