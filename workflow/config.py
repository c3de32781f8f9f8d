"""Load and check the pipeline's config before anything is scheduled.

Two layers: the JSON schema (types, unknown keys, defaults) and the rules a
schema cannot express (benchmark ids that exist under tasks/, scaffolds that
exist under agents/, weights summing to 1, include lists naming real entries).
Every message names the offending key. A named suite (workflow/suites.py)
supplies the benchmarks and weights; `resolve_config` writes them into
`benchmarks:`, which is what every stage reads.
"""

import math
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from workflow.suites import CUSTOM, resolve_suite, suite_of, suite_problems

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
    problems = suite_problems(config)
    if problems:
        return problems
    benchmarks = resolve_suite(config)
    known_tasks = sorted(p.name for p in (repo / "tasks").iterdir() if (p / "task.py").exists())
    for bench in benchmarks:
        if bench not in known_tasks:
            problems.append(f"benchmarks.{bench}: unknown benchmark id (known: {', '.join(known_tasks)})")
    if suite_of(config) == CUSTOM:
        if not benchmarks:
            problems.append("benchmarks: a custom suite needs at least one benchmark")
        missing = [b for b, e in benchmarks.items() if "weight" not in e]
        problems += [f"benchmarks.{b}.weight: required under `suite: custom`" for b in missing]
        total = sum(e.get("weight", 0) for e in benchmarks.values())
        if not missing and benchmarks and not math.isclose(total, 1.0, abs_tol=WEIGHT_TOLERANCE):
            problems.append(f"benchmarks.*.weight: weights sum to {total:.6g}, not 1")
    for name, agent in config["agents"].items():
        scaffold = agent["scaffold"]
        if not (repo / "agents" / scaffold / "solve.sh").exists():
            problems.append(f"agents.{name}.scaffold: no scaffold '{scaffold}' (expected agents/{scaffold}/solve.sh)")
        for part in ("include", "exclude"):
            for kind in ("models", "benchmarks"):
                for item in agent.get(part, {}).get(kind, []):
                    if item not in (benchmarks if kind == "benchmarks" else config[kind]):
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


def resolve_config(config: dict) -> dict:
    """Fill the benchmarks of the config's suite into `benchmarks:` (in place; idempotent)."""
    config["benchmarks"] = resolve_suite(config)
    return config


def merge_configs(base: dict, overlay: dict) -> dict:
    """Snakemake's merge of several --configfile's: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in overlay.items():
        out[key] = (
            merge_configs(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def load_config(*paths: Path, repo: Path = REPO) -> dict:
    """Read config files (later ones merged over earlier ones, as Snakemake's --configfile does), fill the
    schema's defaults and the suite's benchmarks, and check the result."""
    from snakemake.utils import validate

    config = {}
    for path in paths:
        config = merge_configs(config, yaml.safe_load(Path(path).read_text()) or {})
    check_config(config, repo)
    validate(config, str(SCHEMA), set_default=True)
    return resolve_config(config)
