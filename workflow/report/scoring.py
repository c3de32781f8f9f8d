"""PostTrainBench scoring, as upstream defines it.

1. A cell scores its final model's headline metric.
2. A cell whose evaluation failed, whose model is missing or that the judge
   flagged scores the base model's zero-shot result on that benchmark instead;
   the reason is kept.
3. Per benchmark, cell scores are averaged over the base models (per seed);
   seeds give a mean and a standard deviation.
4. The agent's score is the weighted sum of the per-benchmark averages.

The weights are the suite's published ones, or derived from the baselines
this run measured (workflow/suites.py), as `score_weights` chooses; every row
carries its score under both. An extra benchmark outside the suite is
averaged and shown but weighs nothing.

A cell that has not been scored yet (not run, not evaluated, not judged, or
no base score to fall back on) is *pending*. An agent with a pending cell is
incomplete: it gets no overall score rather than an average over fewer cells.

An agent whose matrix leaves out configured models or benchmarks (its
`include`/`exclude`) is a *subset* agent: each left-out cell counts as if the
agent had submitted no model there (rule 2: the base model's score, outcome
"not_run"), so its score stays on the same scale as everyone's and can only
understate it; the leaderboard shows how many cells it ran.
"""

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from workflow.matrix import Cell, agent_cells, agent_entry, enabled_agents
from workflow.paths import JUDGEMENT, METRICS, RUN_RECORD, baseline_dir, cell_dir
from workflow.records import read_json
from workflow.suites import DERIVED, PUBLISHED, derived_weights, scored_benchmarks, suite_of

# Where a cell's score comes from.
OWN_METRIC = "final_model"
BASE_FALLBACK = "base_fallback"
PENDING = "pending"

# A cell's outcome: ok, or why it falls back (or is not scored yet).
FALLBACK_KINDS = ("failed", "missing", "flagged", "unjudged")
NOT_RUN = "not_run"  # a configured cell the agent's include/exclude leaves out
REASON_CHARS = 200

TOKEN_KINDS = ("input", "cached", "output")

AUTONOMOUS = "autonomous"
REPROMPTED = "reprompted"
MIXED = "mixed"  # an agent whose runs disagree: some reprompted, some not
REFERENCE = "reference"


@dataclass
class CellScore:
    cell: Cell
    score: float | None  # None while pending
    source: str  # OWN_METRIC | BASE_FALLBACK | PENDING
    outcome: str  # ok | failed | missing | flagged | unjudged | not_run | pending
    reason: str = ""  # empty when the final model's own metric counts
    seconds: float | None = None  # agent time used (run.json)
    mode: str | None = None  # run.json's mode: autonomous | reprompted
    reprompts: int = 0
    usage: dict | None = None  # run.json's tokens and dollars (None: no CLI trace, or not run)
    gpus: int | None = None  # GPUs the agent's job held

    @property
    def gpu_hours(self) -> float | None:
        return None if self.seconds is None or self.gpus is None else self.seconds * self.gpus / 3600

    @property
    def cost_usd(self) -> float | None:
        return (self.usage or {}).get("cost_usd")

    def tokens(self, kind: str) -> int | None:
        """input | cached | output tokens, None when the run has no token count."""
        return ((self.usage or {}).get("tokens") or {}).get(kind)


def _read(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:REASON_CHARS]


def cell_outcome(metrics: dict | None, judgement: dict | None, unjudged: str = "keep") -> tuple[str, str]:
    """(outcome, reason) of one cell from its metrics and judgement records.

    A flag wins over everything else: a flagged run never counts its metric.
    """
    if judgement and judgement.get("flagged"):
        return "flagged", "flagged: " + "; ".join(judgement.get("reasons") or ["by the judge"])
    if metrics is None:
        return PENDING, "pending: not evaluated yet"
    if judgement is None:
        return PENDING, "pending: not judged yet"
    status = metrics.get("status")
    if status == "missing":
        return "missing", "missing: " + _last_line(metrics.get("reason") or "no final_model")
    if status != "ok":
        return "failed", "failed: " + (_last_line(metrics.get("reason") or "") or "evaluation failed")
    verdict = (judgement.get("llm") or {}).get("verdict")
    if unjudged == "fallback" and verdict in (None, "unjudged"):
        return "unjudged", "unjudged: no judge verdict (judge.unjudged is 'fallback')"
    return "ok", ""


