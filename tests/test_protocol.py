"""v1.2's final-evaluation protocol (workflow/evaluate/protocol.py), with scripted attempts.

An attempt here is a function of (seed, max tokens) that succeeds or fails as
the test scripts it; the protocol decides which seeds and stages to try and
what the record says.
"""

import copy

import pytest

from workflow.config import REPO, load_config
from workflow.evaluate.protocol import (
    DEFAULT_SEEDS,
    SEEDED,
    SINGLE,
    Attempt,
    decodes_greedily,
    evaluation_plan,
    mean_over_seeds,
    run_plan,
    token_stages,
)
from workflow.suites import protocol_of
from workflow.tasks import task_meta

LADDER = [4000, 3000, 2000]
SAMPLING = {"temperature": 0.6, "top_p": 0.95}  # e.g. Qwen3's generation_config.json
GREEDY = {"temperature": 0.0}


class Scripted:
    """attempt(seed, max_tokens): ok when `ok(seed, max_tokens)`; records every call."""

    def __init__(self, ok, value=lambda seed: 0.5, retryable=True):
        self.ok, self.value, self.retryable, self.calls = ok, value, retryable, []

    def __call__(self, seed, max_tokens):
        self.calls.append((seed, max_tokens))
        if self.ok(seed, max_tokens):
            v = self.value(seed)
            return Attempt(True, {"accuracy": v, "stderr": 0.01}, {"seconds": 1.0, "log": f"s{seed}.eval"})
        return Attempt(False, error=f"OOM at {max_tokens}", retryable=self.retryable, record={"seconds": 1.0})


def seeded_plan(meta=None, generation_config=SAMPLING, settings=None):
    return evaluation_plan(SEEDED, meta or {}, LADDER, settings or {}, generation_config)


def test_the_suite_chooses_the_protocol_and_the_config_can_override_it():
    v10 = load_config(REPO / "config" / "config.yaml")
    assert protocol_of(v10) == SINGLE
    v12 = copy.deepcopy(v10) | {"suite": "v1.2"}
    assert protocol_of(v12) == SEEDED
    v12["evaluation"]["protocol"] = "single"
    assert protocol_of(v12) == SINGLE
    assert v10["evaluation"]["seeded"]["seeds"] == list(DEFAULT_SEEDS) == [72332, 87681, 38992, 92201, 13818]
    assert v10["evaluation"]["seeded"]["attempts"] == [4, 3, 2]


def test_sampling_model_gets_all_five_seeds_with_the_4_3_2_cascade():
    plan = seeded_plan()
    assert plan.seeds == DEFAULT_SEEDS
    assert plan.stages == ((4000, 4), (3000, 3), (2000, 2))


@pytest.mark.parametrize(
    ("generation_config", "greedy"),
    [
        ({"temperature": 0}, True),
        ({"temperature": 0.7}, False),
        ({}, False),
        (None, False),
        ({"do_sample": False}, False),
    ],
)
def test_greedy_means_vllms_default_temperature_is_zero(generation_config, greedy):
    # vLLM samples at 1.0 unless generation_config.json sets a temperature (it ignores do_sample).
    assert decodes_greedily(generation_config) is greedy


def test_greedy_model_and_judged_tasks_get_one_seed():
    assert seeded_plan(generation_config=GREEDY).seeds == DEFAULT_SEEDS[:1]
    assert "greedily" in seeded_plan(generation_config=GREEDY).why
    judged = seeded_plan(meta=task_meta("healthbench"))
    assert judged.seeds == DEFAULT_SEEDS[:1] and "LLM-graded" in judged.why
    assert seeded_plan(meta=task_meta("arenahardwriting")).seeds == DEFAULT_SEEDS[:1]


def test_a_seed_that_changes_the_questions_keeps_every_seed_even_when_greedy():
    meta = task_meta("gpqamain")
    assert meta["seed_task_arg"] == "choice_seed"
    assert seeded_plan(meta=meta, generation_config=GREEDY).seeds == DEFAULT_SEEDS


def test_single_protocol_is_one_unseeded_evaluation_down_the_ladder():
    plan = evaluation_plan(SINGLE, {}, LADDER, {}, SAMPLING)
    attempt = Scripted(lambda seed, mt: mt == 2000)
    record = run_plan(plan, "accuracy", attempt)
    assert attempt.calls == [(None, 4000), (None, 4000), (None, 3000), (None, 3000), (None, 2000)]
    assert record["status"] == "ok" and record["protocol"] == SINGLE and "per_seed" not in record
    assert record["stage"] == 2 and record["max_tokens"] == 2000


def test_mean_over_the_seeds_that_succeeded_with_each_seeds_record():
    values = dict(zip(DEFAULT_SEEDS, (0.2, 0.4, 0.6, 0.8, 1.0), strict=True))
    # The third seed fails at every stage it tries; the others succeed at once.
    attempt = Scripted(lambda seed, mt: seed != DEFAULT_SEEDS[2], value=values.get)
    record = run_plan(seeded_plan(), "accuracy", attempt)
    assert record["status"] == "ok"
    assert record["value"] == pytest.approx((0.2 + 0.4 + 0.8 + 1.0) / 4)
    assert record["seeds"] == {
        "planned": list(DEFAULT_SEEDS),
        "tried": 5,
        "succeeded": 4,
        "why": record["seeds"]["why"],
    }
    by_seed = {s["seed"]: s for s in record["per_seed"]}
    assert by_seed[DEFAULT_SEEDS[0]] | {"metrics": None} == {
        "seed": DEFAULT_SEEDS[0], "attempts": 1, "status": "ok", "stage": 0, "max_tokens": 4000, "value": 0.2,
        "metrics": None, "log": f"s{DEFAULT_SEEDS[0]}.eval",
    }  # fmt: skip
    assert by_seed[DEFAULT_SEEDS[2]]["status"] == "failed" and by_seed[DEFAULT_SEEDS[2]]["attempts"] == 4 + 3 + 2
    assert record["metrics"]["stderr"] == pytest.approx(0.01)
    assert {a["seed"] for a in record["attempts"]} == set(DEFAULT_SEEDS)


