"""PostTrainBench scoring: cell scores with fallbacks, weighted agent scores.

A cell scores its final model's metric, unless the evaluation failed, the
model is missing or the judge flagged the run: then it scores the base
model's zero-shot result on that benchmark, and the reason is kept.
Per benchmark the cells are averaged over base models (per seed), the
agent's score is the weighted sum, and seeds give a mean and a std.
"""

import statistics
from dataclasses import dataclass
from pathlib import Path

from workflow.matrix import Cell, agent_cells, enabled_agents
from workflow.paths import JUDGEMENT, METRICS, RUN_RECORD, baseline_dir, cell_dir
from workflow.records import read_json


@dataclass
class CellScore:
    cell: Cell
    score: float
    source: str  # final_model | base_fallback
    reason: str  # empty when the final model's own metric counts
    seconds: float | None


def _read(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def baseline_value(results: Path, kind: str, model: str, benchmark: str) -> float | None:
    metrics = _read(baseline_dir(results, kind, model, benchmark) / METRICS)
    return metrics["value"] if metrics and metrics["status"] == "ok" else None


def fallback_reason(metrics: dict | None, judgement: dict | None, unjudged: str) -> str:
    """Why a cell does not count its own metric ('' when it does)."""
    if metrics is None:
        return "missing: not evaluated"
    if judgement and judgement.get("flagged"):
        return "flagged: " + "; ".join(judgement["reasons"])
    if metrics["status"] == "missing":
        return "missing: no final_model"
    if metrics["status"] != "ok":
        return "failed: " + metrics.get("reason", "evaluation failed").strip().splitlines()[-1][:200]
    if unjudged == "fallback" and (judgement is None or judgement["llm"]["verdict"] == "unjudged"):
        return "unjudged"
    return ""


def score_cell(results: Path, cell: Cell, unjudged: str = "keep") -> CellScore:
    folder = cell_dir(results, cell)
    metrics, judgement, run = (_read(folder / f) for f in (METRICS, JUDGEMENT, RUN_RECORD))
    reason = fallback_reason(metrics, judgement, unjudged)
    seconds = run["seconds"] if run else None
    if not reason:
        return CellScore(cell, metrics["value"], "final_model", "", seconds)
    base = baseline_value(results, "base", cell.model, cell.benchmark)
    return CellScore(cell, base if base is not None else 0.0, "base_fallback", reason, seconds)


def weighted(per_benchmark: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights[b] * v for b, v in per_benchmark.items())


def agent_row(config: dict, results: Path, agent: str) -> tuple[dict, list[CellScore]]:
    weights = {b: v["weight"] for b, v in config["benchmarks"].items()}
    scores = [score_cell(results, c, config["judge"]["unjudged"]) for c in agent_cells(config, agent)]
    seeds = sorted({s.cell.seed for s in scores})
    benches = sorted({s.cell.benchmark for s in scores})
    # per seed: benchmark -> mean over base models
    by_seed = {
        seed: {
            b: statistics.mean(s.score for s in scores if s.cell.seed == seed and s.cell.benchmark == b)
            for b in benches
        }
        for seed in seeds
    }
    totals = [weighted(v, weights) for v in by_seed.values()]
    complete = set(benches) == set(weights) and len({s.cell.model for s in scores}) == len(config["models"])
    spent = [s.seconds for s in scores if s.seconds is not None]
    row = {
        "agent": agent,
        "mode": "reprompted" if config["agents"][agent].get("reprompt") else "autonomous",
        "score": statistics.mean(totals),
        "std": statistics.stdev(totals) if len(totals) > 1 else 0.0,
        "seeds": len(seeds),
        "complete": complete,
        "fallbacks": sum(s.source == "base_fallback" for s in scores),
        "cells": len(scores),
        "hours_used": sum(spent) / 3600 / max(len(spent), 1),
        **{b: statistics.mean(v[b] for v in by_seed.values()) for b in benches},
    }
    return row, scores


def reference_row(config: dict, results: Path, kind: str) -> dict:
    """Base zero-shot or official instruct: per benchmark, mean over models."""
    weights = {b: v["weight"] for b, v in config["benchmarks"].items()}
    per_bench = {}
    for b in weights:
        values = [baseline_value(results, kind, m, b) for m, refs in config["models"].items() if refs.get(kind)]
        values = [v for v in values if v is not None]
        if values:
            per_bench[b] = statistics.mean(values)
    return {
        "agent": f"{kind} model ({'zero-shot' if kind == 'base' else 'official'})",
        "mode": "reference",
        "score": weighted(per_bench, weights) if len(per_bench) == len(weights) else None,
        "complete": len(per_bench) == len(weights),
        **per_bench,
    }


def leaderboard(config: dict, results: Path) -> tuple[list[dict], list[CellScore]]:
    rows, cells = [], []
    for agent in enabled_agents(config):
        row, scores = agent_row(config, results, agent)
        rows.append(row)
        cells += scores
    rows.sort(key=lambda r: (r["mode"], -r["score"]))
    rows += [reference_row(config, results, k) for k in ("base", "instruct")]
    return rows, cells
