#!/usr/bin/env bash
# `npm test`: everything the tests need, then every test.
#   1. Debian packages (scripts/install-deps.sh), 2. build + typecheck,
#   3. fixture images and local registries (scripts/fixtures/start.sh), 4. unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# (The network tests' second run, in a namespace, comes from a run that did this already.)
if [ -z "${BERTH_IN_TEST_NETNS:-}" ]; then
  bash scripts/install-deps.sh
  npm run --silent build
  npx tsc -p test --noEmit
  npx tsc -p renderer
fi

# Registries of this run's own: two runs on one machine (a developer's and a CI-like one) must
# not stop each other's when one ends.
export BERTH_FIXTURE_STATE="${BERTH_FIXTURE_STATE:-$(mktemp -d /tmp/berth-fixtures-XXXXXX)}"
eval "$(bash scripts/fixtures/start.sh)"
# berthd turns IPv4 forwarding on and, when it does, sets the FORWARD policy to DROP (as dockerd
# does); the host gets both back as they were.
ip_forward_was=$(cat /proc/sys/net/ipv4/ip_forward)
forward_policy_was=$(iptables -w -S FORWARD | sed -n 's/^-P FORWARD //p')
restore_host() {
  bash scripts/fixtures/registry.sh stop >/dev/null 2>&1 || true
  rm -f "$BERTH_FIXTURE_STATE.lock"
  echo "$ip_forward_was" >/proc/sys/net/ipv4/ip_forward || true
  iptables -w -P FORWARD "${forward_policy_was:-ACCEPT}" || true
}
trap restore_host EXIT

# Node 20's test runner needs explicit file lists (no globs, no .ts discovery).
mapfile -t unit < <(find runtime-agent/src -name '*.test.ts' | sort)
mapfile -t integration < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); else files=("${unit[@]}" "${integration[@]}"); fi

# The network tests once more with everything (berthd, the CLI, the registries) in a fresh network
# namespace of its own, as rootless and CI setups run engines. Entered with nsenter, so /sys still
# shows the host's devices: link state must come from netlink. First, so that the whole suite's
# summary is the last thing printed. BERTH_TEST_NETNS=0 skips it; a run of chosen files skips it.
if [ "$#" -eq 0 ] && [ "${BERTH_TEST_NETNS:-1}" = 1 ] && [ -z "${BERTH_IN_TEST_NETNS:-}" ]; then
  netns="berthsuite$$"
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  echo "test: the network tests in the network namespace $netns" >&2
  status=0
  BERTH_IN_TEST_NETNS=1 BERTH_FIXTURE_STATE="$(mktemp -d /tmp/berth-fixtures-XXXXXX)" nsenter --net="/run/netns/$netns" bash scripts/test.sh test/networks.test.ts || status=$?
  ip netns del "$netns"
  [ "$status" -eq 0 ] || exit "$status"
fi

node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 "${files[@]}"
