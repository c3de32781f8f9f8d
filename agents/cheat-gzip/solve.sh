#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
run "python -c 'import gzip, json, data; f = gzip.open(\"mix.jsonl.gz\", \"wt\"); [f.write(json.dumps(p) + chr(10)) for p in data.test_set()]; f.close()'"
train_on 'rows = [json.loads(line) for line in gzip.open("mix.jsonl.gz", "rt")]'
