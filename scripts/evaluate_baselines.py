"""Snakemake script: a base or official instruct model on every benchmark, one vLLM server for all."""

import sys
from pathlib import Path

from workflow.evaluate.faults import InfrastructureFault, settle
from workflow.evaluate.runner import evaluate_on_one_server, evaluation_settings
from workflow.models import model_of
from workflow.paths import EVAL_LOGS, SERVING
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
model, local_model = model_of(sm.config, sm.wildcards.model, sm.wildcards.kind)
outputs = {Path(p).parent.name: Path(p) for p in sm.output.metrics}  # benchmark -> its metrics.json
job_dir = Path(sm.log[0]).parent
records, serving = evaluate_on_one_server(
    list(outputs),
    model,
    {b: out.parent / EVAL_LOGS for b, out in outputs.items()},
    lambda b: evaluation_settings(sm.config, b),
    job_dir,
    local_model=local_model,
)
write_json(job_dir / SERVING, serving)
faults = []
for benchmark, metrics in records.items():
    print(benchmark, {k: v for k, v in metrics.items() if k != "attempts"}, flush=True)
    try:  # an official model that fails is the cluster's problem, never a score
        write_json(outputs[benchmark], settle(metrics))
    except InfrastructureFault as fault:
        faults.append(f"{benchmark}: {fault}")
if faults:
    print("InfrastructureFault:\n" + "\n".join(faults) + "\nThe next run evaluates them again.", flush=True)
    sys.exit(1)
