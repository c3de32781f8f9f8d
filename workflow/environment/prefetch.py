"""Fill the shared Hugging Face cache before any job runs, and check it offline.

What is fetched comes from config: the base and instruct models of `models:`,
`prefetch.extra_models`, every configured benchmark's `datasets:` (its
tasks/<id>/meta.yaml, or `prefetch.benchmark_datasets` while the task has no
such key) and `prefetch.datasets` (training data offered to agents).

A dataset entry mirrors the call that later reads it, because an offline
`datasets.load_dataset` only finds what was prepared with the same
name/data_dir: `{repo, name, data_dir, revision}` is loaded with `datasets`;
an entry with `files` (glob patterns) is a raw `snapshot_download` instead.

Data that is not on the hub (BFCL's question files, HealthBench's JSONL) is a
`downloads:` entry of the task's meta.yaml: files under a base URL, saved
below $HF_HOME/inspect_evals (DOWNLOADS_DIR), which is inspect_evals' cache
folder for the jobs (evaluate.py and `hub_env` point INSPECT_EVALS_CACHE_DIR
there). `prefetch.mirrors` maps a URL prefix to another host (a site mirror,
or the rehearsal's loopback server).

huggingface_hub reads HF_HOME, HF_ENDPOINT and HF_HUB_OFFLINE when it is
imported, so callers set the environment (`hub_env`) first; the hub libraries
are imported inside the functions.
"""

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from workflow.config import REPO
from workflow.paths import prefetch_marker

# Weights in formats the pipeline never loads (safetensors is what vLLM and
# transformers read); skipping them halves some downloads.
MODEL_IGNORE_PATTERNS = ["*.pth", "*.pt", "*.gguf", "*.onnx", "*.msgpack", "*.h5", "original/*", "onnx/*"]
HUB_URL = "https://huggingface.co"
# Below HF_HOME: the files of `downloads:` entries, laid out as inspect_evals' cache.
DOWNLOADS_DIR = "inspect_evals"
DOWNLOAD_TIMEOUT_S = 120
DOWNLOAD_TRIES = 3


class PrefetchError(RuntimeError):
    """A resource that cannot be fetched or is not usable offline; the message says why."""


@dataclass(frozen=True)
class ModelResource:
    repo: str
    revision: str | None = None

    @property
    def slug(self) -> str:
        return self.repo.replace("/", "--")

    @property
    def page(self) -> str:
        return f"{HUB_URL}/{self.repo}"


@dataclass(frozen=True)
class DatasetResource:
    repo: str
    name: str | None = None
    data_dir: str | None = None
    revision: str | None = None
    files: tuple[str, ...] = field(default=())

    @property
    def slug(self) -> str:
        """A file-name-safe id, unique per distinct load call."""
        parts = [self.repo.replace("/", "--")]
        if self.name:
            parts.append(self.name)
        if self.data_dir:
            parts.append("dir-" + self.data_dir.strip("/").replace("/", "-"))
        if self.revision:
            parts.append("rev-" + self.revision[:12])
        if self.files:
            parts.append("files-" + hashlib.sha1("\n".join(self.files).encode()).hexdigest()[:8])
        return "--".join(parts)

    @property
    def page(self) -> str:
        return f"{HUB_URL}/datasets/{self.repo}"


@dataclass(frozen=True)
class DownloadResource:
    """Files under one base URL, saved to $HF_HOME/inspect_evals/<dest>/ (each under its local name)."""

    base_url: str
    dest: str
    files: tuple[tuple[str, str], ...]  # (remote name, local name)

    @property
    def slug(self) -> str:
        digest = hashlib.sha1(json.dumps([self.base_url, list(self.files)]).encode()).hexdigest()[:8]
        return f"{self.dest.strip('/').replace('/', '-')}--{digest}"

    @property
    def page(self) -> str:
        return self.base_url


