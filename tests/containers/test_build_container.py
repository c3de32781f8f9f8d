"""build_container under real Snakemake, with a fake `apptainer` that records its arguments."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipeline import executed_rules, repo_copy, snakemake
from workflow.environment.containers import build_command
from workflow.environment.runtime import runtime_problem

FAKE_APPTAINER = """#!{python}
# Records its arguments; like `apptainer build`, reads the %files sources relative to the cwd.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_APPTAINER_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "cwd": os.getcwd()}}) + "\\n")
image, definition = args[-2], args[-1]
text = open(definition).read()
files = text.split("%files", 1)[1].split("%", 1)[0] if "%files" in text else ""
for line in filter(None, (l.split("#")[0].strip() for l in files.splitlines())):
    open(line.split()[0]).close()  # fails like apptainer on a missing source
with open(image, "w") as out:
    out.write(text)
"""
IMAGES = ["results/containers/agent.sif", "results/containers/eval.sif"]


def test_build_command_uses_fakeroot_only_when_not_root():
    assert build_command("apptainer", Path("o.sif"), Path("envs/eval.def"), euid=0) == [
        "apptainer", "build", "--force", "o.sif", "envs/eval.def",
    ]  # fmt: skip
    assert "--fakeroot" in build_command("apptainer", Path("o.sif"), Path("envs/eval.def"), euid=1000)


def test_runtime_problem_only_for_apptainer_without_the_executable():
    missing, found = (lambda name: None), (lambda name: f"/opt/bin/{name}")
    assert runtime_problem({"container": {"runtime": "none"}}, which=missing) is None
    assert runtime_problem({"container": {"runtime": "apptainer"}}, which=found) is None
    problem = runtime_problem({"container": {"runtime": "apptainer"}}, which=missing)
    assert "needs apptainer and fuse-overlayfs on PATH" in problem and "runtime: none" in problem


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("containers")
    repo = repo_copy(root / "repo")
    config = yaml.safe_load((repo / "config" / "embedded.yaml").read_text())
    config["container"] = {"runtime": "apptainer", "dir": "results/containers"}
    (repo / "config" / "apptainer.yaml").write_text(yaml.safe_dump(config))
    config["container"]["runtime"] = "none"
    (repo / "config" / "no-runtime.yaml").write_text(yaml.safe_dump(config))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apptainer"
    fake.write_text(FAKE_APPTAINER.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return repo, bin_dir, root / "apptainer.log"


def run(repo, bin_dir, log, *targets, config="config/apptainer.yaml", with_apptainer=True, dry=False):
    path = f"{bin_dir}:{os.environ['PATH']}" if with_apptainer else f"{Path(sys.executable).parent}:/usr/bin:/bin"
    args = [*targets, "--cores", "1", *(["-n"] if dry else []), "--configfile", config]
    return snakemake(repo, *args, env={"PATH": path, "FAKE_APPTAINER_LOG": str(log)}, timeout=300)


def builds(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def built_images(calls) -> list[str]:
    return sorted(Path(c["args"][-1]).stem for c in calls)


@pytest.mark.slow
def test_images_build_once_and_rebuild_only_when_their_inputs_change(workdir):
    repo, bin_dir, log = workdir
    proc = run(repo, bin_dir, log, *IMAGES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    calls = builds(log)
    assert built_images(calls) == ["agent", "eval"]
    for call in calls:
        assert call["args"][:2] == ["build", "--force"] and "--fakeroot" not in call["args"]  # root here
        assert call["args"][-2].endswith(".partial.sif") and call["cwd"] == str(repo)
    for image in IMAGES:
        assert (repo / image).read_text().startswith("# The")  # renamed into place after the build

    proc = run(repo, bin_dir, log, *IMAGES)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stderr
    assert len(builds(log)) == 2

    # A pin of the eval stack changes: both images carry it, both are rebuilt.
    reqs = repo / "envs" / "requirements-eval.txt"
    reqs.write_text(reqs.read_text() + "# bumped\n")
    proc = run(repo, bin_dir, log, *IMAGES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert built_images(builds(log)[2:]) == ["agent", "eval"]

    # Only the agent's definition (or its CLI lock) changes: only the agent image is rebuilt.
    lock = repo / "agents" / "cli" / "package-lock.json"
    lock.write_text(lock.read_text() + "\n")
    proc = run(repo, bin_dir, log, *IMAGES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert built_images(builds(log)[4:]) == ["agent"]
    assert executed_rules(proc.stderr) == ["build_container"]


def test_dry_run_without_apptainer_plans_and_says_what_is_missing(workdir):
    repo, bin_dir, log = workdir
    proc = run(repo, bin_dir, log, dry=True, with_apptainer=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "container.runtime 'apptainer' needs apptainer" in output
    assert "module load apptainer" in output
    assert "rule run_agent:" in output  # the plan is still shown


def test_real_run_without_apptainer_stops_before_any_job(workdir):
    repo, bin_dir, log = workdir
    proc = run(repo, bin_dir, log, with_apptainer=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "container.runtime 'apptainer' needs apptainer" in output
    assert executed_rules(output) == []
    assert not (repo / "results" / "models").exists()


def test_building_without_apptainer_fails_with_a_clear_message(workdir):
    repo, bin_dir, log = workdir
    (repo / "results" / "containers" / "eval.sif").unlink(missing_ok=True)
    proc = run(repo, bin_dir, log, "results/containers/eval.sif", config="config/no-runtime.yaml", with_apptainer=False)
    assert proc.returncode != 0
    build_log = (repo / "results" / "logs" / "build_container" / "eval.log").read_text()
    assert "no 'apptainer' executable on PATH" in build_log
