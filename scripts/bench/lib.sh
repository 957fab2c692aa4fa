# Shared set-up of the side-by-side benchmarks (sourced, not run): the reference engine installed,
# berthd built, fixture registries up, a work directory, and engines that are stopped again and
# leave the host's firewall and links as they were, whatever happens.
#   source scripts/bench/lib.sh; bench_setup NAME
#   start_dockerd DIR [extra dockerd args]; start_berthd DIR [extra berthd args]; wait_for_socket SOCK
#   dockerd_bridge CIDR   (a default bridge of the bench's own for dockerd: --bridge="$DOCKERD_BRIDGE")
#   bench_json NAME ENGINE UNIT GOAL WARMUPS SAMPLE...   (a result row for scripts/bench/all.ts)
# With BENCH_PREPARED=1 (set by all.ts, which prepares once for every suite) the packages, the build
# and the fixtures are taken as done, so every suite of one run measures the same build.
DOCKER=/usr/local/bin/docker
# The reference engine's default bridge: one of the bench's own rather than docker0, so it never
# meets (or deletes, when cleaning up) a docker0 that something else on the host owns.
DOCKERD_BRIDGE=berthbenchd0
BERTHD_BRIDGE=berthbench0

bench_prepare() {
  bash scripts/install-deps.sh
  if ! command -v dockerd >/dev/null; then
    echo "bench: installing Debian's docker.io (the reference engine)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
  fi
  npm run --silent build
}

bench_setup() {
  local name="$1"
  if [ "${BENCH_PREPARED:-}" != 1 ]; then bench_prepare; fi
  if [ "${BENCH_PREPARED:-}" != 1 ] || [ -z "${BERTH_TEST_REGISTRY:-}" ]; then eval "$(bash scripts/fixtures/start.sh)"; fi
  # Under TMPDIR when set: all.ts gives each suite a directory of its own and checks it is empty after.
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-$name.XXXXXX")
  BENCH_NAME="$name"
  FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | head -1 || true)
  BERTHD_PIDS=()
  trap bench_cleanup EXIT
}

# dockerd on a bridge of its own (dockerd_bridge) or --bridge=none, never touching the firewall.
start_dockerd() {
  local dir="$1"; shift
  mkdir -p "$dir"
  dockerd --host "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$WORK/dockerd.pid" \
    --iptables=false --containerd-namespace "berth-bench-$BENCH_NAME" --containerd-plugins-namespace "berth-bench-$BENCH_NAME-plugins" \
    "$@" >"$WORK/dockerd.log" 2>&1 &
}

# Creates the reference engine's bridge with the gateway address CIDR, for dockerd's
# --bridge="$DOCKERD_BRIDGE" (dockerd takes the subnet from the bridge, as --bip would set it on docker0).
dockerd_bridge() {
  ip link del "$DOCKERD_BRIDGE" 2>/dev/null || true   # a leftover of an interrupted run
  ip link add "$DOCKERD_BRIDGE" type bridge
  ip addr add "$1" dev "$DOCKERD_BRIDGE"
  ip link set "$DOCKERD_BRIDGE" up
}

# berthd with a default bridge of its own, so it never meets the reference engine's.
start_berthd() {
  local dir="$1"; shift
  mkdir -p "$dir"
  node_modules/.bin/berthd --host "unix://$dir/docker.sock" --data-root "$dir/data" --bridge "$BERTHD_BRIDGE" --bip 10.201.0.1/24 "$@" >"$WORK/berthd.log" 2>&1 &
  BERTHD_PID=$!
  BERTHD_PIDS+=("$BERTHD_PID")
}

wait_for_socket() {
  for _ in $(seq 100); do $DOCKER -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: no engine answers on $1" >&2
  return 1
}

# Waits up to $2 seconds (default 30) for process $1 to exit, then kills it.
wait_for_exit() {
  local pid="$1" limit="${2:-30}"
  for _ in $(seq $((limit * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "bench: process $pid did not exit within ${limit} s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

stop_dockerd() {
  [ -f "$WORK/dockerd.pid" ] || return 0
  local pid; pid=$(cat "$WORK/dockerd.pid")
  kill "$pid" 2>/dev/null || true
  wait_for_exit "$pid" 60
  rm -f "$WORK/dockerd.pid"
}

stop_berthd() {
  local sock="$1"
  $DOCKER -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $DOCKER -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  kill "$BERTHD_PID" 2>/dev/null || true
  wait_for_exit "$BERTHD_PID"
}

bench_cleanup() {
  local status=$?
  for sock in "$WORK"/*/docker.sock; do
    [ -S "$sock" ] && $DOCKER -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $DOCKER -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  done
  # berthd removes its bridge and chains on SIGTERM once nothing runs; wait for that to finish.
  for pid in "${BERTHD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BERTHD_PIDS[@]}"; do wait_for_exit "$pid"; done
  stop_dockerd
  ip link del "$DOCKERD_BRIDGE" 2>/dev/null || true
  # dockerd may flip the FORWARD policy to DROP even with --iptables=false on some versions.
  case "$FORWARD_POLICY" in *ACCEPT*) iptables -P FORWARD ACCEPT 2>/dev/null || true ;; esac
  rm -rf "$WORK" 2>/dev/null || true
  # Say so loudly when the engines left their plumbing behind, whatever the benchmark's result.
  local left=""
  for link in "$BERTHD_BRIDGE" "$DOCKERD_BRIDGE"; do ip link show "$link" >/dev/null 2>&1 && left+=" link $link"; done
  { iptables-save -t filter; iptables-save -t nat; } 2>/dev/null | grep -q -e "$BERTHD_BRIDGE" -e "$DOCKERD_BRIDGE" && left+=" iptables rules naming $BERTHD_BRIDGE/$DOCKERD_BRIDGE"
  if [ -n "$left" ]; then
    echo "bench: LEFT BEHIND after cleanup:$left" >&2
    status=1
  fi
  exit "$status"
}

# "min median" of a list of numbers (the median of an even count is the mean of the middle two).
min_median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d %d", v[1], m + 0.5 }'; }

# One result row, as a JSON line appended to $BENCH_JSON (nothing when it is unset, i.e. when a
# script runs on its own). Samples are the timed iterations only; WARMUPS says how many were run
# before them and thrown away. On a reference engine's row GOAL is the goal for berthd's time over
# that engine's; on a row only berthd has, an absolute one.
bench_json() {
  [ -n "${BENCH_JSON:-}" ] || return 0
  local name="$1" engine="$2" unit="$3" goal="$4" warmups="$5"; shift 5
  local samples; samples=$(IFS=,; echo "$*")
  printf '{"suite":%s,"name":%s,"engine":%s,"unit":%s,"goal":%s,"warmups":%d,"samples":[%s]}\n' \
    "$(json_string "$BENCH_NAME")" "$(json_string "$name")" "$(json_string "$engine")" "$(json_string "$unit")" \
    "$(json_string "$goal")" "$warmups" "$samples" >>"$BENCH_JSON"
}
json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
