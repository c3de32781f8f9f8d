"""Session-wide settings of the test machine (CI: 2 cores, Slurm's packages installed, vLLM's CPU build)."""

import os

import pytest

from tests.slurm.cluster import (
    skip_reason,
    slurm_cluster,  # noqa: F401  (the session's Slurm cluster)
)

# vLLM's CPU build binds its engine to one core and keeps the other for the API
# server ("auto"): on 2 cores every server of every concurrent job then computes
# on core 0. Unbound, the engines share both cores. (GPU builds ignore this.)
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")


@pytest.fixture(scope="session", autouse=True)
def slurm_controller_up(request):
    """The session's Slurm cluster, up before the first test rather than at the first Slurm test.

    Every Snakemake start imports the Slurm executor plugin, which asks
    `scontrol show config`; with Slurm's client installed and no controller
    that call waits 9 s for its timeout, in every test that runs Snakemake.
    As root every session therefore (re)starts the cluster: run one session at
    a time, or set PTB_SLURM_REUSE=1 (keep a running cluster) or PTB_NO_SLURM=1.
    """
    if skip_reason() is None:
        request.getfixturevalue("slurm_cluster")
