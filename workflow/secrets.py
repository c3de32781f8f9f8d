"""API keys: which variables are secrets, which job needs which, and keeping them out of what is written.

A key reaches only the jobs that need it: the agent job its provider's key,
an evaluation of an LLM-graded benchmark its grader's key, the judge its
model's key. The Slurm executor submits every job with `sbatch --export=ALL`,
so before the first submission the submitting Snakemake process drops every
secret from its own environment (`withhold_secrets`) and each job that needs
keys is submitted with `sbatch --export-file` (`export_file_option`): a
private file, NUL-separated NAME=value, holding the submitting environment
(less its secrets) and that job's keys. The file replaces the exported
environment, so it carries everything the job needs. Whatever a process
prints, `Redactor` replaces key values before the runner writes it.
"""

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from workflow.config import REPO
from workflow.tasks import TASKS, literal_constant

# Names that hold a credential wherever they come from (HF_TOKEN, GITHUB_TOKEN, OPENAI_API_KEY, ...).
SECRET_NAME = re.compile(r"(^|_)(API_KEY|APIKEY|TOKEN|SECRET|SECRET_KEY|ACCESS_KEY|PASSWORD|PASSWD|CREDENTIALS?)$")
# Values shorter than this are not redacted: replacing "1" everywhere would garble a trace.
MIN_SECRET_CHARS = 8
# Where the per-job key files live while a run submits jobs (private to the user).
SECRETS_DIR = Path(".snakemake") / "ptb-secrets"
# The hub token the prefetch rules (run where Snakemake runs) use for gated repos.
PREFETCH_KEYS = ("HF_TOKEN",)
# Provider prefix of an Inspect model id -> its key (the judge's and the graders' models): the
# table the handed-out grader check (tasks/graders.py) refuses to start without, read from it as data.
PROVIDER_KEYS: dict[str, str] = literal_constant(TASKS / "graders.py", "JUDGE_KEY_VARS")
# The graders' model when the config names none (the LLM-graded tasks' own default).
DEFAULT_GRADER = "openai/gpt-5-mini"


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secret_names(environ: Mapping[str, str]) -> list[str]:
    return sorted(name for name in environ if is_secret_name(name))


def model_key(model: str | None) -> str | None:
    """The variable holding an Inspect model id's key (`openai-api/SERVICE/...` reads SERVICE_API_KEY)."""
    if not model:
        return None
    provider, _, rest = model.partition("/")
    if provider == "openai-api":
        return rest.split("/", 1)[0].upper().replace("-", "_") + "_API_KEY"
    return PROVIDER_KEYS.get(provider)


def scaffold_keys(scaffold: str, agents_dir: Path = REPO / "agents") -> list[str]:
    """The keys a scaffold takes from the environment (agents/<scaffold>/scaffold.yaml)."""
    meta = agents_dir / scaffold / "scaffold.yaml"
    data = yaml.safe_load(meta.read_text()) if meta.exists() else {}
    return list((data or {}).get("keys") or [])


def agent_keys(config: dict, agent: str) -> list[str]:
    """The keys an agent run needs: its scaffold's, unless a subscription credential file replaces them."""
    from workflow.matrix import agent_entry

    entry = agent_entry(config, agent)
    return [] if entry.get("credential") else scaffold_keys(entry["scaffold"])


def grader_keys(config: dict, benchmark: str) -> list[str]:
    """The grader's key of an LLM-graded benchmark (its tasks/<id>/meta.yaml says `judge: true`)."""
    from workflow.tasks import task_meta

    if not task_meta(benchmark).get("judge"):
        return []
    key = model_key(config.get("evaluation", {}).get("judge_model") or DEFAULT_GRADER)
    return [key] if key else []


def judge_keys(config: dict) -> list[str]:
    key = model_key(config.get("judge", {}).get("model"))
    return [key] if key else []


def job_keys(config: dict, rule: str, wildcards: Mapping[str, str]) -> list[str]:
    """The keys one job needs, by rule and wildcards; every other key stays on the submitting node."""

    def get(name):
        return wildcards[name] if isinstance(wildcards, Mapping) else getattr(wildcards, name)

    if rule == "run_agent":
        return agent_keys(config, get("agent"))
    if rule == "evaluate":
        return grader_keys(config, get("benchmark"))
    if rule == "evaluate_baselines":  # one job per model runs every benchmark
        return sorted({key for benchmark in config["benchmarks"] for key in grader_keys(config, benchmark)})
    if rule == "judge":
        return judge_keys(config)
    return []


def withhold_secrets(environ: dict) -> dict[str, str]:
    """Remove every secret from `environ` (the submitting process's) and return them."""
    taken = {name: environ.pop(name) for name in secret_names(environ)}
    return taken


def key_file(workdir: Path, names: Iterable[str]) -> Path:
    """Where the key file of a set of names lives (the same set always gets the same file)."""
    digest = hashlib.sha256(",".join(sorted(set(names))).encode()).hexdigest()[:16]
    return Path(workdir).resolve() / SECRETS_DIR / f"{digest}.env"


def export_file_option(workdir: Path, names: Iterable[str]) -> str:
    """The sbatch option giving a job these keys ('' when it needs none)."""
    names = sorted(set(names))
    return f"--export-file={key_file(workdir, names)}" if names else ""


def write_key_files(
    workdir: Path,
    name_sets: Iterable[Iterable[str]],
    secrets: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write one private file per set of names: `environ` (the submitting environment, its
    secrets withheld) and those keys, as `sbatch --export-file` reads it."""
    environ = {} if environ is None else environ
    base = {k: v for k, v in environ.items() if not is_secret_name(k) and "\0" not in v and "=" not in k}
    folder = Path(workdir).resolve() / SECRETS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    written = []
    for names in {tuple(sorted(set(n))) for n in name_sets if n}:
        path = key_file(workdir, names)
        entries = base | {n: secrets[n] for n in names if secrets.get(n)}
        body = "".join(f"{k}={v}\0" for k, v in entries.items())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(body)
        written.append(path)
    return written


def restore_keys(names: Iterable[str], workdir: Path = Path("."), environ: dict = os.environ) -> list[str]:
    """Put withheld keys back into this process's environment (a rule run where Snakemake runs)."""
    names = tuple(names)
    path = key_file(workdir, names)
    if not path.exists():
        return []
    restored = []
    for item in path.read_text().split("\0"):
        name, sep, value = item.partition("=")
        if sep and name in names and name not in environ:
            environ[name] = value
            restored.append(name)
    return restored


def remove_key_files(workdir: Path) -> None:
    folder = Path(workdir).resolve() / SECRETS_DIR
    for path in folder.glob("*.env") if folder.is_dir() else []:
        path.unlink(missing_ok=True)


class Redactor:
    """Replaces the values of secrets with a marker naming the variable."""

    def __init__(self, environ: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        found = {name: environ[name] for name in secret_names(environ)}
        found.update(extra or {})
        # Longest first, so a key containing another is replaced whole.
        self.secrets = sorted(
            ((v, n) for n, v in found.items() if v and len(v) >= MIN_SECRET_CHARS), key=lambda p: -len(p[0])
        )

    def __call__(self, text: str) -> str:
        for value, name in self.secrets:
            if value in text:
                text = text.replace(value, f"[redacted {name}]")
        return text

    def bytes(self, data: bytes) -> bytes:
        for value, name in self.secrets:
            raw = value.encode()
            if raw in data:
                data = data.replace(raw, f"[redacted {name}]".encode())
        return data
