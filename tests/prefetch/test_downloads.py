"""Data that is not on the hub (BFCL's files, HealthBench's JSONL): prefetched, never fetched by a job."""

import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.prefetch.fake_hub import FakeHub
from workflow.config import REPO
from workflow.environment.prefetch import (
    DownloadResource,
    PrefetchError,
    download_files,
    hub_env,
    mirrored,
    prefetch_resources,
    resources_from_json,
    resources_json,
    verify_download,
)
from workflow.tasks import TASKS

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def downloads_of(dest: str) -> list[DownloadResource]:
    return [d for d in prefetch_resources(CONFIG)["downloads"] if d.dest == dest]


def task_module(benchmark: str):
    spec = importlib.util.spec_from_file_location(f"{benchmark}_task", TASKS / benchmark / "task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_production_prefetch_fetches_every_bfcl_file_the_task_reads():
    import bfcl_eval

    (bfcl,) = downloads_of("BFCL")
    local = {name for _, name in bfcl.files}
    shipped = Path(bfcl_eval.__file__).parent / "data"
    for category in task_module("bfcl").CATEGORIES:
        name = f"BFCL_v4_{category}.json"
        assert name in local, category
        # Categories with ground truth need it too (BFCL's own release layout).
        if (shipped / "possible_answer" / name).exists():
            assert f"possible_answer/{name}" in local, category
    assert bfcl.base_url.startswith("https://raw.githubusercontent.com/ShishirPatil/gorilla/")


def test_production_prefetch_saves_healthbench_where_inspect_evals_reads_it_offline():
    from inspect_evals.healthbench.dataset import DATASET_URLS
    from inspect_evals.utils.load_dataset import get_cached_fname

    (health,) = downloads_of("healthbench")
    subset = "consensus"  # tasks/healthbench/task.py's default subset
    ((remote, local),) = health.files
    assert f"{health.base_url}/{remote}" == DATASET_URLS[subset]
    assert local == get_cached_fname(DATASET_URLS[subset], subset)


def test_resources_survive_the_json_round_trip_the_rules_use():
    resources = prefetch_resources(CONFIG)
    assert resources_from_json(resources_json(resources)) == resources


def test_mirror_replaces_the_longest_matching_prefix():
    mirrors = {"https://a.example": "http://127.0.0.1:9/a", "https://a.example/deep": "http://127.0.0.1:9/deep"}
    assert mirrored("https://a.example/x.json", mirrors) == "http://127.0.0.1:9/a/x.json"
    assert mirrored("https://a.example/deep/y.json", mirrors) == "http://127.0.0.1:9/deep/y.json"
    assert mirrored("https://b.example/z", mirrors) == "https://b.example/z"


@pytest.fixture
def site():
    hub = FakeHub()
    hub.add_file("mirror/files.example/data/a.json", b'{"a": 1}\n')
    hub.add_file("mirror/files.example/data/sub/b.jsonl", b'{"b": 2}\n')
    hub.url = hub.start()
    yield hub
    hub.stop()


def test_download_through_a_mirror_once_then_verify(site, tmp_path, monkeypatch):
    download = DownloadResource(
        "https://files.example/data", "thing", (("a.json", "a.json"), ("sub/b.jsonl", "renamed.jsonl"))
    )
    mirrors = {"https://files.example": f"{site.url}/mirror/files.example"}
    record = download_files(download, tmp_path / "hf", mirrors)
    folder = tmp_path / "hf" / "inspect_evals" / "thing"
    assert (folder / "a.json").read_bytes() == b'{"a": 1}\n' and (folder / "renamed.jsonl").exists()
    assert [f["file"] for f in record["fetched"]] == ["a.json", "renamed.jsonl"]
    served = len(site.requests)
    download_files(download, tmp_path / "hf", mirrors)
    assert len(site.requests) == served  # already there: nothing fetched again
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert verify_download(download)["file_count"] == 2
    (folder / "a.json").unlink()
    with pytest.raises(PrefetchError, match="a.json"):
        verify_download(download)


def test_a_missing_file_fails_the_prefetch_with_its_url(site, tmp_path):
    download = DownloadResource("https://files.example/data", "thing", (("gone.json", "gone.json"),))
    with pytest.raises(PrefetchError, match="files.example/data/gone.json"):
        download_files(download, tmp_path / "hf", {"https://files.example": f"{site.url}/mirror/files.example"})
    assert not list((tmp_path / "hf").rglob("gone.json*"))


def test_jobs_and_the_handed_out_evaluate_py_read_downloads_below_hf_home(tmp_path):
    spec = importlib.util.spec_from_file_location("evaluate_script", TASKS / "evaluate.py")
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)
    expected = str((tmp_path / "hf" / "inspect_evals").resolve())
    assert evaluate.data_env({"HF_HOME": str(tmp_path / "hf")}) == {"INSPECT_EVALS_CACHE_DIR": expected}
    assert evaluate.data_env({"HF_HOME": "x", "INSPECT_EVALS_CACHE_DIR": "/set"}) == {}
    assert hub_env(tmp_path / "hf", offline=True)["INSPECT_EVALS_CACHE_DIR"] == expected
