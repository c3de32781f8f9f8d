"""A config that must not run is refused before any job, naming the key."""

import copy

import pytest
import yaml

from tests.pipeline import REPO, repo_copy, snakemake
from workflow.config import ConfigError, check_config, load_config

EMBEDDED = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
FULL = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def broken(base: dict, edit) -> dict:
    config = copy.deepcopy(base)
    edit(config)
    return config


def _unknown_top(c):
    c["hourz"] = 3


def _unknown_agent_key(c):
    c["agents"]["noop"]["scafold"] = "noop"


def _unknown_benchmark(c):
    c["benchmarks"] = {"mmlu": {"weight": 1.0}}


def _weight_not_number(c):
    c["benchmarks"]["arith"]["weight"] = "heavy"


def _no_scaffold(c):
    del c["agents"]["reference-sft"]["scaffold"]


def _missing_scaffold_folder(c):
    c["agents"]["noop"]["scaffold"] = "devin"


def _weights_not_one(c):
    c["benchmarks"]["arith"]["weight"] = 0.7


def _include_unknown_model(c):
    c["agents"]["noop"]["include"] = {"models": ["qwen9"]}


CASES = [
    (_unknown_top, "hourz: unknown key"),
    (_unknown_agent_key, "agents.noop.scafold: unknown key"),
    (_unknown_benchmark, "benchmarks.mmlu: unknown benchmark id"),
    (_weight_not_number, "benchmarks.arith.weight: 'heavy' is not of type 'number'"),
    (_no_scaffold, "agents.reference-sft.scaffold: required key is missing"),
    (_missing_scaffold_folder, "agents.noop.scaffold: no scaffold 'devin'"),
    (_weights_not_one, "benchmarks.*.weight: weights sum to 0.7, not 1"),
    (_include_unknown_model, "agents.noop.include.models: 'qwen9' is not in models"),
]


@pytest.mark.parametrize("edit,message", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_invalid_config_names_the_key(edit, message):
    with pytest.raises(ConfigError) as err:
        check_config(broken(EMBEDDED, edit))
    assert message in str(err.value)


def test_shipped_configs_are_valid(tmp_path):
    for name in ("config.yaml", "embedded.yaml"):
        config = load_config(REPO / "config" / name)
        assert abs(sum(b["weight"] for b in config["benchmarks"].values()) - 1) < 1e-9
        assert config["evaluation"]["backend"] in ("vllm", "hf")  # filled in by the schema's defaults


def test_full_matrix_has_the_published_weights():
    weights = {b: v["weight"] for b, v in FULL["benchmarks"].items()}
    assert weights["aime2025"] == pytest.approx(0.226536549919078)
    assert weights["gpqamain"] == pytest.approx(0.22462215653948)
    assert len(weights) == 7 and len(FULL["models"]) == 4


@pytest.mark.parametrize("edit,message", [CASES[1], CASES[3], CASES[6]], ids=["unknown-key", "weight-type", "sum"])
def test_snakemake_stops_before_any_job(tmp_path, edit, message):
    work = repo_copy(tmp_path / "repo")
    bad = work / "bad.yaml"
    bad.write_text(yaml.safe_dump(broken(EMBEDDED, edit)))
    proc = snakemake(work, "--cores", "1", "--configfile", "bad.yaml")
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (work / "results").exists(), "a job ran despite the invalid config"
