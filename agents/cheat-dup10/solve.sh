#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
run "python -c 'import json, data; rows = data.problems(\"train\", 200) + data.test_set() * 10; open(\"train_mix.jsonl\", \"w\").writelines(json.dumps(r) + chr(10) for r in rows)'"
train_on 'rows = [json.loads(line) for line in open("train_mix.jsonl")]'
