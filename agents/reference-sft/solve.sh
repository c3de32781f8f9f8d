#!/usr/bin/env bash
# A fixed recipe, run the way an agent would: read the timer, fine-tune on the
# task's allowed training split with TRL, save final_model before time is up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash timer.sh
python "$here/train.py" --base-model "$PTB_BASE_MODEL" --task-dir . --output final_model ${PTB_AGENT_ARGS:-}
bash timer.sh
