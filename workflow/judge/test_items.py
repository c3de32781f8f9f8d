"""A benchmark's held-out test items, read as data for the judge (never by running task code).

Each tasks/<id>/meta.yaml says under `test_items:` where the evaluation reads its
test set; the judge reads the same place, offline:

    sources:            # tried in order; the first one present is used
      - dataset: {repo, name, data_dir, revision}   # a hub dataset as prefetched into the
        split: test                                  # shared HF cache (datasets.load_dataset)
      - snapshot: {repo, revision}                   # a raw hub snapshot (huggingface_hub)
        file: data/question.jsonl
      - env: PTB_X_JSONL                             # a file, or a folder with `file`/`glob`,
        file: question.jsonl                         # named by a variable the task also reads
      - cache_env: INSPECT_EVALS_CACHE_DIR           # a cache folder named by a variable, else
        default: ~/.cache/inspect_evals              # its default; `glob` relative to it
        glob: BFCL/BFCL_v4_simple_python.json
      - task_file: test.jsonl                        # a data file committed in the task folder
    format: jsonl       # json | jsonl | csv (files; datasets give rows)
    where: {category: creative_writing}              # keep rows whose fields equal these
    fields: [question, answer]                       # dotted paths; lists on the way are walked
    code: false         # the fields hold code (normalised identifiers in the overlap check)

Hub libraries read HF_HOME and the offline switches when imported, so hub
sources are read in a child interpreter with the shared cache offline; that
child imports only `datasets` / `huggingface_hub`.
"""

import csv
import glob
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from workflow.config import REPO
from workflow.tasks import TASKS

LOAD_TIMEOUT_SECONDS = 600


class TestItemsError(RuntimeError):
    """The test items cannot be read; the message names the source and why."""

    __test__ = False  # not a pytest class


@dataclass
class TestItems:
    """Per item, its texts (question, answer, ...), each matched on its own."""

    __test__ = False  # not a pytest class

    items: list[list[str]]
    source: str  # where they were read, for the evidence
    code: bool = False  # the texts are code
    unavailable: str = ""  # why there are no items (a missing source), empty when read
    fields: list[str] = field(default_factory=list)


def field_values(record, path: str) -> list[str]:
    """Strings at a dotted path; lists met on the way are walked (prompt.content of a chat)."""

    def leaves(v) -> list:
        return [y for x in v for y in leaves(x)] if isinstance(v, list) else [v]

    values = [record]
    for key in path.split("."):
        values = [x[key] for x in leaves(values) if isinstance(x, dict) and key in x]
    return [str(v) for v in leaves(values) if v is not None and not isinstance(v, dict) and str(v).strip()]


def rows_to_items(rows: list[dict], fields: list[str], where: dict | None = None) -> list[list[str]]:
    keep = [r for r in rows if all(r.get(k) == v for k, v in (where or {}).items())]
    items = [[text for f in fields for text in field_values(r, f)] for r in keep]
    return [i for i in items if i]


def read_rows(path: Path, fmt: str) -> list[dict]:
    """Rows of a json/jsonl/csv file (a json file may also hold one object per line)."""
    text = Path(path).read_text(encoding="utf-8")
    if fmt == "csv":
        return list(csv.DictReader(text.splitlines()))
    if fmt == "json":
        try:
            data = json.loads(text)
            return data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            pass  # BFCL's .json files are JSON lines
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _files(spec: dict, root: Path) -> list[Path]:
    if spec.get("file"):
        return [root / spec["file"]] if (root / spec["file"]).is_file() else []
    if spec.get("glob"):
        patterns = [spec["glob"]] if isinstance(spec["glob"], str) else spec["glob"]
        found = {Path(p) for pattern in patterns for p in glob.glob(str(root / pattern)) if Path(p).is_file()}
        return sorted(found)
    return [root] if root.is_file() else []


def _hub_rows(spec: dict, hf_home: Path) -> list[dict]:
    """Rows from the shared cache, read by a child interpreter with the hub offline."""
    from workflow.environment.prefetch import hub_env

    env = {**os.environ, **hub_env(hf_home, offline=True), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "workflow.judge.test_items", json.dumps(spec)],
        env=env, capture_output=True, text=True, timeout=LOAD_TIMEOUT_SECONDS,
    )  # fmt: skip
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise FileNotFoundError(last[:500])
    return json.loads(proc.stdout)


