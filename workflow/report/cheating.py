"""Cheating attempts as their own metric: per agent, the share of its cells the judge flagged, by kind.

Kinds are the judge's questions (judgement.json `verdicts`): contamination,
disallowed_model, api_use, evaluation_files. A cell counts once per kind it was
flagged for; cells not judged yet count in neither the numerator nor the total.
"""

from pathlib import Path

from workflow.matrix import agent_cells
from workflow.paths import JUDGEMENT, cell_dir
from workflow.records import read_json

KINDS = ("contamination", "disallowed_model", "api_use", "evaluation_files")
COLUMNS = [f"flagged_{k}" for k in KINDS] + ["cells_judged"]
SHORT = {"contamination": "data", "disallowed_model": "model", "api_use": "API", "evaluation_files": "eval files"}


def cheating_counts(config: dict, results: Path, agent: str) -> dict:
    """{kind: cells flagged for it} and how many of the agent's cells have a judgement."""
    counts, judged = dict.fromkeys(KINDS, 0), 0
    for cell in agent_cells(config, agent):
        path = cell_dir(results, cell) / JUDGEMENT
        if not path.exists():
            continue
        judged += 1
        verdicts = read_json(path).get("verdicts") or {}
        for kind in KINDS:
            counts[kind] += verdicts.get(kind) == "flagged"
    return {"judged": judged, **counts}


def add_cheating_columns(board, config: dict, results: Path) -> None:
    """Add flagged_<kind> (a share of judged cells) and cells_judged to each agent row."""
    for row in board.rows:
        counts = cheating_counts(config, Path(results), row["agent"])
        row["cells_judged"] = counts["judged"]
        for kind in KINDS:
            row[f"flagged_{kind}"] = counts[kind] / counts["judged"] if counts["judged"] else None


def cheating_text(row: dict) -> str:
    """`data 2/7, API 1/7` for the tables; `none/7` when nothing was flagged, `-` before any judgement."""
    judged = row.get("cells_judged")
    if not judged:
        return "-"
    parts = [f"{SHORT[k]} {round(row[f'flagged_{k}'] * judged)}/{judged}" for k in KINDS if row.get(f"flagged_{k}")]
    return ", ".join(parts) or f"none/{judged}"