def _check_repo_id(repo: str, where: str) -> str:
    if not isinstance(repo, str) or repo.count("/") != 1 or not all(repo.split("/")):
        raise PrefetchError(f"{where}: '{repo}' is not a hub id (org/name)")
    return repo


def _dataset(entry: dict, where: str) -> DatasetResource:
    if not isinstance(entry, dict) or "repo" not in entry:
        raise PrefetchError(f"{where}: a dataset entry needs at least `repo` (got {entry!r})")
    unknown = set(entry) - {"repo", "name", "data_dir", "revision", "files"}
    if unknown:
        raise PrefetchError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} in dataset entry {entry['repo']}")
    return DatasetResource(
        repo=_check_repo_id(entry["repo"], where),
        name=entry.get("name"),
        data_dir=entry.get("data_dir"),
        revision=entry.get("revision"),
        files=tuple(entry.get("files") or ()),
    )


def _model(entry, where: str) -> ModelResource:
    if isinstance(entry, str):
        return ModelResource(_check_repo_id(entry, where))
    return ModelResource(_check_repo_id(entry.get("repo"), where), entry.get("revision"))


def _unique(items):
    seen = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _download(entry: dict, where: str) -> DownloadResource:
    if not isinstance(entry, dict) or not {"base_url", "dest", "files"} <= set(entry):
        raise PrefetchError(f"{where}: a download entry needs base_url, dest and files (got {entry!r})")
    unknown = set(entry) - {"base_url", "dest", "files"}
    if unknown:
        raise PrefetchError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} in download entry")
    files = entry["files"]
    pairs = tuple(files.items()) if isinstance(files, dict) else tuple((f, f) for f in files)
    if not pairs or any(Path(local).is_absolute() or ".." in Path(local).parts for _, local in pairs):
        raise PrefetchError(f"{where}: files must be relative names inside {entry['dest']}")
    return DownloadResource(base_url=entry["base_url"].rstrip("/"), dest=entry["dest"].strip("/"), files=pairs)


def task_downloads(benchmark: str, tasks_dir: Path) -> list[DownloadResource]:
    """A benchmark's non-hub data files: its meta.yaml `downloads:`."""
    meta_file = tasks_dir / benchmark / "meta.yaml"
    meta = (yaml.safe_load(meta_file.read_text()) if meta_file.exists() else {}) or {}
    return [_download(e, f"tasks/{benchmark}/meta.yaml downloads") for e in meta.get("downloads") or []]


def task_datasets(benchmark: str, config: dict, tasks_dir: Path) -> list[DatasetResource]:
    """A benchmark's evaluation datasets: its meta.yaml `datasets:`, else the config's fallback list."""
    meta_file = tasks_dir / benchmark / "meta.yaml"
    meta = yaml.safe_load(meta_file.read_text()) if meta_file.exists() else {}
    if "datasets" in (meta or {}):
        entries, where = meta["datasets"] or [], f"tasks/{benchmark}/meta.yaml datasets"
    else:
        entries = config.get("prefetch", {}).get("benchmark_datasets", {}).get(benchmark, [])
        where = f"prefetch.benchmark_datasets.{benchmark}"
    return [_dataset(e, where) for e in entries]


def task_baseline_model(benchmark: str, tasks_dir: Path) -> str | None:
    meta_file = tasks_dir / benchmark / "meta.yaml"
    return (yaml.safe_load(meta_file.read_text()) or {}).get("baseline_model") if meta_file.exists() else None


