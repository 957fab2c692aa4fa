#!/usr/bin/env bash
# `docker run --rm busybox true` (default bridge network and --network none), `docker create` +
# `docker start -a` and `docker exec`: berthd and Debian's dockerd side by side in one run, min /
# median of N, and the ratio. berthd's RSS with 20 idle containers at the end.
# Each row starts with one untimed warm-up per engine; then the engines take turns, and which of
# the two goes first alternates from one iteration to the next.
#   bash scripts/bench/run.sh [runs]      (default 10)
# dockerd runs with --iptables=false (the host's firewall is left alone) on a bridge of its own;
# both engines get a /24 of their own so their default networks never overlap.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-10}"
source scripts/bench/lib.sh
bench_setup run
IMAGE="$BERTH_TEST_REGISTRY/library/busybox:latest"

dockerd_bridge 10.200.0.1/24
start_dockerd "$WORK/d" --bridge="$DOCKERD_BRIDGE"
start_berthd "$WORK/b"
for sock in d b; do
  wait_for_socket "$WORK/$sock/docker.sock"
  $DOCKER -H "unix://$WORK/$sock/docker.sock" pull -q "$IMAGE" >/dev/null
done

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

D="unix://$WORK/d/docker.sock"; B="unix://$WORK/b/docker.sock"
bench() {
  local label="$1" goal="$2"; shift 2
  local d=() b=()
  ms "$@" "$D" >/dev/null; ms "$@" "$B" >/dev/null   # warm-up, not counted
  for i in $(seq "$RUNS"); do
    if (( i % 2 )); then
      d+=("$(ms "$@" "$D")"); b+=("$(ms "$@" "$B")")
    else
      b+=("$(ms "$@" "$B")"); d+=("$(ms "$@" "$D")")
    fi
  done
  read -r dmin dmed <<<"$(min_median "${d[@]}")"; read -r bmin bmed <<<"$(min_median "${b[@]}")"
  printf '%-32s dockerd %5d / %5d ms   berthd %5d / %5d ms   ratio %.2fx min, %.2fx median\n' "$label" "$dmin" "$dmed" "$bmin" "$bmed" \
    "$(awk -v a="$bmin" -v b="$dmin" 'BEGIN{print a/b}')" "$(awk -v a="$bmed" -v b="$dmed" 'BEGIN{print a/b}')"
  bench_json "$label" berthd ms "" 1 "${b[@]}"
  bench_json "$label" dockerd ms "$goal" 1 "${d[@]}"
}
run_rm() { $DOCKER -H "$1" run --rm "$IMAGE" true; }
run_rm_none() { $DOCKER -H "$1" run --rm --network none "$IMAGE" true; }
create_start() { local id; id=$($DOCKER -H "$1" create "$IMAGE" true); $DOCKER -H "$1" start -a "$id"; $DOCKER -H "$1" rm "$id"; }
exec_true() { $DOCKER -H "$1" exec bench-exec true; }

echo "min / median of $RUNS (goals: run <= 0.4x dockerd, exec <= 0.5x)"
bench "run --rm busybox true" "≤ 0.4×" run_rm
bench "run --rm --network none" "≤ 0.4×" run_rm_none
bench "create + start -a (+ rm)" "" create_start
for sock in d b; do $DOCKER -H "unix://$WORK/$sock/docker.sock" run -d --name bench-exec "$IMAGE" sleep 3600 >/dev/null; done
bench "exec true" "≤ 0.5×" exec_true
for sock in d b; do $DOCKER -H "unix://$WORK/$sock/docker.sock" rm -f bench-exec >/dev/null; done

for i in $(seq 20); do $DOCKER -H "unix://$WORK/b/docker.sock" run -d "$IMAGE" sleep 3600 >/dev/null; done
sleep 1
RSS_MB=$(( $(awk '/VmRSS/ {print $2}' "/proc/$BERTHD_PID/status") / 1024 ))
echo "berthd RSS with 20 idle containers: $RSS_MB MB (goal < 80 MB)"
bench_json "berthd RSS with 20 idle containers" berthd MiB "< 80 MB" 0 "$RSS_MB"
