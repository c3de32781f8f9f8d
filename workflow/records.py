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
    """Where a stage ran: host, Slurm job and the GPUs it was given."""
    keys = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_RESTART_COUNT", "CUDA_VISIBLE_DEVICES")
    return {"host": os.uname().nodename, **{k.lower(): environ[k] for k in keys if k in environ}}
