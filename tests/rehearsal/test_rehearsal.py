"""What the one rehearsal run (conftest.py) must show. Each test reads its results; none reruns anything."""

import csv
import json
from pathlib import Path

import pytest

from tests.rehearsal.providers import AGENT_MARK
from tests.rehearsal.rehearsal import CREDENTIAL_NAME, KEYS, SWAPPED_MODEL
from workflow.matrix import baseline_pairs, cells
from workflow.paths import SERVING, baseline_dir, cell_dir
from workflow.report.scoring import BASE_FALLBACK, OWN_METRIC

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def cell_rows(run) -> list[dict]:
    with open(run.results / "cells.csv") as f:
        return list(csv.DictReader(f))


def test_the_rehearsal_ran_to_the_end(rehearsal):
    for name in ("prefetch", "matrix"):
        assert name in rehearsal.phases, f"phase {name} did not run"
        phase = rehearsal.phases[name]
        assert phase.returncode == 0, phase.output[-6000:]
    print({name: round(p.seconds) for name, p in rehearsal.phases.items()})


def test_every_cell_ends_with_a_score_or_a_named_fallback(rehearsal):
    rows = {(r["agent"], r["model"], r["benchmark"]): r for r in cell_rows(rehearsal)}
    expected = {(c.agent, c.model, c.benchmark) for c in cells(rehearsal.config)}
    assert set(rows) == expected
    for key, row in rows.items():
        assert row["score"] != "", key
        if row["source"] == OWN_METRIC:
            assert row["outcome"] == "ok", key
        else:
            assert row["source"] == BASE_FALLBACK, key
            # a named fallback: its kind and the reason, e.g. "missing: no model at ..."
            assert row["outcome"] in ("failed", "missing", "flagged", "unjudged"), key
            assert row["reason"].startswith(row["outcome"] + ":") and len(row["reason"]) > len(row["outcome"]) + 2
    print({k: (r["source"], r["outcome"], r["reason"][:80]) for k, r in sorted(rows.items())})
    # Every final model here loads and generates, so only the planted substitution falls back: a fallback
    # anywhere else is the pipeline's fault (a scorer that crashes on an odd answer, say), not the model's.
    fallbacks = {key for key, row in rows.items() if row["source"] != OWN_METRIC}
    assert fallbacks == {("claude-opus-4.6", SWAPPED_MODEL, "gsm8k")}, {k: rows[k]["reason"] for k in fallbacks}


def test_every_cell_has_a_judge_verdict(rehearsal):
    for c in cells(rehearsal.config):
        judgement = read(cell_dir(rehearsal.results, c) / "judgement.json")
        assert set(judgement["verdicts"]) >= {"contamination", "disallowed_model"}, c
        assert all(v in ("clean", "flagged") for v in judgement["verdicts"].values()), (c, judgement["verdicts"])
        assert judgement["llm"]["verdict"] in ("clean", "flagged"), (c, judgement["llm"])
    judged = [r for r in rehearsal.providers.requests if r["purpose"] == "judge"]
    assert len(judged) >= len(cells(rehearsal.config))


def test_baselines_for_base_and_instruct_models(rehearsal):
    pairs = baseline_pairs(rehearsal.config)
    assert {kind for kind, _, _ in pairs} == {"base", "instruct"}
    assert {model for _, model, _ in pairs} == set(rehearsal.config["models"])
    for kind, model, bench in pairs:
        metrics = read(baseline_dir(rehearsal.results, kind, model, bench) / "metrics.json")
        assert metrics["status"] == "ok", (kind, model, bench, metrics.get("reason"))
        assert metrics["samples"] >= 1 and 0 <= metrics["value"] <= 1


