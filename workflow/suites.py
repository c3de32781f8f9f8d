"""Benchmark suites: which PostTrainBench version a run reproduces.

PostTrainBench is versioned and its tables are not comparable across
versions, so every result names its suite. A suite fixes the benchmarks that
count, their published weights and the final-evaluation protocol:

- v1.0: the seven benchmarks of the original release; one evaluation per model.
- v1.2: BFCL dropped (its hub "train" split is the test data), weights
  re-derived without it; final models evaluated over up to five seeds
  (workflow/evaluate/protocol.py).
- custom: the config's own `benchmarks:` and weights (the embedded default).

Upstream derives a suite's weights from its baselines: a benchmark weighs
1/Δ, normalised, where Δ is the mean official-instruct score minus the mean
base zero-shot score over the models, so benchmarks where instruction tuning
gains little (the hard ones) weigh more. `derived_weights` applies that rule
to any baselines, published or measured by this pipeline.

A config under a named suite lists in `benchmarks:` only per-benchmark
settings (a `limit`) and extra benchmarks: an extra one (aime2026, say) is
run and reported beside the suite's but weighs nothing. `resolve_suite`
turns such a config into the `benchmarks:` map the rest of the pipeline
reads (id -> weight and settings); resolving a resolved config changes nothing.
"""

import math
import statistics
from collections.abc import Mapping

CUSTOM = "custom"
PUBLISHED = "published"
DERIVED = "derived"
WEIGHT_TOLERANCE = 1e-6

# Published weights. v1.0: aisa-group/PostTrainBench scripts/factors.json (the
# seeds' FACTS.md table); v1.2: aisa-group/posttrainbench-website
# data/factors-v1.2.json @202491e.
SUITES: dict[str, dict] = {
    "v1.0": {
        "protocol": "single",
        "weights": {
            "aime2025": 0.226536549919078,
            "arenahardwriting": 0.0903518275042778,
            "bfcl": 0.0746078457817324,
            "gpqamain": 0.22462215653948,
            "gsm8k": 0.0935882347031865,
            "healthbench": 0.184144830733019,
            "humaneval": 0.106148554819225,
        },
    },
    "v1.2": {
        "protocol": "seeded",
        "weights": {
            "aime2025": 0.24480059495473774,
            "arenahardwriting": 0.09763625841479416,
            "gpqamain": 0.242731857532585,
            "gsm8k": 0.10113359431088526,
            "healthbench": 0.1989911302939207,
            "humaneval": 0.11470656449307715,
        },
    },
}
SUITE_NAMES = (*SUITES, CUSTOM)


def suite_of(config: Mapping) -> str:
    """The config's suite; a config that names none chooses its own weights."""
    return config.get("suite") or CUSTOM


def published_weights(suite: str) -> dict[str, float]:
    if suite not in SUITES:
        raise KeyError(f"no published weights for suite {suite!r} (known: {', '.join(SUITES)})")
    return dict(SUITES[suite]["weights"])


def protocol_of(config: Mapping) -> str:
    """The final-evaluation protocol: `single` (one evaluation) or `seeded` (v1.2's seeds)."""
    explicit = (config.get("evaluation") or {}).get("protocol")
    if explicit and explicit != "suite":
        return explicit
    suite = suite_of(config)
    return SUITES[suite]["protocol"] if suite in SUITES else "single"


def suite_problems(config: Mapping) -> list[str]:
    """Why a config's `benchmarks:` cannot stand under its suite (each message names the key)."""
    suite = suite_of(config)
    if suite == CUSTOM:
        return []
    if suite not in SUITES:
        return [f"suite: unknown suite {suite!r} (known: {', '.join(SUITE_NAMES)})"]
    weights = SUITES[suite]["weights"]
    problems = []
    for bench, entry in (config.get("benchmarks") or {}).items():
        if not isinstance(entry, Mapping) or "weight" not in entry:
            continue
        expected = weights.get(bench, 0.0)
        if not math.isclose(float(entry["weight"]), expected, abs_tol=WEIGHT_TOLERANCE):
            why = f"suite {suite} publishes {expected:.6g}" if bench in weights else f"not in suite {suite}: weighs 0"
            problems.append(
                f"benchmarks.{bench}.weight: {entry['weight']} set by hand, but {why}; "
                f"leave the weight out, or choose `suite: custom` to set your own"
            )
    return problems


def resolve_suite(config: Mapping) -> dict:
    """The benchmarks map a run uses: the suite's benchmarks with their published weights,
    then extra benchmarks (weight 0); per-benchmark settings from the config kept."""
    suite = suite_of(config)
    own = {b: dict(e or {}) for b, e in (config.get("benchmarks") or {}).items()}
    if suite == CUSTOM:
        return own
    weights = published_weights(suite)
    resolved = {b: {**own.get(b, {}), "weight": w} for b, w in weights.items()}
    resolved |= {b: {**e, "weight": 0.0} for b, e in own.items() if b not in weights}
    return resolved


def scored_benchmarks(config: Mapping) -> list[str]:
    """The benchmarks that count in the score (an extra benchmark of a named suite does not)."""
    suite = suite_of(config)
    if suite in SUITES:
        return list(SUITES[suite]["weights"])
    return list(config["benchmarks"])


def extra_benchmarks(config: Mapping) -> list[str]:
    scored = set(scored_benchmarks(config))
    return [b for b in config["benchmarks"] if b not in scored]


def derived_weights(
    base: Mapping[tuple[str, str], float | None],
    instruct: Mapping[tuple[str, str], float | None],
    benchmarks: list[str],
    models: list[str],
) -> dict[str, float] | None:
    """Upstream's rule, w_b = (1/Δ_b) / Σ_c (1/Δ_c), Δ = mean instruct − mean base over the models.

    None until every model has both scores on every benchmark, or when a
    benchmark's gap is not positive (instruction tuning gained nothing there,
    so the rule gives no weight).
    """
    gaps = {}
    for bench in benchmarks:
        b = [base.get((m, bench)) for m in models]
        i = [instruct.get((m, bench)) for m in models]
        if not models or any(v is None for v in b + i):
            return None
        gaps[bench] = statistics.mean(i) - statistics.mean(b)
    if any(gap <= 0 for gap in gaps.values()):
        return None
    inverse = {bench: 1 / gap for bench, gap in gaps.items()}
    total = sum(inverse.values())
    return {bench: value / total for bench, value in inverse.items()}
