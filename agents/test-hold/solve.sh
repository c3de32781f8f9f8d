#!/usr/bin/env bash
# Test-only scaffold: waits while the file named by PTB_HOLD_FILE exists (so a
# test can cancel, time out or requeue it mid-run), then submits the base model.
# Resumed (PTB_RESUME_MESSAGE set), it says so and how much time timer.sh shows.
set -euo pipefail
if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  echo "{\"type\":\"note\",\"text\":\"hold resumed\",\"timer_seconds\":$(./timer.sh --seconds 2>/dev/null || echo null)}"
else
  echo "{\"type\":\"note\",\"text\":\"hold start\",\"timer_seconds\":$(./timer.sh --seconds 2>/dev/null || echo null)}"
fi
while [[ -n ${PTB_HOLD_FILE:-} && -e $PTB_HOLD_FILE ]]; do sleep 1; done
cp -r "$PTB_BASE_MODEL" final_model
echo '{"type":"note","text":"hold done"}'
