"""JSON records that stages hand to each other."""

import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    """Write atomically: a killed job never leaves a half-written record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def job_context(environ=os.environ) -> dict:
    """Where a stage ran: host, Slurm job (and how often Slurm restarted it), the GPUs it was given."""
    from workflow.slurm_logs import job_fields

    keys = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "CUDA_VISIBLE_DEVICES")
    context = {"host": os.uname().nodename, **{k.lower(): environ[k] for k in keys if k in environ}}
    restarts = job_fields(environ.get("SLURM_JOB_ID")).get("Restarts")
    if restarts is not None:
        context["slurm_restarts"] = int(restarts)
    return context
