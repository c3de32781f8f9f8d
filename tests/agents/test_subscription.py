"""Subscription agents: the real Codex CLI and Claude Code sign in with a credential
file (ChatGPT auth.json; a long-lived OAuth token) instead of an API key, through
the real runner and solve.sh, against the loopback providers. The scripted model
makes the agent print the credential and copy it into final_model/, so the test
proves the clean-up against a real leak: afterwards the credential is nowhere in
the cell (trace, logs, job dir, the judge's view) and its copy is gone."""

import base64
import json
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from agent_harness import PROVIDERS, loopback_command, loopback_env, make_job, require_clis, server_requests
from fake_providers import FINAL_TEXT

from workflow.agent.credentials import CREDENTIAL_VAR, installed_credential, secrets_of
from workflow.agent.runner import AgentSpec, agent_env, run_agent
from workflow.judge.llm import build_context

# The agent reads the credential the runner placed and leaks it into its output and a file.
LEAK_COMMAND = f'mkdir -p final_model && cat "${CREDENTIAL_VAR}" | tee final_model/leak.txt'
# Keys a user may have exported as well: a subscription agent must not receive them.
HOST_KEYS = {"ANTHROPIC_API_KEY": "sk-ant-host-key-0123456789", "OPENAI_API_KEY": "sk-host-openai-0123456789"}


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def codex_auth(access_token: str) -> bytes:
    """An auth.json shaped like `codex login` writes it for a ChatGPT plan (sentinel tokens)."""
    claims = {
        "email": "sentinel@example.invalid",
        "exp": int(time.time()) + 30 * 86400,
        "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-sentinel"},
    }
    id_token = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2VudGluZWw"
    auth = {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": id_token,
            "access_token": access_token,
            "refresh_token": "rt-SENTINEL-" + secrets.token_hex(16),
            "account_id": "acct-sentinel",
        },
        "last_refresh": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(auth, indent=2).encode()


def credential_for(scaffold: str, token: str) -> tuple[str, bytes]:
    """(file name, content) of a sentinel credential whose bearer token is `token`."""
    if scaffold == "codex":
        return "auth.json", codex_auth(token)
    return "claude-oauth-token", (token + "\n").encode()


def files_holding(root: Path, needles: list[bytes]) -> list[str]:
    return [
        str(f.relative_to(root))
        for f in root.rglob("*")
        if f.is_file() and not f.is_symlink() and any(n in f.read_bytes() for n in needles)
    ]


@pytest.mark.parametrize("scaffold", ["codex", "claude"])
def test_subscription_credential_is_used_then_found_nowhere(scaffold, tmp_path, monkeypatch):
    require_clis()
    monkeypatch.setenv("FAKE_SHELL_COMMAND", LEAK_COMMAND)
    token = f"sk-SENTINEL-oauth-{secrets.token_hex(16)}"
    name, content = credential_for(scaffold, token)
    source = tmp_path / "outside-the-repo" / name
    source.parent.mkdir()
    source.write_bytes(content)
    secret_strings = secrets_of(content)
    assert token.encode() in secret_strings
    cell = tmp_path / "cell"
    job = make_job(cell / "job")
    server_log = tmp_path / "provider.jsonl"  # the provider's own record, outside the cell

    model = PROVIDERS[scaffold][3]
    spec = AgentSpec("subscriber", scaffold, model, hours=0.05, grace_minutes=0.5, num_gpus=0, kill_after_seconds=5)
    host = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **HOST_KEYS}
    env = agent_env(spec, job, str(tmp_path / "hf"), internet=False, source_env=host)
    env.update(loopback_env(scaffold, job, server_log, token, with_key_variable=False))
    keyvar = PROVIDERS[scaffold][0]
    with installed_credential(source, scaffold, job, env, scrub_root=cell) as copy:
        assert copy.is_file() and copy.is_relative_to(job) and copy.stat().st_mode & 0o777 == 0o600
        assert keyvar not in env and env[CREDENTIAL_VAR] == str(copy)
        record = run_agent(spec, loopback_command(), job, env, cell / "trace.jsonl", cell / "agent.log")

    assert record["status"] == "finished", (cell / "agent.log").read_text()[-3000:]
    posts = [r for r in server_requests(server_log) if r["method"] == "POST"]
    # Every model call was signed with the subscription token, none with a host key.
    assert posts and all(r["key_ok"] for r in posts)
    # The agent really leaked it: its tool result went back to the model.
    assert any(token in json.dumps(r["body"]) for r in posts)
    trace = (cell / "trace.jsonl").read_text()
    assert FINAL_TEXT in trace and b"*" * len(token) in (cell / "trace.jsonl").read_bytes()
    assert (job / "final_model" / "leak.txt").exists()
    # ... and afterwards it is nowhere in the cell, the copy is gone, the source is untouched.
    needles = [*secret_strings, *(v.encode() for v in HOST_KEYS.values())]
    assert files_holding(cell, needles) == []
    assert not copy.exists() and source.read_bytes() == content
    view = build_context(job, cell / "trace.jsonl", set(), "gsm8k", "org/base", None)
    assert "leak.txt" in view and not any(n.decode() in view for n in needles)


