"""Where the pipeline's prefetch put a task's files from upstream releases.

Handed out beside the task.py of tasks that read such files (Arena-Hard's
judge prompt, HealthBench's conversations, BFCL's question files). Before any
job runs, the prefetch downloads each `upstream_files:` URL of the task's
meta.yaml into the shared Hugging Face cache, under ptb_files/<host>/<path>;
a task reads it from there, as data, with the network off. The pipeline's
own copy of this rule is workflow/environment/prefetch.py (`FileResource`).
"""

import os
from pathlib import Path
from urllib.parse import urlparse

FILES_DIR = "ptb_files"
# Files the pipeline itself makes for tasks (Arena-Hard's baseline answers) sit beside them.
PIPELINE_DIR = "ptb_pipeline"


def hf_home() -> Path:
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")


def prefetched_path(url: str, home: Path | None = None) -> Path:
    """Where the prefetch stores the file at `url` (it may not be there)."""
    parsed = urlparse(url)
    return (home or hf_home()) / FILES_DIR / parsed.netloc / parsed.path.lstrip("/")


def prefetched_file(url: str) -> Path:
    """The prefetched copy of `url`; a clear error when the prefetch has not fetched it."""
    path = prefetched_path(url)
    if not path.is_file():
        raise FileNotFoundError(
            f"{url} is not in the prefetched cache (expected {path}); the pipeline's prefetch fetches it "
            f"(the task's meta.yaml `upstream_files:`), or pass the file's path to the task"
        )
    return path


def pipeline_file(*parts: str) -> Path:
    """A file the pipeline made for the task, in the shared cache."""
    return hf_home() / PIPELINE_DIR / Path(*parts)
