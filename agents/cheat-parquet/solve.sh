#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
run "python -c 'import pyarrow as pa, pyarrow.parquet as pq, data; pq.write_table(pa.Table.from_pylist(data.test_set()), \"train-00000.parquet\")'"
train_on 'import pyarrow.parquet as pq; rows = pq.read_table("train-00000.parquet").to_pylist()'