def test_refreshed_tokens_go_back_to_the_source_and_both_are_scrubbed(tmp_path):
    """Codex rotates single-use refresh tokens: a rewritten copy is kept in the source."""
    source = tmp_path / "auth.json"
    source.write_bytes(codex_auth("at-SENTINEL-old-" + secrets.token_hex(8)))
    old = secrets_of(source.read_bytes())
    cell = tmp_path / "cell"
    job = cell / "job"
    job.mkdir(parents=True)
    env = {"OPENAI_API_KEY": "sk-host-openai-0123456789"}
    rotate = (
        "import json, os, sys; p = os.environ['PTB_CREDENTIAL_FILE']; a = json.load(open(p));"
        "a['tokens']['access_token'] = 'at-SENTINEL-new-0123456789abcdef';"
        "a['tokens']['refresh_token'] = 'rt-SENTINEL-new-0123456789abcdef';"
        "json.dump(a, open(p, 'w')); print(a['tokens']['refresh_token'])"
    )
    spec = AgentSpec("s", "codex", "m", hours=0.01, grace_minutes=0.1, num_gpus=0, kill_after_seconds=1)
    with installed_credential(source, "codex", job, env, scrub_root=cell):
        assert "OPENAI_API_KEY" not in env
        run_agent(spec, [sys.executable, "-c", rotate], job, env, cell / "trace.jsonl", cell / "agent.log")
    kept = json.loads(source.read_text())
    assert kept["tokens"]["refresh_token"] == "rt-SENTINEL-new-0123456789abcdef"
    assert source.stat().st_mode & 0o777 == 0o600
    assert files_holding(cell, [*old, b"rt-SENTINEL-new-0123456789abcdef", b"at-SENTINEL-new"]) == []
    assert not (job / ".agent-home" / "codex" / "auth.json").exists()


def test_credential_is_removed_when_the_run_fails(tmp_path):
    source = tmp_path / "token"
    source.write_text("sk-SENTINEL-claude-oauth-0123456789\n")
    cell = tmp_path / "cell"
    (cell / "job").mkdir(parents=True)
    with pytest.raises(RuntimeError), installed_credential(source, "claude", cell / "job", {}, scrub_root=cell) as copy:
        (cell / "job" / "notes.txt").write_text("token was " + copy.read_text())
        raise RuntimeError("the job died")
    assert not copy.exists()
    assert files_holding(cell, [b"sk-SENTINEL-claude-oauth-0123456789"]) == []
    assert (cell / "job" / "notes.txt").read_text().startswith("token was ****")


def test_scrub_stays_out_of_mounted_folders(tmp_path, monkeypatch):
    """The shared HF cache is mounted in the cell during the run: the scrub must not walk it."""
    from workflow.agent import credentials

    (tmp_path / "hf_overlay" / "merged").mkdir(parents=True)
    (tmp_path / "hf_overlay" / "upper").mkdir()
    for folder in ("merged", "upper"):
        (tmp_path / "hf_overlay" / folder / "f.txt").write_text("sk-SENTINEL-0123456789abcdef")
    merged = str(tmp_path / "hf_overlay" / "merged")
    monkeypatch.setattr(credentials.os.path, "ismount", lambda p: str(p) == merged)
    changed = credentials.scrub(tmp_path, [b"sk-SENTINEL-0123456789abcdef"])
    assert changed == [tmp_path / "hf_overlay" / "upper" / "f.txt"]
    assert "SENTINEL" in (tmp_path / "hf_overlay" / "merged" / "f.txt").read_text()
