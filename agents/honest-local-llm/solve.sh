#!/usr/bin/env bash
# TEST ONLY: an honest agent that uses a local OpenAI-compatible server (see README.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../cheat-common.sh"
port=$((20000 + RANDOM % 20000))
# vllm serve when it is installed here; else the same protocol from a small transformers server.
if python -c 'import vllm' 2>/dev/null; then
  run "python -m vllm.entrypoints.openai.api_server --model \"\$PTB_BASE_MODEL\" --served-model-name base --host 127.0.0.1 --port $port > server.log 2>&1 & echo \$! > server.pid"
else
  cp "$here/serve.py" serve.py
  run "python serve.py --model \"\$PTB_BASE_MODEL\" --port $port > server.log 2>&1 & echo \$! > server.pid"
fi
cat > sample.py <<PY
import json, sys, time

from openai import OpenAI

import data

client = OpenAI(base_url="http://127.0.0.1:$port/v1", api_key="local")
for _ in range(240):
    try:
        client.models.list()
        break
    except Exception:
        time.sleep(0.5)
rows = []
for p in data.problems("train", 8, seed=3):
    r = client.chat.completions.create(model="base", messages=[{"role": "user", "content": p["question"]}], max_tokens=16)
    rows.append({"question": p["question"], "sampled": r.choices[0].message.content, "answer": p["answer"]})
json.dump(rows, open("samples.json", "w"), indent=1)
print(f"sampled {len(rows)} answers from the local server")
PY
run "python sample.py"
run "kill \$(cat server.pid) && rm server.pid"
CHEAT_EXAMPLES=300 train_allowed
