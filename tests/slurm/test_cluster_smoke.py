"""Smoke tests of the throwaway Slurm cluster: the behaviours the pipeline
relies on (GPU binding, cancel, requeue), a handful of short jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.slurm.cluster import SlurmCluster

pytestmark = pytest.mark.slurm


def _lines(path: Path, prefix: str) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.startswith(prefix)]


def test_partitions_and_gpus(slurm_cluster: SlurmCluster) -> None:
    assert slurm_cluster.default_partition == slurm_cluster.cpu_partition == "cpu"
    assert set(slurm_cluster.partitions) == {"cpu", "gpu"}
    node = slurm_cluster.scontrol("show", "node", slurm_cluster.node).stdout
    assert "Gres=gpu:2" in node


def test_gpu_job_gets_cuda_visible_devices(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "gpu.out"
    job = slurm_cluster.submit(
        f"--partition={slurm_cluster.gpu_partition}",
        "--gpus=1",
        "--tmp=1G",  # the node advertises TmpDisk, so disk requests fit
        f"--output={out}",
        wrap='echo "CVD=${CUDA_VISIBLE_DEVICES:-unset} PART=$SLURM_JOB_PARTITION"',
    )
    assert slurm_cluster.wait_for_state(job, ["COMPLETED", "FAILED", "CANCELLED"]) == "COMPLETED"
    (line,) = _lines(out, "CVD=")
    assert line in {"CVD=0 PART=gpu", "CVD=1 PART=gpu"}


def test_scancel_running_job(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "cancel.out"
    job = slurm_cluster.submit(f"--output={out}", wrap="echo started; sleep 300")
    slurm_cluster.wait_for_state(job, ["RUNNING"], timeout=30)
    slurm_cluster.scancel(job)
    # The controller marks it CANCELLED at once (squeue may still show CG
    # while the processes die); "gone" is fine too.
    assert slurm_cluster.wait_for_state(job, ["CANCELLED", None], timeout=5) in {"CANCELLED", None}
    slurm_cluster.wait_until(
        lambda: True if job not in slurm_cluster.squeue("-h", "-o", "%i").stdout.split() else None,
        timeout=15,
        what=f"job {job} to leave squeue",
    )
    if slurm_cluster.accounting:
        slurm_cluster.wait_until(
            lambda: True if slurm_cluster.sacct_state(job) == "CANCELLED" else None,
            timeout=10,
            what=f"sacct to report job {job} CANCELLED",
            describe=lambda: f"sacct says {slurm_cluster.sacct_state(job)}",
        )


def test_requeue_reruns_job(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "requeue.out"
    job = slurm_cluster.submit(
        f"--output={out}",
        "--open-mode=append",  # keep the first run's lines across the requeue
        wrap='echo "start restart=${SLURM_RESTART_COUNT:-0}"; sleep 300',
    )
    try:
        slurm_cluster.wait_until(lambda: True if _lines(out, "start") else None, timeout=30, what="first start")
        slurm_cluster.scontrol("requeue", job)
        # The cluster's cred_expire=5 and sched_interval=2 make this ~7 s.
        starts = slurm_cluster.wait_until(
            lambda: s if len(s := _lines(out, "start")) >= 2 else None,
            timeout=60,
            what="the requeued job to start again",
            describe=lambda: f"state {slurm_cluster.job_state(job)}, output {out.read_text()!r}",
        )
        assert starts == ["start restart=0", "start restart=1"]
        assert slurm_cluster.job_info(job)["Restarts"] == "1"
    finally:
        slurm_cluster.scancel(job, check=False)
