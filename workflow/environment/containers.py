"""The Apptainer images: what goes into them, how they are built, and the pins they carry.

Pins live in envs/requirements-*.txt (one place); each definition file copies
the files it installs from in its %files section, so a definition's inputs
are exactly the files it names there, and editing any of them rebuilds it.
"""

import re
import shutil
import tomllib
from pathlib import Path

import yaml

from workflow.config import REPO

ENVS = REPO / "envs"
IMAGES = ("agent", "eval")
APPTAINER = "apptainer"

# Where the local `run` extra (CPU, the embedded default) and the images must
# differ, and why. The agreement test fails on any other difference, and on an
# entry here that no longer differs.
DELIBERATE_PIN_DIFFERENCES = {
    "torch": "vllm 0.33.0 (images) requires torch==2.14.0 (CUDA); the local env keeps the CPU build 2.13.0",
    "transformers": "vllm 0.33.0 requires transformers<5.21 (images: 5.20.2); the local env, without vllm, has 5.23.0",
}


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


# --- pins -------------------------------------------------------------------

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str], where: str) -> dict[str, str]:
    """name -> exact version; anything that is not `name==version` is an error naming it."""
    pins = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if not match:
            raise ContainerError(f"{where}: '{line}' is not pinned as name==version")
        pins[normalize(match.group(1))] = match.group(3)
    return pins


def requirements_pins(path: Path) -> dict[str, str]:
    """Pins of a requirements file, following its `-r other.txt` includes."""
    pins: dict[str, str] = {}
    own = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(requirements_pins(Path(path).parent / line[3:].strip()))
        elif line:
            own.append(line)
    pins.update(parse_pins(own, str(path)))
    return pins


def pyproject_pins(group: str | None, repo: Path = REPO) -> dict[str, str]:
    """Pins of pyproject's dependencies (group None) or of one optional extra."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return parse_pins(lines, f"pyproject.toml [{group or 'dependencies'}]")


def conda_env_pins(path: Path) -> dict[str, str]:
    """The pip pins of a conda environment file."""
    env = yaml.safe_load(Path(path).read_text())
    pip_lines = next((d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d), [])
    return parse_pins(pip_lines, str(path))


def pin_differences(a: dict[str, str], b: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Packages pinned in both with different versions."""
    return {name: (a[name], b[name]) for name in sorted(a.keys() & b.keys()) if a[name] != b[name]}
