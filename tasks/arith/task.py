"""Arithmetic word problems: an Inspect task over data.py's held-out test split."""

import sys
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

sys.path.insert(0, str(Path(__file__).parent))
import data  # noqa: E402  (the sibling file, also in the agent's job dir)

TASK = "arith"


def record_to_sample(record: dict) -> Sample:
    return Sample(input=record["question"], target=record["target"])


@task
def arith() -> Task:
    samples = [record_to_sample(r) for r in data.test_set()]
    return Task(dataset=MemoryDataset(samples, name="arith"), solver=generate(), scorer=match(numeric=True))


def test_texts() -> list[list[str]]:
    """The held-out test items (question, worked answer), for the judge's overlap check."""
    return [[r["question"], r["answer"]] for r in data.test_set()]
