"""Reading the pins of the images, pyproject and the conda env, for the agreement tests."""

import re
import tomllib
from pathlib import Path

import yaml

from workflow.config import REPO
from workflow.environment.containers import ContainerError

# Where the local `run` extra (CPU, the embedded default) and the images must
# differ, and why. The agreement test fails on any other difference, and on an
# entry here that no longer differs.
DELIBERATE_PIN_DIFFERENCES = {
    "torch": "vllm 0.33.0 (images) requires torch==2.14.0 (CUDA); the local env keeps the CPU build 2.13.0",
    "transformers": "vllm 0.33.0 requires transformers<5.21 (images: 5.20.2); the local env, without vllm, has 5.23.0",
}


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