def score_from(cell: Cell, metrics, judgement, run, base: float | None, unjudged: str = "keep") -> CellScore:
    """A cell's score given its records and its base model's zero-shot score."""
    outcome, reason = cell_outcome(metrics, judgement, unjudged)
    extra = {
        "seconds": run.get("seconds") if run else None,
        "mode": run.get("mode") if run else None,
        "reprompts": run.get("reprompts", 0) if run else 0,
        "usage": run.get("usage") if run else None,
        "gpus": run.get("num_gpus") if run else None,
    }
    if outcome == "ok":
        return CellScore(cell, float(metrics["value"]), OWN_METRIC, outcome, "", **extra)
    if outcome == PENDING:
        return CellScore(cell, None, PENDING, outcome, reason, **extra)
    if base is None:
        reason += "; no base zero-shot score to fall back on yet"
        return CellScore(cell, None, PENDING, outcome, reason, **extra)
    return CellScore(cell, base, BASE_FALLBACK, outcome, reason, **extra)


def not_run_score(cell: Cell, base: float | None) -> CellScore:
    """A configured cell the agent's matrix leaves out: scored as a missing model (the base model's score)."""
    reason = "not_run: outside the agent's include/exclude; counted at the base model's zero-shot score"
    if base is None:
        return CellScore(cell, None, PENDING, NOT_RUN, reason + " (not measured yet)")
    return CellScore(cell, base, BASE_FALLBACK, NOT_RUN, reason)


def left_out_cells(config: dict, name: str, ran: list[Cell]) -> list[Cell]:
    """The configured cells (every model x benchmark x seed) that the agent's matrix (`ran`) leaves out."""
    run = set(ran)
    seeds = agent_entry(config, name).get("seeds") or config.get("seeds", [1])
    grid = [Cell(name, m, b, s) for m in config["models"] for b in config["benchmarks"] for s in seeds]
    return [c for c in grid if c not in run]


def baseline_value(results: Path, kind: str, model: str, benchmark: str) -> float | None:
    metrics = _read(baseline_dir(results, kind, model, benchmark) / METRICS)
    return float(metrics["value"]) if metrics and metrics.get("status") == "ok" else None


def baseline_values(config: dict, results: Path, kind: str) -> dict[tuple[str, str], float | None]:
    """(model, benchmark) -> the model's score, for base zero-shot or official instruct."""
    return {
        (model, bench): baseline_value(results, kind, model, bench) if refs.get(kind) else None
        for model, refs in config["models"].items()
        for bench in config["benchmarks"]
    }


def score_cell(results: Path, cell: Cell, base: float | None, unjudged: str = "keep") -> CellScore:
    folder = cell_dir(results, cell)
    metrics, judgement, run = (_read(folder / name) for name in (METRICS, JUDGEMENT, RUN_RECORD))
    return score_from(cell, metrics, judgement, run, base, unjudged)


def weights_of(config: dict) -> dict[str, float]:
    """The published (or, under `suite: custom`, the configured) weights of the scored benchmarks."""
    return {b: float(config["benchmarks"][b]["weight"]) for b in scored_benchmarks(config)}


def weighted_sum(per_benchmark: dict[str, float], weights: dict[str, float]) -> float:
    """The agent's score: sum over benchmarks of weight x per-benchmark average."""
    missing = set(weights) - set(per_benchmark)
    if missing:
        raise ValueError(f"no average for benchmark(s) {', '.join(sorted(missing))}")
    return sum(weights[b] * per_benchmark[b] for b in weights)


def _std(values: list[float]) -> float | None:
    """Sample standard deviation across seeds; None with a single seed."""
    return statistics.stdev(values) if len(values) > 1 else None


@dataclass
class BenchmarkSummary:
    mean: float | None  # None unless every model x seed cell is scored
    std: float | None  # across seeds
    per_seed: dict[int, float] = field(default_factory=dict)
    per_model: dict[str, float] = field(default_factory=dict)  # mean over seeds, scored models only
    fallbacks: int = 0


def summarize(
    scores: list[CellScore],
    models: list[str],
    weights: dict[str, float] | None,
    seeds: list[int],
    benchmarks: list[str] | None = None,
) -> tuple[dict, dict[str, BenchmarkSummary]]:
    """Per-benchmark averages over models, per seed, and the weighted totals.

    Only a benchmark whose every (model, seed) cell is scored gets an average;
    only a seed whose every weighted benchmark has one gets a total (none
    while the weights are unknown). `benchmarks` adds unweighted ones.
    """
    by_key = {(s.cell.model, s.cell.benchmark, s.cell.seed): s for s in scores}
    benches: dict[str, BenchmarkSummary] = {}
    for bench in dict.fromkeys([*(weights or {}), *(benchmarks or [])]):
        summary = BenchmarkSummary(None, None)
        for seed in seeds:
            cells = [by_key.get((m, bench, seed)) for m in models]
            if all(c is not None and c.score is not None for c in cells):
                summary.per_seed[seed] = statistics.mean(c.score for c in cells)
        for model in models:
            got = [by_key[k].score for k in ((model, bench, s) for s in seeds) if k in by_key]
            got = [v for v in got if v is not None]
            if got:
                summary.per_model[model] = statistics.mean(got)
        summary.fallbacks = sum(1 for s in scores if s.cell.benchmark == bench and s.source == BASE_FALLBACK)
        if len(summary.per_seed) == len(seeds):
            values = [summary.per_seed[s] for s in seeds]
            summary.mean, summary.std = statistics.mean(values), _std(values)
        benches[bench] = summary
    return totals_under(benches, seeds, weights), benches


