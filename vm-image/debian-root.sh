#!/usr/bin/env bash
# The guest's root from Debian packages for one architecture, not from this machine's files:
# Debian trixie's packages (Node 20, which the project's `engines` asks for; kernel 6.12), the
# dependency closure of the guest's package list resolved by apt for ARCH, unpacked with dpkg-deb.
# No maintainer script runs (they could not, for a foreign architecture): what they would do that
# the guest needs (the merged-/usr links, the loader's cache) is done here.
#   bash vm-image/debian-root.sh ARCH OUT      (ARCH: amd64 or arm64)
# Writes OUT/root (the unpacked tree), OUT/debs (the .deb files) and OUT/packages.tsv (name,
# version, architecture of every package, sorted), which the manifest records. A private apt
# configuration (its own sources, lists, cache and an empty dpkg status) leaves this machine's apt
# and packages as they are; the files are checked against the archive's signed index as usual.
set -euo pipefail
ARCH="${1:?usage: debian-root.sh ARCH OUT}"
OUT="${2:?usage: debian-root.sh ARCH OUT}"
SUITE="${BERTH_GUEST_SUITE:-trixie}"
case "$ARCH" in amd64 | arm64) ;; *) echo "debian-root: unknown ARCH $ARCH (amd64 or arm64)" >&2; exit 2 ;; esac
source "$(dirname "$0")/../scripts/debian-archive.sh"

# What the guest runs: the engine's Node and runtimes, the network and disk tools berth-init and
# berthd call, qemu-user for the other architecture's images (build.sh keeps one emulator of it),
# and the kernel. Their dependencies come with them.
PACKAGES=(nodejs crun runc conmon tini iptables nftables iproute2 e2fsprogs tar zstd isal kmod attr
  procps util-linux busybox-static ca-certificates qemu-user qemu-user-binfmt)

OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
APT="$OUT/apt"
rm -rf "$APT" "$OUT/root" "$OUT/debs"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/state" "$OUT/debs" "$OUT/root"
: >"$APT/state/status"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_archive) $SUITE main" >"$APT/sources.list"
apt_guest=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State=$APT/state"
  -o "Dir::State::status=$APT/state/status" -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
  -o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH" -o APT::Sandbox::User=root -o Debug::NoLocking=1
  -o APT::Install-Recommends=false)
apt-get "${apt_guest[@]}" update -qq >&2
# With an empty dpkg status, "install" is the whole closure of the list (no essential set).
apt-get "${apt_guest[@]}" install --download-only -y -qq "${PACKAGES[@]}" >&2
mv "$APT"/cache/archives/*.deb "$OUT/debs/"
# The kernel alone: its package's dependencies (initramfs-tools, and through it udev and systemd)
# build an initramfs on the machine it is installed on, which the guest brings its own of.
KERNEL=$(apt-cache "${apt_guest[@]}" depends "linux-image-$ARCH" | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KERNEL" ] || { echo "debian-root: no kernel package behind linux-image-$ARCH in $SUITE" >&2; exit 1; }
(cd "$OUT/debs" && apt-get "${apt_guest[@]}" download -qq "$KERNEL:$ARCH" >&2)

# merged /usr, as trixie's base-files lays it out: the packages' /lib, /bin and /sbin go to /usr.
ROOT="$OUT/root"
mkdir -p "$ROOT/usr/bin" "$ROOT/usr/sbin" "$ROOT/usr/lib"
ln -s usr/bin "$ROOT/bin"
ln -s usr/sbin "$ROOT/sbin"
ln -s usr/lib "$ROOT/lib"
[ "$ARCH" != amd64 ] || { mkdir -p "$ROOT/usr/lib64" && ln -s usr/lib64 "$ROOT/lib64"; }
: >"$OUT/packages.tsv.new"
for deb in $(find "$OUT/debs" -name '*.deb' | LC_ALL=C sort); do
  dpkg-deb -x "$deb" "$ROOT"
  dpkg-deb -f "$deb" Package Version Architecture | awk -F': ' '{ printf "%s%s", (NR > 1 ? "\t" : ""), $2 } END { print "" }' >>"$OUT/packages.tsv.new"
done
LC_ALL=C sort "$OUT/packages.tsv.new" >"$OUT/packages.tsv"
rm -f "$OUT/packages.tsv.new"
# The CA bundle update-ca-certificates would write (Debian's Node reads it besides its own roots).
mkdir -p "$ROOT/etc/ssl/certs"
find "$ROOT/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat >"$ROOT/etc/ssl/certs/ca-certificates.crt"
# What a guest never reads: documentation, manual pages, translations, bug-report scripts.
rm -rf "$ROOT"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion,zsh}
rm -rf "$APT"
echo "debian-root: $ARCH root from $(wc -l <"$OUT/packages.tsv") packages of $SUITE in $ROOT" >&2
