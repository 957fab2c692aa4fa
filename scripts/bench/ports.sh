#!/usr/bin/env bash
# Connection rate through a published port: busybox httpd published on 127.0.0.1 by berthd and by
# Debian's dockerd (its docker-proxy), many short HTTP requests from ApacheBench, side by side in one
# run; requests per second and the ratio.
#   bash scripts/bench/ports.sh [requests] [concurrency]     (default 5000, 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS="${1:-5000}"
CONCURRENCY="${2:-10}"
source scripts/bench/lib.sh
bench_setup ports
IMAGE="$BERTH_TEST_REGISTRY/library/busybox:latest"

start_dockerd "$WORK/d" --bip 10.200.0.1/24
start_berthd "$WORK/b"
for entry in d:18180 b:18181; do
  sock="$WORK/${entry%%:*}/docker.sock"; port=${entry##*:}
  wait_for_socket "$sock"
  $DOCKER -H "unix://$sock" pull -q "$IMAGE" >/dev/null
  $DOCKER -H "unix://$sock" run -d --name bench-web -p "127.0.0.1:$port:80" "$IMAGE" \
    sh -c 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
done

rate() { ab -q -n "$REQUESTS" -c "$CONCURRENCY" "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests per second/ {print $4}'; }
echo "$REQUESTS requests, concurrency $CONCURRENCY, busybox httpd behind a published 127.0.0.1 port (goal: berthd >= dockerd)"
for round in 1 2 3; do
  d=$(rate 18180); b=$(rate 18181)
  printf 'round %d: dockerd %8.1f req/s   berthd %8.1f req/s   ratio %.2fx\n' "$round" "$d" "$b" "$(awk -v a="$b" -v b="$d" 'BEGIN{print a/b}')"
done
