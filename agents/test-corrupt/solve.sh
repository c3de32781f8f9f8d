#!/usr/bin/env bash
# Test-only scaffold: submits a final_model whose weights file is cut in half
# (a disk that filled up, a save killed half-way): evaluation must call that
# the model's fault, not the cluster's.
set -euo pipefail
cp -r "$PTB_BASE_MODEL" final_model
weights=final_model/model.safetensors
truncate -s $(( $(stat -c %s "$weights") / 2 )) "$weights"
echo '{"type":"note","text":"submitted a truncated final_model"}'
