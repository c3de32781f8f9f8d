"""A config that must not run is refused before any job, naming the key."""

import copy
import subprocess

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


def _budgets_not_positive(c):
    c["agents"]["noop"]["hours"] = [1, 0]


def _budgets_repeated(c):
    c["agents"]["noop"]["hours"] = [2, 2]


def _price_without_output(c):
    c["prices"] = {"gpt-x": {"input_per_mtok": 1.0}}


def _credential_for_a_scaffold_without_one(c):
    c["agents"]["noop"]["credential"] = "/etc/hostname"


def _credential_missing(c):
    c["agents"]["claude"] = {"scaffold": "claude", "model": "m", "credential": "/nonexistent/token"}


def _credential_inside_the_repo(c):
    c["agents"]["claude"] = {"scaffold": "claude", "model": "m", "credential": "config/embedded.yaml"}


CASES = [
    (_unknown_top, "hourz: unknown key"),
    (_budgets_not_positive, "agents.noop.hours: [1, 0] is not valid"),
    (_budgets_repeated, "agents.noop.hours: [2, 2] is not valid"),
    (_price_without_output, "prices.gpt-x.output_per_mtok: required key is missing"),
    (_credential_for_a_scaffold_without_one, "agents.noop.credential: scaffold 'noop' takes no credential file"),
    (_credential_missing, "agents.claude.credential: no file at /nonexistent/token"),
    (_credential_inside_the_repo, "is inside the repo and not git-ignored"),
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
    assert FULL["suite"] == "v1.0"  # the seeds' suite stays the default
    weights = {b: v["weight"] for b, v in load_config(REPO / "config" / "config.yaml")["benchmarks"].items()}
    assert weights["aime2025"] == pytest.approx(0.226536549919078)
    assert weights["gpqamain"] == pytest.approx(0.22462215653948)
    assert len(weights) == 7 and len(FULL["models"]) == 4


@pytest.mark.parametrize(
    "edit,message", [CASES[7], CASES[9], CASES[12], CASES[5]], ids=["unknown-key", "weight-type", "sum", "credential"]
)
def test_snakemake_stops_before_any_job(tmp_path, edit, message):
    work = repo_copy(tmp_path / "repo")
    bad = work / "bad.yaml"
    bad.write_text(yaml.safe_dump(broken(EMBEDDED, edit)))
    proc = snakemake(work, "--cores", "1", "--configfile", "bad.yaml")
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (work / "results").exists(), "a job ran despite the invalid config"


def test_credential_in_the_ignored_folder_or_outside_is_accepted(tmp_path):
    outside = tmp_path / "token"
    outside.write_text("sk-SENTINEL-oauth-token-0123456789\n")
    config = broken(EMBEDDED, lambda c: c["agents"].update(claude={"scaffold": "claude", "model": "m"}))
    config["agents"]["claude"]["credential"] = str(outside)
    check_config(config)
    repo = repo_copy(tmp_path / "repo")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "credentials").mkdir()
    (repo / "credentials" / "claude-token").write_text("sk-SENTINEL\n")
    config["agents"]["claude"]["credential"] = "credentials/claude-token"
    check_config(config, repo)
    (repo / ".gitignore").write_text("")  # the folder is no longer ignored: refused
    with pytest.raises(ConfigError, match="agents.claude.credential: .* not git-ignored"):
        check_config(config, repo)
    # a disabled agent's credential is not looked at
    config["agents"]["claude"] |= {"enabled": False, "credential": "/nonexistent"}
    check_config(config, repo)
