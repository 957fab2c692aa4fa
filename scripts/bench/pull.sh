#!/usr/bin/env bash
# Pull of the Debian fixture image from the local registry: berthd and Debian's dockerd side by side
# in one run, each from an empty store, min / median of N after one warm-up pull each (which also
# puts the registry's blobs in the page cache for both). Prints both times, the ratio, and berthd's
# idle RSS.
#   bash scripts/bench/pull.sh [runs]      (default 5)
# Not a test: it needs root, installs docker.io if missing, and leaves the host's firewall as it was.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
source scripts/bench/lib.sh
bench_setup pull
IMAGE="$BERTH_TEST_REGISTRY/library/debian:latest"

# Every timed pull goes into a brand-new data root, with a fresh engine. Deleting the previous pull
# instead would measure the filesystem: on ext4 with online discard (these machines), unpacking
# right after a large delete is 4-5x slower for any program (tar alone: 1.2 s vs 5 s).
start_engines() {
  start_dockerd "$WORK/d$1" --bridge=none
  start_berthd "$WORK/b$1"
  wait_for_socket "$WORK/d$1/docker.sock"
  wait_for_socket "$WORK/b$1/docker.sock"
}
stop_engines() {
  stop_berthd "$WORK/b$1/docker.sock"
  stop_dockerd
}

time_pull() {
  local sock="$1" start end
  sync
  start=$(date +%s%N)
  $DOCKER -H "unix://$sock" pull -q "$IMAGE" >/dev/null
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

# Run 0 is the warm-up: berthd's idle RSS is read before it pulls, and its pulls are not counted.
start_engines 0
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$BERTHD_PID/status")
time_pull "$WORK/d0/docker.sock" >/dev/null
time_pull "$WORK/b0/docker.sock" >/dev/null
stop_engines 0

# The order alternates between runs so that neither engine always goes first.
d_times=(); b_times=()
for i in $(seq "$RUNS"); do
  start_engines "$i"
  if (( i % 2 )); then
    d=$(time_pull "$WORK/d$i/docker.sock"); b=$(time_pull "$WORK/b$i/docker.sock")
  else
    b=$(time_pull "$WORK/b$i/docker.sock"); d=$(time_pull "$WORK/d$i/docker.sock")
  fi
  stop_engines "$i"
  echo "run $i: dockerd ${d} ms, berthd ${b} ms" >&2
  d_times+=("$d"); b_times+=("$b")
done

read -r d_min d_med <<<"$(min_median "${d_times[@]}")"
read -r b_min b_med <<<"$(min_median "${b_times[@]}")"

echo "pull $IMAGE ($RUNS runs each, fresh engine and data root each time; min / median)"
echo "  dockerd 20.10: ${d_min} / ${d_med} ms"
echo "  berthd:        ${b_min} / ${b_med} ms"
awk -v b="$b_min" -v d="$d_min" -v bm="$b_med" -v dm="$d_med" 'BEGIN { printf "  ratio berthd/dockerd: %.2fx min, %.2fx median (goal <= 0.5x)\n", b / d, bm / dm }'
echo "  berthd idle RSS after start: $((RSS_KB / 1024)) MB"
bench_json "pull debian (117 MB) from 127.0.0.1" berthd ms "" 1 "${b_times[@]}"
bench_json "pull debian (117 MB) from 127.0.0.1" dockerd ms "≤ 0.5×" 1 "${d_times[@]}"
bench_json "berthd idle RSS after start" berthd MiB "< 60 MB" 0 "$((RSS_KB / 1024))"
