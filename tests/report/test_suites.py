"""Suites v1.0 and v1.2: the published leaderboards and weights, reproduced by our aggregation.

The data files beside this test are upstream's published figures (copied from
the project's shared facts): leaderboard_v1.0.tsv and leaderboard_v1.2.tsv
(per-benchmark means over the four models, in %, and the Avg column) and
baselines_upstream.tsv (each model's base zero-shot and official instruct
scores). They go through the same code as a real run: cells and baselines
written as the stages write them, then `leaderboard()`.
"""

import copy
import csv
from pathlib import Path

import pytest
import yaml

from tests.report.synthetic import Tree
from workflow.config import REPO, ConfigError, check_config, load_config
from workflow.report.scoring import leaderboard, weighted_sum
from workflow.report.tables import markdown
from workflow.suites import SUITES, derived_weights, published_weights, resolve_suite

DATA = Path(__file__).parent / "data"
MODELS = ["Qwen3-1.7B-Base", "Qwen3-4B-Base", "SmolLM3-3B-Base", "gemma-3-4b-pt"]
# Four models' scores spread around a per-benchmark mean (the spread averages to zero).
SPREAD = (-0.5, -0.25, 0.25, 0.5)
V10_TOLERANCE = 0.1  # v1.0's columns are rounded to 0.1
V12_TOLERANCE = 0.02  # v1.2's to 0.01


