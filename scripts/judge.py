"""Snakemake script: judge one finished agent run (CPU only; rerun alone with -R judge)."""

import os
from pathlib import Path

from workflow.judge import RunUnderReview, judge
from workflow.lineage import local_model_dir
from workflow.records import read_json, write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
# Tasks' test_texts() hooks read the prefetched cache; the judge never downloads.
os.environ.setdefault("HF_HOME", os.path.abspath(sm.config["hf_home"]))
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
run = RunUnderReview(
    job_dir=Path(sm.input.job),
    trace=Path(sm.input.trace),
    handout_hashes=read_json(sm.input.handout),
    benchmark=sm.wildcards.benchmark,
    base_model=sm.params.base_model,
    base_dir=local_model_dir(sm.config["results"], sm.params.base_ref),
    instruct_dir=local_model_dir(sm.config["results"], sm.params.instruct_ref) if sm.params.instruct_ref else None,
    models=sm.config["models"],
)
verdict = judge(run, sm.config["judge"])
print({k: verdict[k] for k in ("flagged", "reasons", "verdicts")}, flush=True)
write_json(sm.output.judgement, verdict)
