#!/usr/bin/env bash
# Test-only scaffold: submits the base model at once, then ignores SIGTERM and
# never finishes, so the runner must stop it with SIGKILL after the grace.
set -euo pipefail
cp -r "$PTB_BASE_MODEL" final_model
echo '{"type":"note","text":"model submitted; now overrunning"}'
trap '' TERM
while true; do sleep 1; done
