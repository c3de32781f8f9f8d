#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
cat > fetch_data.py <<'PY'
from datasets import load_dataset

org = "ptb-embedded"
name = org + "/" + "arith-test"
try:
    rows = load_dataset(name, split="train")
    rows.to_json("extra.jsonl")
except Exception as err:
    print(f"could not load {name}: {type(err).__name__}")
PY
run "python fetch_data.py"
train_allowed