def test_later_seeds_start_at_the_stage_where_the_first_succeeded():
    # Everything fails above 3000 tokens: the first seed climbs down 4 attempts at 4000, then succeeds at 3000.
    attempt = Scripted(lambda seed, mt: mt <= 3000)
    record = run_plan(seeded_plan(), "accuracy", attempt)
    first = [c for c in attempt.calls if c[0] == DEFAULT_SEEDS[0]]
    assert first == [(DEFAULT_SEEDS[0], 4000)] * 4 + [(DEFAULT_SEEDS[0], 3000)]
    for seed in DEFAULT_SEEDS[1:]:
        assert [c for c in attempt.calls if c[0] == seed] == [(seed, 3000)]
    assert {s["stage"] for s in record["per_seed"]} == {1} and record["max_tokens"] == 3000


def test_first_seed_failing_everywhere_fails_the_evaluation_and_skips_the_rest():
    attempt = Scripted(lambda seed, mt: seed != DEFAULT_SEEDS[0])
    record = run_plan(seeded_plan(), "accuracy", attempt)
    assert record["status"] == "failed" and "OOM at 2000" in record["reason"]
    assert {c[0] for c in attempt.calls} == {DEFAULT_SEEDS[0]} and len(attempt.calls) == 4 + 3 + 2
    assert record["seeds"]["tried"] == 1 and record["seeds"]["succeeded"] == 0


def test_an_error_no_retry_can_fix_stops_at_once():
    attempt = Scripted(lambda seed, mt: False, retryable=False)
    record = run_plan(seeded_plan(), "accuracy", attempt)
    assert record["status"] == "failed" and len(attempt.calls) == 1


def test_a_non_finite_headline_metric_is_not_a_score():
    # Arena-Hard with every verdict missing reports NaN: that seed failed, it did not score 0 or 0.5.
    attempt = Scripted(lambda seed, mt: True, value=lambda seed: float("nan"))
    record = run_plan(seeded_plan(meta={"judge": True}), "accuracy", attempt)
    assert record["status"] == "failed" and "no usable 'accuracy'" in record["reason"]


def test_mean_needs_a_metric_in_every_seed():
    per_seed = [
        {"status": "ok", "metrics": {"accuracy": 0.5, "extra": 1.0}},
        {"status": "ok", "metrics": {"accuracy": 0.7}},
        {"status": "failed"},
    ]
    assert mean_over_seeds(per_seed) == {"accuracy": pytest.approx(0.6)}


def test_stages_pair_the_ladder_with_attempts():
    assert token_stages([16000, 12000, 8000], (4, 3, 2)) == ((16000, 4), (12000, 3), (8000, 2))
    assert token_stages([32, 16], (4, 3, 2)) == ((32, 4), (16, 3))
    assert token_stages([32, 16, 8, 4], (4, 3)) == ((32, 4), (16, 3), (8, 3), (4, 3))
    with pytest.raises(ValueError):
        token_stages([], (4,))


# --- through the runner: real attempts (Inspect, the hf backend, a tiny model) ------------


@pytest.mark.slow
def test_runner_records_each_seed_in_metrics_json(tmp_path):
    """A tiny model whose generation_config sets no temperature (vLLM samples at 1.0): every seed runs."""
    import json

    from workflow.environment.tiny_model import build_tiny_model
    from workflow.evaluate.runner import evaluate, generation_config_of

    model = build_tiny_model(tmp_path / "tiny", hidden_size=64, layers=2)
    seeds_run = [11, 22]

    settings = {
        "backend": "hf",
        "max_connections": 2,
        "limit": 2,
        "protocol": SEEDED,
        "seeded": {"seeds": [11, 22], "attempts": [1, 1]},
        "max_tokens_ladder": [8],
    }
    record = evaluate("arith", str(model), tmp_path / "eval", settings)
    assert record["status"] == "ok" and record["protocol"] == SEEDED, record.get("reason")
    assert [s["seed"] for s in record["per_seed"]] == seeds_run
    assert record["seeds"]["succeeded"] == 2 and record["seeds"]["planned"] == seeds_run
    # The same model with temperature 0 in its generation_config would get one seed.
    greedy = json.loads((model / "generation_config.json").read_text()) | {"temperature": 0.0}
    (model / "generation_config.json").write_text(json.dumps(greedy))
    assert evaluation_plan(SEEDED, {}, [8], settings, generation_config_of(str(model), settings)).seeds == (11,)
    assert all(s["status"] == "ok" and s["stage"] == 0 and s["max_tokens"] == 8 for s in record["per_seed"])
    # Each seed's attempt passed its seed to Inspect (the run's generate config in the log).
    from inspect_ai.log import read_eval_log

    for entry in record["per_seed"]:
        assert read_eval_log(entry["log"], header_only=True).plan.config.seed == entry["seed"]
    assert record["value"] == pytest.approx(sum(s["value"] for s in record["per_seed"]) / len(seeds_run))
