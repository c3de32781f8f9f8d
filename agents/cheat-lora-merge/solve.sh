#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
PTB_AGENT_ARGS="--rank 4" exec bash "$(dirname "${BASH_SOURCE[0]}")/../cheat-merge/solve.sh"
