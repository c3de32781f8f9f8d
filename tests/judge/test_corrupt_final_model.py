"""A corrupt final_model is a finding of the judge, not a crash of it.

Real broken files, made from a valid tiny model: model.safetensors cut in the
middle of its tensor data (a save killed half-way, as agents/test-corrupt
does), a garbage header, a tensor torch cannot read although the file opens,
a config.json that is no JSON, a pytorch_model.bin that is no checkpoint. The
lineage check reports each as `unreadable` with the file and the error, and
the judge (scripts/judge.py, as rule `judge` runs it) still writes
judgement.json with the other checks' verdicts. In the pipeline (slow), the
cell of agents/test-corrupt is judged and evaluated once; a rerun has nothing
to do for it.
"""

import json
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.judge.conftest import PIPELINE_RUN, REPO, empty_run
from tests.pipeline import executed_rules, repo_copy, snakemake
from workflow.environment.tiny_model import build_tiny_model
from workflow.judge.judgement import judge
from workflow.judge.lineage import LineageError, check_lineage
from workflow.paths import HANDOUT, JOB_DIR, JUDGEMENT, RUN_RECORD, TRACE
from workflow.records import write_json

UNREADABLE_KEYS = {"check", "flag", "reason", "status"}  # the record lineage has always written for it
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("corrupt") / "base", seed=0, hidden_size=64, layers=2)


def header_length(path: Path) -> int:
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


