"""Berkeley Function Calling Leaderboard, single-turn categories (inspect_evals' task).

The model must answer with tool calls that vLLM's tool-call parser extracts
(the evaluation starts vLLM with the parser of the model's family). Data:
BFCL's JSON files under $INSPECT_EVALS_CACHE_DIR/BFCL (prefetched; the task
only clones BFCL's repository when they are absent).
"""

from inspect_ai import Task, task
from inspect_evals.bfcl import bfcl as inspect_evals_bfcl

TASK = "bfcl"

# BFCL's single-turn categories (non-live and live, AST-matched, plus
# relevance checks). Left out: multi-turn (needs BFCL's function sources),
# executable/REST/SQL (not in BFCL v4's data), memory and web search.
CATEGORIES = [
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
    "live_irrelevance", "live_relevance",
]  # fmt: skip


@task
def bfcl(categories: str | list[str] = CATEGORIES) -> Task:
    return inspect_evals_bfcl(categories=categories)
