import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from workflow.evaluate.arena_baseline import BENCHMARK as ARENA
from workflow.evaluate.arena_baseline import baseline_answers_path, baseline_model
from workflow.config import SCHEMA, ConfigError, check_config, resolve_config
from workflow.environment.preflight import submit_problems, submit_warnings
from workflow.matrix import baseline_pairs, cells
from workflow.models import EMBEDDED_MODELS, model_ready_file
from workflow.paths import (
    baseline_model_template,
    baseline_template,
    cell_dir,
    cell_template,
)
from workflow.environment.prefetch import (
    dataset_markers,
    download_markers,
    model_markers,
    prefetch_resources,
    resources_json,
)
from workflow.resources import (
    agent_resources,
    baseline_resources,
    cpu_resources,
    evaluate_resources,
)
from workflow.secrets import (
    PREFETCH_KEYS,
    export_file_option,
    job_keys,
    remove_key_files,
    withhold_secrets,
    write_key_files,
)

try:
    check_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, str(SCHEMA), set_default=True)
# A named suite's benchmarks and weights fill `benchmarks:` (workflow/suites.py).
resolve_config(config)
# Preflight (workflow/environment/preflight.py): keys, agents' models, Slurm
# runtimes, the container runtime. Reported before any job, not deep inside
# one: a dry run still shows the plan with the problems as warnings; a real
# run stops in `onstart` (which dry runs skip), before anything is submitted.
# Jobs re-read this file: only the submitting process checks.
PREFLIGHT = submit_problems(config) if workflow.is_main_process else []
for line in PREFLIGHT + (submit_warnings(config) if workflow.is_main_process else []):
    logger.warning(f"WARNING: {line}")
# Keys withheld from the submitting environment (sbatch exports all of it) and
# handed to the jobs that need them through private files (workflow/secrets.py).
WORKDIR = Path.cwd()
WITHHELD = {}


def job_secrets(rule):
    """The sbatch option giving this rule's job its keys, per job (slurm_extra)."""
    return lambda wc: export_file_option(WORKDIR, job_keys(config, rule, wc))


onstart:
    if PREFLIGHT:
        raise WorkflowError(
            "preflight: nothing was submitted:\n  " + "\n  ".join(PREFLIGHT)
        )
    if not workflow.local_exec:
        WITHHELD.update(withhold_secrets(os.environ))
        write_key_files(WORKDIR, KEY_SETS, WITHHELD, os.environ)


RESULTS = config["results"]
CELLS = cells(config)
BASELINES = baseline_pairs(config)
# Every set of keys some job needs (one key file each).
KEY_SETS = {
    tuple(job_keys(config, rule, wc))
    for rule, wc in [("run_agent", {"agent": c.agent}) for c in CELLS]
    + [("evaluate", {"benchmark": b}) for b in config["benchmarks"]]
    + [("evaluate_baselines", {}), ("judge", {})]
} | {tuple(PREFETCH_KEYS)}


wildcard_constraints:
    agent=r"[^/]+",
    model=r"[^/]+",
    benchmark=r"[^/]+",
    seed=r"\d+",
    kind=r"base|instruct",


def cell_path(name):
    return cell_template(RESULTS, name)


def baseline_path(name):
    return baseline_template(RESULTS, name)


def baseline_model_path(name):
    return baseline_model_template(RESULTS, name)


def cell_metrics():
    return [cell_dir(RESULTS, c) / "metrics.json" for c in CELLS]


def model_ref(model, kind):
    return config["models"][model][kind]


# Inputs that only need to exist (a model in the cache, an image): marked
# ancient, so re-fetching a model or rebuilding an image never makes finished
# 10-hour agent runs look outdated. Redo a stage on purpose with --forcerun.
def model_ready(model, kind):
    return ancient(str(model_ready_file(RESULTS, model_ref(model, kind))))


def container_image(name):
    """The image a job needs, or nothing when jobs run in this environment."""
    # Only apptainer runs images; bwrap contains the agent in this environment.
    if config["container"]["runtime"] != "apptainer":
        return []
    return ancient(f"{config['container']['dir']}/{name}.sif")


def embedded_parent_input(name):
    parent = EMBEDDED_MODELS[name].get("parent")
    return f"{RESULTS}/models/{parent}" if parent else []


# Hub downloads run where Snakemake runs (login nodes have the internet), one
# job per resource, so they proceed in parallel.
PREFETCH = prefetch_resources(config)
PREFETCH_JSON = resources_json(PREFETCH)


def prefetch_report():
    """The offline check of the whole cache, or nothing when no hub resource is configured."""
    if not any(PREFETCH.values()):
        return []
    return f"{RESULTS}/prefetch/report.json"


def agent_cache_marker():
    """The agents' view of the cache (no instruct models), or nothing when nothing is prefetched."""
    return [f"{RESULTS}/prefetch/agent_cache.json"] if prefetch_report() else []


# Files the pipeline makes for a task before it can run: Arena-Hard's baseline
# answers (rules/arena.smk), in the shared cache where the handed-out task looks.
ARENA_BASELINE_ANSWERS = (
    str(baseline_answers_path(config["hf_home"], baseline_model()))
    if ARENA in config["benchmarks"]
    else None
)


def benchmark_inputs(benchmark):
    """Files a benchmark needs before it can be run: the pipeline-made ones."""
    if benchmark == ARENA and ARENA_BASELINE_ANSWERS:
        return [ARENA_BASELINE_ANSWERS]
    return []
