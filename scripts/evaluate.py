"""Snakemake script: evaluate a cell's final model on its benchmark (baselines: evaluate_baselines.py).

A failure of the model is written as a failed metrics record (the cell then
scores its base model's result); a failure of the infrastructure fails the
job and writes nothing, so the next run evaluates again (workflow/evaluate/faults.py).
"""

import shutil
import sys
from pathlib import Path

from workflow.evaluate.faults import InfrastructureFault, model_fault_record, model_problem, settle
from workflow.evaluate.runner import evaluate, evaluation_settings, is_model_dir
from workflow.models import model_of
from workflow.paths import EVAL_LOGS, JOB_DIR
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
benchmark = sm.wildcards.benchmark
folder = Path(sm.output.metrics).parent
settings = evaluation_settings(sm.config, benchmark)
logs = folder / EVAL_LOGS
if logs.exists():  # the last evaluation's attempts (one the infrastructure failed, say), kept for a look
    shutil.rmtree(folder / f"{EVAL_LOGS}.previous", ignore_errors=True)
    logs.rename(folder / f"{EVAL_LOGS}.previous")
model = str(folder / JOB_DIR / "final_model")
# The control: the cell's base model on one sample. If it fails too, the cluster is at fault.
base, base_local = model_of(sm.config, sm.wildcards.model, "base")


def control():
    small = settings | {"limit": 1}
    return evaluate(benchmark, base, folder / "eval_control", small, local_model=base_local)


problem = model_problem(Path(model)) if is_model_dir(Path(model)) else None
metrics = model_fault_record(problem) if problem else evaluate(benchmark, model, logs, settings)
try:
    metrics = settle(metrics, control)
except InfrastructureFault as fault:
    print(f"InfrastructureFault: {fault}\nNo metrics written: the next run evaluates this model again.", flush=True)
    sys.exit(1)
print({k: v for k, v in metrics.items() if k != "attempts"}, flush=True)
write_json(sm.output.metrics, metrics)
