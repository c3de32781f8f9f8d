"""The bwrap runtime for real: what an agent inside can and cannot do.

A probe (Python, run with the agent's own `python` inside the sandbox)
attempts each write and reports what happened; the test then checks the host
side too, so a write that "failed" inside but landed outside would be caught.
"""

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.sandbox.conftest import fuse_daemons_for, mounted, tree_digest
from workflow.agent.overlay import OverlayDirs, cow_overlay
from workflow.agent.sandbox import OVERLAY_DIR, sandbox_session
from workflow.config import REPO

pytestmark = pytest.mark.usefixtures("sandbox_tools")

KEY = "sk-test-" + uuid.uuid4().hex
PROBE = textwrap.dedent(
    """
    import json, os, subprocess, sys

    def attempt(path, text):
        try:
            if path.startswith(os.environ["HF_HOME"]):  # a new folder in the cache, as a download makes
                os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
            return "ok"
        except OSError as err:
            return f"{type(err).__name__}: {err.strerror}"

    cache_file = os.path.join(os.environ["HF_HOME"], "hub", "weights.bin")
    report = {"cache_read": open(cache_file, "rb").read().hex()}
    targets = json.loads(sys.argv[1])
    report.update({name: attempt(path, "written by the agent") for name, path in targets.items()})
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report["pids"] = pids
    report["cmdlines"] = [open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace") for p in pids]
    report["tmp"] = sorted(os.listdir("/tmp"))
    report["remount"] = subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True).returncode
    report["key_in_env"] = os.environ.get("OPENAI_API_KEY")
    report["hf_home"] = os.environ["HF_HOME"]
    print(json.dumps(report))
    """
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def world(tmp_path):
    """A repo with agents/ and tasks/, a results tree with two cells, a shared cache."""
    repo, results, cache = tmp_path / "repo", tmp_path / "results", tmp_path / "hf_home"
    write(repo / "agents" / "probe" / "solve.sh", "exit 0\n")
    task = write(repo / "tasks" / "arith" / "task.py", "ORIGINAL = True\n")
    (cache / "hub").mkdir(parents=True)
    (cache / "hub" / "weights.bin").write_bytes(bytes(range(256)))
    write(cache / "hub" / "models--org--m" / "refs" / "main", "abc123")
    cell = results / "runs" / "probe" / "tiny" / "arith" / "seed1"
    job = cell / "job"
    job.mkdir(parents=True)
    other = write(results / "runs" / "other" / "tiny" / "arith" / "seed1" / "job" / "final_model.txt", "theirs")
    run_json = write(cell / "run.json", "{}")
    cfg = {"container": {"runtime": "bwrap", "dir": str(results / "containers")}, "hf_home": str(cache)}
    cfg["agent_hf_home"] = str(cache)  # the agents' view is the cache itself here
    cfg["results"] = str(results)
    return (
        {"repo": repo, "results": results, "cache": cache, "cell": cell, "job": job, "task": task},
        cfg,
        {
            "other": other,
            "run_json": run_json,
        },
    )


def run_probe(sandbox, job: Path, targets: dict[str, str]) -> tuple[dict, list[str]]:
    env = sandbox.environment({"PATH": os.environ["PATH"], "HOME": str(job), "OPENAI_API_KEY": KEY})
    argv = sandbox.wrap([sys.executable, "-c", PROBE, json.dumps(targets)])
    done = subprocess.run(argv, cwd=job, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), argv


def test_agent_writes_only_its_job_dir_and_the_cache_overlay(world):
    paths, cfg, others = world
    cache_before = tree_digest(paths["cache"])
    host_tmp_marker = write(Path("/tmp") / f"ptb-host-only-{uuid.uuid4().hex}", "host")
    real_repo_probe = REPO / "tasks" / f".sandbox-probe-{uuid.uuid4().hex}"
    host_sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"ptb-host-process-{uuid.uuid4().hex}"]
    )
    inside_tmp = f"/tmp/ptb-inside-{uuid.uuid4().hex}"
    try:
        with sandbox_session(cfg, paths["job"], num_gpus=0, repo=paths["repo"]) as sandbox:
            merged = sandbox.hf_home
            targets = {
                "job": str(paths["job"] / "notes.txt"),
                "cache_existing": str(merged / "hub" / "weights.bin"),
                "cache_new": str(merged / "hub" / "models--org--new" / "blob"),
                "cache_original": str(paths["cache"] / "hub" / "weights.bin"),
                "task_original": str(paths["task"]),
                "repo_root": str(paths["repo"] / "planted.py"),
                "real_repo": str(real_repo_probe),
                "other_cell": str(others["other"]),
                "own_run_record": str(others["run_json"]),
                "overlay_upper": str(OverlayDirs(paths["cell"] / OVERLAY_DIR).upper / "hub" / "weights.bin"),
                "etc": "/etc/ptb-sandbox-probe",
                "private_tmp": inside_tmp,
            }
            report, argv = run_probe(sandbox, paths["job"], targets)
            # The agent reads the cache through the overlay at HF_HOME.
            assert report["hf_home"] == str(merged)
            assert report["cache_read"] == bytes(range(256)).hex()
    finally:
        host_sleeper.kill()
        host_tmp_marker.unlink()

    # Allowed: its job dir, the cache view, its private /tmp.
    assert report["job"] == report["cache_existing"] == report["cache_new"] == report["private_tmp"] == "ok"
    assert (paths["job"] / "notes.txt").read_text() == "written by the agent"
    # Everything else fails inside ...
    for name in ("cache_original", "task_original", "repo_root", "real_repo", "other_cell", "own_run_record"):
        assert report[name] != "ok", name
    assert report["overlay_upper"] != "ok"
    assert report["etc"] == "OSError: Read-only file system"
    assert report["repo_root"] == "OSError: Read-only file system"
    assert report["remount"] != 0  # no capability to make / writable again
    # ... and nothing changed outside: the cache is byte-identical, the writes sit in the upper dir.
    assert tree_digest(paths["cache"]) == cache_before
    upper = OverlayDirs(paths["cell"] / OVERLAY_DIR).upper
    assert (upper / "hub" / "weights.bin").read_text() == "written by the agent"
    assert (upper / "hub" / "models--org--new" / "blob").exists()
    assert paths["task"].read_text() == "ORIGINAL = True\n"
    assert not (paths["repo"] / "planted.py").exists() and not real_repo_probe.exists()
    assert others["other"].read_text() == "theirs" and others["run_json"].read_text() == "{}"
    assert not Path("/etc/ptb-sandbox-probe").exists() and not Path(inside_tmp).exists()
    # Its own processes only, a /tmp of its own, and the key in its environment but on no command line.
    assert len(report["pids"]) <= 4, report["cmdlines"]
    assert not any("ptb-host-process" in c for c in report["cmdlines"])
    assert host_tmp_marker.name not in report["tmp"]
    assert report["key_in_env"] == KEY
    assert not any(KEY in c for c in report["cmdlines"]) and not any(KEY in a for a in argv)
    # The overlay is gone once the session ends.
    assert not mounted(sandbox.hf_home) and not fuse_daemons_for(sandbox.hf_home)


