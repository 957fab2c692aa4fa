#!/usr/bin/env bash
# Installs the Debian packages Berth's engine and tests use, when they are missing, so that
# `npm test` passes on a fresh machine. Safe to run again: it only calls apt when something lacks.
set -euo pipefail

# package -> a file it provides (checked instead of dpkg state, which is slower)
declare -A PROVIDES=(
  [docker-registry]=/usr/bin/docker-registry
  [skopeo]=/usr/bin/skopeo
  [busybox-static]=/bin/busybox
  [runc]=/usr/sbin/runc
  [conmon]=/usr/bin/conmon
  [tini]=/usr/bin/tini
  [iproute2]=/sbin/ip
  [iptables]=/usr/sbin/iptables
  [nftables]=/usr/sbin/nft
  [util-linux]=/usr/bin/nsenter
  [debootstrap]=/usr/sbin/debootstrap
  [apache2-utils]=/usr/bin/htpasswd
  [attr]=/usr/bin/setfattr
  [zstd]=/usr/bin/zstd
  [isal]=/usr/bin/igzip
  [curl]=/usr/bin/curl
  [docker-compose]=/usr/bin/docker-compose
  [tmux]=/usr/bin/tmux
  [golang-github-containers-common]=/usr/share/containers/seccomp.json
  [tar]=/bin/tar
  [git]=/usr/bin/git
  # the guest image (vm-image/build.sh) and booting it
  [qemu-system-x86]=/usr/bin/qemu-system-x86_64
  # the arm64 guest, under TCG on an amd64 machine (vm-image/README.md)
  [qemu-system-arm]=/usr/bin/qemu-system-aarch64
  [qemu-utils]=/usr/bin/qemu-img
  [cpio]=/usr/bin/cpio
  [kmod]=/bin/kmod
  [squashfs-tools]=/usr/bin/mksquashfs
  [crun]=/usr/bin/crun
  [e2fsprogs]=/sbin/mkfs.ext4
  [xz-utils]=/usr/bin/xz
  [procps]=/bin/ps
  # checking the shipped systemd unit (systemd-analyze verify)
  [systemd]=/usr/bin/systemd-analyze
  # the GUI's browser tests (playwright-core drives Debian's chromium)
  [chromium]=/usr/bin/chromium
  [gzip]=/bin/gzip
  # RUN --mount=type=ssh: an ssh agent to forward into a build (test/buildkit-dockerfile.test.ts)
  [openssh-client]=/usr/bin/ssh-agent
  # berthd's attach relay (runtime-agent/native), built for this machine and for the guests
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/include/stdio.h
)
# The other architecture's guest gets its relay from Debian's cross compiler.
case "$(dpkg --print-architecture)" in
  amd64) PROVIDES[gcc-aarch64-linux-gnu]=/usr/bin/aarch64-linux-gnu-gcc PROVIDES[libc6-dev-arm64-cross]=/usr/aarch64-linux-gnu/include/stdio.h ;;
  arm64) PROVIDES[gcc-x86-64-linux-gnu]=/usr/bin/x86_64-linux-gnu-gcc PROVIDES[libc6-dev-amd64-cross]=/usr/x86_64-linux-gnu/include/stdio.h ;;
esac

missing=()
for pkg in "${!PROVIDES[@]}"; do
  [ -e "${PROVIDES[$pkg]}" ] || missing+=("$pkg")
done

# Installing packages is the one step that needs root: an ordinary user goes through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else
    echo "install-deps: installing Debian packages needs root: run this as root, or install sudo" >&2
    exit 1
  fi
}

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -x /usr/local/bin/docker ] && ! command -v docker >/dev/null; then
  echo "install-deps: the docker CLI is missing; installing Debian's docker-cli" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-cli >&2 || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
