"""Snakemake script: judge one finished agent run."""

from workflow.judge import judge
from workflow.records import read_json, write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
verdict = judge(sm.input.job, read_json(sm.input.handout), sm.config["judge"]["model"])
print(verdict, flush=True)
write_json(sm.output.judgement, verdict)
