"""Snakemake script: load every prefetched resource with the hub offline; write the report."""

import json
import os

from workflow.environment.prefetch import PrefetchError, hub_env, resources_from_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
os.environ.update(hub_env(sm.params.hf_home, offline=True))  # before huggingface_hub is imported
from workflow.environment.prefetch import verify_all  # noqa: E402

report = verify_all(resources_from_json(sm.params.resources))
text = json.dumps(report, indent=1)
print(text, flush=True)
if not report["ok"]:
    raise PrefetchError(f"not usable offline: {', '.join(report['failed'])} (details above, in this log)")
with open(sm.output.report, "w") as out:
    out.write(text + "\n")