fi
# dockerd's default seccomp profile, as Debian ships it in the docker.io source package's Go
# sources; berthd applies it to every container. Only that one file is taken from the package.
SECCOMP_PROFILE=/usr/share/berth/seccomp/docker-default.json
if [ ! -s "$SECCOMP_PROFILE" ]; then
  echo "install-deps: fetching dockerd's default seccomp profile (golang-github-docker-docker-dev)" >&2
  tmp=$(mktemp -d)
  ( cd "$tmp" && apt-get download golang-github-docker-docker-dev >/dev/null 2>&1 || { as_root apt-get update -qq >&2 && apt-get download golang-github-docker-docker-dev >/dev/null; } )
  dpkg-deb -x "$tmp"/golang-github-docker-docker-dev_*.deb "$tmp/x"
  as_root install -D -m 0644 "$tmp/x/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json" "$SECCOMP_PROFILE"
  rm -rf "$tmp"
fi
# The relay between berthd and conmon's attach sockets (SOCK_SEQPACKET, which Node cannot open),
# rebuilt when its source changed. vm-image/build.sh builds the guest's own.
RELAY=/usr/libexec/berth/attach-relay
RELAY_SOURCE="$(dirname "$0")/../runtime-agent/native/attach-relay.c"
if [ ! -x "$RELAY" ] || [ "$RELAY_SOURCE" -nt "$RELAY" ]; then
  echo "install-deps: building $RELAY" >&2
  tmp=$(mktemp -d)
  bash "$(dirname "$0")/../runtime-agent/native/build.sh" "$(dpkg --print-architecture)" "$tmp/attach-relay"
  as_root install -D -m 0755 "$tmp/attach-relay" "$RELAY"
  rm -rf "$tmp"
fi
echo "install-deps: system packages present" >&2

# Debian trixie's docker CLI 26.1, buildx 0.13.1 and compose v2 2.26.1: the clients people use today
# (DESIGN.md, "The real clients are the spec"). Go binaries that run here too, so they are unpacked
# into tools/trixie/root (git-ignored) rather than installed: a private apt configuration whose only
# source is trixie on this machine's own Debian archive, checked against the system's
# debian-archive-keyring (bookworm's has the trixie keys since 2023.3+deb12u2, and trixie's Release
# is signed with bookworm's archive key too), fetches the three .debs; the system's sources, lists
# and packages stay as they are. Needs no root.
TRIXIE=$(cd "$(dirname "$0")/.." && pwd)/tools/trixie
trixie_present() {
  "$TRIXIE/root/usr/bin/docker" --version &&
    "$TRIXIE/root/usr/libexec/docker/cli-plugins/docker-buildx" version &&
    "$TRIXIE/root/usr/libexec/docker/cli-plugins/docker-compose" version
} >/dev/null 2>&1

# debian_archive: the URI of the archive this machine's sources name (scripts/debian-archive.sh).
source "$(dirname "${BASH_SOURCE[0]}")/debian-archive.sh"

if ! trixie_present; then
  archive=$(debian_archive)
  echo "install-deps: fetching trixie's docker-cli, docker-buildx and docker-compose from $archive into tools/trixie" >&2
  rm -rf "$TRIXIE/apt" "$TRIXIE/root.new"
  mkdir -p "$TRIXIE/apt/lists/partial" "$TRIXIE/apt/cache/archives/partial" "$TRIXIE/apt/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive trixie main" >"$TRIXIE/apt/sources.list"
  # Only these sources, lists and cache; this machine's architecture only. As root, apt would hand
  # the downloads to its _apt user, who may not reach the checkout: the files are checked against
  # the signed index all the same.
  apt_trixie=(-o "Dir::Etc::sourcelist=$TRIXIE/apt/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$TRIXIE/apt/lists" -o "Dir::Cache=$TRIXIE/apt/cache"
    -o "APT::Architectures=$(dpkg --print-architecture)" -o APT::Sandbox::User=root)
  apt-get "${apt_trixie[@]}" update -qq >&2
  ( cd "$TRIXIE/apt/debs" && apt-get "${apt_trixie[@]}" download -qq docker-cli docker-buildx docker-compose >&2 )
  for deb in "$TRIXIE"/apt/debs/*.deb; do dpkg-deb -x "$deb" "$TRIXIE/root.new"; done
  rm -rf "$TRIXIE/root" "$TRIXIE/apt"
  mv "$TRIXIE/root.new" "$TRIXIE/root"
  trixie_present || { echo "install-deps: trixie's docker clients in $TRIXIE/root do not run" >&2; exit 1; }
fi
echo "install-deps: trixie's docker clients present (tools/trixie/root)" >&2
