"""Scoring as upstream defines it: fallbacks, seeds, weighted sums, partial matrices."""

import math
import statistics

import pytest

from tests.report.synthetic import Tree, make_config
from workflow.config import REPO, load_config
from workflow.report.scoring import leaderboard, weighted_sum

# Upstream's published leaderboard (aisa-group/PostTrainBench README, "Leaderboard",
# 7 benchmarks x 4 models, in %): Avg, then the per-benchmark columns in the
# order of config/config.yaml (aime2025, arenahardwriting, bfcl, gpqamain,
# gsm8k, healthbench, humaneval).
PUBLISHED = {
    "Official Instruct Models": (51.1, [29.2, 70.2, 85.0, 36.2, 87.0, 43.3, 71.5]),
    "Opus 4.6": (23.2, [5.0, 7.8, 75.9, 25.5, 41.0, 18.8, 24.7]),
    "Gemini 3.1 Pro": (21.6, [3.9, 7.4, 62.8, 18.5, 45.5, 14.5, 40.2]),
    "GPT-5.2": (21.4, [0.8, 6.6, 52.5, 23.7, 55.9, 15.8, 30.2]),
    "GPT 5.4": (20.2, [0.6, 10.1, 31.1, 28.0, 48.2, 17.3, 27.3]),
    "GPT 5.1 Codex Max": (19.7, [0.6, 4.0, 30.8, 24.0, 51.6, 17.8, 32.0]),
    "Gemini 3 Pro": (18.1, [1.7, 6.3, 42.3, 21.2, 39.1, 17.3, 22.7]),
    "GPT 5.3 Codex": (17.8, [0.6, 2.4, 45.5, 27.7, 33.1, 8.9, 29.1]),
    "GPT 5.2 Codex": (17.2, [0.3, 2.5, 45.2, 24.1, 37.6, 11.5, 23.8]),
    "Opus 4.5": (17.1, [2.2, 3.8, 61.7, 19.0, 28.5, 8.9, 29.3]),
    "Sonnet 4.6": (16.4, [3.3, 10.2, 23.8, 13.8, 25.7, 16.2, 42.4]),
    "GLM 5": (13.9, [0.8, 4.2, 21.5, 15.2, 40.3, 14.6, 17.4]),
    "Sonnet 4.5": (9.9, [0.8, 1.0, 1.8, 14.6, 30.9, 5.0, 23.0]),
    "Base Models": (7.5, [1.7, 1.3, 1.5, 8.5, 20.4, 9.5, 12.8]),
}
# Each published column is rounded to 0.05 and the weights sum to 1, so the
# weighted sum of the rounded columns is within 0.05 of the true score, which
# itself is within 0.05 of the published Avg.
ROUNDING = 0.1 + 1e-9
# Four models' scores spread around a per-benchmark mean (the spread averages to zero).
SPREAD = (-0.5, -0.25, 0.25, 0.5)


def real_config() -> dict:
    return load_config(REPO / "config" / "config.yaml")


def test_published_avg_column_is_the_weighted_sum_of_the_benchmark_columns():
    config = real_config()
    weights = {b: v["weight"] for b, v in config["benchmarks"].items()}
    assert math.isclose(sum(weights.values()), 1.0, abs_tol=1e-9)
    for name, (avg, columns) in PUBLISHED.items():
        total = weighted_sum(dict(zip(weights, columns, strict=True)), weights)
        assert abs(total - avg) <= ROUNDING, f"{name}: weighted sum {total:.3f} vs published {avg}"
    # The reference rows of FACTS.md.
    assert round(weighted_sum(dict(zip(weights, PUBLISHED["Base Models"][1], strict=True)), weights), 1) == 7.5
    ref = weighted_sum(dict(zip(weights, PUBLISHED["Official Instruct Models"][1], strict=True)), weights)
    assert round(ref, 1) == 51.1


def test_an_unweighted_mean_would_not_reproduce_the_published_column():
    """Guards the test above: the weights matter, a plain mean is off."""
    misses = [abs(statistics.mean(cols) - avg) > ROUNDING for avg, cols in PUBLISHED.values()]
    assert sum(misses) >= len(PUBLISHED) - 1


