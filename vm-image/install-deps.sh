#!/usr/bin/env bash
# What building and booting the guest needs is part of the project's package list.
set -euo pipefail
bash "$(dirname "$0")/../scripts/install-deps.sh"
