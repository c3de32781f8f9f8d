"""GSM8K grade-school math, scored by the final number (inspect_evals' task).

Data: the hub dataset openai/gsm8k (config main), read from the local Hugging
Face cache; its train split provides the few-shot examples.
"""

from inspect_ai import Task, task
from inspect_evals.gsm8k import gsm8k as inspect_evals_gsm8k

TASK = "gsm8k"


@task
def gsm8k(fewshot: int = 10) -> Task:
    return inspect_evals_gsm8k(fewshot=fewshot)
