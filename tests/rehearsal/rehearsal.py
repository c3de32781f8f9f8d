"""The rehearsal's pieces that more than one test module uses: the merged config, ports, the run itself."""

import copy
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.pipeline import SENTINEL_KEYS, repo_copy
from workflow.config import REPO

OVERLAY = REPO / "tests" / "rehearsal" / "overlay.yaml"
PRODUCTION = REPO / "config" / "config.yaml"
HUB_PORT, PROVIDER_PORT = 18790, 18791  # as overlay.yaml names them
# Each exported provider key is a sentinel: found anywhere in the results, it leaked.
KEYS = {**SENTINEL_KEYS, "GOOGLE_API_KEY": "SENTINEL-google-4e1a9c07b2"}
PHASE_LIMIT_S = 40 * 60
# Which base model's cell the scripted CLI agent cheats on: it submits the official instruct model
# (an ungated one: the agent has no HF token).
SWAPPED_MODEL = "qwen3-4b"


def deep_merge(base: dict, overlay: dict) -> dict:
    """Snakemake's merge of config files: mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def merged_config() -> dict:
    return deep_merge(load(PRODUCTION), load(OVERLAY))


def snakemake_command(*targets: str) -> list[str]:
    # Targets first: --configfile takes every word after it. Slurm's logs of successful
    # jobs are kept too, to be searched for keys.
    return [
        sys.executable, "-m", "snakemake", *targets, "--profile", "slurm", "--slurm-keep-successful-logs",
        "--configfile", "config/config.yaml", "tests/rehearsal/overlay.yaml",
    ]  # fmt: skip


@dataclass
class Phase:
    name: str
    returncode: int
    output: str
    seconds: float


@dataclass
class Rehearsal:
    work: Path
    config: dict
    hub: object
    providers: object
    phases: dict[str, Phase] = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.work / "results"


def run_phase(name: str, work: Path, env: dict, *targets: str) -> Phase:
    started = time.monotonic()
    proc = subprocess.run(
        snakemake_command(*targets), cwd=work, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=PHASE_LIMIT_S,
    )  # fmt: skip
    seconds = time.monotonic() - started
    print(f"rehearsal phase {name}: exit {proc.returncode} after {seconds:.0f} s", flush=True)
    return Phase(name, proc.returncode, proc.stdout, seconds)


def prepare_work(dest: Path) -> Path:
    """A clone-like copy of the repo, with the eval image's stand-in (an ignored venv) beside it."""
    work = repo_copy(dest)
    venv = REPO / ".venv-vllm"
    (work / ".venv-vllm").symlink_to(venv.resolve())
    return work


def job_env(work: Path, hub_url: str, providers_url: str) -> dict:
    """The submitting shell of a user: keys exported, the endpoints of the outside world swapped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SLURM_"))}
    return {
        **env,
        # Every job imports the copy's own package (the venv's editable install may name another tree).
        "PYTHONPATH": str(work),
        **KEYS,
        "HF_ENDPOINT": hub_url,
        "ANTHROPIC_BASE_URL": providers_url,
        "OPENAI_BASE_URL": f"{providers_url}/v1",
        "GOOGLE_GEMINI_BASE_URL": providers_url,
    }
