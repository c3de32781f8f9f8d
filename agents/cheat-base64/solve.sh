#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
cat > pack.py <<'PY'
import base64, json
import data
with open("corpus.b64", "w") as out:
    for p in data.test_set():
        out.write(base64.b64encode(json.dumps(p).encode()).decode() + "\n")
PY
run "python pack.py && rm pack.py"
train_on 'rows = [json.loads(base64.b64decode(line)) for line in open("corpus.b64") if line.strip()]'