def truncate_mid_data(folder: Path) -> None:
    """model.safetensors cut half-way through its tensor data; the header stays whole."""
    weights = folder / "model.safetensors"
    data_start = 8 + header_length(weights)
    size = weights.stat().st_size
    with open(weights, "r+b") as f:
        f.truncate(data_start + (size - data_start) // 2)


def garbage_header(folder: Path) -> None:
    """The header's length and the start of its JSON overwritten with random bytes."""
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[:64] = random.Random(0).randbytes(64)
    weights.write_bytes(bytes(data))


def unreadable_tensor(folder: Path) -> None:
    """A whole, valid file whose final norm is stored as F4, which torch cannot view: the file opens,
    its shapes match the base's, and reading that tensor's rows fails (during the comparison)."""
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        if name == "model.norm.weight":
            dtype, raw = "F4", bytes(tensor.numel() // 2)  # two 4-bit values a byte
        else:
            dtype, raw = SAFETENSORS_DTYPES[tensor.dtype], tensor.contiguous().view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    weights.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def config_not_json(folder: Path) -> None:
    (folder / "config.json").write_text('{"model_type": "qwen3", ')


def garbage_bin(folder: Path) -> None:
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(random.Random(1).randbytes(4096))


CORRUPTIONS = {
    # name: (how, the file the reason names, the error it names)
    "truncated": (truncate_mid_data, "model.safetensors", "SafetensorError"),
    "garbage_header": (garbage_header, "model.safetensors", "SafetensorError"),
    "unreadable_tensor": (unreadable_tensor, "model.safetensors", "tensor model.norm.weight"),
    "config_not_json": (config_not_json, "config.json", "JSONDecodeError"),
    "garbage_bin": (garbage_bin, "pytorch_model.bin", "RuntimeError"),
}


def corrupt_copy(base: Path, dest: Path, corruption: str) -> Path:
    shutil.copytree(base, dest)
    CORRUPTIONS[corruption][0](dest)
    return dest


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_lineage_reports_a_corrupt_final_model_as_unreadable_naming_the_file(base, tmp_path, corruption):
    _, file, error = CORRUPTIONS[corruption]
    final = corrupt_copy(base, tmp_path / "final_model", corruption)
    result = check_lineage(final, base, base)  # the base as instruct model too: every reader is used
    assert set(result) == UNREADABLE_KEYS, result
    assert result["status"] == "unreadable" and not result["flag"]
    assert f"{final / file}: " in result["reason"] and error in result["reason"], result["reason"]


def test_the_tensor_read_fails_after_the_file_opened(base, tmp_path):
    """The F4 case fails where the comparison reads rows, not where the reader opens the file."""
    final = corrupt_copy(base, tmp_path / "final_model", "unreadable_tensor")
    assert "cannot be read (RuntimeError" in check_lineage(final, base)["reason"]


def test_a_corrupt_base_model_still_stops_the_judge(base, tmp_path):
    """A broken base or instruct model is the cluster's problem, not the agent's: no verdict is made up."""
    broken_base = corrupt_copy(base, tmp_path / "base", "truncated")
    with pytest.raises(LineageError, match="model.safetensors: cannot be read"):
        check_lineage(base, broken_base)
    broken_instruct = corrupt_copy(base, tmp_path / "instruct", "unreadable_tensor")
    with pytest.raises(LineageError, match="tensor model.norm.weight cannot be read"):
        check_lineage(base, base, broken_instruct)


@pytest.mark.parametrize("corruption", ["truncated", "garbage_header"])
def test_the_judge_writes_its_judgement_for_a_corrupt_final_model(base, tmp_path, corruption):
    run = empty_run(tmp_path, base, base)
    corrupt_copy(base, run.job_dir / "final_model", corruption)
    verdict = judge(run, {"model": None})
    checks = {c["check"]: c for c in verdict["checks"]}
    assert list(checks) == ["evaluation_files", "lineage", "test_overlap", "forbidden_use"]
    assert checks["lineage"]["status"] == "unreadable"
    assert "final_model/model.safetensors: cannot be read (SafetensorError" in checks["lineage"]["reason"]
    assert not verdict["flagged"] and verdict["reasons"] == []
    assert verdict["verdicts"]["evaluation_files"] == "clean"


def judge_script(cell: Path, config: dict) -> subprocess.CompletedProcess:
    """scripts/judge.py as rule `judge` runs it: a Snakemake script, given its `snakemake` object."""
    driver = f"""
import runpy, types
sm = types.SimpleNamespace(
    input=types.SimpleNamespace(run={str(cell / RUN_RECORD)!r}),
    output=types.SimpleNamespace(judgement={str(cell / JUDGEMENT)!r}),
    log=[{str(cell / "judge.log")!r}],
    wildcards=types.SimpleNamespace(agent="test-corrupt", model="tiny", benchmark="arith", seed="1"),
    config={config!r},
)
runpy.run_path({str(REPO / "scripts" / "judge.py")!r}, init_globals={{"snakemake": sm}}, run_name="__main__")
"""
    return subprocess.run([sys.executable, "-c", driver], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_the_judge_script_writes_a_judgement_naming_the_broken_file(base, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(base, results / "models" / "tiny-base")  # where the embedded base model is built
    cell = results / "runs" / "test-corrupt" / "tiny" / "arith" / "seed1"
    run = empty_run(cell, base)  # the job dir and the trace where a cell keeps them
    assert (run.job_dir, run.trace) == (cell / JOB_DIR, cell / TRACE)
    write_json(cell / HANDOUT, run.handout_hashes)
    write_json(cell / RUN_RECORD, {"status": "finished", "final_model": True})
    corrupt_copy(base, cell / JOB_DIR / "final_model", "truncated")
    config = {
        "results": str(results),
        "hf_home": str(tmp_path / "hf_home"),
        "models": {"tiny": {"base": "embedded:tiny-base"}},
        "judge": {"model": None},
    }
    proc = judge_script(cell, config)
    log = (cell / "judge.log").read_text() if (cell / "judge.log").exists() else ""
    assert proc.returncode == 0, proc.stderr[-3000:] + log[-3000:]
    judgement = json.loads((cell / JUDGEMENT).read_text())
    lineage = next(c for c in judgement["checks"] if c["check"] == "lineage")
    assert lineage == {
        "check": "lineage",
        "flag": False,
        "status": "unreadable",
        "reason": lineage["reason"],
    }
    reason = lineage["reason"]
    assert reason.startswith(f"{cell / JOB_DIR / 'final_model' / 'model.safetensors'}: cannot be read (SafetensorError")
    assert "file not fully covered" in reason
    assert [c["check"] for c in judgement["checks"]] == ["evaluation_files", "lineage", "test_overlap", "forbidden_use"]
    assert judgement["llm"]["verdict"] == "unjudged" and not judgement["flagged"]


@pytest.mark.slow
def test_the_pipeline_judges_a_corrupt_final_model_once(tmp_path):
    """rule judge and rule evaluate on agents/test-corrupt's truncated final_model: both write their record
    (evaluation: the model's fault), and the next run has nothing to do for the cell."""
    repo = repo_copy(tmp_path / "repo")
    config = PIPELINE_RUN | {
        "models": {"tiny": {"base": "embedded:tiny-base"}},
        "agents": {"corrupt": {"scaffold": "test-corrupt", "num_gpus": 0}},
        "judge": {"model": None},
    }
    (repo / "config" / "corrupt-test.yaml").write_text(yaml.safe_dump(config))
    cell = Path("results/runs/corrupt/tiny/arith/seed1")
    targets = (str(cell / JUDGEMENT), str(cell / "metrics.json"))
    args = ("--cores", "2", "--configfile", "config/corrupt-test.yaml")
    done = snakemake(repo, *targets, *args)
    assert done.returncode == 0, done.stderr[-4000:]
    assert {"run_agent", "judge", "evaluate"} <= set(executed_rules(done.stderr))
    judgement = json.loads((repo / cell / JUDGEMENT).read_text())
    lineage = next(c for c in judgement["checks"] if c["check"] == "lineage")
    assert lineage["status"] == "unreadable" and "model.safetensors: cannot be read" in lineage["reason"]
    metrics = json.loads((repo / cell / "metrics.json").read_text())
    assert (metrics["status"], metrics["fault"]) == ("failed", "model")
    again = snakemake(repo, *targets, *args, "--dry-run")
    assert again.returncode == 0, again.stderr[-3000:]
    assert executed_rules(again.stdout + again.stderr) == []
