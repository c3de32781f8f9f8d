"""How a final model is evaluated: one evaluation (v1.0) or v1.2's seeded protocol.

Single: one evaluation, retried down the task's token stages (two attempts
at each), as the seeds of this project did it.

Seeded (PostTrainBench v1.2's final evaluation):
- seeds 72332, 87681, 38992, 92201, 13818 (`evaluation.seeded.seeds`), each
  passed to the model's sampling;
- one seed only when the model decodes greedily (vLLM takes its default
  temperature from the model's generation_config.json, 1.0 when it says
  nothing; 0 means greedy, so other seeds would repeat the same answers)
  unless the task's seed also changes the questions (gpqamain shuffles its
  answer choices with it: meta.yaml `seed_task_arg`);
- one seed for the LLM-graded tasks (each grading costs paid API calls);
- each seed runs a retry cascade: 4, then 3, then 2 attempts at the task's
  token stages (`evaluation.seeded.attempts`, meta.yaml `max_tokens`);
- the first seed runs the whole cascade; if it fails at every stage the
  evaluation fails and no other seed runs. Later seeds start at the stage
  where the first one succeeded (so every seed is scored with the same
  max tokens); a later seed that fails everywhere is left out of the mean;
- the score is the mean over the seeds that succeeded; metrics.json keeps
  the seeds planned, tried and succeeded, and each seed's metrics and stage.

The runner (workflow/evaluate/runner.py) supplies the function that makes
one attempt; everything here decides only what to try and what it means.
"""

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

SINGLE = "single"
SEEDED = "seeded"
DEFAULT_SEEDS = (72332, 87681, 38992, 92201, 13818)
DEFAULT_ATTEMPTS = (4, 3, 2)
SINGLE_ATTEMPTS_PER_STAGE = 2
VLLM_DEFAULT_TEMPERATURE = 1.0


@dataclass
class Attempt:
    """What one evaluation attempt gave: the task's metrics, or why it failed."""

    ok: bool
    metrics: dict = field(default_factory=dict)  # every metric the task reported
    record: dict = field(default_factory=dict)  # the runner's log of the attempt (max tokens, seconds, ...)
    error: str = ""
    retryable: bool = True  # False: the task cannot be built (a key or data missing); retrying cannot help


@dataclass(frozen=True)
class Plan:
    protocol: str
    seeds: tuple[int | None, ...]  # (None,) under the single protocol: no seed is passed
    stages: tuple[tuple[int, int], ...]  # (max tokens, attempts) per stage
    why: str  # why these seeds


def default_temperature(generation_config: dict | None) -> float:
    """The temperature vLLM samples with by default for a model (its generation_config's, else 1.0)."""
    value = (generation_config or {}).get("temperature")
    return VLLM_DEFAULT_TEMPERATURE if value is None else float(value)


def decodes_greedily(generation_config: dict | None) -> bool:
    return default_temperature(generation_config) == 0


