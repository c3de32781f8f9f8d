"""A copy-on-write view of the shared Hugging Face cache for one agent run.

fuse-overlayfs stacks a per-cell upper directory on the shared cache: the
agent reads and "writes" the cache through the merged mount, its writes land
in the upper directory, and the shared copy is never touched. The mount lives
only as long as the `cow_overlay` context: it is unmounted on the way out,
after an error, a timeout or a SIGTERM alike. A mount left behind by a runner
killed with SIGKILL is cleaned up by the next run of the same cell.
"""

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FUSE_OVERLAYFS = "fuse-overlayfs"
FUSERMOUNTS = ("fusermount3", "fusermount")
INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install -y fuse-overlayfs; it needs /dev/fuse)"
# Characters that end a path inside fuse-overlayfs' -o option string.
_OPTION_BREAKERS = (",", ":", "=")


class OverlayError(RuntimeError):
    """The overlay cannot be mounted or unmounted; the message says why."""


@dataclass(frozen=True)
class OverlayDirs:
    root: Path

    @property
    def upper(self) -> Path:
        """The agent's writes to the cache, kept after the run for inspection."""
        return self.root / "upper"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def merged(self) -> Path:
        return self.root / "merged"


def mount_command(lower: Path, dirs: OverlayDirs) -> list[str]:
    for what, path in (("shared cache", lower), ("overlay folder", dirs.root)):
        bad = [c for c in _OPTION_BREAKERS if c in str(path)]
        if bad:
            raise OverlayError(f"the {what} path {path} contains {' '.join(bad)}, which fuse-overlayfs cannot take")
    options = f"lowerdir={lower},upperdir={dirs.upper},workdir={dirs.work}"
    return [FUSE_OVERLAYFS, "-o", options, str(dirs.merged)]


def _unescape_mountinfo(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_points(mountinfo: str) -> list[str]:
    """Every mount point listed in a /proc/<pid>/mountinfo text."""
    return [_unescape_mountinfo(line.split()[4]) for line in mountinfo.splitlines() if len(line.split()) > 4]


def is_mounted(path: Path) -> bool:
    return str(Path(path).absolute()) in mount_points(Path("/proc/self/mountinfo").read_text())


def _fusermount() -> str:
    for name in FUSERMOUNTS:
        found = shutil.which(name)
        if found:
            return found
    raise OverlayError(f"neither {' nor '.join(FUSERMOUNTS)} is on PATH to unmount the overlay; {INSTALL_HINT}")


def unmount(path: Path, attempts: int = 5, pause: float = 0.5) -> None:
    """fusermount -u, retried while the mount is busy; a lazy unmount as the last resort."""
    tool = _fusermount()
    error = ""
    for _ in range(attempts):
        if not is_mounted(path):
            return
        done = subprocess.run([tool, "-u", str(path)], capture_output=True, text=True)
        if done.returncode == 0 and not is_mounted(path):
            return
        error = done.stderr.strip()
        time.sleep(pause)
    # Still busy (a process that outlived the sandbox holds a file open):
    # detach it now; the kernel finishes the unmount when the last user goes.
    subprocess.run([tool, "-u", "-z", str(path)], capture_output=True, text=True)
    if is_mounted(path):
        raise OverlayError(f"could not unmount the cache overlay at {path}: {error}")


def mount(lower: Path, dirs: OverlayDirs, timeout: float = 30) -> None:
    if not shutil.which(FUSE_OVERLAYFS):
        raise OverlayError(f"{FUSE_OVERLAYFS} is not on PATH; {INSTALL_HINT}")
    for d in (dirs.upper, dirs.work, dirs.merged):
        d.mkdir(parents=True, exist_ok=True)
    # fuse-overlayfs daemonizes once the mount is up, closing its output.
    done = subprocess.run(
        mount_command(lower, dirs), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0 or not is_mounted(dirs.merged):
        raise OverlayError(
            f"fuse-overlayfs could not mount the cache overlay at {dirs.merged} "
            f"(exit {done.returncode}): {done.stderr.strip()}"
        )


@contextmanager
def cow_overlay(lower: Path, root: Path, keep_upper: bool = False) -> Iterator[Path]:
    """Mount a copy-on-write view of `lower` under `root`; yield the merged folder.

    `root` is the cell's own overlay folder: emptied first (the upper
    directory of a previous attempt would otherwise show through) unless
    `keep_upper` (a resumed run continues with what it wrote), kept
    afterwards except the work and mount folders.
    """
    lower, dirs = Path(lower).resolve(), OverlayDirs(Path(root).absolute())
    if lower.exists() and not lower.is_dir():
        raise OverlayError(f"the shared cache {lower} is not a folder")
    lower.mkdir(parents=True, exist_ok=True)  # nothing prefetched yet: an empty cache
    if dirs.root == lower or dirs.root.is_relative_to(lower):
        raise OverlayError(f"the overlay folder {dirs.root} must not lie inside the shared cache {lower}")
    if is_mounted(dirs.merged):  # left by a runner that was SIGKILLed
        unmount(dirs.merged)
    if keep_upper:
        shutil.rmtree(dirs.work, ignore_errors=True)  # fuse-overlayfs wants an empty work folder
    elif dirs.root.exists():
        shutil.rmtree(dirs.root)
    mount(lower, dirs)
    try:
        yield dirs.merged
    finally:
        unmount(dirs.merged)
        shutil.rmtree(dirs.work, ignore_errors=True)
        if dirs.merged.is_dir() and not any(dirs.merged.iterdir()):
            dirs.merged.rmdir()
