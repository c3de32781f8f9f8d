#!/usr/bin/env bash
# The test suite: lint, then pytest. As root, the Slurm tests bring up a
# throwaway single-node cluster themselves (scripts/slurm-test-cluster.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
if [[ $(id -u) == 0 ]]; then
  bash scripts/install-test-deps.sh
fi
$bin/ruff check .
$bin/ruff format --check .
$bin/snakefmt --check Snakefile rules
$bin/snakemake --lint
$bin/python -m pytest "$@"