def test_overlay_is_unmounted_when_the_block_fails(world):
    paths, cfg, _ = world
    with pytest.raises(RuntimeError, match="agent blew up"):
        with sandbox_session(cfg, paths["job"], num_gpus=0, repo=paths["repo"]) as sandbox:
            assert mounted(sandbox.hf_home)
            raise RuntimeError("agent blew up")
    assert not mounted(sandbox.hf_home) and not fuse_daemons_for(sandbox.hf_home)


def test_a_mount_left_by_a_sigkilled_runner_is_cleaned_by_the_next_run(world):
    paths, _, _ = world
    root = paths["cell"] / OVERLAY_DIR
    runner = textwrap.dedent(
        f"""
        import sys, time
        from workflow.agent.overlay import cow_overlay
        with cow_overlay({str(paths["cache"])!r}, {str(root)!r}) as merged:
            (merged / "left-behind").write_text("x")
            print("mounted", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", runner], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO))
    )
    assert proc.stdout.readline().strip() == "mounted"
    proc.kill()  # SIGKILL: no finally block runs
    proc.wait()
    merged = OverlayDirs(root).merged
    assert mounted(merged)  # what a killed job leaves behind
    with cow_overlay(paths["cache"], root) as again:
        assert again == merged and mounted(merged)
        assert not (merged / "left-behind").exists()  # a fresh upper dir
    assert not mounted(merged) and not fuse_daemons_for(merged)