def test_baselines_share_one_vllm_server_per_model_and_kind(rehearsal):
    jobs = {(k, m) for k, m, _ in baseline_pairs(rehearsal.config)}
    benchmarks = list(rehearsal.config["benchmarks"])
    seconds, spans = [], []
    for kind, model in sorted(jobs):
        folder = rehearsal.results / "baselines" / kind / model
        serving = read(folder / SERVING)
        assert serving["server_starts"] == 1 and serving["benchmarks"] == benchmarks, (kind, model, serving)
        starts = (folder / "vllm_server.log").read_text().count("\n$ ")
        assert starts + (folder / "vllm_server.log").read_text().startswith("$ ") == 1
        seconds.append(serving["seconds"])
        spans.append((serving["started_at"], serving["ended_at"]))
        for bench in benchmarks:
            attempts = read(folder / bench / "metrics.json")["attempts"]
            assert all(a["server_starts"] == 1 for a in attempts)  # the job's one server, never restarted
    print(
        f"baselines: {len(jobs)} jobs, {len(jobs)} vLLM server starts "
        f"(one per model, kind and benchmark before: {len(jobs) * len(benchmarks)}); "
        f"job seconds {sorted(seconds)}, sum {sum(seconds):.0f}; "
        f"baseline stage wall time {max(e for _, e in spans) - min(s for s, _ in spans):.0f} s"
    )


def test_every_evaluation_ran_through_vllm(rehearsal):
    folders = [cell_dir(rehearsal.results, c) / "eval" for c in cells(rehearsal.config)]
    folders += [baseline_dir(rehearsal.results, *p) / "eval" for p in baseline_pairs(rehearsal.config)]
    evaluated = 0
    for folder in folders:
        metrics = read(folder.parent / "metrics.json")
        if metrics["status"] == "missing":  # no final_model: nothing to serve
            continue
        evaluated += 1
        assert metrics["attempts"] and all("server_starts" in a for a in metrics["attempts"]), folder
    assert evaluated >= len(baseline_pairs(rehearsal.config))
    servers = [cell_dir(rehearsal.results, c) / "eval" / "vllm_server.log" for c in cells(rehearsal.config)]
    jobs = {(k, m) for k, m, _ in baseline_pairs(rehearsal.config)}
    servers += [rehearsal.results / "baselines" / k / m / "vllm_server.log" for k, m in jobs]
    started = [log.read_text() for log in servers if log.exists()]
    assert len(started) >= len(jobs)
    for text in started:
        assert "/.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server" in text.splitlines()[0]
        # the copy's own chat templates: every job ran the code of the repo it was started from
        assert f"--chat-template {rehearsal.work}/tasks/templates/" in text.splitlines()[0]


def test_the_leaderboard_is_complete(rehearsal):
    board = (rehearsal.results / "leaderboard.md").read_text()
    assert "pending" not in board.lower()
    for agent in ("claude-opus-4.6", "reference-sft"):
        assert f"| {agent} |" in board
    with open(rehearsal.results / "leaderboard.csv") as f:
        rows = {r["agent"]: r for r in csv.DictReader(f)}
    # Every agent has an overall score: the cells it ran are scored (their own metric or a named
    # fallback), the configured cells its include list leaves out count at the base score.
    ran = {}
    for c in cells(rehearsal.config):
        ran[c.agent] = ran.get(c.agent, 0) + 1
    for agent, n in ran.items():
        row = rows[agent]
        assert row["complete"] == "True" and row["score"] != "", row
        assert int(row["cells_run"]) == int(row["cells_scored"]) == n, (agent, row["cells_run"], n)
    for reference in ("Base models (zero-shot)", "Official instruct models"):
        assert rows[reference]["complete"] == "True" and rows[reference]["score"] != ""


def test_the_cli_agent_trained_in_its_sandbox_against_the_loopback_provider(rehearsal):
    config = rehearsal.config
    for c in cells(config):
        if c.agent != "claude-opus-4.6" or c.model == SWAPPED_MODEL:
            continue
        folder = cell_dir(rehearsal.results, c)
        run = read(folder / "run.json")
        assert run["status"] == "finished" and run["final_model"], run
        trace = (folder / "trace.jsonl").read_text()
        assert "SFTTrainer" in trace and "saved final_model" in trace
        assert (folder / "hf_overlay" / "upper").is_dir()  # the cache was seen through the overlay
    agent_calls = [r for r in rehearsal.providers.requests if r["purpose"] == "agent"]
    assert agent_calls and all(r["path"] == "/v1/messages" for r in agent_calls)
    # The CLI received its own key, and only that one (the subscription agent: its credential only).
    assert {tuple(r["keys"]) for r in agent_calls} == {("ANTHROPIC_API_KEY",), (CREDENTIAL_NAME,)}


