from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from workflow.config import SCHEMA, ConfigError, check_config
from workflow.environment.runtime import runtime_problem
from workflow.matrix import baseline_pairs, cells
from workflow.models import EMBEDDED_MODELS, model_ready_file
from workflow.paths import baseline_model_template, baseline_template, cell_dir, cell_template
from workflow.environment.prefetch import (
    dataset_markers,
    download_markers,
    model_markers,
    prefetch_resources,
    resources_json,
)
from workflow.resources import agent_resources, baseline_resources, cpu_resources, evaluate_resources

try:
    check_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, str(SCHEMA), set_default=True)
# A missing container runtime is reported before any job, not deep inside
# one: a dry run still shows the plan with a warning; a real run stops in
# `onstart` (which dry runs skip), before anything is submitted.
RUNTIME_PROBLEM = runtime_problem(config)
if RUNTIME_PROBLEM:
    logger.warning(f"WARNING: {RUNTIME_PROBLEM}")


onstart:
    if RUNTIME_PROBLEM:
        raise WorkflowError(RUNTIME_PROBLEM)


RESULTS = config["results"]
CELLS = cells(config)
BASELINES = baseline_pairs(config)


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
