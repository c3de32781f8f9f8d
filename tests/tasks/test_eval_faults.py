"""Whose fault a failed evaluation is: the model's (scored as the base model, with the reason)
or the infrastructure's (the job fails, no metrics, the next run retries)."""

import json
import os
import shutil
import struct

import pytest

from workflow.environment.tiny_model import build_tiny_model
from workflow.evaluate.faults import (
    INFRASTRUCTURE,
    MODEL,
    InfrastructureFault,
    classify,
    infrastructure_sign,
    model_fault_record,
    model_problem,
    settle,
)
from workflow.evaluate.runner import evaluate


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-base", hidden_size=32, layers=1)


def copy_model(src, dest):
    shutil.copytree(src, dest)
    return dest


def test_a_whole_model_has_no_problem(tiny_model):
    assert model_problem(tiny_model) is None


def test_broken_model_files_are_named(tiny_model, tmp_path):
    truncated = copy_model(tiny_model, tmp_path / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert "model.safetensors: truncated" in model_problem(truncated)

    garbage = copy_model(tiny_model, tmp_path / "garbage")
    (garbage / "model.safetensors").write_bytes(os.urandom(4096))
    assert "does not fit" in model_problem(garbage) or "not JSON" in model_problem(garbage)

    config = copy_model(tiny_model, tmp_path / "config")
    (config / "config.json").write_text("{not json")
    assert model_problem(config).startswith("final_model/config.json cannot be read")

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    assert model_problem(empty) == "final_model has no weights (*.safetensors or pytorch_model*.bin)"

    shards = copy_model(tiny_model, tmp_path / "shards")
    (shards / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "model-00002.safetensors"}}))
    assert "model-00002.safetensors" in model_problem(shards)

    wrong_size = copy_model(tiny_model, tmp_path / "wrong_size")
    data = bytearray((wrong_size / "model.safetensors").read_bytes())
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [dim * 2 for dim in header[name]["shape"]]
    text = json.dumps(header, separators=(",", ":")).encode().ljust(length)
    assert len(text) == length
    (wrong_size / "model.safetensors").write_bytes(bytes(data[:8]) + text + bytes(data[8 + length :]))
    assert f"tensor {name!r} holds" in model_problem(wrong_size)


@pytest.mark.parametrize(
    "error,cause",
    [
        ("JudgeKeyMissing: judge key missing: grading with openai/gpt-5-mini needs OPENAI_API_KEY", "grader's API key"),
        ("datasets.exceptions.DatasetNotFoundError: Dataset 'openai/gsm8k' doesn't exist", "data is missing"),
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "out of memory"),
        ("OSError: [Errno 28] No space left on device", "disk is full"),
        ("RuntimeError: No CUDA GPUs are available", "GPU failed"),
        ("vLLM server failed to start 2 times: ... ModuleNotFoundError: No module named 'vllm'", "lacks a module"),
    ],
)
def test_infrastructure_signs(error, cause):
    record = {"status": "failed", "reason": error, "attempts": [{"returncode": 1, "error": error}]}
    assert cause in infrastructure_sign(record)
    with pytest.raises(InfrastructureFault, match=cause):
        settle(record, control=lambda: pytest.fail("a sign is enough: no control evaluation"))


def test_attempts_killed_by_a_signal_are_the_cluster():
    record = {"status": "failed", "reason": "crashed", "attempts": [{"returncode": -9}, {"returncode": 137}]}
    assert "killed by SIGKILL" in classify(record).reason and classify(record).kind == INFRASTRUCTURE


def test_the_control_decides_an_unexplained_failure():
    record = {"status": "failed", "reason": "Traceback ...\nValueError: weird rope_scaling", "attempts": [{}]}
    settled = settle(record, control=lambda: {"status": "ok", "value": 0.1})
    assert settled["fault"] == MODEL and "the base model can, in the same job" in settled["reason"]
    assert "weird rope_scaling" in settled["reason"]
    with pytest.raises(InfrastructureFault, match="the base model fails here too"):
        settle(record, control=lambda: {"status": "failed", "reason": "Segmentation fault"})
    # A baseline has no control: its failures are always the infrastructure's.
    with pytest.raises(InfrastructureFault):
        settle(record, control=None)
    assert settle({"status": "ok", "value": 1.0}) == {"status": "ok", "value": 1.0}
    assert settle({"status": "missing", "reason": "no model"})["status"] == "missing"
    broken = model_fault_record("final_model/model.safetensors: truncated")
    assert settle(broken, control=lambda: pytest.fail("broken files need no control")) == broken


@pytest.mark.slow
def test_a_model_that_cannot_load_is_its_own_fault_with_the_real_runner(tiny_model, tmp_path):
    """Files that look whole but do not fit the architecture: the attempts fail, the base model does not."""
    broken = copy_model(tiny_model, tmp_path / "final_model")
    config = json.loads((broken / "config.json").read_text())
    config["hidden_size"] *= 2  # every weight's shape is now wrong
    (broken / "config.json").write_text(json.dumps(config))
    assert model_problem(broken) is None  # the files alone say nothing
    settings = {"backend": "hf", "max_connections": 2, "limit": 2, "max_tokens_ladder": [8]}
    record = evaluate("arith", str(broken), tmp_path / "eval", settings)
    assert record["status"] == "failed" and len(record["attempts"]) == 2

    def control():
        return evaluate("arith", str(tiny_model), tmp_path / "eval_control", settings | {"limit": 1})

    settled = settle(record, control)
    assert settled["fault"] == MODEL and "the base model can, in the same job" in settled["reason"]


def test_a_broken_eval_image_is_the_cluster(tiny_model, tmp_path):
    from workflow.evaluate.runner import evaluation_settings

    config = {
        "evaluation": {"backend": "vllm", "max_connections": 2},
        "container": {"runtime": "none", "local_images": {"eval": "/nowhere/venv"}},
        "hf_home": str(tmp_path / "hf_home"),
        "results": str(tmp_path),
        "benchmarks": {},
    }
    record = evaluate("arith", str(tiny_model), tmp_path / "eval", evaluation_settings(config, "arith"))
    assert record["status"] == "failed"
    with pytest.raises(InfrastructureFault, match="the evaluation image cannot run"):
        settle(record, control=lambda: pytest.fail("a sign is enough: no control evaluation"))