def seeded_settings(settings: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    seeded = settings.get("seeded") or {}
    return tuple(seeded.get("seeds") or DEFAULT_SEEDS), tuple(seeded.get("attempts") or DEFAULT_ATTEMPTS)


def token_stages(ladder: list[int], attempts: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Pair the task's max-tokens stages with attempts per stage (the last count repeats if the ladder is longer)."""
    if not ladder:
        raise ValueError("the task has no max_tokens stages")
    return tuple((mt, attempts[min(i, len(attempts) - 1)]) for i, mt in enumerate(ladder))


def evaluation_plan(protocol: str, meta: dict, ladder: list[int], settings: dict, generation_config: dict | None):
    """The seeds and stages to evaluate a model with, and why."""
    if protocol == SINGLE:
        return Plan(SINGLE, (None,), token_stages(ladder, (SINGLE_ATTEMPTS_PER_STAGE,)), "single evaluation")
    if protocol != SEEDED:
        raise ValueError(f"evaluation.protocol: unknown protocol {protocol!r}")
    seeds, attempts = seeded_settings(settings)
    stages = token_stages(ladder, attempts)
    if meta.get("judge"):
        return Plan(SEEDED, seeds[:1], stages, "LLM-graded task: one seed")
    if decodes_greedily(generation_config) and not meta.get("seed_task_arg"):
        return Plan(SEEDED, seeds[:1], stages, "the model decodes greedily (temperature 0): one seed")
    temperature = default_temperature(generation_config)
    why = f"sampling at temperature {temperature:g}: every seed"
    if meta.get("seed_task_arg"):
        why = f"the seed also sets the task's {meta['seed_task_arg']}: every seed"
    return Plan(SEEDED, seeds, stages, why)


@dataclass
class CascadeResult:
    stage: int | None  # the stage whose attempt succeeded; None when every stage failed
    attempt: Attempt | None  # the successful attempt
    attempts: list[dict]  # the runner's records of every attempt, in order
    error: str = ""
    fatal: bool = False  # stopped by an error no retry can fix


def run_cascade(stages: tuple[tuple[int, int], ...], start: int, attempt: Callable[[int], Attempt]) -> CascadeResult:
    """Try each stage from `start`, `attempts` times each, until one attempt succeeds."""
    records: list[dict] = []
    last_error = ""
    for index in range(start, len(stages)):
        max_tokens, tries = stages[index]
        for _ in range(tries):
            result = attempt(max_tokens)
            records.append({**result.record, "stage": index, "max_tokens": max_tokens})
            if result.ok:
                return CascadeResult(index, result, records)
            last_error = result.error
            if not result.retryable:
                return CascadeResult(None, None, records, last_error, fatal=True)
    return CascadeResult(None, None, records, last_error)


def mean_over_seeds(per_seed: list[dict]) -> dict:
    """Each numeric metric's mean over the seeds that succeeded (a metric must be in all of them)."""
    ok = [s["metrics"] for s in per_seed if s["status"] == "ok"]
    if not ok:
        return {}
    names = [k for k, v in ok[0].items() if _is_number(v) and all(_is_number(m.get(k)) for m in ok)]
    return {name: statistics.mean(m[name] for m in ok) for name in names}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def run_plan(plan: Plan, metric: str, attempt: Callable[[int | None, int], Attempt]) -> dict:
    """Evaluate by the plan: `attempt(seed, max_tokens)` makes one attempt. Returns the metrics record."""
    per_seed: list[dict] = []
    attempts: list[dict] = []
    start = 0
    for position, seed in enumerate(plan.seeds):
        result = run_cascade(plan.stages, start, lambda mt, seed=seed: attempt(seed, mt))
        for record in result.attempts:
            attempts.append({**record, "seed": seed} if seed is not None else record)
        entry: dict = {"seed": seed, "attempts": len(result.attempts)}
        if result.attempt is not None:
            value = result.attempt.metrics.get(metric)
            if not _is_number(value) or not math.isfinite(value):
                entry |= {"status": "failed", "error": f"the task reported no usable {metric!r} ({value!r})"}
            else:
                entry |= {
                    "status": "ok",
                    "stage": result.stage,
                    "max_tokens": plan.stages[result.stage][0],
                    "value": value,
                    "metrics": result.attempt.metrics,
                    **{k: result.attempt.record[k] for k in ("samples", "log") if k in result.attempt.record},
                }
        else:
            entry |= {"status": "failed", "error": result.error}
        per_seed.append(entry)
        if position == 0:
            if entry["status"] != "ok":
                break  # the first seed failed everywhere: the others are not tried
            start = entry["stage"]
    succeeded = [s for s in per_seed if s["status"] == "ok"]
    record: dict = {"protocol": plan.protocol, "attempts": attempts}
    if plan.protocol == SEEDED:
        record["seeds"] = {
            "planned": list(plan.seeds),
            "tried": len(per_seed),
            "succeeded": len(succeeded),
            "why": plan.why,
        }
        record["per_seed"] = per_seed
    if not succeeded:
        return {"status": "failed", "reason": per_seed[0].get("error") or "evaluation failed", **record}
    means = mean_over_seeds(per_seed)
    first = succeeded[0]
    return {
        "status": "ok",
        "metric": metric,
        "value": means[metric],
        "metrics": means,
        "stage": first["stage"],
        "max_tokens": first["max_tokens"],
        **{k: first[k] for k in ("samples", "log") if k in first},
        **record,
    }
