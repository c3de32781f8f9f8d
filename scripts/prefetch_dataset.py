"""Snakemake script: download one dataset into the shared HF cache."""

import json
import os
from pathlib import Path

from workflow.environment.prefetch import find_dataset, hub_env, resources_from_json
from workflow.secrets import PREFETCH_KEYS, restore_keys
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
restore_keys(PREFETCH_KEYS)  # withheld from the environment of a run that submits to Slurm
os.environ.update(hub_env(sm.params.hf_home, offline=False))  # before huggingface_hub is imported
from workflow.environment.prefetch import download_dataset  # noqa: E402

dataset = find_dataset(resources_from_json(sm.params.resources), sm.wildcards.slug)
record = download_dataset(dataset)
print(f"{dataset.repo}: {record}", flush=True)
Path(sm.output.marker).write_text(json.dumps(record, indent=1) + "\n")
