"""Test items read as data: from the prefetched cache (offline), from files the tasks read, from a task file."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.judge.conftest import REPO
from tests.prefetch.conftest import hub, last_json, run_step, tiny_dataset_dir, tiny_model_dir  # noqa: F401
from tests.prefetch.fake_hub import Repo
from tests.tasks import fixtures
from workflow.environment.prefetch import DatasetResource
from workflow.judge.test_items import TestItemsError, field_values, load_test_items
from workflow.tasks import TASKS

sys.path.insert(0, str(REPO / "tasks" / "arith"))
import data as arith  # noqa: E402

BENCHMARKS = ["aime2025", "arenahardwriting", "arith", "bfcl", "gpqamain", "gsm8k", "healthbench", "humaneval"]


def task(tmp_path: Path, name: str, test_items: dict) -> Path:
    (tmp_path / "tasks" / name).mkdir(parents=True)
    (tmp_path / "tasks" / name / "meta.yaml").write_text(yaml.safe_dump({"name": name, "test_items": test_items}))
    return tmp_path / "tasks"


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_every_benchmark_declares_its_test_items_and_runs_no_code(benchmark):
    meta = yaml.safe_load((TASKS / benchmark / "meta.yaml").read_text())
    spec = meta["test_items"]
    assert spec["fields"] and spec["sources"]
    assert "def test_texts" not in (TASKS / benchmark / "task.py").read_text()
    # a hub dataset source is exactly one of the datasets the prefetch fetches
    for source in spec["sources"]:
        if "dataset" in source:
            assert source["dataset"] in meta["datasets"]
    assert isinstance(meta["allowed_datasets"], list) and meta["disallowed_datasets"]


def test_arith_reads_the_committed_test_file_which_is_data_py_test_split():
    items = load_test_items("arith")
    assert len(items.items) == 100 and items.source == "tasks/arith: test.jsonl"
    # the committed file is what data.py's generator gives for the test split
    assert [[p["question"], p["answer"]] for p in arith.problems("test", arith.TEST_SIZE)] == items.items
    # the task reads the same file (no generator run at evaluation time)
    assert "test.jsonl" in yaml.safe_load((TASKS / "arith" / "meta.yaml").read_text())["handout"]


def test_a_hub_dataset_is_read_offline_from_the_prefetched_cache(hub, tmp_path):  # noqa: F811
    sha = hub.repos[("dataset", "test-org/tiny-math")].sha
    dataset = DatasetResource("test-org/tiny-math", data_dir="main", revision=sha)
    last_json(run_step("download", tmp_path / "hf", {"models": [], "datasets": [dataset]}, hub.url))
    before = len(hub.requests)
    spec = {"repo": "test-org/tiny-math", "data_dir": "main", "revision": sha}
    tasks = task(tmp_path, "math", {"sources": [{"dataset": spec, "split": "test"}], "fields": ["question", "answer"]})
    items = load_test_items("math", tmp_path / "hf", tasks)
    assert items.items[:2] == [["What is 0 + 1?", "#### 1"], ["What is 1 + 1?", "#### 2"]] and len(items.items) == 10
    assert "test-org/tiny-math (split test)" in items.source
    assert len(hub.requests) == before  # read from the cache, nothing asked of the hub
    with pytest.raises(TestItemsError, match="not readable from the cache"):
        load_test_items("math", tmp_path / "empty-cache", tasks)


def test_a_raw_snapshot_file_is_read_offline_with_a_filter(hub, tmp_path):  # noqa: F811
    folder = fixtures.arena_hard(tmp_path / "arena" / "data" / "arena-hard-v2.0")
    hub.add(Repo.from_folder("test-org/arena", "dataset", tmp_path / "arena"))
    files = ("data/arena-hard-v2.0/question.jsonl",)
    dataset = DatasetResource("test-org/arena", files=files)
    last_json(run_step("download", tmp_path / "hf", {"models": [], "datasets": [dataset]}, hub.url))
    spec = {
        "sources": [{"env": "PTB_TEST_ARENA_DIR", "file": "question.jsonl"},
                    {"snapshot": {"repo": "test-org/arena"}, "file": files[0]}],
        "where": {"category": "creative_writing"},
        "fields": ["prompt"],
    }  # fmt: skip
    tasks = task(tmp_path, "arena", spec)
    items = load_test_items("arena", tmp_path / "hf", tasks)
    assert items.items == [["Write a haiku about rain."], ["Write a two-line story."]]
    assert folder.exists()


def test_file_sources_follow_the_variables_the_tasks_read(tmp_path, monkeypatch):
    # HealthBench: a local JSONL named by PTB_HEALTHBENCH_JSONL
    monkeypatch.setenv("PTB_HEALTHBENCH_JSONL", str(fixtures.healthbench(tmp_path / "hb.jsonl")))
    hb = load_test_items("healthbench")
    assert hb.items[0][0] == "I have had a mild headache for 1 days. What should I do?"
    assert "Advises seeing a doctor if it persists" in hb.items[0]
    # BFCL: the task's question file (exec_simple) under $INSPECT_EVALS_CACHE_DIR/BFCL, as bfcl-eval ships it
    monkeypatch.setenv("INSPECT_EVALS_CACHE_DIR", str(tmp_path / "ie"))
    folder = fixtures.bfcl_exec_simple(tmp_path / "ie")
    bfcl = load_test_items("bfcl")
    questions = folder / "unused_datasets/question/BFCL_v4_exec_simple.json"
    shipped = [json.loads(x) for x in questions.read_text().splitlines() if x.strip()]
    assert len(bfcl.items) == len(shipped) == 100  # only the task's category, not simple_python beside it
    assert bfcl.items[0] == [shipped[0]["question"][0][0]["content"]]
    # absent everywhere: unavailable, with the places tried
    monkeypatch.setenv("INSPECT_EVALS_CACHE_DIR", str(tmp_path / "nothing"))
    assert "BFCL" in load_test_items("bfcl").unavailable and not load_test_items("bfcl").items


def test_field_paths_walk_lists():
    record = {"question": [[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]], "n": 3}
    assert field_values(record, "question.content") == ["a", "b"]
    assert field_values(record, "n") == ["3"] and field_values(record, "missing") == []


@pytest.mark.parametrize("benchmark", ["gsm8k", "aime2025", "humaneval"])
def test_the_prompt_names_the_allowed_and_disallowed_datasets(benchmark):
    from workflow.agent.handout import render_prompt

    meta = yaml.safe_load((TASKS / benchmark / "meta.yaml").read_text())
    prompt = render_prompt(benchmark, "Qwen/Qwen3-1.7B-Base", 10, 1, internet=True)
    for name in meta["allowed_datasets"] + meta["disallowed_datasets"]:
        assert f"`{name}`" in prompt
    assert prompt.index(f"`{meta['allowed_datasets'][0]}`") < prompt.index("Never download or use")
