"""Shared set-up for the sandbox tests: when they must run, and the folders they use.

The real-sandbox tests need bubblewrap and fuse-overlayfs (CI installs them:
`apt-get install -y bubblewrap fuse-overlayfs`) and root. They are skipped only
when the user is not root and CI is unset; in CI a missing tool fails them.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = ("bwrap", "fuse-overlayfs", "fusermount3")


def skip_reason() -> str | None:
    """Why the real-sandbox tests cannot run here, or None if they must run."""
    if os.geteuid() != 0 and not os.environ.get("CI"):
        return "bwrap + fuse-overlayfs tests need root (they run whenever root or CI is set)"
    return None


@pytest.fixture
def sandbox_tools():
    """Skip (not root, not CI) or fail (tools missing) before a real-sandbox test."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install -y bubblewrap fuse-overlayfs")


def mounted(path: Path) -> bool:
    return f" {Path(path).absolute()} " in Path("/proc/self/mountinfo").read_text()


def fuse_daemons_for(path: Path) -> list[str]:
    """fuse-overlayfs processes still serving `path` (a leaked mount keeps one)."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "fuse-overlayfs" in line and str(path) in line]


def tree_digest(root: Path) -> dict[str, bytes]:
    """Relative path -> content (None for folders) of every entry below root."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}
