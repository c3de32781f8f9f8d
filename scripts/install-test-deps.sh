#!/usr/bin/env bash
# System packages the test suite needs beyond Python and Node (root only):
# the sandbox tools, Chromium for the HTML report test, and Slurm with
# accounting for the throwaway cluster. Quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(bubblewrap fuse-overlayfs chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "install-test-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash scripts/slurm-test-cluster.sh install --accounting
