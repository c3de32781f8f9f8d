"""Arithmetic word problems: an Inspect task over the held-out test split in test.jsonl."""

import json
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

TEST_FILE = Path(__file__).with_name("test.jsonl")  # handed out beside this file

TASK = "arith"


def record_to_sample(record: dict) -> Sample:
    return Sample(input=record["question"], target=record["target"])


@task
def arith() -> Task:
    records = [json.loads(line) for line in TEST_FILE.read_text().splitlines() if line.strip()]
    samples = [record_to_sample(r) for r in records]
    return Task(dataset=MemoryDataset(samples, name="arith"), solver=generate(), scorer=match(numeric=True))
