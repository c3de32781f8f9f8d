"""Send a stage's stdout and stderr (its subprocesses' too) to its log file."""

import os
import sys
from pathlib import Path


def log_to(path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
