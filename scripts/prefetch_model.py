"""Snakemake script: download one hub model into the shared HF cache."""

import os
from pathlib import Path

from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
os.environ["HF_HOME"] = str(Path(sm.params.hf_home).resolve())
from huggingface_hub import snapshot_download  # noqa: E402 (reads HF_HOME at import)

repo_id = f"{sm.wildcards.org}/{sm.wildcards.name}"
path = snapshot_download(repo_id)
Path(sm.output.marker).write_text(path + "\n")
