"""The prefetch rules under real Snakemake, against the loopback hub."""

import json

import pytest
import yaml

from tests.pipeline import executed_rules, repo_copy, snakemake

REPORT = "results/prefetch/report.json"


@pytest.mark.slow
def test_prefetch_rules_fill_the_cache_in_parallel_and_verify_offline(hub, tmp_path):
    repo = repo_copy(tmp_path / "repo")
    config = yaml.safe_load((repo / "config" / "embedded.yaml").read_text())
    config["prefetch"] = {
        "extra_models": ["test-org/tiny-model"],
        "datasets": [{"repo": "test-org/tiny-math", "data_dir": "main"}],
    }
    (repo / "config" / "prefetch.yaml").write_text(yaml.safe_dump(config))
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": ""}

    proc = snakemake(repo, REPORT, "--cores", "2", "--configfile", "config/prefetch.yaml", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert sorted(executed_rules(proc.stderr)) == ["prefetch_dataset", "prefetch_model", "verify_prefetch"]
    report = json.loads((repo / REPORT).read_text())
    assert report["ok"] and [e["id"] for e in report["entries"]] == [
        "test-org--tiny-model",
        "test-org--tiny-math--dir-main",
    ]
    assert (repo / "results" / "hf_home" / "hub" / "models--test-org--tiny-model").is_dir()
    marker = json.loads((repo / "results" / "prefetch" / "test-org--tiny-model.done").read_text())
    assert marker["commit"] == hub.repos[("model", "test-org/tiny-model")].sha
    served = len(hub.requests)

    # The whole matrix asks for the report; everything is in place, so nothing runs or is fetched.
    proc = snakemake(repo, "--cores", "2", "--configfile", "config/prefetch.yaml", "-n", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not {"prefetch_model", "prefetch_dataset", "verify_prefetch"} & set(
        executed_rules(proc.stdout + proc.stderr)
    )
    assert len(hub.requests) == served
