#!/usr/bin/env bash
# Pull of the Debian fixture image from the local registry: berthd and Debian's dockerd side by side
# in one run, each from an empty store, best of N. Prints both times, the ratio, and berthd's idle RSS.
#   bash scripts/bench/pull.sh [runs]      (default 5)
# Not a test: it needs root, installs docker.io if missing, and leaves the host's firewall as it was.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
DOCKER=/usr/local/bin/docker

bash scripts/install-deps.sh
if ! command -v dockerd >/dev/null; then
  echo "bench: installing Debian's docker.io (the reference engine)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
fi
npm run --silent build
eval "$(bash scripts/fixtures/start.sh)"
IMAGE="$BERTH_TEST_REGISTRY/library/debian:latest"

WORK=$(mktemp -d /tmp/berth-bench.XXXXXX)
FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | head -1 || true)
cleanup() {
  [ -n "${BERTHD_PID:-}" ] && kill "$BERTHD_PID" 2>/dev/null || true
  [ -f "$WORK/dockerd.pid" ] && kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
  sleep 1
  # dockerd may flip the FORWARD policy to DROP even with --iptables=false on some versions.
  case "$FORWARD_POLICY" in *ACCEPT*) iptables -P FORWARD ACCEPT 2>/dev/null || true ;; esac
  rm -rf "$WORK"
}
trap cleanup EXIT

# Every timed pull goes into a brand-new data root, with a fresh engine. Deleting the previous pull
# instead would measure the filesystem: on ext4 with online discard (these machines), unpacking
# right after a large delete is 4-5x slower for any program (tar alone: 1.2 s vs 5 s).
start_engines() {
  local i="$1"
  mkdir -p "$WORK/d$i" "$WORK/b$i"
  dockerd --host "unix://$WORK/d$i/docker.sock" --data-root "$WORK/d$i/data" --exec-root "$WORK/d$i/exec" \
    --pidfile "$WORK/dockerd.pid" --iptables=false --bridge=none --containerd-namespace berth-bench \
    --containerd-plugins-namespace berth-bench-plugins >"$WORK/dockerd.log" 2>&1 &
  node_modules/.bin/berthd --host "unix://$WORK/b$i/docker.sock" --data-root "$WORK/b$i/data" >"$WORK/berthd.log" 2>&1 &
  BERTHD_PID=$!
  for sock in "$WORK/d$i/docker.sock" "$WORK/b$i/docker.sock"; do
    for _ in $(seq 100); do $DOCKER -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
stop_engines() {
  kill "$BERTHD_PID" 2>/dev/null || true
  kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
  while [ -e "$WORK/dockerd.pid" ] || kill -0 "$BERTHD_PID" 2>/dev/null; do sleep 0.1; done
  BERTHD_PID=
}

time_pull() {
  local sock="$1" start end
  sync
  start=$(date +%s%N)
  $DOCKER -H "unix://$sock" pull -q "$IMAGE" >/dev/null
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

start_engines 0
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$BERTHD_PID/status")
stop_engines

# The order alternates between runs so that neither engine always goes first.
d_times=(); b_times=()
for i in $(seq "$RUNS"); do
  start_engines "$i"
  if (( i % 2 )); then
    d=$(time_pull "$WORK/d$i/docker.sock"); b=$(time_pull "$WORK/b$i/docker.sock")
  else
    b=$(time_pull "$WORK/b$i/docker.sock"); d=$(time_pull "$WORK/d$i/docker.sock")
  fi
  stop_engines
  echo "run $i: dockerd ${d} ms, berthd ${b} ms" >&2
  d_times+=("$d"); b_times+=("$b")
done

stat() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%d %d", v[1], v[int((NR + 1) / 2)] }'; }
read -r d_min d_med <<<"$(stat "${d_times[@]}")"
read -r b_min b_med <<<"$(stat "${b_times[@]}")"

echo "pull $IMAGE ($RUNS runs each, fresh engine and data root each time; min / median)"
echo "  dockerd 20.10: ${d_min} / ${d_med} ms"
echo "  berthd:        ${b_min} / ${b_med} ms"
awk -v b="$b_min" -v d="$d_min" -v bm="$b_med" -v dm="$d_med" 'BEGIN { printf "  ratio berthd/dockerd: %.2fx min, %.2fx median (goal <= 0.5x)\n", b / d, bm / dm }'
echo "  berthd idle RSS after start: $((RSS_KB / 1024)) MB"