def prefetch_resources(config: dict, tasks_dir: Path = REPO / "tasks") -> dict[str, list]:
    """Every hub model and dataset the configured matrix needs, each once."""
    prefetch = config.get("prefetch", {})
    models = [
        ModelResource(ref)
        for name, model in config["models"].items()
        for ref in (model.get("base"), model.get("instruct"))
        if ref and not ref.startswith("embedded:")
    ]
    models += [_model(m, "prefetch.extra_models") for m in prefetch.get("extra_models", [])]
    # A model whose answers a task compares against (Arena-Hard's baseline, made by the pipeline).
    models += [ModelResource(m) for bench in config["benchmarks"] if (m := task_baseline_model(bench, tasks_dir))]
    datasets = [d for bench in config["benchmarks"] for d in task_datasets(bench, config, tasks_dir)]
    datasets += [_dataset(d, "prefetch.datasets") for d in prefetch.get("datasets", [])]
    downloads = [d for bench in config["benchmarks"] for d in task_downloads(bench, tasks_dir)]
    return {"models": _unique(models), "datasets": _unique(datasets), "downloads": _unique(downloads)}


def find_model(resources: dict, repo: str) -> ModelResource:
    """The configured entry for a hub model (its pinned revision), or a plain one."""
    return next((m for m in resources["models"] if m.repo == repo), ModelResource(repo))


def find_dataset(resources: dict, slug: str) -> DatasetResource:
    for d in resources["datasets"]:
        if d.slug == slug:
            return d
    raise PrefetchError(f"no configured dataset with id '{slug}'")


def find_download(resources: dict, slug: str) -> DownloadResource:
    for d in resources["downloads"]:
        if d.slug == slug:
            return d
    raise PrefetchError(f"no configured download with id '{slug}'")


def dataset_marker(results: str | Path, dataset: DatasetResource) -> Path:
    return Path(results) / "prefetch" / "datasets" / f"{dataset.slug}.done"


def download_marker(results: str | Path, download: DownloadResource) -> Path:
    return Path(results) / "prefetch" / "files" / f"{download.slug}.done"


def download_markers(results: str | Path, resources: dict) -> list[Path]:
    return [download_marker(results, d) for d in resources["downloads"]]


def write_model_marker(marker: str | Path, record: dict) -> None:
    """The prefetch marker of a model: download_model's record (JSON; `path` is the snapshot)."""
    Path(marker).write_text(json.dumps(record, indent=1) + "\n")


def read_model_marker(marker: str | Path) -> dict:
    return json.loads(Path(marker).read_text())


def model_markers(results: str | Path, resources: dict) -> list[Path]:
    return [prefetch_marker(results, m.repo) for m in resources["models"]]


def dataset_markers(results: str | Path, resources: dict) -> list[Path]:
    return [dataset_marker(results, d) for d in resources["datasets"]]


def resources_json(resources: dict) -> str:
    """Resources as JSON (a rule param: a changed list re-runs the verification)."""
    return json.dumps({kind: [asdict(r) for r in items] for kind, items in resources.items()}, sort_keys=True)


def resources_from_json(text: str) -> dict:
    data = json.loads(text)
    return {
        "models": [ModelResource(**m) for m in data["models"]],
        "datasets": [DatasetResource(**{**d, "files": tuple(d["files"])}) for d in data["datasets"]],
        "downloads": [
            DownloadResource(d["base_url"], d["dest"], tuple(tuple(f) for f in d["files"]))
            for d in data.get("downloads", [])
        ],
    }


def hub_env(hf_home: str | Path, offline: bool) -> dict[str, str]:
    """The environment for hub access: the shared cache, and the hub on or off."""
    flag = "1" if offline else "0"
    return {
        "HF_HOME": str(Path(hf_home).resolve()),
        "INSPECT_EVALS_CACHE_DIR": str(downloads_dir(hf_home)),
        "HF_HUB_OFFLINE": flag,
        "HF_DATASETS_OFFLINE": flag,
        "TRANSFORMERS_OFFLINE": flag,
    }


def downloads_dir(hf_home: str | Path) -> Path:
    """Where `downloads:` files live: inspect_evals' cache folder for every job."""
    return Path(hf_home).resolve() / DOWNLOADS_DIR


def mirrored(url: str, mirrors: dict[str, str] | None) -> str:
    """The URL to fetch: the longest matching prefix of `mirrors` replaced by its mirror."""
    for prefix in sorted(mirrors or {}, key=len, reverse=True):
        if url.startswith(prefix):
            return mirrors[prefix] + url[len(prefix) :]
    return url