@pytest.mark.parametrize("agent", ["Opus 4.6", "GPT 5.1 Codex Max", "Sonnet 4.5"])
def test_leaderboard_from_cells_reproduces_published_rows(tmp_path, agent):
    """From per-model cells on disk to the published Avg, reference rows included."""
    real = real_config()
    config = make_config({"a": {}}, models=list(real["models"]),
                         benchmarks={b: v["weight"] for b, v in real["benchmarks"].items()})  # fmt: skip
    tree = Tree(tmp_path, config)
    benches = list(config["benchmarks"])
    for kind, row in (("base", "Base Models"), ("instruct", "Official Instruct Models")):
        for bench, value in zip(benches, PUBLISHED[row][1], strict=True):
            for model, d in zip(config["models"], SPREAD, strict=True):
                tree.baseline(kind, model, bench, value / 100 * (1 + d))
    for bench, value in zip(benches, PUBLISHED[agent][1], strict=True):
        for model, d in zip(config["models"], SPREAD, strict=True):
            tree.cell("a", model, bench, value=value / 100 * (1 + d))
    board = leaderboard(config, tmp_path / "results")
    (row,) = board.rows
    assert row["complete"] and row["cells"] == 28 and row["fallbacks"] == 0
    assert abs(100 * row["score"] - PUBLISHED[agent][0]) <= ROUNDING
    base, instruct = board.references
    assert abs(100 * base["score"] - 7.5) <= ROUNDING
    assert abs(100 * instruct["score"] - 51.1) <= ROUNDING
    for bench, value in zip(benches, PUBLISHED[agent][1], strict=True):
        assert row[bench] == pytest.approx(value / 100)


BASE = {("m1", "b1"): 0.10, ("m2", "b1"): 0.20, ("m1", "b2"): 0.30, ("m2", "b2"): 0.40}
INSTRUCT = {("m1", "b1"): 0.60, ("m2", "b1"): 0.70, ("m1", "b2"): 0.80, ("m2", "b2"): 0.90}


def full_tree(tmp_path, config, values: dict, overrides: dict | None = None) -> Tree:
    """Every cell of every agent finished, with values[(agent, model, bench, seed)] or 0.5;
    overrides[(agent, model, bench, seed)]: keyword arguments for that cell."""
    tree = Tree(tmp_path, config)
    tree.baselines(BASE, INSTRUCT)
    for agent, spec in config["agents"].items():
        for model in config["models"]:
            for bench in config["benchmarks"]:
                for seed in spec.get("seeds") or config["seeds"]:
                    kwargs = (overrides or {}).get((agent, model, bench, seed), {})
                    tree.cell(agent, model, bench, seed, value=values.get((agent, model, bench, seed), 0.5), **kwargs)
    return tree


def test_weighted_sum_of_model_means(tmp_path):
    config = make_config({"a": {}})
    values = {
        ("a", "m1", "b1", 1): 0.2,
        ("a", "m2", "b1", 1): 0.4,
        ("a", "m1", "b2", 1): 0.9,
        ("a", "m2", "b2", 1): 0.7,
    }
    full_tree(tmp_path, config, values)
    (row,) = leaderboard(config, tmp_path / "results").rows
    assert row["b1"] == pytest.approx(0.3) and row["b2"] == pytest.approx(0.8)
    assert row["score"] == pytest.approx(0.6 * 0.3 + 0.4 * 0.8)
    assert row["std"] is None and row["rank"] == 1 and row["complete"]


@pytest.mark.parametrize(
    ("kwargs", "outcome", "reason_start"),
    [
        ({"status": "failed", "reason": "Traceback ...\nRuntimeError: OOM"}, "failed", "failed: RuntimeError: OOM"),
        ({"status": "missing", "reason": "no model at job/final_model"}, "missing", "missing: no model at"),
        ({"flagged": True, "reasons": ["contamination: test questions"]}, "flagged", "flagged: contamination"),
    ],
)  # fmt: skip
def test_fallback_cells_score_the_base_model(tmp_path, kwargs, outcome, reason_start):
    config = make_config({"a": {}})
    # The fallback cell's own metric is high: it must not count.
    full_tree(tmp_path, config, {("a", "m2", "b1", 1): 0.99}, {("a", "m2", "b1", 1): kwargs})
    board = leaderboard(config, tmp_path / "results")
    cell = next(c for c in board.cells if c.cell.model == "m2" and c.cell.benchmark == "b1")
    assert cell.outcome == outcome and cell.source == "base_fallback"
    assert cell.reason.startswith(reason_start)
    assert cell.score == BASE[("m2", "b1")]
    (row,) = board.rows
    assert row["b1"] == pytest.approx((0.5 + BASE[("m2", "b1")]) / 2)
    assert row["fallbacks"] == 1 and row[f"n_{outcome}"] == 1 and row["complete"]


