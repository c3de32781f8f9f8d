"""The rehearsal, run once per session on the test Slurm cluster; tests/rehearsal/test_*.py read its results.

1. Tiny models of the four families (cached under $PTB_REHEARSAL_CACHE, by
   default /tmp/ptb-rehearsal-cache: rebuilt only when their recipe changes),
   every benchmark's data, the loopback hub and the loopback providers.
2. A fresh copy of the repo, then, as a user would:
     snakemake --profile slurm --configfile config/config.yaml tests/rehearsal/overlay.yaml
   first for the prefetch report only (hub phase "prefetch"), then for the
   whole matrix (hub phase "matrix": every request the hub sees then was made
   by a job after the prefetch, so none may come).
3. The v1.2 phase: two of the matrix's final models evaluated again under
   suite v1.2 (tests/rehearsal/suite_v1.2.yaml), in results-v1.2/.
"""

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.agents.agent_harness import CLI_BIN
from tests.pipeline import require
from tests.rehearsal.hub import build_hub, mirror_prefixes
from tests.rehearsal.providers import Providers
from tests.rehearsal.rehearsal import (
    CREDENTIAL,
    CREDENTIAL_NAME,
    HUB_PORT,
    KEYS,
    PROVIDER_PORT,
    SWAPPED_MODEL,
    Rehearsal,
    job_env,
    pipeline_config,
    prepare_work,
    run_phase,
    run_v12_phase,
)
from tests.rehearsal.tiny_models import build_family_models
from workflow.config import REPO

CACHE = Path(os.environ.get("PTB_REHEARSAL_CACHE", "/tmp/ptb-rehearsal-cache"))


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def rehearsal(slurm_cluster, tmp_path_factory):
    require(CLI_BIN.is_dir(), f"{CLI_BIN} missing (make install-cli)")
    require((REPO / ".venv-vllm" / "bin" / "python").exists(), "the vLLM venv is missing (make install-vllm)")
    require(bool(shutil.which("bwrap") and shutil.which("fuse-overlayfs")), "bwrap and fuse-overlayfs are needed")
    for port in (HUB_PORT, PROVIDER_PORT):
        assert port_is_free(port), f"port {port} (tests/rehearsal/overlay.yaml) is taken"
    config = pipeline_config()
    root = tmp_path_factory.mktemp("rehearsal")
    models = build_family_models(config["models"], CACHE / "models")
    hub = build_hub(models, root / "hub-data", KEYS["HF_TOKEN"], config["benchmarks"])
    hub_url = hub.start(port=HUB_PORT)
    assert mirror_prefixes(hub_url, config["benchmarks"]) == config["prefetch"]["mirrors"]
    refs = config["models"][SWAPPED_MODEL]
    secrets = {**KEYS, CREDENTIAL_NAME: CREDENTIAL}  # the provider's log names which one each request carried
    providers = Providers(keys=secrets, swap={refs["base"]: refs["instruct"]}, hub_url=hub_url)
    providers_url = providers.start(PROVIDER_PORT)
    try:
        work = prepare_work(root / "repo")
        env = job_env(work, hub_url, providers_url)
        run = Rehearsal(work, config, hub, providers)
        hub.phase = "prefetch"
        run.phases["prefetch"] = run_phase("prefetch", work, env, "results/prefetch/report.json")
        hub.phase = "matrix"
        if run.phases["prefetch"].returncode == 0:
            run.phases["matrix"] = run_phase("matrix", work, env)
        hub.phase = "v1.2"
        if run.phases.get("matrix") and run.phases["matrix"].returncode == 0:
            run.phases["v1.2"] = run_v12_phase(work, env)
        yield run
    finally:
        hub.stop()
        providers.stop()