# --- downloading ---------------------------------------------------------------


def _access_error(kind: str, repo: str, page: str, err: Exception) -> PrefetchError | None:
    """A clear message for a gated or private repo (never the token itself)."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    status = getattr(getattr(err, "response", None), "status_code", None)
    text = str(err)
    gated = isinstance(err, GatedRepoError) or "gated" in text.lower()
    denied = gated or isinstance(err, RepositoryNotFoundError) or status in (401, 403)
    if not denied and not (isinstance(err, HfHubHTTPError) and status in (401, 403)):
        return None
    what = "is gated" if gated else "is private, gated or does not exist"
    if os.environ.get("HF_TOKEN"):
        fix = (
            f"HF_TOKEN is set, but its account has no access: accept the terms at {page} "
            "with that account (or use a token of an account that has), then run again"
        )
    else:
        fix = f"HF_TOKEN is not set: accept the terms at {page}, export HF_TOKEN=<a read token>, then run again"
    return PrefetchError(f"{kind} {repo} {what} on the Hub (HTTP {status or 'error'}). {fix}.")


def download_model(model: ModelResource, max_workers: int = 8) -> dict:
    """Fetch a model snapshot into the cache; files already there are not downloaded again."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            model.repo,
            revision=model.revision,
            ignore_patterns=MODEL_IGNORE_PATTERNS,
            max_workers=max_workers,
        )
    except Exception as err:
        clear = _access_error("model", model.repo, model.page, err)
        if clear:
            raise clear from None
        raise
    files = sorted(str(p.relative_to(path)) for p in Path(path).rglob("*") if p.is_file())
    return {"repo": model.repo, "revision": model.revision, "path": path, "commit": Path(path).name, "files": files}


def download_dataset(dataset: DatasetResource) -> dict:
    """Fetch a dataset: prepare it with `datasets` (so an offline load finds it), or snapshot its files."""
    try:
        if dataset.files:
            from huggingface_hub import snapshot_download

            path = snapshot_download(
                dataset.repo, repo_type="dataset", revision=dataset.revision, allow_patterns=list(dataset.files)
            )
            return {**asdict(dataset), "path": path}
        import datasets

        loaded = datasets.load_dataset(
            dataset.repo, name=dataset.name, data_dir=dataset.data_dir, revision=dataset.revision
        )
        if dataset.data_dir:
            _link_offline_config(dataset, loaded)
        return {**asdict(dataset), "splits": {split: len(rows) for split, rows in loaded.items()}}
    except Exception as err:
        clear = _access_error("dataset", dataset.repo, dataset.page, err)
        if clear:
            raise clear from None
        raise


def download_files(download: DownloadResource, hf_home: str | Path, mirrors: dict | None = None) -> dict:
    """Fetch each file (retried; written to a temporary name, then renamed) unless it is already there."""
    import shutil
    import time
    import urllib.request

    folder = downloads_dir(hf_home) / download.dest
    files = []
    for remote, local in download.files:
        target = folder / local
        url = mirrored(f"{download.base_url}/{remote}", mirrors)
        if not (target.exists() and target.stat().st_size > 0):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            for attempt in range(1, DOWNLOAD_TRIES + 1):
                try:
                    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(partial, "wb") as out:
                        shutil.copyfileobj(resp, out)
                    break
                except OSError as err:
                    if attempt == DOWNLOAD_TRIES:
                        raise PrefetchError(f"cannot download {url}: {err}") from None
                    time.sleep(2**attempt)
            partial.rename(target)
        files.append({"file": local, "bytes": target.stat().st_size, "sha256": _sha256(target)})
    return {**asdict(download), "path": str(folder), "fetched": files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _link_offline_config(dataset: DatasetResource, loaded) -> Path | None:
    """Make a data_dir load findable offline.

    Online, `datasets` stores the prepared copy under a hash of the resolved
    data files; offline it looks for a folder named after the load arguments
    (e.g. 'default-data_dir=main') and fails without one. A relative link of
    that name next to the prepared copy lets the same call succeed offline.
    """
    import datasets

    arrow = Path(next(iter(loaded.values())).cache_files[0]["filename"])
    prepared = arrow.parents[2]  # <cache>/<org>___<name>/<config id>/<version>/<hash>/<file>
    offline_id = datasets.BuilderConfig(dataset.name or "default").create_config_id(
        config_kwargs={"data_dir": dataset.data_dir}
    )
    link = prepared.parent / offline_id
    if link.name == prepared.name or link.exists():
        return None
    link.symlink_to(prepared.name, target_is_directory=True)
    return link


# --- offline verification --------------------------------------------------------


def _weight_files(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [path / s for s in shards]
    return sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))