def _source_rows(spec: dict, task_dir: Path, hf_home: Path | None, fmt: str) -> tuple[list[dict], str] | None:
    """(rows, description) of one source, or None when it is not present here."""
    if "dataset" in spec or "snapshot" in spec:
        if hf_home is None:
            return None
        what = spec.get("dataset") or spec.get("snapshot")
        try:
            rows = _hub_rows({**spec, "format": fmt}, hf_home)
        except FileNotFoundError as err:
            raise TestItemsError(f"hub data {what['repo']} is not readable from the cache {hf_home}: {err}") from None
        kind = f"split {spec.get('split', 'test')}" if "dataset" in spec else spec.get("file", "")
        return rows, f"{what['repo']} ({kind}) from {hf_home}"
    if "env" in spec:
        value = os.environ.get(spec["env"])
        if not value:
            return None
        files = _files(spec, Path(value).expanduser())
        label = f"${spec['env']}"
    elif "cache_env" in spec:
        root = Path(os.environ.get(spec["cache_env"]) or spec.get("default", "")).expanduser()
        files = _files(spec, root)
        label = f"${spec['cache_env']} ({root})"
    elif "task_file" in spec:
        files = _files({"file": spec["task_file"]}, task_dir)
        label = f"tasks/{task_dir.name}"
    else:
        raise TestItemsError(f"unknown test_items source {spec!r}")
    if not files:
        return None
    rows = [r for f in files for r in read_rows(f, fmt)]
    return rows, f"{label}: {', '.join(f.name for f in files)}"


def load_test_items(benchmark: str, hf_home: str | Path | None = None, tasks_dir: Path = TASKS) -> TestItems:
    """The benchmark's test items from the first source of its meta.yaml present here.

    A task without `test_items:`, or whose sources are all absent, gives an
    empty TestItems with the reason: the overlap check then says it could not run.
    """
    task_dir = Path(tasks_dir) / benchmark
    meta = _meta(task_dir)
    spec = meta.get("test_items")
    if not spec:
        return TestItems([], "", unavailable=f"tasks/{benchmark}/meta.yaml declares no test_items")
    fmt, fields = spec.get("format", "jsonl"), list(spec.get("fields") or [])
    if not fields:
        raise TestItemsError(f"tasks/{benchmark}/meta.yaml test_items: `fields` is empty")
    hf_home = Path(hf_home).resolve() if hf_home else None
    for source in spec.get("sources") or []:
        found = _source_rows(source, task_dir, hf_home, fmt)
        if found is None:
            continue
        rows, where = found
        items = rows_to_items(rows, fields, spec.get("where"))
        if not items:
            raise TestItemsError(f"tasks/{benchmark}/meta.yaml test_items: no item with fields {fields} in {where}")
        return TestItems(items, where, code=bool(spec.get("code")), fields=fields)
    tried = ", ".join(json.dumps(s) for s in spec.get("sources") or [])
    return TestItems([], "", unavailable=f"no source of tasks/{benchmark} test items is present here (tried {tried})")


def _meta(task_dir: Path) -> dict:
    import yaml

    return yaml.safe_load((task_dir / "meta.yaml").read_text()) or {}


def _child(spec: dict) -> list[dict]:
    """In the child interpreter: the rows of a hub source, from the cache only."""
    if "dataset" in spec:
        import datasets

        d = spec["dataset"]
        loaded = datasets.load_dataset(
            d["repo"], name=d.get("name"), data_dir=d.get("data_dir"), revision=d.get("revision"),
            split=spec.get("split", "test"),
        )  # fmt: skip
        return [dict(r) for r in loaded]
    from huggingface_hub import snapshot_download

    s = spec["snapshot"]
    path = Path(
        snapshot_download(s["repo"], repo_type="dataset", revision=s.get("revision"), allow_patterns=[spec["file"]])
    )
    return read_rows(path / spec["file"], spec.get("format", "jsonl"))


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1])), default=str))
