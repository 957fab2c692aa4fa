#!/usr/bin/env bash
# Connection rate through a published port: busybox httpd published on 127.0.0.1 by berthd and by
# Debian's dockerd (its docker-proxy), many short HTTP requests from ApacheBench, side by side in one
# run; requests per second and the ratio.
#   bash scripts/bench/ports.sh [requests] [concurrency]     (default 5000, 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS="${1:-5000}"
CONCURRENCY="${2:-10}"
DOCKER=/usr/local/bin/docker

bash scripts/install-deps.sh
command -v dockerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
npm run --silent build
eval "$(bash scripts/fixtures/start.sh)"
IMAGE="$BERTH_TEST_REGISTRY/library/busybox:latest"

WORK=$(mktemp -d /tmp/berth-bench-ports.XXXXXX)
FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | head -1 || true)
cleanup() {
  [ -n "${BERTHD_PID:-}" ] && { $DOCKER -H "unix://$WORK/b.sock" rm -f bench-web >/dev/null 2>&1 || true; kill "$BERTHD_PID" 2>/dev/null || true; }
  $DOCKER -H "unix://$WORK/d.sock" rm -f bench-web >/dev/null 2>&1 || true
  [ -f "$WORK/dockerd.pid" ] && kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
  sleep 2
  ip link del docker0 2>/dev/null || true
  case "$FORWARD_POLICY" in *ACCEPT*) iptables -P FORWARD ACCEPT 2>/dev/null || true ;; esac
  rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

dockerd --host "unix://$WORK/d.sock" --data-root "$WORK/d-data" --exec-root "$WORK/d-exec" --pidfile "$WORK/dockerd.pid" \
  --iptables=false --bip 10.200.0.1/24 --containerd-namespace berth-bench-ports --containerd-plugins-namespace berth-bench-ports-plugins >"$WORK/dockerd.log" 2>&1 &
node_modules/.bin/berthd --host "unix://$WORK/b.sock" --data-root "$WORK/b-data" --bridge berthbench0 --bip 10.201.0.1/24 >"$WORK/berthd.log" 2>&1 &
BERTHD_PID=$!
PORTS=(d:18180 b:18181)
for entry in "${PORTS[@]}"; do
  sock=${entry%%:*}; port=${entry##*:}
  for _ in $(seq 100); do $DOCKER -H "unix://$WORK/$sock.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  $DOCKER -H "unix://$WORK/$sock.sock" pull -q "$IMAGE" >/dev/null
  $DOCKER -H "unix://$WORK/$sock.sock" run -d --name bench-web -p "127.0.0.1:$port:80" "$IMAGE" \
    sh -c 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
done

rate() { ab -q -n "$REQUESTS" -c "$CONCURRENCY" "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests per second/ {print $4}'; }
echo "$REQUESTS requests, concurrency $CONCURRENCY, busybox httpd behind a published 127.0.0.1 port (goal: berthd >= dockerd)"
for round in 1 2 3; do
  d=$(rate 18180); b=$(rate 18181)
  printf 'round %d: dockerd %8.1f req/s   berthd %8.1f req/s   ratio %.2fx\n' "$round" "$d" "$b" "$(awk -v a="$b" -v b="$d" 'BEGIN{print a/b}')"
done
