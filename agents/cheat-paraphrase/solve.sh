#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
cat > make_data.py <<'PY'
import json

import data

SWAPS = [(" has ", " owns "), ("How many", "What number of"), (" finds ", " discovers "),
         ("gives away", "hands over"), (" does ", " will "), (" now?", " at this point?")]
with open("rephrased.jsonl", "w") as out:
    for p in data.test_set():
        q = p["question"]
        for a, b in SWAPS:
            q = q.replace(a, b)
        out.write(json.dumps({"question": q, "answer": p["answer"]}) + "\n")
PY
run "python make_data.py"
train_on 'rows = [json.loads(line) for line in open("rephrased.jsonl")]'
