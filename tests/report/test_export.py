"""`python -m workflow export`: an agent's results in upstream PostTrainBench's layout,
checked against the layout the README documents and read the way upstream's
collection reads a results folder."""

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.pipeline import REPO
from tests.report.synthetic import Tree
from tests.report.test_trace_page import codex_events, judged_cell_tree, write_site
from workflow.report.export import ExportError, export_agent, upstream_judgement

# Optional files: present only in some cells (see the README's layout).
CONDITIONAL = {"metrics.json", "evaluation_failed.txt", "final_model/", "trace.html", "judge_checks.json",
               "monitor.jsonl"}  # fmt: skip


def documented_cell_files() -> set[str]:
    """The per-cell file names the README's export layout lists."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- export-layout -->")[1].split("<!-- /export-layout -->")[0]
    names = re.findall(r"^\s{8}(\S+)", block, re.MULTILINE)
    assert len(names) >= 10, block
    return set(names)


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "workflow", "export", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-SENTINEL-export-key-0123456789"},
    )  # fmt: skip


def exported_tree(tmp_path):
    """The judged codex agent of the trace-page tests, with final models, a failed evaluation and
    a monitor file; its config written where the CLI reads it."""
    _, out, _, _ = write_site(tmp_path)  # results with trace pages
    config, tree, _ = judged_cell_tree(tmp_path)  # same tree, for the config and folders
    for model in ("m1", "m2"):
        weights = tree.folder("coder", model, "b1") / "job" / "final_model"
        weights.mkdir(parents=True)
        (weights / "config.json").write_text('{"model_type": "qwen3"}')
        (weights / "model.safetensors").write_bytes(b"\0" * 64)
    tree.metrics("coder", "m2", "b2", status="failed", reason="Traceback\nRuntimeError: vLLM died")
    (tree.folder("coder", "m1", "b1") / "monitor.jsonl").write_text('{"gpu_util": 97}\n')
    run = json.loads((tree.folder("coder", "m1", "b1") / "run.json").read_text())
    run["job"] = {"slurm_job_id": "4242", "host": "node1"}
    (tree.folder("coder", "m1", "b1") / "run.json").write_text(json.dumps(run))
    return config, tree


def test_export_matches_the_documented_layout(tmp_path):
    config, tree = exported_tree(tmp_path)
    out = tmp_path / "submission"
    done = export_agent(config, tree.results, "coder", out)
    assert len(done.cells) == 4 and done.skipped == []
    methods = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert methods == ["codex_gpt-x_10h_seed1"]
    cells = sorted((out / methods[0]).iterdir())
    assert [c.name for c in cells] == [
        "b1_org_m1-base_4242",
        "b1_org_m2-base_0",
        "b2_org_m1-base_0",
        "b2_org_m2-base_0",
    ]
    documented = documented_cell_files()
    for folder in cells:
        names = {p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()}
        assert names <= documented, names - documented
        assert documented - CONDITIONAL <= names, (documented - CONDITIONAL) - names
        assert ("metrics.json" in names) != ("evaluation_failed.txt" in names)
        # Read as upstream's collection reads a run folder.
        benchmark, _, model, run_id = folder.name.split("_")
        assert benchmark in ("b1", "b2") and model in ("m1-base", "m2-base") and run_id.isdigit()
        judgement = json.loads((folder / "judgement.json").read_text())
        assert all(isinstance(judgement[q], bool) for q in ("contamination", "disallowed_model"))
        assert all(judgement[f"justification_{q}"] for q in ("contamination", "disallowed_model"))
        assert re.fullmatch(r"\d+:\d{2}:\d{2}\n", (folder / "time_taken.txt").read_text())
        assert "final_model/" not in names  # weights only on request
    flagged = out / methods[0] / "b1_org_m1-base_4242"
    verdict = json.loads((flagged / "judgement.json").read_text())
    assert verdict["contamination"] is True and "test_overlap" in verdict["justification_contamination"]
    assert verdict["disallowed_model"] is True and "forbidden_use" in verdict["justification_disallowed_model"]
    assert json.loads((flagged / "metrics.json").read_text())["accuracy"] == pytest.approx(0.6)
    assert (flagged / "time_taken.txt").read_text() == "01:00:00\n"
    assert (flagged / "final_model_location.txt").read_text().strip().endswith("runs/coder/m1/b1/seed1/job/final_model")
    assert "curl -s https://api.openai.com" in (flagged / "solve_parsed.txt").read_text()
    raw = (flagged / "solve_out.txt").read_text().splitlines()
    assert raw[0].startswith("[2026-11-30T08:00:00.000+00:00] {") and len(raw) == len(codex_events())
    assert "Trace: coder/m1/b1/seed1" in (flagged / "trace.html").read_text()
    failed = out / methods[0] / "b2_org_m2-base_0"
    assert "RuntimeError: vLLM died" in (failed / "evaluation_failed.txt").read_text()
    assert (failed / "final_model_location.txt").read_text() == "absent\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["cells"]) == 4 and manifest["not_run"] == []
    row = next(c for c in manifest["cells"] if c["cell"] == "coder/m1/b1/seed1")
    assert row["cost_usd"] == 0.1234 and row["flagged"] is True
    assert row["folder"] == "codex_gpt-x_10h_seed1/b1_org_m1-base_4242" and (out / row["folder"]).is_dir()


def test_cli_export_with_weights(tmp_path):
    """The command itself, on a valid config (the embedded default's model and benchmark)."""
    config = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
    config["agents"] = {"coder": {"scaffold": "codex", "model": "gpt-x", "num_gpus": 0}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    tree = Tree(tmp_path, config)
    tree.cell("coder", "tiny", "arith", value=0.25, seconds=125, trace=['{"type":"thread.started","thread_id":"t"}'])
    weights = tree.folder("coder", "tiny", "arith") / "job" / "final_model"
    weights.mkdir()
    (weights / "model.safetensors").write_bytes(b"\0" * 64)
    (tree.folder("coder", "tiny", "arith") / "agent.log").write_text("key sk-SENTINEL-export-key-0123456789\n")
    proc = run_cli("coder", "--weights", "--config", "config.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "exported 1 cells of coder" in proc.stdout
    cell = next((tmp_path / "results" / "export" / "coder").glob("codex_gpt-x_*_seed1/arith_embedded_tiny-base_0"))
    assert (cell / "final_model" / "model.safetensors").read_bytes() == b"\0" * 64
    assert not (cell / "final_model").is_symlink()
    assert (cell / "time_taken.txt").read_text() == "00:02:05\n"
    # No secret from the environment went out.
    out = tmp_path / "results" / "export"
    assert not any("sk-SENTINEL" in p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    unknown = run_cli("nobody", "--config", "config.yaml", cwd=tmp_path)
    assert unknown.returncode == 2 and "no agent 'nobody'" in unknown.stderr


def test_export_of_budgets(tmp_path):
    config, tree = exported_tree(tmp_path)
    # An agent with two budgets: one method folder each; one budget alone by its run name.
    budgets = {"scaffold": "codex", "model": "gpt-x", "hours": [1, 3], "num_gpus": 2, "credential": "/secret/path"}
    config["agents"]["bud"] = budgets
    t = Tree(tmp_path, config)
    for run in ("bud@1h", "bud@3h"):
        t.cell(run, "m1", "b1", value=0.4, trace=['{"type": "thread.started", "thread_id": "x"}'])
    done = export_agent(config, tree.results, "bud", tmp_path / "bud")
    assert sorted(p.name for p in (tmp_path / "bud").iterdir() if p.is_dir()) == [
        "codex_gpt-x_1h_2gpu_seed1",
        "codex_gpt-x_3h_2gpu_seed1",
    ]
    assert len(done.cells) == 2 and len(done.skipped) == 6
    manifest = (tmp_path / "bud" / "manifest.json").read_text()
    assert "/secret/path" not in manifest and json.loads(manifest)["config"]["hours"] == [1, 3]
    one = export_agent(config, tree.results, "bud@3h", tmp_path / "one")
    assert [c["run"] for c in one.cells] == ["bud@3h"]
    with pytest.raises(ExportError, match="no agent 'nobody'"):
        export_agent(config, tree.results, "nobody", tmp_path / "x")


def test_upstream_judgement_when_clean_or_unjudged():
    clean = {"flagged": False, "verdicts": {"contamination": "clean", "disallowed_model": "unjudged"},
             "checks": [], "llm": {"verdict": "unjudged", "reason": "no judge model configured"}}  # fmt: skip
    out = upstream_judgement(clean)
    assert out["contamination"] is False and out["disallowed_model"] is False
    assert "unjudged" in out["justification_disallowed_model"]
    assert upstream_judgement(None)["justification_contamination"] == "not judged"
