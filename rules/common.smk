import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from workflow.config import SCHEMA, ConfigError, check_config
from workflow.matrix import baseline_pairs, cells
from workflow.models import EMBEDDED_MODELS, model_location, model_ready_file
from workflow.paths import baseline_template, cell_dir, cell_template
from workflow.resources import agent_resources, cpu_resources, evaluate_resources

try:
    check_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, str(SCHEMA), set_default=True)

RESULTS = config["results"]
PYTHON = sys.executable
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


def cell_metrics():
    return [cell_dir(RESULTS, c) / "metrics.json" for c in CELLS]


def model_ref(model, kind):
    return config["models"][model][kind]


def model_ready(model, kind):
    return str(model_ready_file(RESULTS, model_ref(model, kind)))


def container_image(name):
    """The image a job needs, or nothing when jobs run in this environment."""
    if config["container"]["runtime"] == "none":
        return []
    return f"{config['container']['dir']}/{name}.sif"


def embedded_parent_input(name):
    parent = EMBEDDED_MODELS[name].get("parent")
    return f"{RESULTS}/models/{parent}" if parent else []