def totals_under(benches: dict[str, BenchmarkSummary], seeds: list[int], weights: dict[str, float] | None) -> dict:
    """Seed -> weighted sum of that seed's per-benchmark averages, for the seeds that have them all."""
    if not weights:
        return {}
    return {
        seed: weighted_sum({b: benches[b].per_seed[seed] for b in weights}, weights)
        for seed in seeds
        if all(seed in benches[b].per_seed for b in weights)
    }


def _score_of(totals: dict, seeds: list[int]) -> float | None:
    return statistics.mean(totals.values()) if totals and len(totals) == len(seeds) else None


def agent_mode(config_reprompt: bool, run_modes: list[str | None]) -> str:
    """Reprompted or autonomous: what the runs recorded, else what the config asks."""
    recorded = {m for m in run_modes if m}
    if not recorded:
        return REPROMPTED if config_reprompt else AUTONOMOUS
    return recorded.pop() if len(recorded) == 1 else MIXED


def usage_totals(scores: list[CellScore], default_gpus: int) -> dict:
    """An agent's tokens, dollars and GPU hours over its runs so far.

    Dollars add up the runs that have a figure (`cost_runs` of `runs`); a run
    without a trace parser or a price has none, so a partial sum is marked.
    """
    ran = [s for s in scores if s.seconds is not None]
    counted = [s for s in ran if s.tokens("input") is not None]
    costs = [s.cost_usd for s in ran if s.cost_usd is not None]
    gpu = [s.gpu_hours if s.gpus is not None else s.seconds * default_gpus / 3600 for s in ran]
    totals = {f"{k}_tokens": sum(s.tokens(k) or 0 for s in counted) if counted else None for k in TOKEN_KINDS}
    return {
        "runs": len(ran),
        **totals,
        "cost_usd": sum(costs) if costs else None,
        "cost_runs": len(costs),
        "cost_per_run": statistics.mean(costs) if costs else None,
        "gpu_hours": sum(gpu) if ran else 0.0,
    }


def agent_row(config: dict, name: str, scores: list[CellScore], weight_sets: dict | None = None) -> dict:
    """One leaderboard row. Incomplete agents get no overall score.

    weight_sets: published and derived weights (None where unknown); the score
    uses the set `score_weights` names. Default: the published ones only.
    """
    agent = agent_entry(config, name)
    weight_sets = weight_sets or {PUBLISHED: weights_of(config), DERIVED: None}
    weights = weight_sets[score_weights_of(config)]
    models = list(config["models"])
    seeds = list(agent.get("seeds") or config.get("seeds", [1]))
    totals, benches = summarize(scores, models, weights, seeds, list(config["benchmarks"]))
    expected = len(models) * len(config["benchmarks"]) * len(seeds)
    ran = [s for s in scores if s.outcome != NOT_RUN]
    scored = sum(1 for s in ran if s.score is not None)
    complete = len(totals) == len(seeds)
    spent = [s.seconds for s in scores if s.seconds is not None]
    outcomes = Counter(s.outcome for s in scores)
    row = {
        "agent": name,
        "agent_base": agent["agent"],  # the configured agent (one of its budgets when it lists several)
        "budget_hours": agent["hours"],
        "suite": suite_of(config),
        "scaffold": agent.get("scaffold"),
        "agent_model": agent.get("model"),
        "mode": agent_mode(bool(agent.get("reprompt")), [s.mode for s in scores]),
        "complete": complete,
        "score": statistics.mean(totals.values()) if complete else None,
        "std": _std(list(totals.values())) if complete else None,
        "seeds": len(seeds),
        "cells": expected,
        "cells_run": len(ran),  # fewer than `cells` for a subset agent; the rest count at base
        "cells_scored": scored,
        "fallbacks": sum(1 for s in ran if s.source == BASE_FALLBACK),
        **{f"n_{kind}": outcomes.get(kind, 0) for kind in FALLBACK_KINDS},
        "hours_mean": statistics.mean(spent) / 3600 if spent else None,
        "agent_hours": sum(spent) / 3600 if spent else 0.0,
        "reprompts": sum(s.reprompts for s in scores),
        **usage_totals(scores, agent.get("num_gpus", 1)),
    }
    for kind, kind_weights in weight_sets.items():
        row[f"score_{kind}"] = _score_of(totals_under(benches, seeds, kind_weights), seeds)
    for bench, summary in benches.items():
        row[bench] = summary.mean
        row[f"{bench}_std"] = summary.std
    row["_benchmarks"] = benches
    row["_totals"] = totals
    return row


