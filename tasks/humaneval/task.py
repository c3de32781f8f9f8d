"""HumanEval: write a Python function, scored by running its unit tests.

Data and prompt are inspect_evals' (the hub dataset openai/openai_humaneval,
read from the local Hugging Face cache). The scorer is our own, for two
reasons (PostTrainBench v1.2's scorer fixes):

- A pass needs proof that the tests ran to the end. The program is the
  prompt, the answer, the tests, `check(<entry point>)` and then a line
  printing a random token made fresh for this run; a sample passes only if
  the program exits 0 *and* printed that token. Code that ends the process
  early (`sys.exit(0)`, `os._exit(0)`) before the assertions fails.
- The answer is untrusted code, so it never runs in the evaluation's own
  environment: each program runs under bubblewrap with no network, an empty
  environment (no API keys), the whole filesystem read-only except a private
  /tmp, home folders hidden, and its own process tree. Without a working
  bwrap the task refuses to start (the evaluation then fails with that
  reason) rather than run answers unsandboxed.
"""

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from inspect_ai import Task, task, task_with
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer, stderr
from inspect_ai.solver import TaskState
from inspect_evals.humaneval import humaneval as inspect_evals_humaneval
from inspect_evals.humaneval.humaneval import find_code

TASK = "humaneval"
VERIFY_TIMEOUT = 30  # seconds per program, as inspect_evals
OUTPUT_CHARS = 4000
# Folders that may hold keys or credentials; hidden unless the interpreter itself lives there.
HIDDEN_DIRS = ("/root", "/home", "/run/secrets")


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here: answers must not run unsandboxed."""


def verification_program(prompt: str, answer: str, test: str, entry_point: str, token: str) -> str:
    """The program that scores one answer: it prints `token` only once check() has returned."""
    return "".join([prompt, answer, "\n", test, "\n", f"check({entry_point})", "\n", f"print({token!r})", "\n"])


def passed(returncode: int, stdout: str, token: str) -> bool:
    return returncode == 0 and token in stdout


def _interpreter_dirs() -> list[Path]:
    return [Path(p).resolve() for p in {sys.executable, sys.prefix, sys.base_prefix}]


def hidden_dirs() -> list[str]:
    """HIDDEN_DIRS that exist and do not hold the Python that runs the answers."""
    keep = _interpreter_dirs()
    return [d for d in HIDDEN_DIRS if Path(d).is_dir() and not any(p.is_relative_to(d) for p in keep)]


def sandbox_command(python: str | None = None) -> list[str]:
    """bwrap: read-only root, private /tmp (the only writable folder), no network, no environment.
    The program comes on stdin: a model's answer may hold bytes no command line can carry (NUL)."""
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for folder in hidden_dirs():
        cmd += ["--tmpfs", folder]
    cmd += [
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent", "--new-session", "--chdir", "/tmp",
        "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
    ]  # fmt: skip
    # -I: isolated mode, no user site-packages and no PYTHON* variables. The interpreter by its real
    # path: a venv's bin/python is a link, and one in a checkout under /tmp would vanish behind the
    # private /tmp (answers need only the standard library, not the evaluation's packages).
    return [*cmd, python or str(Path(sys.executable).resolve()), "-I", "-"]


def check_sandbox() -> None:
    """Raise SandboxUnavailable unless bwrap can start a sandboxed Python here."""
    if not shutil.which("bwrap"):
        raise SandboxUnavailable("HumanEval runs answers under bubblewrap, but `bwrap` is not installed here")
    proc = subprocess.run(sandbox_command(), input="print('ok')", capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox here: {proc.stderr.strip()[-500:]}")


async def run_sandboxed(code: str, timeout: float = VERIFY_TIMEOUT) -> tuple[int, str, str]:
    """(returncode, stdout, stderr) of `code` run in the sandbox; a timeout is a failure."""
    proc = await asyncio.create_subprocess_exec(
        *sandbox_command(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},  # bwrap itself needs no more
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(code.encode(errors="surrogateescape")), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -9, "", f"verification timed out after {timeout} s"
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@scorer(metrics=[accuracy(), stderr()])
def sandboxed_tests(timeout: float = VERIFY_TIMEOUT):
    async def score(state: TaskState, target: Target) -> Score:
        answer = find_code(state.output.completion)
        token = secrets.token_hex(16)
        meta = state.metadata
        code = verification_program(meta["prompt"], answer, meta["test"], meta["entry_point"], token)
        returncode, stdout, stderr_text = await run_sandboxed(code, timeout)
        if passed(returncode, stdout, token):
            return Score(value=CORRECT, answer=answer)
        if returncode == 0:
            why = "the program exited with code 0 before check() finished (no completion token)"
        else:
            why = f"exit code {returncode}: {stderr_text[-OUTPUT_CHARS:]}"
        return Score(value=INCORRECT, answer=answer, explanation=why, metadata={"returncode": returncode})

    return score


@task
def humaneval(timeout: float = VERIFY_TIMEOUT) -> Task:
    check_sandbox()
    return task_with(inspect_evals_humaneval(sandbox="local"), scorer=sandboxed_tests(timeout), sandbox=None)
