"""Snakemake script: evaluate a final model or a baseline model on one benchmark."""

from workflow.evaluation import evaluate, evaluation_settings
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
benchmark = sm.wildcards.benchmark
settings = evaluation_settings(sm.config, benchmark)
metrics = evaluate(benchmark, sm.params.model, sm.output.logs, settings, local_model=sm.params.local_model)
print({k: v for k, v in metrics.items() if k != "attempts"}, flush=True)
write_json(sm.output.metrics, metrics)
