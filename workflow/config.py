"""Load and check the pipeline's config before anything is scheduled.

Two layers: the JSON schema (types, unknown keys, defaults) and the rules a
schema cannot express (benchmark ids that exist under tasks/, scaffolds that
exist under agents/, weights summing to 1, include lists naming real entries).
Every message names the offending key.
"""

import math
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "config" / "schema.yaml"
WEIGHT_TOLERANCE = 1e-6


class ConfigError(ValueError):
    """A config that must not run; the message names the key."""


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _schema_problems(config: dict, schema: dict) -> list[str]:
    problems = []
    for err in sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path)):
        where = list(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            if err.schema.get("additionalProperties") is False:
                problems += [f"{_key_path([*where, k])}: unknown key" for k in extra]
                continue
        if err.validator == "required":
            missing = err.message.split("'")[1]
            problems.append(f"{_key_path([*where, missing])}: required key is missing")
            continue
        problems.append(f"{_key_path(where)}: {err.message}")
    return problems


def _semantic_problems(config: dict, repo: Path) -> list[str]:
    problems = []
    known_tasks = sorted(p.name for p in (repo / "tasks").iterdir() if (p / "task.py").exists())
    for bench in config["benchmarks"]:
        if bench not in known_tasks:
            problems.append(f"benchmarks.{bench}: unknown benchmark id (known: {', '.join(known_tasks)})")
    total = sum(b["weight"] for b in config["benchmarks"].values())
    if not math.isclose(total, 1.0, abs_tol=WEIGHT_TOLERANCE):
        problems.append(f"benchmarks.*.weight: weights sum to {total:.6g}, not 1")
    for name, agent in config["agents"].items():
        scaffold = agent["scaffold"]
        if not (repo / "agents" / scaffold / "solve.sh").exists():
            problems.append(f"agents.{name}.scaffold: no scaffold '{scaffold}' (expected agents/{scaffold}/solve.sh)")
        for part in ("include", "exclude"):
            for kind in ("models", "benchmarks"):
                for item in agent.get(part, {}).get(kind, []):
                    if item not in config[kind]:
                        problems.append(f"agents.{name}.{part}.{kind}: '{item}' is not in {kind}")
    from workflow.agent.credentials import credential_problems  # the agent stage's own rules

    problems += credential_problems(config, repo, repo / "agents")
    for name, model in config["models"].items():
        for role in ("base", "instruct"):
            ref = model.get(role)
            if ref and not ref.startswith("embedded:") and ref.count("/") != 1:
                problems.append(f"models.{name}.{role}: '{ref}' is neither a hub id (org/name) nor embedded:NAME")
    return problems


def check_config(config: dict, repo: Path = REPO) -> dict:
    """Raise ConfigError listing every problem; on success return the config."""
    schema = yaml.safe_load(SCHEMA.read_text())
    problems = _schema_problems(config, schema)
    if not problems:
        problems = _semantic_problems(config, repo)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return config


def load_config(path: Path, repo: Path = REPO) -> dict:
    """Read a config file, fill the schema's defaults and check it."""
    from snakemake.utils import validate

    config = yaml.safe_load(Path(path).read_text()) or {}
    check_config(config, repo)
    validate(config, str(SCHEMA), set_default=True)
    return config
