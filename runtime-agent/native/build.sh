#!/usr/bin/env bash
# Builds berthd's one native helper, the attach relay (attach-relay.c), for ARCH:
#   bash runtime-agent/native/build.sh ARCH OUT      (ARCH: amd64 or arm64; OUT: the binary)
# scripts/install-deps.sh builds it for this machine's berthd, vm-image/build.sh for the guest's.
# The other architecture's comes from Debian's cross compiler (gcc-aarch64-linux-gnu and so on).
# Same source, same bytes: no build ID, no debug paths, stripped.
set -euo pipefail
ARCH="${1:?usage: build.sh ARCH OUT}"
OUT="${2:?usage: build.sh ARCH OUT}"
case "$ARCH" in
  amd64) triplet=x86_64-linux-gnu ;;
  arm64) triplet=aarch64-linux-gnu ;;
  *) echo "native/build.sh: unknown ARCH $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac
cc="$triplet-gcc"
[ "$(dpkg --print-architecture)" != "$ARCH" ] || command -v "$cc" >/dev/null || cc=gcc
mkdir -p "$(dirname "$OUT")"
"$cc" -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie -s -Wl,--build-id=none \
  -o "$OUT.tmp" "$(dirname "$0")/attach-relay.c"
mv "$OUT.tmp" "$OUT"
