"""Snakemake script: download one task's non-hub data files into $HF_HOME/inspect_evals."""

import json
from pathlib import Path

from workflow.environment.prefetch import download_files, find_download, resources_from_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
download = find_download(resources_from_json(sm.params.resources), sm.wildcards.slug)
record = download_files(download, sm.params.hf_home, dict(sm.params.mirrors))
print(f"{download.base_url}: {len(record['fetched'])} files in {record['path']}", flush=True)
Path(sm.output.marker).write_text(json.dumps(record, indent=1) + "\n")
