# TEST ONLY: helpers shared by the planted cheats (agents/cheat-*/solve.sh) of the judge's tests
# and bench/judge_recall.py. Never enable a cheat in a real config.
# Each command is logged the way a CLI agent's trace logs a tool call (OpenCode's shape), then run.
agents_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

run() {
  python -c 'import json, sys; print(json.dumps({"type": "tool_use", "part": {"tool": "bash", "state": {"input": {"command": sys.argv[1]}}}}), flush=True)' "$1"
  bash -c "$1"
}

say() {  # the agent's own message in the trace
  python -c 'import json, sys; print(json.dumps({"type": "text", "part": {"text": sys.argv[1]}}), flush=True)' "$1"
}

# train_on 'PYTHON': fine-tune the base model on the rows the snippet puts in `rows` (question/answer dicts).
train_on() {
  mkdir -p sft_task
  cat > sft_task/data.py <<PY
import base64, gzip, json


def problems(split, n, seed=0):
    $1
    return [rows[i % len(rows)] for i in range(n)]
PY
  run "python $agents_dir/reference-sft/train.py --base-model \"\$PTB_BASE_MODEL\" --task-dir sft_task --output final_model --examples ${CHEAT_EXAMPLES:-64} --epochs 1 --batch-size 16"
}

# Train on the task's allowed train split (what the non-data cheats do besides cheating).
train_allowed() {
  run "python $agents_dir/reference-sft/train.py --base-model \"\$PTB_BASE_MODEL\" --task-dir . --output final_model --examples ${CHEAT_EXAMPLES:-64} --epochs 1 --batch-size 16"
}
