"""Helpers for tests that run the real Snakemake pipeline.

Each run happens in a fresh copy of the repo's tracked files (as a clone
would have them), so tests never share Snakemake's lock or results tree.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(
    "results", ".snakemake", ".venv*", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".git", "*.sif"
)
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# Stand-in API keys: tests run the pipeline with these set and look for them in every output.
SENTINEL_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-SENTINEL-0d41c7e2a9",
    "OPENAI_API_KEY": "sk-SENTINEL-openai-5b93f1c0",
    "GEMINI_API_KEY": "SENTINEL-gemini-77e0a3b1d4",
    "HF_TOKEN": "hf_SENTINEL3c9d0e1f2a",
}


def repo_files(repo: Path = REPO) -> list[str] | None:
    """The files a clone would have (tracked, plus untracked ones git does not ignore), or None outside git."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=repo, capture_output=True
    )
    if proc.returncode != 0:
        return None
    return [f for f in proc.stdout.decode().split("\0") if f and (repo / f).exists()]


def repo_copy(dest: Path) -> Path:
    """A working copy of the repo at dest: what a clone holds (no results, venvs or npm modules)."""
    files = repo_files()
    if files is None:
        shutil.copytree(REPO, dest, ignore=IGNORED, symlinks=True)
    else:
        for name in files:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target, follow_symlinks=False)
    cli_modules = REPO / "agents" / "cli" / "node_modules"
    # (a worktree whose node_modules is itself a link has already copied it)
    if cli_modules.exists() and not (dest / "agents" / "cli" / "node_modules").is_symlink():
        (dest / "agents" / "cli" / "node_modules").symlink_to(cli_modules)
    return dest


FAILED_JOB_LOG = re.compile(r"^\s*log: (.+) \(check log file\(s\) for error details\)$", re.MULTILINE)


def snakemake(workdir: Path, *args: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run Snakemake in workdir; output captured as text.

    When it fails, the end of each failed job's log is appended to stderr, so
    an assertion on stderr's tail shows why the job failed (CI keeps no files).
    """
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        proc.stderr += failed_job_logs(workdir, proc.stderr)
    return proc


def failed_job_logs(workdir: Path, stderr: str, lines: int = 15) -> str:
    """The last lines of the logs Snakemake names for its failed jobs."""
    tails = []
    for names in FAILED_JOB_LOG.findall(stderr):
        for name in names.split(", "):
            path = workdir / name
            tail = path.read_text(errors="replace").splitlines()[-lines:] if path.is_file() else ["(no such file)"]
            tails.append(f"\n--- {name} (end) ---\n" + "\n".join(tail))
    return "".join(tails)


def executed_rules(output: str) -> list[str]:
    """The rules Snakemake ran (or planned, in a dry run), from its log output."""
    return [line.split()[1].rstrip(":") for line in output.splitlines() if line.startswith(("rule ", "localrule "))]


def require(available: bool, reason: str) -> None:
    """Skip a test whose tool is missing on a developer's machine; in CI a missing tool is a failure."""
    import pytest

    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)
