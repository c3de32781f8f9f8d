#!/usr/bin/env bash
# Test-only scaffold: waits while the file named by PTB_HOLD_FILE exists, or that
# name followed by .<agent name> (so a test can cancel, time out or requeue one
# agent mid-run and release each on its own), then submits the base model.
# Resumed (PTB_RESUME_MESSAGE set), it says so and how much time timer.sh shows.
set -euo pipefail
if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  echo "{\"type\":\"note\",\"text\":\"hold resumed\",\"timer_seconds\":$(./timer.sh --seconds 2>/dev/null || echo null)}"
else
  echo "{\"type\":\"note\",\"text\":\"hold start\",\"timer_seconds\":$(./timer.sh --seconds 2>/dev/null || echo null)}"
fi
hold=${PTB_HOLD_FILE:-}
while [[ -n $hold && ( -e $hold || -e $hold.${PTB_AGENT_NAME:-} ) ]]; do sleep 1; done
cp -r "$PTB_BASE_MODEL" final_model
echo '{"type":"note","text":"hold done"}'
