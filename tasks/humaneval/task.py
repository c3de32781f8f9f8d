"""HumanEval: write a Python function, scored by running its unit tests (inspect_evals' task).

Data: the hub dataset openai/openai_humaneval, read from the local Hugging
Face cache. The tests run in a sandbox: `local` (a subprocess in this
environment, as in the evaluation job's container) unless told otherwise.
"""

from inspect_ai import Task, task
from inspect_evals.humaneval import humaneval as inspect_evals_humaneval

TASK = "humaneval"


@task
def humaneval(sandbox: str = "local") -> Task:
    return inspect_evals_humaneval(sandbox=sandbox)
