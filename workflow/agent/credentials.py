"""Subscription credentials: an agent that logs in with a file instead of an API key.

Some models are reachable only through a CLI subscription: Codex CLI signed
in with a ChatGPT plan keeps its tokens in `$CODEX_HOME/auth.json`; Claude
Code takes a long-lived OAuth token (from `claude setup-token`) in
`CLAUDE_CODE_OAUTH_TOKEN`. An agent entry names such a file with
`credential: PATH`; its scaffold says where the CLI expects it
(`credential:` in agents/<scaffold>/scaffold.yaml, a path in the job dir).

For one run the file is copied there (mode 600) and nowhere else; the
provider's API keys are left out of the agent's environment. When the run
ends, however it ends, the copy is removed (a token the CLI refreshed is
first written back to the source, since refresh tokens are single-use), and
every file of the cell is scrubbed of the credential's secret strings, so
no trace, log, result or judge input holds them.
"""

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from workflow.config import REPO

AGENTS = REPO / "agents"
CREDENTIAL_VAR = "PTB_CREDENTIAL_FILE"  # the copy's path, for solve.sh
MIN_SECRET_CHARS = 16  # strings this long in a JSON credential count as secrets (tokens, not flags)
MASK = b"*"  # same length as the secret, so binary files keep their layout


class CredentialError(ValueError):
    """A credential that cannot be used; the message names the config key."""


def credential_target(scaffold: str, agents: Path = AGENTS) -> str | None:
    """Where the scaffold's CLI reads a credential, relative to the job dir; None if it takes none."""
    meta = agents / scaffold / "scaffold.yaml"
    data = yaml.safe_load(meta.read_text()) if meta.exists() else {}
    return (data or {}).get("credential")


def credential_source(config: dict, agent: dict, repo: Path = REPO) -> Path | None:
    """The credential file an agent entry names, as an absolute path (relative paths: from the repo root)."""
    path = agent.get("credential")
    if not path:
        return None
    path = Path(os.path.expanduser(path))
    return path if path.is_absolute() else (repo / path).resolve()


def _tracked_or_visible(path: Path, repo: Path) -> bool:
    """Whether a file inside the repo would be committed (tracked, or not ignored by git)."""
    rel = str(path.relative_to(repo))
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", rel], cwd=repo, capture_output=True)
    if tracked.returncode == 0:
        return True
    ignored = subprocess.run(["git", "check-ignore", "-q", rel], cwd=repo, capture_output=True)
    return ignored.returncode == 1  # 0: ignored; 128: not a git checkout (nothing to commit into)


def credential_problems(config: dict, repo: Path = REPO, agents: Path = AGENTS) -> list[str]:
    """Problems with the enabled agents' credential files, each naming the key."""
    problems = []
    for name, agent in config["agents"].items():
        if not agent.get("credential") or not agent.get("enabled", True):
            continue
        key = f"agents.{name}.credential"
        source = credential_source(config, agent, repo)
        if credential_target(agent["scaffold"], agents) is None:
            problems.append(f"{key}: scaffold '{agent['scaffold']}' takes no credential file (use its API key)")
        elif not source.is_file():
            problems.append(f"{key}: no file at {source}")
        elif source.is_relative_to(repo.resolve()) and _tracked_or_visible(source, repo.resolve()):
            where = "keep it outside the repo or under credentials/"
            problems.append(f"{key}: {source} is inside the repo and not git-ignored; {where}")
    return problems


def secrets_of(data: bytes) -> list[bytes]:
    """The secret strings of a credential: a JSON file's long string values, else its stripped content."""
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        found: list[str] = []

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
                found.append(value)

        walk(parsed)
        return sorted({s.encode() for s in found}, key=len, reverse=True)
    token = data.strip()
    return [token] if token else []


def scrub(root: Path, secrets: list[bytes]) -> list[Path]:
    """Mask every secret in every file under root; return the files changed.

    Links are not followed and mount points are not entered: the cell's
    copy-on-write view of the shared HF cache is mounted there during the run
    (the agent's own writes to it sit in the overlay's upper folder, which is scrubbed).
    """
    changed = []
    if not secrets:
        return changed
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(folder, d))]
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if not any(s in data for s in secrets):
                continue
            for secret in secrets:
                data = data.replace(secret, MASK * len(secret))
            path.write_bytes(data)
            changed.append(path)
    return changed


def _write_back(copy: Path, source: Path, original: bytes) -> None:
    """A CLI that refreshed its tokens rewrote the copy: keep the new ones in the source."""
    try:
        current = copy.read_bytes()
    except OSError:
        return
    if not current.strip() or current == original:
        return
    if source.suffix == ".json":
        try:
            json.loads(current)
        except ValueError:
            return  # a half-written file is not worth more than the old tokens
    tmp = source.with_name(source.name + ".partial")
    tmp.write_bytes(current)
    os.chmod(tmp, 0o600)
    os.replace(tmp, source)


@contextmanager
def installed_credential(
    source: Path | None, scaffold: str, job_dir: Path, env: dict, scrub_root: Path, agents: Path = AGENTS
) -> Iterator[Path | None]:
    """Copy the credential into the job dir for the run; remove it and scrub scrub_root afterwards.

    `env` (the agent's environment) loses the scaffold's API keys and gains
    PTB_CREDENTIAL_FILE. Without a source this does nothing.
    """
    if source is None:
        yield None
        return
    target = credential_target(scaffold, agents)
    if target is None:
        raise CredentialError(f"scaffold '{scaffold}' takes no credential file")
    copy = Path(job_dir) / target
    original = Path(source).read_bytes()
    secrets = set(secrets_of(original))
    meta = yaml.safe_load((agents / scaffold / "scaffold.yaml").read_text()) or {}
    for key in meta.get("keys") or []:
        env.pop(key, None)
    env[CREDENTIAL_VAR] = str(copy)
    copy.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(original)
    try:
        yield copy
    finally:
        if copy.exists():
            secrets |= set(secrets_of(copy.read_bytes()))
            _write_back(copy, Path(source), original)
            copy.unlink()
        scrub(Path(scrub_root), sorted(secrets, key=len, reverse=True))
