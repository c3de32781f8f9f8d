"""Whose fault a failed evaluation is: the model's, or the infrastructure's.

A model that cannot be loaded or cannot generate is the agent's outcome: the
cell is recorded as failed, with the reason, and scores its base model's
result. Anything else (vLLM failing to start for a reason that is not the
model, the job running out of memory, a grader's key or the data missing, a
broken image, a full disk) is the cluster's: the job fails and writes no
metrics, so the next run evaluates the model again; the reason is in the log.

How it is told apart, in order:
1. `model_problem`: the final model's files are checked before any attempt
   (config.json, every safetensors header against its file's size).
2. `infrastructure_sign`: what the failed attempts and the server printed,
   and how they ended (killed by a signal: the kernel's or Slurm's OOM killer).
3. A control: the base model, evaluated in the same job on one sample. If it
   succeeds where final_model failed, the model is at fault; if it fails too,
   the infrastructure is.
"""

import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MODEL, INFRASTRUCTURE = "model", "infrastructure"
REASON_CHARS = 600
MAX_HEADER_BYTES = 100 * 2**20
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}  # fmt: skip

# Text that names a cause outside the model, and what to call it. Checked on the
# failure reason and every attempt's error, in this order.
INFRASTRUCTURE_SIGNS = (
    (re.compile(r"judge key missing|JudgeKeyMissing"), "the grader's API key is missing"),
    (
        re.compile(r"DatasetNotFoundError|LocalEntryNotFoundError|DataFilesNotFoundError|Couldn't find a dataset"),
        "benchmark data is missing from the cache",
    ),
    (re.compile(r"CUDA out of memory|OutOfMemoryError|Cannot allocate memory|MemoryError"), "out of memory"),
    (re.compile(r"No space left on device"), "the disk is full"),
    (re.compile(r"No CUDA GPUs are available|CUDA error|NCCL error|cudaGetDeviceCount"), "the GPU failed"),
    (re.compile(r"No module named|ModuleNotFoundError"), "the evaluation image lacks a module"),
    (re.compile(r"Address already in use"), "a port was taken"),
    (re.compile(r"cannot set up the vLLM server|has no bin/python"), "the evaluation image cannot run"),
    (re.compile(r"the task reported no metric"), "the task's output does not match the pipeline"),
)


class InfrastructureFault(RuntimeError):
    """The evaluation failed for a reason that is not the model's: the job fails, the next run retries."""


@dataclass(frozen=True)
class Fault:
    kind: str  # MODEL | INFRASTRUCTURE
    reason: str


def safetensors_problem(path: Path) -> str | None:
    """Why a safetensors file cannot be read (bad header, truncated data), or None."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path.name}: {size} bytes, too short for a safetensors header"
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, MAX_HEADER_BYTES):
            return f"{path.name}: header of {length} bytes does not fit the {size}-byte file"
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return f"{path.name}: header is not JSON ({err})"
    if not isinstance(header, dict):
        return f"{path.name}: header is not a JSON object"
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            start, stop = entry["data_offsets"]
            count = 1
            for dim in entry["shape"]:
                count *= int(dim)
            width = DTYPE_BYTES.get(entry["dtype"])
        except (KeyError, TypeError, ValueError):
            return f"{path.name}: tensor {name!r} has no valid dtype, shape and offsets"
        if width is not None and stop - start != count * width:
            return f"{path.name}: tensor {name!r} holds {stop - start} bytes, its shape needs {count * width}"
        end = max(end, stop)
    if 8 + length + end > size:
        return f"{path.name}: truncated ({size} bytes, its tensors need {8 + length + end})"
    return None


def model_problem(model: Path) -> str | None:
    """Why a model folder cannot be loaded, from its files alone; None if they look whole."""
    model = Path(model)
    try:
        config = json.loads((model / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"final_model/config.json cannot be read: {err}"
    if not isinstance(config, dict) or not (config.get("model_type") or config.get("architectures")):
        return "final_model/config.json names neither a model_type nor architectures"
    index = model / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError) as err:
            return f"final_model/{index.name} cannot be read: {err}"
        missing = sorted(s for s in shards if not (model / s).is_file())
        if missing:
            return f"final_model: shards listed in {index.name} are missing: {', '.join(missing)}"
    tensors = sorted(model.glob("*.safetensors"))
    others = [p for pattern in ("pytorch_model*.bin", "*.pt", "*.pth") for p in model.glob(pattern)]
    if not tensors and not others:
        return "final_model has no weights (*.safetensors or pytorch_model*.bin)"
    for path in tensors:
        problem = safetensors_problem(path)
        if problem:
            return f"final_model/{problem}"
    empty = [p.name for p in others if p.stat().st_size == 0]
    if empty:
        return f"final_model: empty weight file(s) {', '.join(empty)}"
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:REASON_CHARS]


def failure_texts(record: dict) -> list[str]:
    return [str(record.get("reason") or "")] + [str(a.get("error") or "") for a in record.get("attempts") or []]


def infrastructure_sign(record: dict) -> str | None:
    """A failed evaluation's cause outside the model, named, or None."""
    from workflow.agent.runner import signal_name

    for pattern, cause in INFRASTRUCTURE_SIGNS:
        for text in failure_texts(record):
            match = pattern.search(text)
            if match:
                line = next((ln for ln in text.splitlines() if pattern.search(ln)), match.group(0))
                return f"{cause}: {line.strip()[:REASON_CHARS]}"
    killed = [signal_name(a.get("returncode")) for a in record.get("attempts") or []]
    killed = [k for k in killed if k]
    if killed and len(killed) == len(record["attempts"]):
        return f"every attempt was killed by {killed[-1]} (the job's memory limit or the node, not the model)"
    return None


def classify(record: dict, control: Callable[[], dict] | None = None) -> Fault:
    """Whose fault a failed evaluation record is; `control` evaluates the base model here when needed."""
    sign = infrastructure_sign(record)
    if sign:
        return Fault(INFRASTRUCTURE, sign)
    reason = _last_line(record.get("reason") or "evaluation failed")
    if control is None:
        return Fault(INFRASTRUCTURE, f"evaluation failed: {reason}")
    checked = control()
    if checked.get("status") == "ok":
        return Fault(MODEL, f"final_model cannot be evaluated (the base model can, in the same job): {reason}")
    return Fault(
        INFRASTRUCTURE,
        f"the base model fails here too ({_last_line(checked.get('reason') or '?')}); final_model: {reason}",
    )


def settle(record: dict, control: Callable[[], dict] | None = None) -> dict:
    """The record to write: unchanged when ok or missing, marked as the model's fault, or raise.

    Without a `control` (a baseline model, nobody's final model) every failure is the
    infrastructure's.
    """
    if record.get("status") in ("ok", "missing") or record.get("fault") == MODEL:
        return record  # scored, no model, or already known to be the model's (its files are broken)
    fault = classify(record, control)
    if fault.kind == INFRASTRUCTURE:
        raise InfrastructureFault(fault.reason)
    return record | {"fault": MODEL, "reason": fault.reason}


def model_fault_record(problem: str) -> dict:
    """A final model whose files are broken: no attempt is made."""
    return {"status": "failed", "fault": MODEL, "reason": problem, "attempts": []}
