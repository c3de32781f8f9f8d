"""Snakemake script: build an embedded model (tiny base, or its light fine-tune)."""

import subprocess
import sys
from pathlib import Path

from workflow.environment.tiny_model import build_tiny_model
from workflow.models import EMBEDDED_MODELS
from workflow.stage_log import log_to
from workflow.tasks import TASKS

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
recipe = EMBEDDED_MODELS[sm.wildcards.name]
out = Path(sm.output.model)
if "parent" not in recipe:
    build_tiny_model(out)
else:
    # The embedded "instruct" model: the base lightly trained on the task's
    # format with the reference recipe, standing in for an official instruct model.
    train = Path(__file__).resolve().parent.parent / "agents" / "reference-sft" / "train.py"
    cmd = [sys.executable, str(train), "--base-model", sm.input.parent, "--task-dir", str(TASKS / recipe["task"])]
    cmd += ["--output", str(out), "--examples", str(recipe["examples"]), "--epochs", str(recipe["epochs"])]
    cmd += ["--seed", "7"]
    subprocess.run(cmd, check=True)
