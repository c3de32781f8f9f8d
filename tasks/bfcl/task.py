"""Berkeley Function Calling Leaderboard, as PostTrainBench runs it: category exec_simple.

100 single-function questions; the model must answer with one tool call,
which vLLM's tool-call parser extracts from its text (the evaluation serves
every family with the hermes parser; Gemma through our Gemma 3 template's
tool-calling format, see templates/serving.json). inspect_evals' BFCL task
scores the call against the category's ground truth (parsed from BFCL's
executable answers and matched like an AST answer).

Data: BFCL's question and answer files for exec_simple at a pinned commit of
its repository (BFCL_RELEASE), as the prefetch stored them below
$INSPECT_EVALS_CACHE_DIR/BFCL (meta.yaml `downloads:`), or a folder in
BFCL's data layout given as data_dir.
"""

import importlib
from pathlib import Path

from inspect_ai import Task, task
from prefetched import downloaded_file  # handed out beside this file

TASK = "bfcl"
CATEGORY = "exec_simple"
ITEMS = 100
# BFCL's repository at the commit inspect_evals pins (BFCL_GITHUB_COMMIT); its data files live here.
BFCL_RELEASE = (
    "https://raw.githubusercontent.com/ShishirPatil/gorilla/dac44e7ac9db5ff26a01ab0c1ec5de5a1e703b7a/"
    "berkeley-function-call-leaderboard/bfcl_eval/data"
)
DATA_DEST = "BFCL"
# Where the category's files sit in BFCL's data folder (exec_* are kept among its unused datasets).
DATA_FILES = {
    "question": f"unused_datasets/question/BFCL_v4_{CATEGORY}.json",
    "answer": f"unused_datasets/possible_answer/BFCL_v4_{CATEGORY}.json",
}
# inspect_evals clones BFCL's whole repository unless this file is in its data folder.
PRESENT_MARKER = "BFCL_v4_simple_python.json"


def data_folder(data_dir: str | None) -> Path:
    """BFCL's data folder holding the category's files: data_dir, or the prefetched one."""
    if data_dir:
        folder = Path(data_dir)
        missing = [rel for rel in [*DATA_FILES.values(), PRESENT_MARKER] if not (folder / rel).is_file()]
        if missing:
            raise FileNotFoundError(f"BFCL data folder {folder} lacks {', '.join(missing)}")
        return folder
    for rel in [*DATA_FILES.values(), PRESENT_MARKER]:
        downloaded_file(DATA_DEST, rel)  # each one there, or a clear error naming it
    return downloaded_file(DATA_DEST, PRESENT_MARKER).parent


@task
def bfcl(data_dir: str | None = None) -> Task:
    # The package's `bfcl` attribute is the task function, so fetch the module itself.
    bfcl_module = importlib.import_module("inspect_evals.bfcl.bfcl")
    bfcl_module.DATASET_LOCATION = data_folder(data_dir)
    return bfcl_module.bfcl(categories=[CATEGORY])
