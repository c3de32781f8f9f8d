"""The rehearsal is config/config.yaml plus a small overlay that swaps only the outside world.

Fast checks, no Slurm: the overlay changes only the allowed keys, the merged
config is valid, the loopback hub serves everything the merged config
prefetches, and the tiny models declare the real checkpoints' architectures.
"""

import fnmatch
import json

import pytest

from tests.rehearsal.hub import build_hub, mirror_prefixes
from tests.rehearsal.rehearsal import (
    HUB_PORT,
    OVERLAY,
    PRODUCTION,
    deep_merge,
    load,
    merged_config,
    pipeline_config,
    write_credential,
)
from tests.rehearsal.tiny_models import FAMILY_OF_MODEL, REAL_DECLARATIONS
from workflow.config import REPO, check_config
from workflow.environment.prefetch import prefetch_resources
from workflow.matrix import agent_entry, cells, enabled_agents

# The keys the overlay may change (glob patterns over dotted key paths), by why.
ALLOWED = {
    "endpoints and paths": ["results", "hf_home", "prefetch.mirrors", "prefetch.mirrors.*"],
    "sizes": [
        "hours", "grace_minutes", "evaluation.limit", "evaluation.max_connections",
        "agents.*.enabled", "agents.*.include", "agents.*.include.*", "agents.*.exclude", "agents.*.exclude.*",
        "agents.*.num_gpus", "agents.*.hours", "slurm.*",
    ],
    "images": ["container.runtime", "container.dir", "container.local_images", "container.local_images.*",
               "evaluation.vllm_args", "evaluation.vllm_args.*"],
}  # fmt: skip
# Keys that choose which code runs: never in the overlay, whatever the patterns above say.
NEVER = ["evaluation.backend", "judge.*", "agents.*.scaffold", "agents.*.model", "agents.*.args", "models.*",
         "benchmarks.*", "prefetch.datasets", "prefetch.extra_models", "seeds"]  # fmt: skip


def differences(a, b, path=""):
    """Dotted key paths where two configs differ (a mapping's own path when a key exists in one only)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.append(sub)
            else:
                out += differences(a[key], b[key], sub)
        return out
    return [] if a == b else [path]


def allowed(path: str) -> bool:
    patterns = [p for group in ALLOWED.values() for p in group]
    return any(fnmatch.fnmatchcase(path, p) for p in patterns) and not any(fnmatch.fnmatchcase(path, p) for p in NEVER)


def leaf_paths(d: dict, path: str = "") -> list[str]:
    out = []
    for key, value in d.items():
        sub = f"{path}.{key}" if path else str(key)
        out += leaf_paths(value, sub) if isinstance(value, dict) and value else [sub]
    return out


def test_the_merged_config_differs_from_production_only_in_the_allowed_keys():
    changed = differences(load(PRODUCTION), merged_config())
    assert changed, "the overlay changes nothing"
    assert [p for p in changed if not allowed(p)] == []
    # Every key the overlay writes is allowed, even one that happens to equal production's value.
    assert [p for p in leaf_paths(load(OVERLAY)) if not allowed(p)] == []


def test_the_checker_refuses_a_key_that_switches_code():
    assert not allowed("evaluation.backend") and not allowed("judge.model") and not allowed("agents.x.scaffold")
    sneaky = deep_merge(load(PRODUCTION), {"evaluation": {"backend": "hf"}})
    assert "evaluation.backend" in [p for p in differences(load(PRODUCTION), sneaky) if not allowed(p)]


def test_the_merged_config_is_valid_and_covers_the_matrix(tmp_path):
    # The repo as the rehearsal copies it (no .git): with the subscription agent's credential file.
    for entry in REPO.iterdir():
        if entry.name != ".git":
            (tmp_path / entry.name).symlink_to(entry)
    write_credential(tmp_path)
    check_config(merged_config(), repo=tmp_path)
    config = pipeline_config()
    matrix = cells(config)
    assert {c.benchmark for c in matrix} == set(config["benchmarks"])  # every benchmark
    assert {c.model for c in matrix} == set(config["models"])  # every model family has a judged cell
    agents = enabled_agents(config)
    assert len(agents) >= 2 and "reference-sft" in agents
    cli = [a for a in agents if agent_entry(config, a)["scaffold"] in ("claude", "codex")]
    assert cli, "no real CLI scaffold in the rehearsal"
    sft = {c.benchmark for c in matrix if c.agent == "reference-sft"}
    assert sft == set(config["benchmarks"])  # reference-sft on every benchmark
    assert config["evaluation"]["backend"] == "vllm" and config["container"]["runtime"] == "bwrap"
    assert len(matrix) <= 14, "keep the rehearsal within its time"


def test_the_hub_serves_everything_the_merged_config_prefetches(tmp_path):
    config = pipeline_config()
    models = {}
    for refs in config["models"].values():
        for ref in refs.values():
            folder = tmp_path / ref
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}")
            models[ref] = folder
    hub = build_hub(models, tmp_path / "data", "hf_token", config["benchmarks"])
    resources = prefetch_resources(config)
    served = {(kind, repo) for kind, repo in hub.repos}
    assert {("model", m.repo) for m in resources["models"]} <= served
    assert {("dataset", d.repo) for d in resources["datasets"]} <= served
    for download in resources["downloads"]:
        for remote, _ in download.files:
            url = f"{download.base_url}/{remote}"
            host, path = url.split("://", 1)[1].split("/", 1)
            assert f"mirror/{host}/{path}" in hub.files, url
    assert config["prefetch"]["mirrors"] == mirror_prefixes(f"http://127.0.0.1:{HUB_PORT}", config["benchmarks"])


def test_a_builder_exists_for_every_production_model():
    assert set(load(PRODUCTION)["models"]) == set(FAMILY_OF_MODEL)


@pytest.mark.slow
def test_tiny_models_declare_what_the_real_checkpoints_declare(tmp_path):
    from tests.rehearsal.conftest import CACHE
    from tests.rehearsal.tiny_models import build_family_models

    config = merged_config()
    built = build_family_models(config["models"], CACHE / "models")
    for key, refs in config["models"].items():
        expected = REAL_DECLARATIONS[FAMILY_OF_MODEL[key]]
        for ref in refs.values():
            declared = json.loads((built[ref] / "config.json").read_text())
            assert {k: declared[k] for k in expected} == expected, ref
            assert (built[ref] / "tokenizer.json").exists() and (built[ref] / "generation_config.json").exists()