def test_unjudged_cells_fall_back_only_when_configured(tmp_path):
    for policy, expected in (("keep", 0.9), ("fallback", BASE[("m1", "b1")])):
        config = make_config({"a": {}}, unjudged=policy)
        full_tree(tmp_path / policy, config, {("a", "m1", "b1", 1): 0.9},
                  {("a", "m1", "b1", 1): {"verdict": "unjudged"}})  # fmt: skip
        board = leaderboard(config, tmp_path / policy / "results")
        cell = next(c for c in board.cells if c.cell.model == "m1" and c.cell.benchmark == "b1")
        assert cell.score == expected


def test_seeds_mean_and_sample_std(tmp_path):
    config = make_config({"a": {}}, seeds=(1, 2, 3))
    per_seed = {1: 0.2, 2: 0.4, 3: 0.9}
    values = {("a", m, b, s): v for s, v in per_seed.items() for m in ("m1", "m2") for b in ("b1", "b2")}
    values[("a", "m1", "b2", 3)] = 0.5  # seed 3: b2 = (0.5 + 0.9) / 2
    full_tree(tmp_path, config, values)
    (row,) = leaderboard(config, tmp_path / "results").rows
    totals = [0.2, 0.4, 0.6 * 0.9 + 0.4 * 0.7]
    assert row["score"] == pytest.approx(sum(totals) / 3)
    assert row["std"] == pytest.approx(statistics.stdev(totals))
    assert row["b2_std"] == pytest.approx(statistics.stdev([0.2, 0.4, 0.7]))
    assert row["seeds"] == 3 and row["cells"] == 12


def test_partial_matrix_is_incomplete_not_averaged_over_fewer_cells(tmp_path):
    config = make_config({"full": {}, "partial": {}})
    tree = full_tree(tmp_path, config, {})
    # partial: one cell never evaluated (its agent ran), another never started.
    (tree.folder("partial", "m1", "b1") / "metrics.json").unlink()
    for name in ("run.json", "judgement.json", "metrics.json"):
        (tree.folder("partial", "m2", "b1") / name).unlink()
    board = leaderboard(config, tmp_path / "results")
    full, partial = board.rows
    assert full["agent"] == "full" and full["rank"] == 1
    assert partial["complete"] is False and partial["score"] is None and partial["rank"] is None
    assert partial["b1"] is None and partial["b2"] == pytest.approx(0.5)
    assert partial["cells_scored"] == 2 and partial["cells"] == 4
    pending = [c for c in board.cells if c.cell.agent == "partial" and c.source == "pending"]
    assert {c.reason for c in pending} == {"pending: not evaluated yet"}


def test_a_subset_agent_counts_its_left_out_cells_at_the_base_score(tmp_path):
    config = make_config({"a": {"include": {"models": ["m1"]}}})
    full_tree(tmp_path, config, {})
    tree = Tree(tmp_path, config)
    for bench in ("b1", "b2"):
        tree.cell("a", "m1", bench, value=0.5)
    board = leaderboard(config, tmp_path / "results")
    (row,) = board.rows
    assert row["cells"] == 4 and row["cells_run"] == 2 and row["cells_scored"] == 2
    # m2 was never run: it scores its base model's zero-shot result, as a missing model would.
    assert row["b1"] == pytest.approx((0.5 + BASE[("m2", "b1")]) / 2)
    assert row["b2"] == pytest.approx((0.5 + BASE[("m2", "b2")]) / 2)
    assert row["complete"] and row["score"] == pytest.approx(0.6 * row["b1"] + 0.4 * row["b2"])
    assert row["fallbacks"] == 0  # fallbacks count the cells it ran
    assert {(c.cell.model, c.outcome) for c in board.cells} == {("m1", "ok")}  # cells.csv: what ran


def test_a_subset_agent_stays_incomplete_until_the_base_scores_exist(tmp_path):
    config = make_config({"a": {"include": {"models": ["m1"]}}})
    tree = full_tree(tmp_path, config, {})
    (tree.results / "baselines/base/m2/b1/metrics.json").unlink()
    (row,) = leaderboard(config, tmp_path / "results").rows
    assert row["cells_run"] == 2 and not row["complete"] and row["score"] is None and row["b1"] is None


