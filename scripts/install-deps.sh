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
)

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
echo "install-deps: system packages present" >&2
