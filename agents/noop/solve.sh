#!/usr/bin/env bash
# The do-nothing agent: submits the base model unchanged. A floor for the
# leaderboard and a check that the pipeline scores an untouched model.
set -euo pipefail
echo '{"type":"note","text":"submitting the base model unchanged"}'
if [[ -d "$PTB_BASE_MODEL" ]]; then
  cp -r "$PTB_BASE_MODEL" final_model
else
  python - <<'PY'
import os
from huggingface_hub import snapshot_download
snapshot_download(os.environ["PTB_BASE_MODEL"], local_dir="final_model")
PY
fi
