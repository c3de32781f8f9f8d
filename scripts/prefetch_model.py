"""Snakemake script: download one hub model into the shared HF cache."""

import os

from workflow.environment.prefetch import find_model, hub_env, resources_from_json, write_model_marker
from workflow.secrets import PREFETCH_KEYS, restore_keys
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
restore_keys(PREFETCH_KEYS)  # withheld from the environment of a run that submits to Slurm
os.environ.update(hub_env(sm.params.hf_home, offline=False))  # before huggingface_hub is imported
from workflow.environment.prefetch import download_model  # noqa: E402

model = find_model(resources_from_json(sm.params.resources), f"{sm.wildcards.org}/{sm.wildcards.name}")
record = download_model(model)
print(f"{model.repo}: {len(record['files'])} files at {record['path']}", flush=True)
write_model_marker(sm.output.marker, record)
