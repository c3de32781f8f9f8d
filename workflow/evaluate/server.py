"""One vLLM OpenAI-compatible server per evaluation job.

The server runs in the eval image (workflow.environment.runtime: on the
cluster the Apptainer image, here the local venv standing in for it) as
`python -m vllm.entrypoints.openai.api_server`: the `vllm` console command of
the CPU build crashes. It stays up across the attempts of a job, so retries down the
token ladder do not pay its start-up again, and it is always stopped, whole
process group included, when the job ends or fails: the GPU is freed.
"""

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from workflow.environment.runtime import ImageRuntime

START_TIMEOUT_S = 900
STOP_GRACE_S = 30
POLL_S = 1.0
LOG_TAIL_CHARS = 3000

# Settings for a GPU that the evaluation job has to itself. Config
# (evaluation.vllm_args) overrides any of them, e.g. for vLLM's CPU build.
DEFAULT_SERVER_ARGS = {"gpu_memory_utilization": 0.9}


class ServerStartError(RuntimeError):
    """The server exited or never answered; the message ends with its log's tail."""


def served_model_name(model: str) -> str:
    """How the server names the model: the folder's name or the hub id, never with ':'."""
    path = Path(model)
    name = path.name if path.is_dir() else model
    return name.replace(":", "_") or "model"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_args(server_args: dict) -> list[str]:
    """vLLM command-line flags from a dict: True -> bare flag, False/None -> omitted,
    a mapping or list -> JSON (as vLLM parses --override-generation-config and its kin)."""
    out: list[str] = []
    for key, value in server_args.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, dict | list):
            out += [flag, json.dumps(value)]
        else:
            out += [flag, str(value)]
    return out


def server_command(python: str, model: str, name: str, port: int, server_args: dict) -> list[str]:
    return [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model,
        "--served-model-name", name,
        "--host", "127.0.0.1",
        "--port", str(port),
        *cli_args(server_args),
    ]  # fmt: skip


@dataclass
class VllmServer:
    python: str
    model: str
    server_args: dict
    log_path: Path
    env: dict = field(default_factory=dict)
    start_timeout_s: float = START_TIMEOUT_S
    name: str = ""
    port: int = 0
    # A fresh key per server, passed by environment (never on a command line or in a log).
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen | None = None
    starts: int = 0
    runtime: ImageRuntime | None = None  # the image it runs in; None: this environment

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.stop()
        self.name = self.name or served_model_name(self.model)
        self.port = free_port()
        cmd = server_command(self.python, self.model, self.name, self.port, self.server_args)
        env = {**os.environ, **self.env, "VLLM_API_KEY": self.api_key}
        if self.runtime is not None:
            cmd, env = self.runtime.command(cmd), self.runtime.environment(env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            # Own process group (to stop the engine's workers with it) but the
            # same session: the CPU build busy-waits, and a separate session
            # would let the kernel starve the client.
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                process_group=0,
            )
        self.starts += 1
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        request = urllib.request.Request(f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.api_key}"})
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerStartError(f"vLLM server exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                with urllib.request.urlopen(request, timeout=5) as resp:
                    if resp.status == 200:
                        return
            time.sleep(POLL_S)
        raise ServerStartError(f"vLLM server not ready after {self.start_timeout_s:.0f} s:\n{self.log_tail()}")

    def ensure_running(self) -> None:
        """Start the server, or restart it if it died (an out-of-memory crash, say)."""
        if not self.alive():
            self.start()

    def stop(self) -> None:
        if self.process is None:
            return
        proc, self.process = self.process, None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        # Workers left in the group (the engine core) go too, even if the
        # server itself already exited.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + STOP_GRACE_S
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-LOG_TAIL_CHARS:]


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies awaiting their parent do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


@contextlib.contextmanager
def stopped_on_exit(server: VllmServer):
    """Stop the server however the block ends, SIGTERM (Slurm's cancel or time limit) included."""

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    try:
        yield server
    finally:
        server.stop()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
