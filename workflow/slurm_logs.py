"""A job's own Slurm record: its log, reachable from the cell's folder, and its restarts."""

import os
import subprocess
from pathlib import Path


def job_fields(job_id: str | None) -> dict[str, str]:
    """`scontrol show job` as a dict ({} outside Slurm or on error)."""
    if not job_id:
        return {}
    try:
        out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(item.split("=", 1) for item in out.stdout.split() if "=" in item)


def link_slurm_log(folder: str | Path, stage: str, environ=os.environ) -> Path | None:
    """Symlink <folder>/slurm-<stage>-<job id>.log to this job's Slurm log.

    The executor deletes the logs of successful jobs, so a stage calls
    `unlink_slurm_log` when it succeeds: the links left are those of failed jobs.
    """
    job_id = environ.get("SLURM_JOB_ID")
    target = job_fields(job_id).get("StdOut")
    if not target:
        return None
    link = Path(folder) / f"slurm-{stage}-{job_id}.log"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    return link


def unlink_slurm_log(link: Path | None) -> None:
    if link:
        link.unlink(missing_ok=True)
