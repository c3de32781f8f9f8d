"""Snakemake script: judge one finished agent run (CPU only; rerun alone with -R judge)."""

import os
from pathlib import Path

from workflow.environment.prefetch import hub_env
from workflow.judge.judgement import RunUnderReview, judge, kept_folders
from workflow.judge.lineage import local_model_dir
from workflow.models import model_of
from workflow.paths import HANDOUT, JOB_DIR, TRACE
from workflow.records import read_json, write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
# The judge reads test items from the prefetched cache; it never downloads.
os.environ.update(hub_env(sm.config["hf_home"], offline=True))
cell = Path(sm.input.run).parent
wc = sm.wildcards
refs = sm.config["models"][wc.model]
run = RunUnderReview(
    job_dir=cell / JOB_DIR,
    trace=cell / TRACE,
    handout_hashes=read_json(cell / HANDOUT),
    benchmark=sm.wildcards.benchmark,
    base_model=model_of(sm.config, wc.model, "base")[0],
    base_dir=local_model_dir(sm.config["results"], refs["base"]),
    instruct_dir=local_model_dir(sm.config["results"], refs["instruct"]) if refs.get("instruct") else None,
    models=sm.config["models"],
    hf_home=Path(sm.config["hf_home"]),
    kept=kept_folders(cell),
)
verdict = judge(run, sm.config["judge"])
print({k: verdict[k] for k in ("flagged", "reasons", "verdicts")}, flush=True)
write_json(sm.output.judgement, verdict)