def test_fallback_without_a_base_score_is_pending(tmp_path):
    config = make_config({"a": {}})
    tree = full_tree(tmp_path, config, {}, {("a", "m1", "b1", 1): {"status": "failed", "reason": "boom"}})
    (tree.results / "baselines/base/m1/b1/metrics.json").unlink()
    board = leaderboard(config, tmp_path / "results")
    (row,) = board.rows
    assert not row["complete"] and row["score"] is None
    cell = next(c for c in board.cells if c.cell.model == "m1" and c.cell.benchmark == "b1")
    assert cell.source == "pending" and "no base zero-shot score" in cell.reason
    assert board.references[0]["score"] is None


def test_flag_wins_even_before_evaluation(tmp_path):
    config = make_config({"a": {}})
    tree = full_tree(tmp_path, config, {}, {("a", "m1", "b1", 1): {"flagged": True, "reasons": ["disallowed model"]}})
    (tree.folder("a", "m1", "b1") / "metrics.json").unlink()
    board = leaderboard(config, tmp_path / "results")
    cell = next(c for c in board.cells if c.cell.model == "m1" and c.cell.benchmark == "b1")
    assert cell.outcome == "flagged" and cell.score == BASE[("m1", "b1")]


def test_reprompted_agents_ranked_apart(tmp_path):
    config = make_config({"auto": {}, "by-config": {"reprompt": True}, "by-record": {}})
    values = {("by-config", m, b, 1): 0.9 for m in ("m1", "m2") for b in ("b1", "b2")}
    kwargs = {("by-record", m, b, 1): {"mode": "reprompted"} for m in ("m1", "m2") for b in ("b1", "b2")}
    full_tree(tmp_path, config, values, kwargs)
    # by-config's run records say autonomous (the records win): make them agree with the config.
    tree = Tree(tmp_path, config)
    for m in ("m1", "m2"):
        for b in ("b1", "b2"):
            tree.run("by-config", m, b, mode="reprompted", reprompts=2)
    board = leaderboard(config, tmp_path / "results")
    modes = {r["agent"]: (r["mode"], r["rank"]) for r in board.rows}
    assert modes == {"auto": ("autonomous", 1), "by-config": ("reprompted", 1), "by-record": ("reprompted", 2)}
    assert [r["agent"] for r in board.rows][0] == "auto"  # the autonomous section comes first
    assert next(r for r in board.rows if r["agent"] == "by-config")["reprompts"] == 8


def test_mixed_run_modes_are_not_ranked_as_autonomous(tmp_path):
    config = make_config({"a": {}})
    full_tree(tmp_path, config, {}, {("a", "m1", "b1", 1): {"mode": "reprompted"}})
    (row,) = leaderboard(config, tmp_path / "results").rows
    assert row["mode"] == "mixed"


def test_time_used_per_agent(tmp_path):
    config = make_config({"a": {}})
    secs = {("a", "m1", "b1", 1): 3600, ("a", "m2", "b1", 1): 7200, ("a", "m1", "b2", 1): 1800, ("a", "m2", "b2", 1): 0}
    full_tree(tmp_path, config, {}, {k: {"seconds": v} for k, v in secs.items()})
    (row,) = leaderboard(config, tmp_path / "results").rows
    assert row["agent_hours"] == pytest.approx(12600 / 3600)
    assert row["hours_mean"] == pytest.approx(12600 / 3600 / 4)


def test_reference_rows(tmp_path):
    config = make_config({"a": {}})
    full_tree(tmp_path, config, {})
    base, instruct = leaderboard(config, tmp_path / "results").references
    assert base["b1"] == pytest.approx(0.15) and base["score"] == pytest.approx(0.6 * 0.15 + 0.4 * 0.35)
    assert instruct["score"] == pytest.approx(0.6 * 0.65 + 0.4 * 0.85)
    config["models"]["m2"]["instruct"] = None  # a model without an official instruct model
    instruct = leaderboard(config, tmp_path / "results").references[1]
    assert not instruct["complete"] and instruct["score"] is None


def test_weighted_sum_refuses_missing_benchmarks():
    with pytest.raises(ValueError, match="b2"):
        weighted_sum({"b1": 0.5}, {"b1": 0.5, "b2": 0.5})
