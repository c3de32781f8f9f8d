"""Arena-Hard's baseline answers, made once by the pipeline and reused by every cell.

PostTrainBench judges each Arena-Hard writing answer against Qwen/Qwen3-1.7B's
answer to the same question (tasks/arenahardwriting/meta.yaml `baseline_model`).
The pipeline makes those answers itself: the task in its answers-only mode
runs through the same evaluation runner as any model (the eval image, a vLLM
server, the token stages), and the answers are read back from Inspect's log
and written in Arena-Hard's model_answer layout to the shared cache, where
the handed-out task finds them (tasks/prefetched.py: ptb_pipeline/...), for
agents' development runs and the final evaluation alike.
"""

import json
import os
from pathlib import Path

from workflow.evaluate.runner import evaluate, evaluation_settings
from workflow.tasks import task_meta

BENCHMARK = "arenahardwriting"
PIPELINE_DIR = "ptb_pipeline"  # the same folder as tasks/prefetched.py's
ANSWERS_SUBDIR = Path("arena-hard-v2.0", "model_answer")


def baseline_model(benchmark: str = BENCHMARK) -> str | None:
    return task_meta(benchmark).get("baseline_model")


def model_alias(model: str) -> str:
    """Arena-Hard names an answer file after the last part of the model's id."""
    return model.rstrip("/").split("/")[-1]


def baseline_answers_path(hf_home: str | Path, model: str) -> Path:
    """Where the task looks for the baseline's answers (tasks/arenahardwriting/task.py)."""
    return Path(hf_home) / PIPELINE_DIR / ANSWERS_SUBDIR / f"{model_alias(model)}.jsonl"


def answers_settings(config: dict) -> dict:
    """Evaluation settings for making answers: the task's answers-only mode, every question, one evaluation."""
    settings = evaluation_settings(config, BENCHMARK)
    settings["task_args"] = {"answers_only": True}
    settings["metric"] = "accuracy"  # answers-only mode: the share of questions answered
    settings["protocol"] = "single"
    settings.pop("limit", None)  # every question: a cell's evaluation may pick any of them
    return settings


def answers_from_log(log_path: str, model: str) -> list[dict]:
    """Arena-Hard model_answer records from an answers-only run's Inspect log."""
    from inspect_ai.log import read_eval_log

    log = read_eval_log(log_path)
    records = []
    for sample in log.samples or []:
        score = sample.scores["answer_collected"]
        if not score.answer:
            raise ValueError(f"{model} gave no answer to question {sample.id}; its answers cannot be a baseline")
        records.append({
            "uid": sample.id,
            "model": model_alias(model),
            "messages": [
                {"role": "user", "content": sample.input if isinstance(sample.input, str) else sample.input[-1].text},
                {"role": "assistant", "content": {"answer": score.answer}},
            ],
        })  # fmt: skip
    return records


def write_answers(records: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    os.replace(partial, out)


def make_baseline_answers(
    config: dict, out: Path, log_dir: Path, model: str | None = None, overrides: dict | None = None
) -> dict:
    """Generate the baseline model's answers into `out`; the evaluation record (status, attempts).

    model: a hub id (read from the cache) or a folder; default the task's baseline model.
    """
    model = model or baseline_model()
    settings = answers_settings(config) | (overrides or {})
    record = evaluate(BENCHMARK, model, log_dir, settings, local_model=False)
    if record["status"] == "ok":
        records = answers_from_log(record["log"], model)
        write_answers(records, Path(out))
        record["answers"] = len(records)
    return record
