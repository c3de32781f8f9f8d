"""What the judge reads in a job directory: the agent's own files, with secrets masked.

The handed-out files and the agent CLI's private state (`.agent-home/`, where
the scaffolds keep sessions and settings) are not the agent's work; the
final model's weights are checked separately (workflow/judge/lineage.py).
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Top-level entries of a job dir that are not the agent's own work.
NOT_AGENT_WORK = {".agent-home", ".cache", ".npm", ".local", ".config", "__pycache__", "prompt.md", "timer.sh"}
# Below any level. final_model/ is checked by its weights (lineage); Inspect's
# .eval logs (test samples by design) are zip files no reader here opens.
SKIPPED_DIRS = {"__pycache__", ".git", "node_modules", "final_model"}
CODE_SUFFIXES = {".py", ".sh", ".ipynb", ".js", ".ts", ".yaml", ".yml", ".toml", ".cfg", ".md", ".txt", ".json"}

_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),  # OpenAI / Anthropic style
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),  # Google
    re.compile(r"hf_[A-Za-z0-9]{20,}"),  # Hugging Face
    re.compile(r"(?i)\b(\w*(?:api[_-]?key|token|secret|password)\w*)(\"?\s*[=:]\s*\"?)([^\s\"',]{6,})"),
]
_SECRET_ENV = re.compile(r"(?i)(api_key|token|secret|password)")


@dataclass(frozen=True)
class AgentFile:
    path: Path
    rel: str
    size: int


def redact(text: str, env=os.environ) -> str:
    """Mask anything that looks like a credential, and the values of secret env variables."""
    for name, value in env.items():
        if _SECRET_ENV.search(name) and len(value) >= 6 and value in text:
            text = text.replace(value, "[REDACTED]")
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 3:
            text = pattern.sub(lambda m: m.group(1) + m.group(2) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


def agent_files(job_dir: Path, handout: set[str] | frozenset = frozenset()) -> Iterator[AgentFile]:
    """Files the agent wrote, sorted by path, skipping the handout, CLI state and eval logs."""
    job_dir = Path(job_dir)
    for root, dirs, files in os.walk(job_dir):
        here = Path(root)
        top = here == job_dir
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not (top and d in NOT_AGENT_WORK))
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(job_dir).as_posix()
            if rel in handout or (top and name in NOT_AGENT_WORK) or path.is_symlink() or not path.is_file():
                continue
            yield AgentFile(path, rel, path.stat().st_size)


def read_head(path: Path, max_bytes: int) -> str:
    with open(path, "rb") as fh:
        return fh.read(max_bytes).decode("utf-8", errors="replace")
