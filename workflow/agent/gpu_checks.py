"""Checks before an agent starts on GPUs, and a monitor while it runs.

The checks run in a fresh interpreter of the agent's own environment, so a
broken CUDA install fails the job before the budget starts, not hours in.
"""

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# Runs inside the agent's environment: sees every GPU it was given and writes
# to each one's memory (a read-only or faulty device fails here).
CHECK_SCRIPT = """
import json, torch
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
devices = []
for i in range(n):
    x = torch.full((1024, 1024), 3.0, device=f"cuda:{i}")
    ok = float((x * 2).sum().item()) == 6.0 * 1024 * 1024
    devices.append({"index": i, "name": torch.cuda.get_device_name(i), "write_ok": ok})
print(json.dumps({"cuda_available": torch.cuda.is_available(), "devices": devices}))
"""


class GpuCheckError(RuntimeError):
    """The job did not get the GPUs it asked for; the agent must not start."""


def check_gpus(num_gpus: int, python: str = sys.executable, wrap: Callable[[list], list] = list) -> dict:
    """Verify CUDA sees num_gpus devices and each accepts a write; return what was found.

    wrap runs the check where the agent will run (its sandbox or container).
    """
    proc = subprocess.run(wrap([python, "-c", CHECK_SCRIPT]), capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise GpuCheckError(f"GPU check crashed: {proc.stderr.strip()[-1000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if not found["cuda_available"]:
        raise GpuCheckError(f"{num_gpus} GPU(s) requested but CUDA is not available")
    if len(found["devices"]) < num_gpus:
        raise GpuCheckError(f"{num_gpus} GPU(s) requested but only {len(found['devices'])} visible")
    bad = [d["index"] for d in found["devices"] if not d["write_ok"]]
    if bad:
        raise GpuCheckError(f"GPU memory write failed on device(s) {bad}")
    return found


GPU_FIELDS = ["index", "util_pct", "mem_used_mib", "mem_total_mib", "power_w"]


def _gpu_sample() -> list[dict]:
    query = "index,utilization.gpu,memory.used,memory.total,power.draw"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 5:
            rows.append(dict(zip(GPU_FIELDS, parts, strict=True)))
    return rows


class SystemMonitor:
    """Samples CPU, memory and GPU use to a JSON-lines log every `interval` seconds."""

    def __init__(self, path: Path, interval: float = 30.0):
        self.path, self.interval = Path(path), interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict:
        import psutil

        vm = psutil.virtual_memory()
        return {
            "t": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpu_pct": psutil.cpu_percent(interval=None),
            "mem_used_gib": round(vm.used / 2**30, 2),
            "mem_pct": vm.percent,
            "gpus": _gpu_sample(),
        }

    def _run(self) -> None:
        with open(self.path, "a") as f:
            while True:
                f.write(json.dumps(self.sample()) + "\n")
                f.flush()
                if self._stop.wait(self.interval):
                    break

    def __enter__(self):
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
