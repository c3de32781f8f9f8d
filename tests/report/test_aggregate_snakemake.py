"""The aggregate rule under real Snakemake on a synthetic results tree, and
`snakemake --report` with the leaderboard, tables and plots in it."""

import base64
import csv
import re
import time

import pytest
import yaml

from tests.pipeline import executed_rules, repo_copy, snakemake
from tests.report.synthetic import Tree, age_tree

AGENTS = {
    "noop": {"scaffold": "noop", "num_gpus": 0},
    "reference-sft": {"scaffold": "reference-sft", "num_gpus": 0, "seeds": [1, 2]},
    "again": {"scaffold": "reference-sft", "num_gpus": 0, "reprompt": True},
}


@pytest.mark.slow
def test_aggregate_rule_and_snakemake_report(tmp_path):
    repo = repo_copy(tmp_path / "repo")
    config = yaml.safe_load((repo / "config" / "embedded.yaml").read_text())
    config["agents"] = AGENTS
    (repo / "config" / "report-test.yaml").write_text(yaml.safe_dump(config))
    tree = Tree(repo, config)
    # What the upstream rules would have left: models, runs, judgements, metrics, baselines.
    for name in ("tiny-base", "tiny-instruct"):
        (tree.results / "models" / name).mkdir(parents=True)
        (tree.results / "models" / name / "config.json").write_text("{}")
    time.sleep(0.05)
    tree.baseline("base", "tiny", "arith", 0.02)
    tree.baseline("instruct", "tiny", "arith", 0.30)
    for kind in ("base", "instruct"):
        (tree.results / "baselines" / kind / "tiny" / "arith" / "eval").mkdir()
    tree.cell("noop", "tiny", "arith", status="missing", reason="no model at job/final_model", seconds=1)
    tree.cell("reference-sft", "tiny", "arith", 1, value=0.70, seconds=90, trace=["loading tiny-base", "saved"])
    tree.cell("reference-sft", "tiny", "arith", 2, value=0.80, seconds=100)
    tree.cell("again", "tiny", "arith", value=0.9, flagged=True, reasons=["evaluation_files: evaluate.py changed"],
              mode="reprompted")  # fmt: skip
    age_tree(tree.results)

    args = ["--cores", "1", "--configfile", "config/report-test.yaml"]
    run = snakemake(repo, *args, "--allowed-rules", "aggregate")
    assert run.returncode == 0, run.stderr[-3000:]
    ran = executed_rules(run.stdout + run.stderr)
    assert "aggregate" in ran and set(ran) <= {"aggregate", "all"}, ran
    rows = {r["agent"]: r for r in csv.DictReader(open(tree.results / "leaderboard.csv"))}
    assert float(rows["reference-sft"]["score"]) == pytest.approx(0.75)
    assert float(rows["noop"]["score"]) == pytest.approx(0.02) and rows["noop"]["n_missing"] == "1"
    assert rows["again"]["section"] == "reprompted" and float(rows["again"]["score"]) == pytest.approx(0.02)
    for name in ("leaderboard.md", "leaderboard.html", "benchmarks.csv", "cells.csv"):
        assert (tree.results / name).stat().st_size > 0
    for name in ("ranking", "time_vs_score", "heatmap", "budget_vs_score"):
        assert (tree.results / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pages = sorted(p.relative_to(tree.results).as_posix() for p in (tree.results / "traces").rglob("trace.html"))
    assert pages == [
        "traces/again/tiny/arith/seed1/trace.html",
        "traces/noop/tiny/arith/seed1/trace.html",
        "traces/reference-sft/tiny/arith/seed1/trace.html",
        "traces/reference-sft/tiny/arith/seed2/trace.html",
    ]
    assert "loading tiny-base" in (tree.results / pages[2]).read_text()
    assert 'href="traces/reference-sft/tiny/arith/seed1/trace.html"' in (tree.results / "leaderboard.html").read_text()

    report = snakemake(repo, *args, "--report", "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    page = (repo / "report.html").read_text()
    # Snakemake's report carries our captions and every output marked with report().
    assert "error bars are the sample" in page and "self-contained page" in page
    for name in ("ranking.png", "time_vs_score.png", "heatmap.png", "budget_vs_score.png", "leaderboard.html",
                 "benchmarks.csv", "cells.csv"):  # fmt: skip
        assert name in page, name
    # Each cell's trace page is an entry of the report (category Traces), embedded, with its caption.
    at = page.index('"results/traces/reference-sft/tiny/arith/seed1/trace.html": {')
    entry = re.compile(r'"data_uri": "([^"]+)"').search(page, at)
    assert "reference-sft on\\ntiny \\u00d7 arith, seed\\n1" in page
    assert "loading tiny-base" in base64.b64decode(entry[1].split("base64,")[1]).decode()