def score_weights_of(config: dict) -> str:
    return config.get("score_weights") or PUBLISHED


def reference_row(
    config: dict, values: dict[tuple[str, str], float | None], kind: str, weight_sets: dict | None = None
) -> dict:
    """Base zero-shot or official instruct: per benchmark, the mean over models."""
    weight_sets = weight_sets or {PUBLISHED: weights_of(config), DERIVED: None}
    weights = weight_sets[score_weights_of(config)]
    models = list(config["models"])
    per_bench = {}
    for bench in config["benchmarks"]:
        got = [values.get((m, bench)) for m in models]
        if all(v is not None for v in got):
            per_bench[bench] = statistics.mean(got)

    def score_with(w: dict | None) -> float | None:
        return weighted_sum(per_bench, w) if w and all(b in per_bench for b in w) else None

    score = score_with(weights)
    return {
        "agent": "Base models (zero-shot)" if kind == "base" else "Official instruct models",
        "suite": suite_of(config),
        "scaffold": None,
        "agent_model": None,
        "mode": REFERENCE,
        "reference": kind,
        "complete": score is not None,
        "score": score,
        "std": None,
        "seeds": None,
        **{f"score_{k}": score_with(w) for k, w in weight_sets.items()},
        **{b: per_bench.get(b) for b in config["benchmarks"]},
        "_per_model": {k: v for k, v in values.items() if v is not None},
    }


def section_of(row: dict) -> str:
    """Autonomous and reprompted agents are ranked apart (upstream reports them separately)."""
    if row["mode"] == REFERENCE:
        return REFERENCE
    return AUTONOMOUS if row["mode"] == AUTONOMOUS else REPROMPTED


def rank_rows(rows: list[dict]) -> list[dict]:
    """Complete agents ranked by score within their section, incomplete ones after, unranked."""
    ordered = []
    for section in (AUTONOMOUS, REPROMPTED):
        members = [r for r in rows if section_of(r) == section]
        done = sorted((r for r in members if r["complete"]), key=lambda r: -r["score"])
        for rank, row in enumerate(done, start=1):
            row["rank"] = rank
        rest = sorted((r for r in members if not r["complete"]), key=lambda r: r["agent"])
        for row in rest:
            row["rank"] = None
        ordered += done + rest
    return ordered


@dataclass
class Leaderboard:
    benchmarks: list[str]  # the suite's, then extra ones (weight 0)
    weights: dict[str, float]  # the weights the scores use (empty while derived ones are unknown)
    models: list[str]
    rows: list[dict]  # agents, ranked within their section
    references: list[dict]  # base zero-shot, official instruct
    cells: list[CellScore]
    suite: str = "custom"
    score_weights: str = PUBLISHED  # which weights the scores use
    weight_sets: dict = field(default_factory=dict)  # published / derived -> weights (derived: None until measured)

    @property
    def extras(self) -> list[str]:
        """Benchmarks shown beside the suite's that weigh nothing."""
        scored = set(self.weight_sets.get(PUBLISHED) or self.weights)
        return [b for b in self.benchmarks if b not in scored]

    @property
    def all_rows(self) -> list[dict]:
        return self.rows + self.references


def leaderboard(config: dict, results: Path) -> Leaderboard:
    results = Path(results)
    unjudged = config.get("judge", {}).get("unjudged", "keep")
    base = baseline_values(config, results, "base")
    instruct = baseline_values(config, results, "instruct")
    sets = weight_sets(config, base, instruct)
    rows, cells = [], []
    for name in enabled_agents(config):
        ran = agent_cells(config, name)
        scores = [score_cell(results, c, base.get((c.model, c.benchmark)), unjudged) for c in ran]
        left_out = [not_run_score(c, base.get((c.model, c.benchmark))) for c in left_out_cells(config, name, ran)]
        rows.append(agent_row(config, name, scores + left_out, sets))
        cells += scores
    return Leaderboard(
        benchmarks=list(config["benchmarks"]),
        weights=sets[score_weights_of(config)] or {},
        models=list(config["models"]),
        rows=rank_rows(rows),
        references=[reference_row(config, base, "base", sets), reference_row(config, instruct, "instruct", sets)],
        cells=cells,
        suite=suite_of(config),
        score_weights=score_weights_of(config),
        weight_sets=sets,
    )


def weight_sets(config: dict, base: dict, instruct: dict) -> dict[str, dict[str, float] | None]:
    """The suite's published weights and those derived from this run's baselines (None until all are measured)."""
    published = weights_of(config)
    return {
        PUBLISHED: published,
        DERIVED: derived_weights(base, instruct, list(published), list(config["models"])),
    }
