"""The Apptainer images: what goes into them and how they are built.

Pins live in envs/requirements-*.txt (one place); each definition file copies
the files it installs from in its %files section, so a definition's inputs
are exactly the files it names there, and editing any of them rebuilds it.
"""

import re
import shutil
from pathlib import Path

from workflow.config import REPO

ENVS = REPO / "envs"
IMAGES = ("agent", "eval")
APPTAINER = "apptainer"


class ContainerError(RuntimeError):
    """An image that cannot be built or used; the message says what is missing."""


def definition_path(image: str, repo: Path = REPO) -> Path:
    return repo / "envs" / f"{image}.def"


def definition_sections(text: str) -> dict[str, list[str]]:
    """Section name (e.g. 'files', 'post') -> its lines; the header is under ''."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        match = re.match(r"^%(\w+)\b", line)
        if match:
            current = match.group(1)
            sections.setdefault(current, [])
            continue
        sections[current].append(line)
    return sections


def copied_files(text: str) -> list[tuple[str, str]]:
    """(source, destination) pairs of a definition's %files section."""
    pairs = []
    for line in definition_sections(text).get("files", []):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        pairs.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
    return pairs


def image_inputs(image: str, repo: Path = REPO) -> list[str]:
    """The files an image is built from (relative to the repo): its definition and what it copies in."""
    definition = definition_path(image, repo)
    if not definition.exists():
        raise ContainerError(f"no definition for image '{image}' (expected {definition.relative_to(repo)})")
    sources = [src for src, _ in copied_files(definition.read_text())]
    missing = [src for src in sources if not (repo / src).exists()]
    if missing:
        raise ContainerError(f"envs/{image}.def copies files that do not exist: {', '.join(missing)}")
    return [str(definition.relative_to(repo)), *sources]


def build_command(apptainer: str, image_out: Path, definition: Path, euid: int) -> list[str]:
    """`apptainer build`; unprivileged users need --fakeroot to run the definition's %post as root."""
    fakeroot = ["--fakeroot"] if euid != 0 else []
    return [apptainer, "build", "--force", *fakeroot, str(image_out), str(definition)]


def find_apptainer(which=shutil.which) -> str | None:
    return which(APPTAINER)
