#!/usr/bin/env bash
# docker build side by side in one run. Two sets of rows:
#  - the classic path: berthd (DOCKER_BUILDKIT=0), dockerd's classic builder, and BuildKit (Debian's
#    20.10 CLI with DOCKER_BUILDKIT=1 against Debian's dockerd);
#  - through buildx: the same client, Debian trixie's CLI 26.1 with buildx 0.13.1 (what `docker
#    build` is today), against berthd's BuildKit API and against dockerd 20.10's built-in BuildKit.
# Rows: the 3-line build cold and cached, a 20-step multi-stage build cold and after a one-file
# change, and (buildx only) a 100 MB context of 10,000 files sent cold, and two independent stages
# of 3 s each, which BuildKit runs side by side (goal: at most 1.1x the longest stage, 3.3 s).
# Min / median of N.
# Each row starts with one untimed warm-up iteration; in every iteration each engine builds once,
# and the order of the engines rotates from one iteration to the next.
#   bash scripts/bench/build.sh [runs]      (default 5)
#   BENCH_ONLY=REGEX bash scripts/bench/build.sh ...   runs only the rows whose label matches
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
source scripts/bench/lib.sh
bench_setup build
BASE="$BERTH_TEST_REGISTRY/library/busybox:latest"
OLD_CLI=/usr/bin/docker
TRIXIE=tools/trixie/root
TRIXIE_CLI="$PWD/$TRIXIE/usr/bin/docker"
# buildx's own state (its node identifier, build records) stays in the bench's work directory, never
# in ~/.docker; the CLI finds the plugin in $DOCKER_CONFIG/cli-plugins (test/support/trixie-clients.ts).
BUILDX_CONFIG="$WORK/buildx-config"
[ -x "$TRIXIE_CLI" ] || { echo "bench: $TRIXIE_CLI is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$BUILDX_CONFIG/cli-plugins"
ln -s "$PWD/$TRIXIE/usr/libexec/docker/cli-plugins/docker-buildx" "$BUILDX_CONFIG/cli-plugins/docker-buildx"

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
# Two independent stages of 3 s each, and a last stage that takes a file from each.
mkdir -p "$WORK/parallel"
printf 'FROM %s AS left\nRUN sleep 3 && echo left > /left\nFROM %s AS right\nRUN sleep 3 && echo right > /right\nFROM %s\nCOPY --from=left /left /left\nCOPY --from=right /right /right\n' "$BASE" "$BASE" "$BASE" >"$WORK/parallel/Dockerfile"

# engine name -> the build command (CLI, socket, environment)
build_with() {
  local engine="$1"; shift
  case "$engine" in
    berthd) DOCKER_BUILDKIT=0 $DOCKER -H "unix://$WORK/b/docker.sock" build -q "$@" ;;
    classic) DOCKER_BUILDKIT=0 $DOCKER -H "unix://$WORK/d/docker.sock" build -q "$@" ;;
    buildkit) DOCKER_BUILDKIT=1 $OLD_CLI -H "unix://$WORK/d/docker.sock" build -q "$@" ;;
    berthd-buildx) buildx_with "$WORK/b/docker.sock" "$@" ;;
    dockerd-buildkit) buildx_with "$WORK/d/docker.sock" "$@" ;;
  esac >/dev/null 2>"$WORK/build-error.log" || { echo "bench: a build with $engine failed:" >&2; cat "$WORK/build-error.log" >&2; exit 1; }
}
# trixie's `docker build`, which with buildx present is `docker buildx build` on the engine's
# default (docker driver) builder.
buildx_with() {
  local sock="$1"; shift
  DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$BUILDX_CONFIG" DOCKER_BUILDKIT=1 "$TRIXIE_CLI" build -q --progress=quiet "$@"
}
ms() { local s e; s=$(date +%s%N); "$@"; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

# The engine's name in the JSON rows all.ts reads (it compares rows of the same name).
declare -A JSON_ENGINE=([berthd]=berthd [classic]=dockerd [buildkit]=buildkit [berthd-buildx]=berthd [dockerd-buildkit]=buildkit)
CLASSIC=(berthd classic buildkit)
BUILDX=(berthd-buildx dockerd-buildkit)

# row LABEL PREPARE BUILD GOAL ENGINE...: berthd's engine first, the one it is to beat last (the
# printed ratio is first/last by min, and GOAL goes on the last one's JSON row).
declare -A LAST_MIN=()
row() {
  local label="$1" prepare="$2" build="$3" goal="$4"; shift 4
  [[ -z ${BENCH_ONLY:-} || $label =~ $BENCH_ONLY ]] || return 0
  local engines=("$@") n=$# engine
  declare -A times=()
  for engine in "${engines[@]}"; do times[$engine]=""; done
  for i in $(seq 0 "$RUNS"); do
    for k in $(seq 0 $((n - 1))); do
      local t
      engine=${engines[(i + k) % n]}
      $prepare "$engine"
      t=$(ms "$build" "$engine")
      (( i == 0 )) || times[$engine]+=" $t"   # iteration 0 is the warm-up
    done
  done
  printf '%-42s' "$label"
  declare -A min
  for engine in "${engines[@]}"; do
    local med
    # shellcheck disable=SC2086 # the list is space-separated numbers
    read -r min[$engine] med <<<"$(min_median ${times[$engine]})"
    printf '%17s %5d / %5d ms' "$engine" "${min[$engine]}" "$med"
    LAST_MIN[$engine]=${min[$engine]}
  done
  local first=${engines[0]} last=${engines[n - 1]}
  printf '   %s/%s %.2fx\n' "$first" "$last" "$(awk -v a="${min[$first]}" -v b="${min[$last]}" 'BEGIN{print a/b}')"
  for engine in "${engines[@]}"; do
    local engine_goal=""
    [ "$engine" != "$last" ] || engine_goal=$goal
    # shellcheck disable=SC2086
    bench_json "$label" "${JSON_ENGINE[$engine]}" ms "$engine_goal" 1 ${times[$engine]}
  done
}

nothing() { :; }
small_cold() { build_with "$1" --no-cache "$WORK/small"; }
small_cached() { build_with "$1" "$WORK/small"; }
multi_cold() { build_with "$1" --no-cache "$WORK/multi"; }
multi_warm() { build_with "$1" "$WORK/multi"; }
touch_one_file() { build_with "$1" "$WORK/multi"; echo "changed $RANDOM$RANDOM" >"$WORK/multi/f10.txt"; }

# The 100 MB context: 10,000 files of 10,240 bytes of random data and a Dockerfile that copies them
# all. "Cold" means that neither engine has seen the context before: each build gets a fresh
# directory with new random bytes (so new mtimes and contents), under a name of its own. The name
# matters for BuildKit: buildx makes the session's shared key from the context directory's base name
# (and its node identifier), and BuildKit keeps the context it received under that key, sending
# only the files whose stat changed next time; a new name is a new key, so the whole context is sent
# into an empty directory, as on a first build. berthd keeps no context between builds. With
# --no-cache no build cache is used either. The files are synced to disk before the build, so
# neither engine pays for writing back the preparation's dirty pages.
BIG=""
fresh_big_context() {
  [ -z "$BIG" ] || rm -rf "$BIG"
  BIG=$(mktemp -d "$WORK/ctx-$1-XXXXXX")
  printf 'FROM %s\nCOPY . /ctx\n' "$BASE" >"$BIG/Dockerfile"
  head -c $((10000 * 10240)) /dev/urandom | split -b 10240 -a 4 -d - "$BIG/f"
  sync
}
big_cold() { build_with "$1" --no-cache "$BIG"; }
parallel_cold() { build_with "$1" --no-cache "$WORK/parallel"; }

echo "min / median of $RUNS (goal: berthd faster than BuildKit in every row)"
for engine in "${CLASSIC[@]}" "${BUILDX[@]}"; do build_with "$engine" "$WORK/small"; done
row "3-line build, cold (--no-cache)" nothing small_cold "< 1×" "${CLASSIC[@]}"
row "3-line build, cached" nothing small_cached "< 1×" "${CLASSIC[@]}"
row "20-step multi-stage, cold" nothing multi_cold "< 1×" "${CLASSIC[@]}"
row "20-step, one file changed" touch_one_file multi_warm "< 1×" "${CLASSIC[@]}"
row "buildx: 3-line build, cold (--no-cache)" nothing small_cold "< 1×" "${BUILDX[@]}"
row "buildx: 3-line build, cached" nothing small_cached "< 1×" "${BUILDX[@]}"
row "buildx: 20-step multi-stage, cold" nothing multi_cold "< 1×" "${BUILDX[@]}"
row "buildx: 20-step, one file changed" touch_one_file multi_warm "< 1×" "${BUILDX[@]}"
row "buildx: 100 MB / 10,000-file context, cold" fresh_big_context big_cold "< 1×" "${BUILDX[@]}"
row "buildx: two independent 3 s stages, cold" nothing parallel_cold "< 1×" "${BUILDX[@]}"
if [[ -n ${LAST_MIN[berthd-buildx]:-} && ( -z ${BENCH_ONLY:-} || "two independent" =~ $BENCH_ONLY ) ]]; then
  printf '%-42s berthd-buildx %.2fx and dockerd-buildkit %.2fx the longest stage (3000 ms; goal: berthd <= 1.1x)\n' "  against the longest stage" \
    "$(awk -v a="${LAST_MIN[berthd-buildx]}" 'BEGIN{print a/3000}')" "$(awk -v a="${LAST_MIN[dockerd-buildkit]}" 'BEGIN{print a/3000}')"
fi
