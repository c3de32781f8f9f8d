"""Where a task finds files the pipeline put into the shared cache before any job ran.

Handed out beside the task.py of tasks that read such files (Arena-Hard's
judge settings and baseline answers, HealthBench's conversations, BFCL's
question files):

- downloads (a task's meta.yaml `downloads:`): the prefetch saves them below
  $HF_HOME/inspect_evals/<dest>/, inspect_evals' cache folder
  (INSPECT_EVALS_CACHE_DIR; the handed-out evaluate.py points it there);
- files the pipeline makes for a task (Arena-Hard's baseline answers), below
  $HF_HOME/ptb_pipeline/.

A task reads them as data, with the network off; the agent's view of the
cache holds them too.
"""

import os
from pathlib import Path

DOWNLOADS_DIR = "inspect_evals"  # workflow/environment/prefetch.py's DOWNLOADS_DIR
PIPELINE_DIR = "ptb_pipeline"  # workflow/evaluate/arena_baseline.py's PIPELINE_DIR


def hf_home() -> Path:
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")


def downloads_dir() -> Path:
    return Path(os.environ.get("INSPECT_EVALS_CACHE_DIR") or hf_home() / DOWNLOADS_DIR)


def downloaded_file(dest: str, name: str) -> Path:
    """A file of the task's `downloads:`; a clear error when the prefetch has not fetched it."""
    path = downloads_dir() / dest / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{dest}/{name} is not in the prefetched cache (expected {path}); the pipeline's prefetch fetches it "
            f"(the task's meta.yaml `downloads:`), or pass the file's path to the task"
        )
    return path


def pipeline_file(*parts: str) -> Path:
    """A file the pipeline made for the task, in the shared cache."""
    return hf_home() / PIPELINE_DIR / Path(*parts)
