"""GPQA main set: 448 graduate-level science questions, four choices each.

inspect_evals ships only GPQA Diamond, so this is our own task over the hub
dataset Idavidrein/gpqa (config gpqa_main, gated; read from the local Hugging
Face cache). The correct answer is always the first column, so the choices
are shuffled with a fixed seed: every model sees the same order.
"""

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import Sample, hf_dataset
from inspect_ai.scorer import choice
from inspect_ai.solver import multiple_choice

TASK = "gpqamain"
DATASET = "Idavidrein/gpqa"
CONFIG = "gpqa_main"
CHOICE_SEED = 42


def record_to_sample(record: dict[str, Any]) -> Sample:
    return Sample(
        id=record["Record ID"],
        input=record["Question"].strip(),
        choices=[
            str(record["Correct Answer"]).strip(),
            str(record["Incorrect Answer 1"]).strip(),
            str(record["Incorrect Answer 2"]).strip(),
            str(record["Incorrect Answer 3"]).strip(),
        ],
        target="A",
        metadata={"domain": record.get("High-level domain")},
    )


@task
def gpqamain(cot: bool = True, choice_seed: int = CHOICE_SEED) -> Task:
    dataset = hf_dataset(
        path=DATASET,
        name=CONFIG,
        split="train",
        sample_fields=record_to_sample,
        shuffle_choices=choice_seed,
    )
    return Task(dataset=dataset, solver=multiple_choice(cot=cot), scorer=choice())
