"""GSM8K grade-school math, scored by the value of the final number.

Data, prompt and the ten few-shot examples are inspect_evals' (the hub
dataset openai/gsm8k, config main, from the local Hugging Face cache; the
few-shot examples come from its train split). The scorer is our own exact
numeric match (PostTrainBench v1.2's fix): the last number of the answer,
sign and decimals included, thousands separators and a currency sign
ignored, must equal the target by value. A suffix match would count "15" as
correct for a target of 5, and a text match "-3" as wrong for "-3.0".
"""

import re
from decimal import Decimal, InvalidOperation

from inspect_ai import Task, task, task_with
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer, stderr
from inspect_ai.solver import TaskState
from inspect_evals.gsm8k import gsm8k as inspect_evals_gsm8k

TASK = "gsm8k"

# A number as people write one: an optional sign and currency sign, digits with
# or without thousands separators, an optional decimal part.
NUMBER = re.compile(r"(?<![\w.])-?[$€£]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d,]*\d)")


def number_value(text: str) -> Decimal | None:
    """The value of one written number ("$1,200.50" -> 1200.50), None if it is not one."""
    cleaned = re.sub(r"[$€£,\s]", "", text.strip())
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def last_number(completion: str) -> str | None:
    """The last number written in the completion, as written; None without one."""
    found = NUMBER.findall(completion.replace("−", "-"))
    return found[-1] if found else None


def exact_numeric_match(completion: str, target: str) -> tuple[str | None, bool]:
    """(the extracted answer, whether its value equals the target's)."""
    answer = last_number(completion)
    expected = number_value(target)
    if expected is None:
        raise ValueError(f"GSM8K target {target!r} is not a number")
    value = number_value(answer) if answer is not None else None
    return answer, value is not None and value == expected


@scorer(metrics=[accuracy(), stderr()])
def exact_number():
    async def score(state: TaskState, target: Target) -> Score:
        completion = state.output.completion
        answer, matched = None, False
        for value in target:
            answer, matched = exact_numeric_match(completion, value)
            if matched:
                break
        return Score(value=CORRECT if matched else INCORRECT, answer=answer, explanation=completion)

    return score


@task
def gsm8k(fewshot: int = 10) -> Task:
    return task_with(inspect_evals_gsm8k(fewshot=fewshot), scorer=exact_number())
