"""Leaderboard files: CSV for machines, Markdown for people."""

import csv
from pathlib import Path

from workflow.scoring import CellScore

FIXED_COLUMNS = ["agent", "mode", "score", "std", "seeds", "complete", "fallbacks", "cells", "hours_used"]


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{100 * value:.1f}" if value <= 1 else f"{value:.2f}"
    return str(value)


def write_csv(rows: list[dict], benchmarks: list[str], path: Path) -> None:
    columns = FIXED_COLUMNS + benchmarks
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def markdown(rows: list[dict], benchmarks: list[str], cells: list[CellScore]) -> str:
    head = ["agent", "mode", "score", "± std", *benchmarks, "complete", "fallbacks", "hours used"]
    keys = ["agent", "mode", "score", "std", *benchmarks, "complete", "fallbacks", "hours_used"]
    lines = [
        "# PostTrainBench leaderboard",
        "",
        "Scores in % (weighted over benchmarks; a cell that failed, is missing or was flagged",
        "scores its base model's zero-shot result).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        vals = [_fmt(row.get(k)) for k in keys]
        if row.get("hours_used") is not None:
            vals[-1] = f"{row['hours_used']:.2f}"
        lines.append("| " + " | ".join(vals) + " |")
    fallbacks = [c for c in cells if c.reason]
    if fallbacks:
        lines += ["", "## Cells scored with the base model's result", "", "| cell | reason |", "|---|---|"]
        lines += [f"| {c.cell.key} | {c.reason} |" for c in fallbacks]
    return "\n".join(lines) + "\n"


def write_cells_csv(cells: list[CellScore], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["agent", "model", "benchmark", "seed", "score", "source", "reason", "seconds"])
        for c in cells:
            writer.writerow(
                [c.cell.agent, c.cell.model, c.cell.benchmark, c.cell.seed, c.score, c.source, c.reason, c.seconds]
            )
