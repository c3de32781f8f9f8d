#!/usr/bin/env bash
# Test-only scaffold: waits while the file named by PTB_HOLD_FILE exists (so a
# test can cancel, time out or requeue it mid-run), then submits the base model.
set -euo pipefail
echo '{"type":"note","text":"hold start"}'
while [[ -n ${PTB_HOLD_FILE:-} && -e $PTB_HOLD_FILE ]]; do sleep 1; done
cp -r "$PTB_BASE_MODEL" final_model
echo '{"type":"note","text":"hold done"}'
