"""The task folders (tasks/<id>/), read as data: metadata and the files handed out.

Every stage reads tasks through here; none executes a task's code. What an
agent gets is copied from these folders, and the same copy is what the
pipeline's final evaluation runs.
"""

import ast
import hashlib
import shutil
from pathlib import Path

import yaml

from workflow.config import REPO

TASKS = REPO / "tasks"
TEMPLATES = TASKS / "templates"


def task_meta(benchmark: str) -> dict:
    return yaml.safe_load((TASKS / benchmark / "meta.yaml").read_text())


def handout_files(benchmark: str) -> dict[str, Path]:
    """Handed-out name -> original in the repo: evaluate.py, the task's files, templates."""
    files = {"evaluate.py": TASKS / "evaluate.py", "task.py": TASKS / benchmark / "task.py"}
    for name in task_meta(benchmark).get("handout", []):
        # The task's own file, or one shared by several tasks (tasks/<name>).
        own = TASKS / benchmark / name
        files[name] = own if own.exists() else TASKS / name
    for tpl in sorted(TEMPLATES.glob("*.jinja")) + [TEMPLATES / "serving.json"]:
        files[f"templates/{tpl.name}"] = tpl
    return files


def literal_constant(path: Path, name: str):
    """The literal value a handed-out Python file assigns to `name` (e.g. tasks/graders.py's
    JUDGE_KEY_VARS), read as data: the file is parsed, never run."""
    for node in ast.parse(Path(path).read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{path} assigns no literal {name}")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_handout(dest: Path, benchmark: str) -> dict[str, str]:
    """Copy the benchmark's handout into `dest`; return each file's hash."""
    hashes = {}
    for name, src in handout_files(benchmark).items():
        target = Path(dest) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        hashes[name] = sha256(src)
    return hashes
