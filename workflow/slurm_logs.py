"""Make a job's Slurm log reachable from the cell's result folder."""

import os
import subprocess
from pathlib import Path


def slurm_stdout_path(job_id: str) -> str | None:
    """The job's StdOut file, as Slurm knows it (None outside Slurm or on error)."""
    try:
        out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = dict(item.split("=", 1) for item in out.stdout.split() if "=" in item)
    return fields.get("StdOut")


def link_slurm_log(folder: str | Path, stage: str, environ=os.environ) -> Path | None:
    """Symlink <folder>/slurm-<stage>.log to this job's Slurm log, when running under Slurm."""
    job_id = environ.get("SLURM_JOB_ID")
    target = slurm_stdout_path(job_id) if job_id else None
    if not target:
        return None
    link = Path(folder) / f"slurm-{stage}.log"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    return link
