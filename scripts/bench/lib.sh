# Shared set-up of the side-by-side benchmarks (sourced, not run): the reference engine installed,
# berthd built, fixture registries up, a work directory, and engines that are stopped again and
# leave the host's firewall and links as they were, whatever happens.
#   source scripts/bench/lib.sh; bench_setup NAME
#   start_dockerd DIR [extra dockerd args]; start_berthd DIR [extra berthd args]; wait_for_socket SOCK
DOCKER=/usr/local/bin/docker

bench_setup() {
  local name="$1"
  bash scripts/install-deps.sh
  if ! command -v dockerd >/dev/null; then
    echo "bench: installing Debian's docker.io (the reference engine)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
  fi
  npm run --silent build
  eval "$(bash scripts/fixtures/start.sh)"
  WORK=$(mktemp -d "/tmp/berth-bench-$name.XXXXXX")
  BENCH_NAME="$name"
  FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | head -1 || true)
  BERTHD_PIDS=()
  trap bench_cleanup EXIT
}

# dockerd on its own /24 bridge (or --bridge=none), never touching the firewall.
start_dockerd() {
  local dir="$1"; shift
  mkdir -p "$dir"
  dockerd --host "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$WORK/dockerd.pid" \
    --iptables=false --containerd-namespace "berth-bench-$BENCH_NAME" --containerd-plugins-namespace "berth-bench-$BENCH_NAME-plugins" \
    "$@" >"$WORK/dockerd.log" 2>&1 &
}

# berthd with a default bridge of its own, so it never meets the reference engine's.
start_berthd() {
  local dir="$1"; shift
  mkdir -p "$dir"
  node_modules/.bin/berthd --host "unix://$dir/docker.sock" --data-root "$dir/data" --bridge berthbench0 --bip 10.201.0.1/24 "$@" >"$WORK/berthd.log" 2>&1 &
  BERTHD_PID=$!
  BERTHD_PIDS+=("$BERTHD_PID")
}

wait_for_socket() {
  for _ in $(seq 100); do $DOCKER -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: no engine answers on $1" >&2
  return 1
}

stop_dockerd() {
  [ -f "$WORK/dockerd.pid" ] || return 0
  kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
  while [ -e "$WORK/dockerd.pid" ]; do sleep 0.1; done
}

stop_berthd() {
  local sock="$1"
  $DOCKER -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $DOCKER -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  kill "$BERTHD_PID" 2>/dev/null || true
  while kill -0 "$BERTHD_PID" 2>/dev/null; do sleep 0.1; done
}

bench_cleanup() {
  for sock in "$WORK"/*/docker.sock; do
    [ -S "$sock" ] && $DOCKER -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $DOCKER -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  done
  for pid in "${BERTHD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_dockerd
  sleep 1
  ip link del docker0 2>/dev/null || true
  # dockerd may flip the FORWARD policy to DROP even with --iptables=false on some versions.
  case "$FORWARD_POLICY" in *ACCEPT*) iptables -P FORWARD ACCEPT 2>/dev/null || true ;; esac
  rm -rf "$WORK" 2>/dev/null || true
}

# "min median" of a list of numbers.
min_median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%d %d", v[1], v[int((NR + 1) / 2)] }'; }
