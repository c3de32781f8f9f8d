"""Snakemake script: evaluate a final model or a baseline model on one benchmark."""

from pathlib import Path

from workflow.evaluate.runner import evaluate, evaluation_settings
from workflow.models import model_of
from workflow.paths import EVAL_LOGS, JOB_DIR
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
benchmark, wc = sm.wildcards.benchmark, sm.wildcards
if "kind" in wc.keys():  # a baseline: the base or official instruct model itself
    model, local_model = model_of(sm.config, wc.model, wc.kind)
else:  # a cell: the agent's final model
    model, local_model = str(Path(sm.output.metrics).parent / JOB_DIR / "final_model"), True
settings = evaluation_settings(sm.config, benchmark)
metrics = evaluate(benchmark, model, Path(sm.output.metrics).parent / EVAL_LOGS, settings, local_model=local_model)
print({k: v for k, v in metrics.items() if k != "attempts"}, flush=True)
write_json(sm.output.metrics, metrics)