def test_the_graders_and_the_judge_used_the_responses_api_with_their_key(rehearsal):
    by_purpose = {}
    for r in rehearsal.providers.requests:
        by_purpose.setdefault(r["purpose"], []).append(r)
    for purpose in ("judge", "arena_grader", "healthbench_grader"):
        calls = by_purpose.get(purpose, [])
        assert calls, f"no {purpose} call reached the loopback provider"
        assert {r["path"] for r in calls} == {"/v1/responses"}, purpose
        assert {tuple(r["keys"]) for r in calls} == {("OPENAI_API_KEY",)}, purpose
        assert {r["model"] for r in calls} == {"gpt-5-mini"}, purpose  # config.yaml's judge and the tasks' graders


def test_a_planted_model_substitution_is_flagged(rehearsal):
    (swapped,) = [c for c in cells(rehearsal.config) if c.agent == "claude-opus-4.6" and c.model == SWAPPED_MODEL]
    folder = cell_dir(rehearsal.results, swapped)
    instruct = rehearsal.config["models"][SWAPPED_MODEL]["instruct"]
    assert f"submitted {instruct}" in (folder / "trace.jsonl").read_text()
    judgement = read(folder / "judgement.json")
    assert judgement["flagged"] and judgement["verdicts"]["disallowed_model"] == "flagged"
    lineage = next(c for c in judgement["checks"] if c["check"] == "lineage")
    assert lineage["flag"] and lineage["status"] == "instruct_model", lineage
    row = next(r for r in cell_rows(rehearsal) if (r["agent"], r["model"]) == ("claude-opus-4.6", SWAPPED_MODEL))
    assert row["outcome"] == "flagged" and row["source"] == "base_fallback"


def test_no_evaluation_job_downloads_anything(rehearsal):
    hub = rehearsal.hub
    prefetch = [r for r in hub.requests if r.phase == "prefetch"]
    matrix = [r for r in hub.requests if r.phase == "matrix"]
    # After the prefetch only the cheating agent (its user agent says so) asked the hub for anything:
    # the official instruct model it submits. No evaluation, judge or baseline job did.
    instruct = rehearsal.config["models"][SWAPPED_MODEL]["instruct"]
    others = [(r.method, r.path) for r in matrix if AGENT_MARK not in (r.header("User-Agent") or "")]
    assert others == []
    assert matrix and all(instruct in r.path for r in matrix)
    fetched = {r.path for r in prefetch if r.method == "GET"}
    # BFCL's and HealthBench's files came through the prefetch, from their (mirrored) sites.
    assert any("/mirror/raw.githubusercontent.com/" in p and "BFCL_v4_simple_python.json" in p for p in fetched)
    assert any("/mirror/openaipublic.blob.core.windows.net/simple-evals/healthbench/" in p for p in fetched)
    report = read(rehearsal.results / "prefetch" / "report.json")
    assert report["ok"] and {e["kind"] for e in report["entries"]} == {"model", "dataset", "download"}
    for bench in ("bfcl", "healthbench"):
        assert read(baseline_dir(rehearsal.results, "base", "qwen3-1.7b", bench) / "metrics.json")["status"] == "ok"


def test_no_key_leaks_into_results_snakemake_or_slurm_logs(rehearsal):
    work = rehearsal.work
    slurm_logs = list((rehearsal.results / "logs" / "slurm").rglob("*.log"))
    trees = ("results", "results-v1.2", ".snakemake")
    files = [p for d in trees for p in (work / d).rglob("*") if p.is_file() and not p.is_symlink()]
    assert slurm_logs and files
    needles = {name: value.encode() for name, value in KEYS.items()}
    leaks = [(name, str(p)) for p in files for name, value in needles.items() if value in p.read_bytes()]
    assert leaks == []
    outputs = "".join(p.output for p in rehearsal.phases.values())
    assert [name for name, value in KEYS.items() if value in outputs] == []
    # HF_TOKEN reached the gated repos during the prefetch (and was accepted).
    gated = [r for r in rehearsal.hub.requests if "/google/gemma-3-4b-pt/resolve/" in r.path and r.method == "GET"]
    assert all(r.phase == "prefetch" for r in gated)
    assert gated and all(r.status in (200, 206) for r in gated)
