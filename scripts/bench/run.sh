#!/usr/bin/env bash
# `docker run --rm busybox true` (default bridge network and --network none), `docker create` +
# `docker start -a` and `docker exec`: berthd and Debian's dockerd side by side in one run, min /
# median of N, and the ratio. berthd's RSS with 20 idle containers at the end.
#   bash scripts/bench/run.sh [runs]      (default 10)
# dockerd runs with --iptables=false (the host's firewall is left alone) on a bridge of its own;
# both engines get a /24 of their own so their default networks never overlap.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-10}"
DOCKER=/usr/local/bin/docker

bash scripts/install-deps.sh
command -v dockerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
npm run --silent build
eval "$(bash scripts/fixtures/start.sh)"
IMAGE="$BERTH_TEST_REGISTRY/library/busybox:latest"

WORK=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | head -1 || true)
cleanup() {
  [ -n "${BERTHD_PID:-}" ] && { $DOCKER -H "unix://$WORK/b.sock" rm -f $($DOCKER -H "unix://$WORK/b.sock" ps -aq) >/dev/null 2>&1 || true; kill "$BERTHD_PID" 2>/dev/null || true; }
  [ -f "$WORK/dockerd.pid" ] && kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
  sleep 2
  ip link del docker0 2>/dev/null || true
  case "$FORWARD_POLICY" in *ACCEPT*) iptables -P FORWARD ACCEPT 2>/dev/null || true ;; esac
  rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

dockerd --host "unix://$WORK/d.sock" --data-root "$WORK/d-data" --exec-root "$WORK/d-exec" --pidfile "$WORK/dockerd.pid" \
  --iptables=false --bip 10.200.0.1/24 --containerd-namespace berth-bench-run --containerd-plugins-namespace berth-bench-run-plugins >"$WORK/dockerd.log" 2>&1 &
node_modules/.bin/berthd --host "unix://$WORK/b.sock" --data-root "$WORK/b-data" --bridge berthbench0 --bip 10.201.0.1/24 >"$WORK/berthd.log" 2>&1 &
BERTHD_PID=$!
for sock in d b; do
  for _ in $(seq 100); do $DOCKER -H "unix://$WORK/$sock.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  $DOCKER -H "unix://$WORK/$sock.sock" pull -q "$IMAGE" >/dev/null
done

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
stat() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%d %d", v[1], v[int((NR + 1) / 2)] }'; }

bench() {
  local label="$1"; shift
  local d=() b=()
  for i in $(seq "$RUNS"); do
    d+=("$(ms "$@" "unix://$WORK/d.sock")"); b+=("$(ms "$@" "unix://$WORK/b.sock")")
  done
  read -r dmin dmed <<<"$(stat "${d[@]}")"; read -r bmin bmed <<<"$(stat "${b[@]}")"
  printf '%-32s dockerd %5d / %5d ms   berthd %5d / %5d ms   ratio %.2fx min, %.2fx median\n' "$label" "$dmin" "$dmed" "$bmin" "$bmed" \
    "$(awk -v a="$bmin" -v b="$dmin" 'BEGIN{print a/b}')" "$(awk -v a="$bmed" -v b="$dmed" 'BEGIN{print a/b}')"
}
run_rm() { $DOCKER -H "$1" run --rm "$IMAGE" true; }
run_rm_none() { $DOCKER -H "$1" run --rm --network none "$IMAGE" true; }
create_start() { local id; id=$($DOCKER -H "$1" create "$IMAGE" true); $DOCKER -H "$1" start -a "$id"; $DOCKER -H "$1" rm "$id"; }

exec_true() { $DOCKER -H "$1" exec bench-exec true; }

echo "min / median of $RUNS (goals: run <= 0.4x dockerd, exec <= 0.5x)"
bench "run --rm busybox true" run_rm
bench "run --rm --network none" run_rm_none
bench "create + start -a (+ rm)" create_start
for sock in d b; do $DOCKER -H "unix://$WORK/$sock.sock" run -d --name bench-exec "$IMAGE" sleep 3600 >/dev/null; done
bench "exec true" exec_true
for sock in d b; do $DOCKER -H "unix://$WORK/$sock.sock" rm -f bench-exec >/dev/null; done

for i in $(seq 20); do $DOCKER -H "unix://$WORK/b.sock" run -d "$IMAGE" sleep 3600 >/dev/null; done
sleep 1
echo "berthd RSS with 20 idle containers: $(( $(awk '/VmRSS/ {print $2}' "/proc/$BERTHD_PID/status") / 1024 )) MB (goal < 80 MB)"
