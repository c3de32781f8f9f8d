#!/usr/bin/env bash
# The do-nothing agent: submits the base model unchanged. A floor for the
# leaderboard and a check that the pipeline scores an untouched model.
set -euo pipefail
echo '{"type":"note","text":"submitting the base model unchanged"}'
if [[ -d "$PTB_BASE_MODEL" ]]; then
  cp -r "$PTB_BASE_MODEL" final_model
else
  # A hub id: copy the snapshot the prefetch put in the cache (works offline).
  python - <<'PY'
import os, shutil
from huggingface_hub import snapshot_download
shutil.copytree(snapshot_download(os.environ["PTB_BASE_MODEL"]), "final_model")
PY
fi