def read_tsv(name: str) -> list[dict]:
    lines = [line for line in (DATA / name).read_text().splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def published_rows(name: str, benchmarks: list[str]) -> dict[str, tuple[float, dict[str, float]]]:
    """agent -> (published Avg, benchmark -> column), in %."""
    return {r["agent"]: (float(r["avg"]), {b: float(r[b]) for b in benchmarks}) for r in read_tsv(name)}


def upstream_baselines() -> tuple[dict, dict]:
    """(base model, benchmark) -> fraction, for base zero-shot and its official instruct model.

    The file lists the four base models, then their instruct models in the same order.
    """
    rows = read_tsv("baselines_upstream.tsv")
    kinds = {kind: [r for r in rows if r["kind"] == kind] for kind in ("base", "instruct")}
    assert [r["model"] for r in kinds["base"]] == MODELS and len(kinds["instruct"]) == len(MODELS)
    values = {kind: {} for kind in kinds}
    for kind, listed in kinds.items():
        for model, row in zip(MODELS, listed, strict=True):
            for bench in SUITES["v1.0"]["weights"]:
                values[kind][(model, bench)] = float(row[bench])
    return values["base"], values["instruct"]


def suite_config(suite: str, agents: list[str], score_weights: str = "published") -> dict:
    config = {
        "results": "results",
        "suite": suite,
        "score_weights": score_weights,
        "hours": 10,
        "seeds": [1],
        "models": {m: {"base": f"org/{m}", "instruct": f"org/{m}-it"} for m in MODELS},
        "benchmarks": {},
        "agents": {a: {"scaffold": "noop", "enabled": True} for a in agents},
        "judge": {"model": None, "unjudged": "keep"},
    }
    config["benchmarks"] = resolve_suite(config)
    return config


@pytest.mark.parametrize(
    ("suite", "table", "tolerance"),
    [("v1.0", "leaderboard_v1.0.tsv", V10_TOLERANCE), ("v1.2", "leaderboard_v1.2.tsv", V12_TOLERANCE)],
)
def test_published_avg_is_the_weighted_sum_of_the_published_columns(suite, table, tolerance):
    weights = published_weights(suite)
    rows = published_rows(table, list(weights))
    assert len(rows) >= 13
    for agent, (avg, columns) in rows.items():
        total = weighted_sum(columns, weights)
        assert abs(total - avg) <= tolerance, f"{suite} {agent}: weighted sum {total:.3f} vs published {avg}"


def test_v12_has_no_bfcl_and_its_table_marks_it_missing():
    assert "bfcl" not in published_weights("v1.2") and "bfcl" in published_weights("v1.0")
    assert {r["bfcl"] for r in read_tsv("leaderboard_v1.2.tsv")} == {"NA"}
    for suite in SUITES:
        assert sum(published_weights(suite).values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("suite", "table", "tolerance"),
    [("v1.0", "leaderboard_v1.0.tsv", V10_TOLERANCE), ("v1.2", "leaderboard_v1.2.tsv", V12_TOLERANCE)],
)
def test_aggregation_from_cells_reproduces_every_published_avg(tmp_path, suite, table, tolerance):
    """Every published row, as per-model cells on disk, through leaderboard(): the Avg comes back."""
    benchmarks = list(published_weights(suite))
    rows = published_rows(table, benchmarks)
    names = {agent: f"agent{i:02d}" for i, agent in enumerate(rows)}
    config = suite_config(suite, list(names.values()))
    tree = Tree(tmp_path, config)
    base, instruct = upstream_baselines()
    tree.baselines(base, instruct)
    for agent, (_, columns) in rows.items():
        for bench, value in columns.items():
            for model, d in zip(MODELS, SPREAD, strict=True):
                tree.cell(names[agent], model, bench, value=value / 100 * (1 + d))
    board = leaderboard(config, tmp_path / "results")
    assert board.suite == suite and board.benchmarks == benchmarks
    by_name = {r["agent"]: r for r in board.rows}
    for agent, (avg, _) in rows.items():
        row = by_name[names[agent]]
        assert row["complete"] and row["suite"] == suite
        assert abs(100 * row["score"] - avg) <= tolerance, f"{suite} {agent}: {100 * row['score']:.3f} vs {avg}"
    # The report names the suite.
    assert markdown(board).startswith(f"# PostTrainBench leaderboard (suite {suite})")


@pytest.mark.parametrize("suite", ["v1.0", "v1.2"])
def test_weights_derived_from_upstream_baselines_equal_the_published_ones(suite):
    published = published_weights(suite)
    base, instruct = upstream_baselines()
    derived = derived_weights(base, instruct, list(published), MODELS)
    assert derived is not None and set(derived) == set(published)
    for bench, weight in published.items():
        assert derived[bench] == pytest.approx(weight, abs=1e-4), bench
    # v1.0's published weights are exactly this rule over these baselines (FACTS.md: to 1e-6).
    if suite == "v1.0":
        assert all(derived[b] == pytest.approx(w, abs=1e-6) for b, w in published.items())


def test_the_leaderboard_shows_both_weight_sets_and_scores_with_the_chosen_one(tmp_path):
    rows = published_rows("leaderboard_v1.2.tsv", list(published_weights("v1.2")))
    agent = "GPT-5.2"
    (avg, columns) = rows[agent]
    for choice in ("published", "derived"):
        config = suite_config("v1.2", ["a"], score_weights=choice)
        tree = Tree(tmp_path / choice, config)
        base, instruct = upstream_baselines()
        tree.baselines(base, instruct)
        for bench, value in columns.items():
            for model in MODELS:
                tree.cell("a", model, bench, value=value / 100)
        board = leaderboard(config, tmp_path / choice / "results")
        (row,) = board.rows
        assert board.score_weights == choice
        assert board.weight_sets["derived"]["aime2025"] == pytest.approx(0.2448, abs=1e-4)
        assert row["score"] == row[f"score_{choice}"]
        # The two sets differ by < 1e-4 per benchmark, so both scores sit on the published Avg.
        assert abs(100 * row["score_published"] - avg) <= V12_TOLERANCE
        assert abs(100 * row["score_derived"] - avg) <= V12_TOLERANCE
        assert "## Weights" in markdown(board)


def test_derived_weights_need_every_baseline_and_a_positive_gap():
    base = {("m1", "b1"): 0.1, ("m1", "b2"): 0.2}
    instruct = {("m1", "b1"): 0.5, ("m1", "b2"): 0.6}
    assert derived_weights(base, instruct, ["b1", "b2"], ["m1"]) == pytest.approx({"b1": 0.5, "b2": 0.5})
    assert derived_weights(base, {("m1", "b1"): 0.5}, ["b1", "b2"], ["m1"]) is None
    assert derived_weights(base, {**instruct, ("m1", "b2"): 0.2}, ["b1", "b2"], ["m1"]) is None


def test_derived_scoring_before_the_baselines_exist_is_incomplete_not_zero(tmp_path):
    config = suite_config("v1.2", ["a"], score_weights="derived")
    tree = Tree(tmp_path, config)
    for bench in config["benchmarks"]:
        for model in MODELS:
            tree.cell("a", model, bench, value=0.5)
    board = leaderboard(config, tmp_path / "results")
    (row,) = board.rows
    assert board.weight_sets["derived"] is None and board.weights == {}
    assert not row["complete"] and row["score"] is None
    assert row["score_published"] == pytest.approx(0.5)


# --- the config: one line between v1.0 and v1.2, extras outside the weights ---------


def test_v12_is_one_line_away_from_the_shipped_config(tmp_path):
    text = (REPO / "config" / "config.yaml").read_text()
    assert text.count("\nsuite: v1.0\n") == 1
    v10 = load_config(REPO / "config" / "config.yaml")
    path = tmp_path / "v12.yaml"
    path.write_text(text.replace("\nsuite: v1.0\n", "\nsuite: v1.2\n"))
    v12 = load_config(path)
    assert list(v10["benchmarks"]) == list(SUITES["v1.0"]["weights"])
    assert list(v12["benchmarks"]) == list(SUITES["v1.2"]["weights"])
    assert "bfcl" not in v12["benchmarks"]
    assert v12["benchmarks"]["gpqamain"]["weight"] == pytest.approx(0.242731857532585)


def test_an_extra_benchmark_is_run_and_shown_but_not_weighted(tmp_path):
    config = suite_config("v1.2", ["a"])
    config["benchmarks"]["aime2026"] = {}
    config["benchmarks"] = resolve_suite(config)
    assert config["benchmarks"]["aime2026"]["weight"] == 0.0
    tree = Tree(tmp_path, config)
    for bench in config["benchmarks"]:
        for model in MODELS:
            tree.cell("a", model, bench, value=0.9 if bench == "aime2026" else 0.5)
    board = leaderboard(config, tmp_path / "results")
    (row,) = board.rows
    assert board.extras == ["aime2026"] and "aime2026" not in board.weights
    assert row["aime2026"] == pytest.approx(0.9)
    assert row["score"] == pytest.approx(0.5) and row["complete"]
    assert "aime2026 (extra, not weighted)" in markdown(board)


def test_a_hand_set_weight_under_a_named_suite_is_refused_naming_the_key():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    check_config(config)
    for bench, weight in (("gsm8k", 0.5), ("aime2026", 0.1)):
        bad = copy.deepcopy(config)
        bad["benchmarks"] = {bench: {"weight": weight}}
        with pytest.raises(ConfigError, match=rf"benchmarks\.{bench}\.weight: .*suite: custom"):
            check_config(bad)
    unknown = copy.deepcopy(config)
    unknown["suite"] = "v9"
    with pytest.raises(ConfigError, match="suite: 'v9' is not one of"):
        check_config(unknown)


def test_resolving_is_idempotent():
    once = load_config(REPO / "config" / "config.yaml")
    again = copy.deepcopy(once)
    check_config(again)
    assert resolve_suite(again) == once["benchmarks"]
