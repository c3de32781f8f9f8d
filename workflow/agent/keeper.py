"""Keep, for the judge, the data files an agent deletes before its run ends.

While the agent runs, its job dir and its private /tmp are walked every few
seconds and each data file is hard-linked into a folder beside them that the
agent cannot see (a link costs no space and keeps the file's content when the
agent deletes its own name for it). When the run ends, links to files that
still exist under the same name are dropped again: the judge reads those in
place. What remains is what the agent wrote and then removed or replaced,
e.g. test items written to /tmp, trained on, and deleted.
"""

import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

# Never data: weights, checkpoints, compiled code (a run's checkpoints are large and not evidence).
NOT_DATA = {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".onnx", ".so", ".pyc", ".whl", ".lock"}
# .local and .config hold tools' own state (Inspect's traces of evaluate.py runs, which show test items by
# design); the judge does not read them in place either (workflow/judge/files.py).
SKIPPED_DIRS = {
    "__pycache__",
    ".git",
    "node_modules",
    "site-packages",
    ".agent-home",
    ".npm",
    ".cache",
    ".local",
    ".config",
    "final_model",
}
# The CLIs' own working files in /tmp (Claude Code's /tmp/claude-<uid>/ command outputs): Claude Code
# kills a command whose output file gains a second link, and what they hold is in the trace anyway.
SKIPPED_DIR_PREFIXES = ("claude-",)
MAX_FILE_BYTES = 2 << 30
COPY_LIMIT_BYTES = 64 << 20  # across file systems a copy replaces the link, for smaller files only


def data_files(root: Path):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(SKIPPED_DIR_PREFIXES)]
        for name in files:
            path = Path(folder) / name
            if path.suffix.lower() in NOT_DATA or path.is_symlink():
                continue
            yield path


def keep_once(roots: dict[str, Path], dest: Path) -> int:
    """Link every data file under roots into dest/<label>/<path>; returns how many were new."""
    new = 0
    for label, root in roots.items():
        if not Path(root).is_dir():
            continue
        for path in data_files(root):
            target = Path(dest) / label / path.relative_to(root)
            try:
                stat = path.stat()
                if stat.st_size > MAX_FILE_BYTES or (target.exists() and target.stat().st_ino == stat.st_ino):
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():  # the agent replaced the file: keep the earlier content under another name
                    target.rename(target.with_name(f"{target.name}.replaced-{target.stat().st_ino}"))
                try:
                    os.link(path, target)
                except OSError:
                    if stat.st_size > COPY_LIMIT_BYTES:
                        continue
                    shutil.copy2(path, target)
                new += 1
            except (FileNotFoundError, PermissionError):
                continue  # deleted or unreadable between the walk and the link
    return new


def prune(roots: dict[str, Path], dest: Path) -> None:
    """Drop the links whose file is still in place: only what the agent deleted or replaced stays."""
    for label, root in roots.items():
        base = Path(dest) / label
        if not base.is_dir():
            continue
        for kept in sorted(p for p in base.rglob("*") if p.is_file()):
            original = Path(root) / kept.relative_to(base)
            try:
                if original.exists() and original.stat().st_ino == kept.stat().st_ino:
                    kept.unlink()
            except FileNotFoundError:
                continue
        for folder in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(folder.iterdir()):
                folder.rmdir()
    if Path(dest).is_dir() and not any(p.is_file() for p in Path(dest).rglob("*")):
        shutil.rmtree(dest)


@contextmanager
def keep_deleted_files(roots: dict[str, Path], dest: Path, interval: float = 2.0):
    """Watch roots (label -> folder) while the block runs; leave dest with the files deleted meanwhile."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)  # an earlier attempt's copies
    stop = threading.Event()

    def watch():
        while not stop.wait(interval):
            keep_once(roots, dest)

    thread = threading.Thread(target=watch, name="keep-deleted-files", daemon=True)
    thread.start()
    try:
        yield dest
    finally:
        stop.set()
        thread.join(timeout=interval * 5)
        keep_once(roots, dest)
        prune(roots, dest)
