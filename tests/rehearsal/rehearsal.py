"""The rehearsal's pieces that more than one test module uses: the merged config, ports, the run itself."""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.pipeline import SENTINEL_KEYS, repo_copy
from workflow.config import REPO, SCHEMA, resolve_config
from workflow.config import merge_configs as deep_merge
from workflow.matrix import Cell
from workflow.paths import JOB_DIR, METRICS, RUN_RECORD, cell_dir

OVERLAY = REPO / "tests" / "rehearsal" / "overlay.yaml"
SUITE_V12 = REPO / "tests" / "rehearsal" / "suite_v1.2.yaml"  # the v1.2 phase's one-line switch (and its results)
PRODUCTION = REPO / "config" / "config.yaml"
HUB_PORT, PROVIDER_PORT = 18790, 18791  # as overlay.yaml names them
# Each exported provider key is a sentinel: found anywhere in the results, it leaked.
KEYS = {**SENTINEL_KEYS, "GOOGLE_API_KEY": "SENTINEL-google-4e1a9c07b2"}
# The subscription agent's credential file (config.yaml's agents.claude-opus-4.6-subscription.credential,
# a git-ignored path): a sentinel long-lived OAuth token, found nowhere after the run.
SUBSCRIPTION_AGENT = "claude-opus-4.6-subscription"
CREDENTIAL = "sk-ant-oat01-SENTINEL-subscription-7d2f91c4b8e6a0"
CREDENTIAL_NAME = "CLAUDE_CODE_OAUTH_TOKEN"  # how the provider's request log names it
PHASE_LIMIT_S = 40 * 60
# Which base model's cell the scripted CLI agent cheats on: it submits the official instruct model
# (an ungated one: the agent has no HF token).
SWAPPED_MODEL = "qwen3-4b"


def load(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def merged_config() -> dict:
    """config.yaml with the overlay on top, as written (what the overlay check compares)."""
    return deep_merge(load(PRODUCTION), load(OVERLAY))


def pipeline_config() -> dict:
    """The merged config as the pipeline reads it: the schema's defaults and the suite's benchmarks filled in."""
    from snakemake.utils import validate

    config = merged_config()
    validate(config, str(SCHEMA), set_default=True)
    return resolve_config(config)


def snakemake_command(*targets: str, extra_config: tuple[Path, ...] = (), options: tuple[str, ...] = ()) -> list[str]:
    # Targets first: --configfile takes every word after it. Slurm's logs of successful
    # jobs are kept too, to be searched for keys.
    configs = [str(p.relative_to(REPO)) for p in (PRODUCTION, OVERLAY, *extra_config)]
    return [
        sys.executable, "-m", "snakemake", *targets, "--profile", "slurm", "--slurm-keep-successful-logs",
        *options, "--configfile", *configs,
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


def run_phase(name: str, work: Path, env: dict, *targets: str, **command) -> Phase:
    started = time.monotonic()
    proc = subprocess.run(
        snakemake_command(*targets, **command), cwd=work, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=PHASE_LIMIT_S,
    )  # fmt: skip
    seconds = time.monotonic() - started
    print(f"rehearsal phase {name}: exit {proc.returncode} after {seconds:.0f} s", flush=True)
    return Phase(name, proc.returncode, proc.stdout, seconds)


def prepare_work(dest: Path) -> Path:
    """A clone-like copy of the repo, with the eval image's stand-in (an ignored venv) and the
    subscription agent's credential file (an ignored path) beside it."""
    work = repo_copy(dest)
    venv = REPO / ".venv-vllm"
    (work / ".venv-vllm").symlink_to(venv.resolve())
    write_credential(work)
    return work


def write_credential(root: Path) -> Path:
    """The subscription agent's sentinel credential file where config.yaml names it, below root."""
    credential = root / load(PRODUCTION)["agents"][SUBSCRIPTION_AGENT]["credential"]
    credential.parent.mkdir(parents=True, exist_ok=True)
    credential.write_text(CREDENTIAL + "\n")
    return credential


# The two final models the v1.2 phase evaluates again: reference-sft's (it samples) and the
# planted substitution's (the greedy instruct model), both on GSM8K.
V12_CELLS = (Cell("reference-sft", "qwen3-1.7b", "gsm8k", 1), Cell("claude-opus-4.6", SWAPPED_MODEL, "gsm8k", 1))


def run_v12_phase(work: Path, env: dict) -> Phase:
    """Evaluate V12_CELLS' final models under suite v1.2, in a results tree of their own."""
    results_v12 = work / load(SUITE_V12)["results"]
    targets = []
    for cell in V12_CELLS:
        source, dest = cell_dir(work / "results", cell), cell_dir(results_v12, cell)
        (dest / JOB_DIR).mkdir(parents=True)
        shutil.copy2(source / RUN_RECORD, dest / RUN_RECORD)
        shutil.copytree(source / JOB_DIR / "final_model", dest / JOB_DIR / "final_model", symlinks=True)
        targets.append(str((dest / METRICS).relative_to(work)))
    # Only the evaluation runs: the agents' runs are the matrix's, copied.
    return run_phase("v1.2", work, env, *targets, extra_config=(SUITE_V12,), options=("--allowed-rules", "evaluate"))


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
        # One thread per process, as a cluster's cgroup confines a job to the cpus it asked
        # for (overlay.yaml: 1); the test cluster has no cgroups and every job would start
        # a thread per core, each pool spinning against the others on CI's two cores.
        "OMP_NUM_THREADS": "1",
    }
