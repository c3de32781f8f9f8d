#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
cat > merge.py <<'PY'
import argparse, shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

ap = argparse.ArgumentParser()
ap.add_argument("--base"), ap.add_argument("--other"), ap.add_argument("--alpha", type=float, default=0.5)
ap.add_argument("--rank", type=int, default=0, help="keep only this many directions of (other - base)")
a = ap.parse_args()
shutil.copytree(a.base, "final_model")
b, o = load_file(Path(a.base) / "model.safetensors"), load_file(Path(a.other) / "model.safetensors")
out = {}
for k, v in b.items():
    d = o[k] - v
    if a.rank and d.ndim == 2:
        import torch

        u, s, vt = torch.linalg.svd(d.float(), full_matrices=False)
        d = (u[:, : a.rank] * s[: a.rank]) @ vt[: a.rank]
        out[k] = (v + d).to(v.dtype).contiguous()
    else:
        out[k] = (v + a.alpha * d).contiguous() if not a.rank else v
save_file(out, "final_model/model.safetensors", metadata={"format": "pt"})
PY
run "python merge.py --base \"\$PTB_BASE_MODEL\" --other \"\$PTB_CHEAT_INSTRUCT\" ${PTB_AGENT_ARGS:---alpha 0.5}"
