"""Snakemake script: evaluate a final model or a baseline model on one benchmark."""

from workflow.evaluation import evaluate
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
metrics = evaluate(
    sm.wildcards.benchmark, sm.params.model, sm.output.logs, sm.config["evaluation"], local_model=sm.params.local_model
)
print(metrics, flush=True)
write_json(sm.output.metrics, metrics)
