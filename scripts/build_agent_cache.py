"""Snakemake script: the agents' view of the HF cache, without the official instruct models."""

import json
from pathlib import Path

from workflow.environment.agent_cache import agent_cache_dir, build_agent_cache, hidden_models
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
record = build_agent_cache(Path(sm.config["hf_home"]), agent_cache_dir(sm.config), hidden_models(sm.config))
print(f"agents' cache at {record['path']}; left out: {', '.join(record['left_out']) or 'nothing'}", flush=True)
Path(sm.output.marker).write_text(json.dumps(record, indent=1) + "\n")