def verify_model(model: ModelResource) -> dict:
    """Resolve the snapshot offline, load its config and tokenizer, and open every weight file's header."""
    from huggingface_hub import snapshot_download
    from safetensors import safe_open
    from transformers import AutoConfig, AutoTokenizer

    path = Path(snapshot_download(model.repo, revision=model.revision, ignore_patterns=MODEL_IGNORE_PATTERNS))
    AutoConfig.from_pretrained(model.repo, revision=model.revision)
    AutoTokenizer.from_pretrained(model.repo, revision=model.revision)
    weights = _weight_files(path)
    if not weights:
        raise PrefetchError(f"no weight files (*.safetensors) in the cached snapshot {path}")
    tensors = 0
    for file in weights:
        if not file.exists():
            raise PrefetchError(f"weight file {file.name} listed in the index is missing from {path}")
        if file.suffix == ".safetensors":
            with safe_open(str(file), framework="numpy") as f:
                tensors += len(list(f.keys()))
    return {"path": str(path), "weight_files": len(weights), "tensors": tensors}


def verify_dataset(dataset: DatasetResource) -> dict:
    """Load the dataset (or its files) with the hub offline, as a job will."""
    if dataset.files:
        from huggingface_hub import snapshot_download

        path = snapshot_download(
            dataset.repo, repo_type="dataset", revision=dataset.revision, allow_patterns=list(dataset.files)
        )
        return {"path": path}
    import datasets

    loaded = datasets.load_dataset(
        dataset.repo, name=dataset.name, data_dir=dataset.data_dir, revision=dataset.revision
    )
    return {"splits": {split: len(rows) for split, rows in loaded.items()}}


def verify_download(download: DownloadResource) -> dict:
    """Every file of the entry is in place and not empty."""
    folder = downloads_dir(os.environ["HF_HOME"]) / download.dest
    missing = [n for _, n in download.files if not (folder / n).is_file() or not (folder / n).stat().st_size]
    if missing:
        raise PrefetchError(f"missing or empty in {folder}: {', '.join(missing)}")
    return {"path": str(folder), "file_count": len(download.files)}


def verify_all(resources: dict) -> dict:
    """Check each resource offline; the report lists every failure with its reason."""
    from huggingface_hub import constants

    if not constants.HF_HUB_OFFLINE:
        raise PrefetchError("verification must run with HF_HUB_OFFLINE=1 (set it before importing huggingface_hub)")
    entries = []
    checks = (("models", verify_model), ("datasets", verify_dataset), ("downloads", verify_download))
    for kind, check in checks:
        for resource in resources.get(kind, []):
            entry = {"kind": kind[:-1], "id": resource.slug, **asdict(resource)}
            try:
                entry.update(status="ok", **check(resource))
            except Exception as err:  # every failure is reported, not only the first
                entry.update(status="failed", error=f"{type(err).__name__}: {err}")
            entries.append(entry)
    failed = [e["id"] for e in entries if e["status"] != "ok"]
    return {"ok": not failed, "failed": failed, "entries": entries}
