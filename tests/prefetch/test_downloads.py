"""Data that is not on the hub (BFCL's files, HealthBench's JSONL): prefetched, never fetched by a job."""

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.prefetch.fake_hub import FakeHub
from workflow.config import REPO, load_config
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

CONFIG = load_config(REPO / "config" / "config.yaml")  # suite v1.0's benchmarks filled in


def downloads_of(dest: str) -> list[DownloadResource]:
    return [d for d in prefetch_resources(CONFIG)["downloads"] if d.dest == dest]


def task_module(benchmark: str):
    # A task imports its handed-out helpers (tasks/prefetched.py, graders.py) from beside task.py.
    if str(TASKS) not in sys.path:
        sys.path.insert(0, str(TASKS))
    spec = importlib.util.spec_from_file_location(f"{benchmark}_task", TASKS / benchmark / "task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_production_prefetch_fetches_every_bfcl_file_the_task_reads():
    import bfcl_eval

    (bfcl,) = downloads_of("BFCL")
    local = {name for _, name in bfcl.files}
    task = task_module("bfcl")
    shipped = Path(bfcl_eval.__file__).parent / "data"
    # exec_simple's question and answer files (BFCL keeps them among its unused datasets),
    # and the file whose presence stops inspect_evals from cloning BFCL's repository.
    assert local == {*task.DATA_FILES.values(), task.PRESENT_MARKER}
    assert all((shipped / name).exists() for name in local)  # BFCL's own release layout
    assert bfcl.base_url == task.BFCL_RELEASE.rstrip("/")
    assert bfcl.base_url.startswith("https://raw.githubusercontent.com/ShishirPatil/gorilla/")


def test_production_prefetch_saves_healthbench_where_the_task_reads_it_offline(tmp_path, monkeypatch):
    from inspect_evals.healthbench.dataset import DATASET_URLS

    (health,) = downloads_of("healthbench")
    ((remote, local),) = health.files
    # OpenAI's full HealthBench file (inspect_evals' "full" subset): the task filters the easy subset out of it.
    assert f"{health.base_url}/{remote}" == DATASET_URLS["full"]
    monkeypatch.setenv("INSPECT_EVALS_CACHE_DIR", str(tmp_path))
    (tmp_path / health.dest).mkdir()
    (tmp_path / health.dest / local).write_text("{}\n")
    assert task_module("healthbench").official_data(None) == tmp_path / health.dest / local


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
