"""AIME 2025 competition math, scored by the final integer (inspect_evals' task).

Data: the hub dataset math-ai/aime25, read from the local Hugging Face cache.
"""

from inspect_ai import Task, task
from inspect_evals.aime2025 import aime2025 as inspect_evals_aime2025

TASK = "aime2025"


@task
def aime2025() -> Task:
    return inspect_evals_aime2025()
