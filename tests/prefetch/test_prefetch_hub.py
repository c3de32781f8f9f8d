"""Prefetch against a loopback server speaking the hub's API (HF_ENDPOINT)."""

import os
from pathlib import Path

from tests.prefetch.conftest import ALLOWED_TOKEN, WRONG_TOKEN, last_json, run_step
from tests.prefetch.fake_hub import Repo
from workflow.environment.prefetch import DatasetResource, ModelResource

CHUNK = 10 * 1024 * 1024  # huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE

MODEL = ModelResource("test-org/tiny-model")


def math_dataset(hub) -> DatasetResource:
    # As inspect_evals reads GSM8K: a data_dir and a pinned revision.
    return DatasetResource(
        "test-org/tiny-math", data_dir="main", revision=hub.repos[("dataset", "test-org/tiny-math")].sha
    )


def test_download_then_second_run_fetches_no_file(hub, tmp_path):
    resources = {"models": [MODEL], "datasets": [math_dataset(hub)]}
    records = last_json(run_step("download", tmp_path / "hf", resources, hub.url))
    assert records[0]["commit"] == hub.repos[("model", "test-org/tiny-model")].sha
    assert "model.safetensors" in records[0]["files"]
    assert records[1]["splits"] == {"train": 40, "test": 10}
    first = len(hub.requests)
    assert hub.downloads("model.safetensors") and hub.downloads("main/train.jsonl")

    last_json(run_step("download", tmp_path / "hf", resources, hub.url))
    second = hub.requests[first:]
    # Only metadata is asked again: no file body, and the model's files are not even HEAD-checked.
    assert [r for r in second if r.method == "GET" and "/resolve/" in r.path and "README" not in r.path] == []
    assert [r for r in second if "/test-org/tiny-model/resolve/" in r.path] == []
    model_api = [r for r in second if r.path.startswith("/api/models/test-org/tiny-model")]
    assert len(model_api) == 1, [r.path for r in second]
    assert len(second) < first / 2


def test_interrupted_file_is_resumed_not_restarted(hub, tmp_path, tiny_model_dir):
    # huggingface_hub writes in 10 MiB chunks, so resuming shows on a file of a few chunks.
    big = os.urandom(3 * CHUNK + 123)
    hub.add(
        Repo("test-org/big-model", "model", {**Repo.from_folder("x/y", "model", tiny_model_dir).files, "big.dat": big})
    )
    hub.truncate_once["big.dat"] = 2 * CHUNK + 5
    model = ModelResource("test-org/big-model")
    record = last_json(run_step("download", tmp_path / "hf", {"models": [model], "datasets": []}, hub.url))[0]
    gets = hub.downloads("big.dat")
    assert len(gets) == 2
    assert gets[0].header("Range") is None
    assert gets[1].header("Range") == f"bytes={2 * CHUNK}-"
    assert gets[1].status == 206
    assert (Path(record["path"]) / "big.dat").read_bytes() == big


def test_gated_model_without_token_fails_clearly(hub, tmp_path):
    proc = run_step(
        "download", tmp_path / "hf", {"models": [ModelResource("test-org/gated-model")], "datasets": []}, hub.url
    )
    assert proc.returncode != 0
    assert "PrefetchError: model test-org/gated-model is gated on the Hub (HTTP 401)" in proc.stderr
    assert "HF_TOKEN is not set" in proc.stderr
    assert "https://huggingface.co/test-org/gated-model" in proc.stderr
    assert any(r.status == 401 for r in hub.requests)


def test_gated_model_with_token_lacking_access_never_prints_it(hub, tmp_path):
    gated = {"models": [ModelResource("test-org/gated-model")], "datasets": []}
    proc = run_step("download", tmp_path / "hf", gated, hub.url, token=WRONG_TOKEN)
    assert proc.returncode != 0
    assert "(HTTP 403)" in proc.stderr and "HF_TOKEN is set, but its account has no access" in proc.stderr
    assert WRONG_TOKEN not in proc.stderr + proc.stdout
    # The token is sent to the hub (that is how access is granted) ...
    assert any(r.header("Authorization") == f"Bearer {WRONG_TOKEN}" for r in hub.requests)
    # ... and with one that has access the same download works.
    ok = run_step("download", tmp_path / "hf", gated, hub.url, token=ALLOWED_TOKEN)
    assert ALLOWED_TOKEN not in ok.stderr + ok.stdout
    assert "model.safetensors" in last_json(ok)[0]["files"]


def test_gated_dataset_without_token_fails_clearly(hub, tmp_path):
    gated = {"models": [], "datasets": [DatasetResource("test-org/gated-math", data_dir="main")]}
    proc = run_step("download", tmp_path / "hf", gated, hub.url)
    assert proc.returncode != 0
    assert "PrefetchError: dataset test-org/gated-math is gated on the Hub" in proc.stderr
    assert "https://huggingface.co/datasets/test-org/gated-math" in proc.stderr


def test_offline_verification_passes_then_catches_a_missing_file(hub, tmp_path):
    hf_home = tmp_path / "hf"
    resources = {"models": [MODEL], "datasets": [math_dataset(hub)]}
    record = last_json(run_step("download", hf_home, resources, hub.url))[0]
    served = len(hub.requests)

    report = last_json(run_step("verify", hf_home, resources, hub.url))
    assert report["ok"], report
    assert [e["status"] for e in report["entries"]] == ["ok", "ok"]
    assert report["entries"][1]["splits"] == {"train": 40, "test": 10}
    assert len(hub.requests) == served, "the offline check contacted the hub"

    (Path(record["path"]) / "model.safetensors").unlink()
    report = last_json(run_step("verify", hf_home, resources, hub.url))
    assert report["ok"] is False and report["failed"] == ["test-org--tiny-model"]
    assert "model.safetensors" in report["entries"][0]["error"]
    assert report["entries"][1]["status"] == "ok"


def test_offline_verification_reports_what_was_never_fetched(hub, tmp_path):
    never = {"models": [ModelResource("test-org/never-fetched")], "datasets": [DatasetResource("test-org/nothing")]}
    report = last_json(run_step("verify", tmp_path / "hf", never, hub.url))
    assert report["failed"] == ["test-org--never-fetched", "test-org--nothing"]
    assert all(e["error"] for e in report["entries"])
    assert hub.requests == []
