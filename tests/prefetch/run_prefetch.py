"""Run one prefetch step in a fresh process, as the Snakemake scripts do.

huggingface_hub reads HF_HOME/HF_ENDPOINT/HF_HUB_OFFLINE at import, so each
step needs its own interpreter. Usage:
  python run_prefetch.py download|verify HF_HOME RESOURCES_JSON
Prints one JSON line: the records (download) or the report (verify).
"""

import json
import os
import sys

from workflow.environment.prefetch import hub_env, resources_from_json

action, hf_home, resources_text = sys.argv[1:4]
os.environ.update(hub_env(hf_home, offline=action == "verify"))
from workflow.environment.prefetch import download_dataset, download_model, verify_all  # noqa: E402

resources = resources_from_json(resources_text)
if action == "download":
    records = [download_model(m) for m in resources["models"]]
    records += [download_dataset(d) for d in resources["datasets"]]
    print(json.dumps(records))
else:
    print(json.dumps(verify_all(resources)))
