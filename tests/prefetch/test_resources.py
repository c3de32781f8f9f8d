"""Which resources the prefetch rules fetch, derived from config and task metadata."""

import copy

import pytest
import yaml

from workflow.config import REPO, load_config
from workflow.environment.prefetch import (
    DatasetResource,
    ModelResource,
    PrefetchError,
    find_dataset,
    hub_env,
    prefetch_resources,
    resources_from_json,
    resources_json,
)

FULL = load_config(REPO / "config" / "config.yaml")  # the suite's benchmarks filled in
EMBEDDED = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())


def test_models_come_from_the_matrix_base_and_instruct():
    models = prefetch_resources(FULL)["models"]
    expected = [ref for m in FULL["models"].values() for ref in (m["base"], m["instruct"])]
    assert [m.repo for m in models] == expected
    assert len(models) == 8


def test_embedded_default_needs_nothing_from_the_hub():
    assert prefetch_resources(EMBEDDED) == {"models": [], "datasets": [], "downloads": []}


def test_task_datasets_come_from_meta_and_training_data_from_config():
    datasets = prefetch_resources(FULL)["datasets"]
    repos = {(d.repo, d.name, d.data_dir) for d in datasets}
    assert ("openai/gsm8k", None, "main") in repos  # tasks/gsm8k/meta.yaml, as inspect_evals loads it
    assert ("openai/gsm8k", "main", None) in repos  # prefetch.datasets: the train split offered to agents
    assert ("Idavidrein/gpqa", "gpqa_main", None) in repos
    arena = next(d for d in datasets if d.repo == "lmarena-ai/arena-hard-auto")
    assert arena.files and all(f.startswith("data/arena-hard-v2.0/") for f in arena.files)
    assert len({d.slug for d in datasets}) == len(datasets)


def test_meta_key_wins_over_config_fallback_and_duplicates_collapse(tmp_path):
    (tmp_path / "with").mkdir()
    (tmp_path / "with" / "meta.yaml").write_text("datasets:\n  - {repo: a/from-meta}\n")
    (tmp_path / "without").mkdir()
    (tmp_path / "without" / "meta.yaml").write_text("name: no datasets key\n")
    config = {
        "models": {"m": {"base": "org/base", "instruct": None}},
        "benchmarks": {"with": {}, "without": {}},
        "prefetch": {
            "extra_models": ["org/base", {"repo": "org/extra", "revision": "abc"}],
            "benchmark_datasets": {"with": [{"repo": "a/ignored"}], "without": [{"repo": "a/fallback"}]},
            "datasets": [{"repo": "a/from-meta"}, {"repo": "a/train", "name": "main"}],
        },
    }
    res = prefetch_resources(config, tasks_dir=tmp_path)
    assert res["models"] == [ModelResource("org/base"), ModelResource("org/extra", "abc")]
    assert [d.repo for d in res["datasets"]] == ["a/from-meta", "a/fallback", "a/train"]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "main"}, "needs at least `repo`"),
        ({"repo": "no-slash"}, "'no-slash' is not a hub id"),
        ({"repo": "a/b", "split": "train"}, "unknown key(s) split"),
    ],
)
def test_bad_dataset_entry_names_the_problem(entry, message):
    config = copy.deepcopy(EMBEDDED)
    config["prefetch"] = {"datasets": [entry]}
    with pytest.raises(PrefetchError, match="prefetch.datasets") as err:
        prefetch_resources(config)
    assert message in str(err.value)


def test_slugs_are_stable_and_round_trip_through_json():
    d = DatasetResource("openai/gsm8k", data_dir="main", revision="cc7b047b6e5bb11b4f1af84efc572db110a51b3c")
    assert d.slug == "openai--gsm8k--dir-main--rev-cc7b047b6e5b"
    snap = DatasetResource("x/y", files=("a/*.jsonl", "b.json"))
    assert snap.slug == DatasetResource("x/y", files=("a/*.jsonl", "b.json")).slug != DatasetResource("x/y").slug
    res = {"models": [ModelResource("o/m", "r")], "datasets": [d, snap], "downloads": []}
    back = resources_from_json(resources_json(res))
    assert back == res
    assert find_dataset(back, snap.slug) == snap
    with pytest.raises(PrefetchError, match="no configured dataset"):
        find_dataset(back, "nope")


def test_hub_env_switches_every_offline_flag(tmp_path):
    off, on = hub_env(tmp_path, offline=True), hub_env(tmp_path, offline=False)
    assert off["HF_HOME"] == on["HF_HOME"] == str(tmp_path.resolve())
    for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        assert (off[flag], on[flag]) == ("1", "0")


def test_schema_accepts_the_prefetch_section_and_rejects_a_typo():
    from workflow.config import ConfigError, check_config

    check_config(FULL)
    bad = copy.deepcopy(FULL)
    bad["prefetch"]["datasets"].append({"repo": "a/b", "config": "main"})
    typo = len(bad["prefetch"]["datasets"]) - 1
    with pytest.raises(ConfigError, match=rf"prefetch\.datasets\.{typo}\.config: unknown key"):
        check_config(bad)
