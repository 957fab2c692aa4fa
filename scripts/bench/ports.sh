#!/usr/bin/env bash
# Connection rate through a published port: busybox httpd published on 127.0.0.1 by berthd and by
# Debian's dockerd (its docker-proxy), many short HTTP requests from ApacheBench, side by side in one
# run; requests per second and the ratio. One warm-up round per engine is not counted; then the
# engines take turns, which one goes first alternating between rounds. The recorded sample of a
# round is ab's time for all its requests (lower is better, like every other row).
#   bash scripts/bench/ports.sh [requests] [concurrency] [rounds]     (default 5000, 10, 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS="${1:-5000}"
CONCURRENCY="${2:-10}"
ROUNDS="${3:-3}"
source scripts/bench/lib.sh
bench_setup ports
IMAGE="$BERTH_TEST_REGISTRY/library/busybox:latest"

dockerd_bridge 10.200.0.1/24
start_dockerd "$WORK/d" --bridge="$DOCKERD_BRIDGE"
start_berthd "$WORK/b"
for entry in d:18180 b:18181; do
  sock="$WORK/${entry%%:*}/docker.sock"; port=${entry##*:}
  wait_for_socket "$sock"
  $DOCKER -H "unix://$sock" pull -q "$IMAGE" >/dev/null
  $DOCKER -H "unix://$sock" run -d --name bench-web -p "127.0.0.1:$port:80" "$IMAGE" \
    sh -c 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
done

# "milliseconds requests/s" of one ab run; failed or non-2xx requests are reported, since a fast
# round that dropped requests would measure nothing.
round() {
  local out failed
  out=$(ab -q -n "$REQUESTS" -c "$CONCURRENCY" "http://127.0.0.1:$1/" 2>&1)
  failed=$(awk '/^(Failed requests|Non-2xx responses)/ {n += $3} END {print n + 0}' <<<"$out")
  (( failed == 0 )) || echo "bench: $failed failed or non-2xx requests on port $1" >&2
  awk '/^Time taken for tests/ {ms = $5 * 1000} /^Requests per second/ {rps = $4} END {if (!ms) exit 1; printf "%d %s\n", ms + 0.5, rps}' <<<"$out" \
    || { echo "bench: ab against port $1 failed:" >&2; echo "$out" >&2; return 1; }
}
echo "$REQUESTS requests, concurrency $CONCURRENCY, busybox httpd behind a published 127.0.0.1 port (goal: berthd >= dockerd)"
round 18180 >/dev/null; round 18181 >/dev/null   # warm-up, not counted
d_ms=(); b_ms=()
for i in $(seq "$ROUNDS"); do
  if (( i % 2 )); then
    dr=$(round 18180); br=$(round 18181)
  else
    br=$(round 18181); dr=$(round 18180)
  fi
  read -r dt d <<<"$dr"; read -r bt b <<<"$br"
  d_ms+=("$dt"); b_ms+=("$bt")
  printf 'round %d: dockerd %8.1f req/s   berthd %8.1f req/s   ratio %.2fx\n' "$i" "$d" "$b" "$(awk -v a="$b" -v b="$d" 'BEGIN{print a/b}')"
done
bench_json "$REQUESTS HTTP requests (c=$CONCURRENCY) via published port" berthd ms "" 1 "${b_ms[@]}"
bench_json "$REQUESTS HTTP requests (c=$CONCURRENCY) via published port" dockerd ms "≤ 1×" 1 "${d_ms[@]}"
