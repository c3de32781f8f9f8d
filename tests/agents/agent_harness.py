"""Runs a real agent CLI through its real solve.sh against fake_providers.py,
both inside one network namespace that has only loopback, so nothing can leave
the machine. Usable by hand: python tests/agents/agent_harness.py codex /tmp/job
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI_BIN = REPO / "agents" / "cli" / "node_modules" / ".bin"
SERVER = Path(__file__).with_name("fake_providers.py")
PORT = 8765  # a fresh namespace has every port free

# scaffold -> (key variable, base URL variable, base URL, model id)
PROVIDERS = {
    "claude": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", f"http://127.0.0.1:{PORT}", "claude-test"),
    "codex": ("OPENAI_API_KEY", "OPENAI_BASE_URL", f"http://127.0.0.1:{PORT}/v1", "gpt-test"),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{PORT}", "gemini-test"),
    "opencode": ("OPENAI_API_KEY", "OPENAI_BASE_URL", f"http://127.0.0.1:{PORT}/v1", "gpt-test"),
}

# Server in the background, then solve.sh in the foreground; exit with its status.
NETNS_SCRIPT = r"""
ip link set lo up
python3 "$SERVER" --port "$PORT" --log "$SERVER_LOG" --ready "$SERVER_LOG.ready" 2>"$SERVER_LOG.err" &
srv=$!
for _ in $(seq 200); do [[ -e $SERVER_LOG.ready ]] && break; sleep 0.05; done
env -u SERVER -u SERVER_LOG -u FAKE_PROVIDER_KEY -u FAKE_SHELL_COMMAND -u PORT bash "$SOLVE"
rc=$?
kill $srv
exit $rc
"""


def require_clis():
    """The CLI tests need agents/cli/node_modules; in CI its absence is a failure."""
    import pytest

    if not CLI_BIN.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{CLI_BIN} missing: run `npm ci --prefix agents/cli` first")
        pytest.skip("agent CLIs not installed (run `npm ci --prefix agents/cli`)")
    if netns_prefix() is None:
        pytest.fail("cannot create a loopback-only network namespace (unshare -n or -rn)")


def netns_prefix() -> list[str] | None:
    """unshare command giving a loopback-only namespace, or None if impossible."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return None
    for cmd in (["unshare", "-n"], ["unshare", "-rn"]):  # root, else a user namespace
        ok = subprocess.run([*cmd, "ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0
        if ok:
            return cmd
    return None


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    key: str
    requests: list[dict]  # what the server received, in order


def make_job(job: Path, prompt: str = "Post-train the model and save it in final_model/.") -> Path:
    job.mkdir(parents=True, exist_ok=True)
    (job / "prompt.md").write_text(prompt + "\n")
    (job / "timer.sh").write_text("#!/bin/bash\necho 'Remaining time: 9:59'\n")
    (job / "evaluate.py").write_text("print('accuracy: 0.0')\n")
    return job


def loopback_env(
    scaffold: str,
    job: Path,
    log: Path,
    key: str,
    with_key_variable: bool = True,
    model: str | None = None,
    args: list[str] = (),
) -> dict:
    """What the loopback command needs: the CLI's settings, the provider's URL and (unless the
    agent signs in with a credential file instead) its key variable; the server expects `key`.
    `model` and `args` as an agent of the config gives them (default: a test model, no args)."""
    keyvar, urlvar, url, default_model = PROVIDERS[scaffold]
    env = {
        "PTB_PROMPT_FILE": str(job / "prompt.md"),
        "PTB_AGENT_MODEL": model or default_model,
        "PTB_AGENT_ARGS": " ".join(args),
        "PTB_AGENT_NAME": scaffold,
        "PTB_CLI_BIN": str(CLI_BIN),
        urlvar: url,
        "SOLVE": str(REPO / "agents" / scaffold / "solve.sh"),
        "SERVER": str(SERVER),
        "SERVER_LOG": str(log),
        "FAKE_PROVIDER_KEY": key,
        "PORT": str(PORT),
    }
    if with_key_variable:
        env[keyvar] = key
    if "FAKE_SHELL_COMMAND" in os.environ:  # lets a test script the agent's shell command
        env["FAKE_SHELL_COMMAND"] = os.environ["FAKE_SHELL_COMMAND"]
    return env


def loopback_command() -> list[str]:
    """The fake provider and solve.sh together, in a loopback-only network namespace."""
    prefix = netns_prefix()
    if prefix is None:
        raise RuntimeError("cannot create a network namespace (unshare -n / -rn)")
    return [*prefix, "bash", "-c", NETNS_SCRIPT]


def server_requests(log: Path, start: int = 0) -> list[dict]:
    with open(log) as f:
        f.seek(start)
        return [json.loads(line) for line in f if line.strip()]


def run_agent(
    scaffold: str,
    job: Path,
    log: Path,
    resume: str | None = None,
    timeout: int = 120,
    model: str | None = None,
    args: list[str] = (),
) -> Run:
    key = "sk-ptb-sentinel-" + secrets.token_hex(16)
    env = {
        # A minimal environment: nothing from the host (no real keys) leaks in.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(job),
        "LANG": "C.UTF-8",
        **loopback_env(scaffold, job, log, key, model=model, args=args),
    }
    if resume:
        env["PTB_RESUME_MESSAGE"] = resume
    command = loopback_command()
    start = log.stat().st_size if log.exists() else 0
    p = subprocess.run(
        command,
        cwd=job,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(p.returncode, p.stdout, p.stderr, key, server_requests(log, start))


if __name__ == "__main__":
    scaffold, job = sys.argv[1], Path(sys.argv[2])
    make_job(job)
    r = run_agent(scaffold, job, job.parent / f"{job.name}.server.jsonl", resume=(sys.argv[3:] or [None])[0])
    print(r.stdout)
    print("--- stderr\n" + r.stderr, file=sys.stderr)
    print(f"rc={r.rc} requests={[(q['path'], q['key_ok']) for q in r.requests]}", file=sys.stderr)
