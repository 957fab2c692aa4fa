#!/usr/bin/env bash
# docker build side by side in one run: berthd, dockerd's classic builder, and BuildKit (Debian's
# 20.10 CLI with DOCKER_BUILDKIT=1 against Debian's dockerd). Rows: the 3-line build cold and
# cached, a 20-step multi-stage build cold and after a one-file change. Min / median of N.
# Each row starts with one untimed warm-up iteration; in every iteration each builder builds once,
# and the order of the three rotates from one iteration to the next.
#   bash scripts/bench/build.sh [runs]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
source scripts/bench/lib.sh
bench_setup build
BASE="$BERTH_TEST_REGISTRY/library/busybox:latest"
OLD_CLI=/usr/bin/docker

dockerd_bridge 10.200.0.1/24
start_dockerd "$WORK/d" --bridge="$DOCKERD_BRIDGE" --insecure-registry "$BERTH_TEST_REGISTRY"
start_berthd "$WORK/b"
wait_for_socket "$WORK/d/docker.sock"
wait_for_socket "$WORK/b/docker.sock"
for sock in d b; do $DOCKER -H "unix://$WORK/$sock/docker.sock" pull -q "$BASE" >/dev/null; done

# The contexts: a 3-line build, and a 20-step multi-stage one with ten source files.
mkdir -p "$WORK/small" "$WORK/multi"
printf 'FROM %s\nRUN echo hi > /x\nCMD cat /x\n' "$BASE" >"$WORK/small/Dockerfile"
{
  echo "FROM $BASE AS base"
  echo "RUN mkdir -p /src /deps && echo deps > /deps/list"
  for i in 01 02 03 04 05 06 07 08 09 10; do echo "COPY f$i.txt /src/"; done
  echo "RUN cat /src/*.txt > /src/all.txt"
  echo "FROM base AS build"
  echo "RUN wc -l /src/all.txt > /build.txt && cat /deps/list >> /build.txt"
  echo "ENV STAGE=build"
  echo "FROM $BASE"
  echo "COPY --from=build /build.txt /app/build.txt"
  echo "WORKDIR /app"
  echo "CMD [\"cat\", \"build.txt\"]"
} >"$WORK/multi/Dockerfile"
for i in 01 02 03 04 05 06 07 08 09 10; do echo "file $i" >"$WORK/multi/f$i.txt"; done

# engine name -> the build command (CLI, socket, environment)
build_with() {
  local engine="$1"; shift
  case "$engine" in
    berthd) DOCKER_BUILDKIT=0 $DOCKER -H "unix://$WORK/b/docker.sock" build -q "$@" ;;
    classic) DOCKER_BUILDKIT=0 $DOCKER -H "unix://$WORK/d/docker.sock" build -q "$@" ;;
    buildkit) DOCKER_BUILDKIT=1 $OLD_CLI -H "unix://$WORK/d/docker.sock" build -q "$@" ;;
  esac >/dev/null 2>"$WORK/build-error.log" || { echo "bench: a build with $engine failed:" >&2; cat "$WORK/build-error.log" >&2; exit 1; }
}
ms() { local s e; s=$(date +%s%N); "$@"; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

ENGINES=(berthd classic buildkit)
row() {
  local label="$1" prepare="$2" build="$3" goal="$4"
  declare -A times=([berthd]="" [classic]="" [buildkit]="")
  for i in $(seq 0 "$RUNS"); do
    for k in 0 1 2; do
      local engine=${ENGINES[(i + k) % 3]} t
      $prepare "$engine"
      t=$(ms "$build" "$engine")
      (( i == 0 )) || times[$engine]+=" $t"   # iteration 0 is the warm-up
    done
  done
  printf '%-34s' "$label"
  declare -A min
  for engine in "${ENGINES[@]}"; do
    local med
    # shellcheck disable=SC2086 # the list is space-separated numbers
    read -r min[$engine] med <<<"$(min_median ${times[$engine]})"
    printf '%9s %4d / %4d ms' "$engine" "${min[$engine]}" "$med"
  done
  printf '   berthd/buildkit %.2fx\n' "$(awk -v a="${min[berthd]}" -v b="${min[buildkit]}" 'BEGIN{print a/b}')"
  # shellcheck disable=SC2086
  {
    bench_json "$label" berthd ms "" 1 ${times[berthd]}
    bench_json "$label" dockerd ms "" 1 ${times[classic]}
    bench_json "$label" buildkit ms "$goal" 1 ${times[buildkit]}
  }
}

nothing() { :; }
small_cold() { build_with "$1" --no-cache "$WORK/small"; }
small_cached() { build_with "$1" "$WORK/small"; }
multi_cold() { build_with "$1" --no-cache "$WORK/multi"; }
multi_warm() { build_with "$1" "$WORK/multi"; }
touch_one_file() { build_with "$1" "$WORK/multi"; echo "changed $RANDOM$RANDOM" >"$WORK/multi/f10.txt"; }

echo "min / median of $RUNS (goal: berthd faster than BuildKit in every row)"
for engine in berthd classic buildkit; do build_with "$engine" "$WORK/small"; done
row "3-line build, cold (--no-cache)" nothing small_cold "< 1×"
row "3-line build, cached" nothing small_cached "< 1×"
row "20-step multi-stage, cold" nothing multi_cold "< 1×"
row "20-step, one file changed" touch_one_file multi_warm "< 1×"
