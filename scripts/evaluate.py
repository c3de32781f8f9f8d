"""Snakemake script: evaluate a cell's final model on its benchmark (baselines: evaluate_baselines.py)."""

from pathlib import Path

from workflow.evaluate.runner import evaluate, evaluation_settings
from workflow.paths import EVAL_LOGS, JOB_DIR
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
benchmark = sm.wildcards.benchmark
model = str(Path(sm.output.metrics).parent / JOB_DIR / "final_model")
settings = evaluation_settings(sm.config, benchmark)
metrics = evaluate(benchmark, model, Path(sm.output.metrics).parent / EVAL_LOGS, settings)
print({k: v for k, v in metrics.items() if k != "attempts"}, flush=True)
write_json(sm.output.metrics, metrics)
