"""Test-set overlap: the benchmark's test items found in files the agent wrote.

Texts are normalised (lower case, words only, JSON escapes undone) and cut
into word n-grams. A test item counts as found in a file when at least
`min_fraction` of its n-grams occur there; the check flags a run when at
least `min_items` distinct test items are found. Short items (fewer words
than n) are matched as a whole. Files are read within a byte budget: small
files whole, large ones in evenly spaced windows, parquet/arrow by rows.
"""

import importlib.util
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from workflow.judge.files import DATA_SUFFIXES, AgentFile, agent_files

NGRAM = 13
MIN_ITEM_WORDS = 6  # shorter items ("42", "yes") would match anything
MIN_FRACTION = 0.5
MIN_ITEMS = 3
MAX_FILE_BYTES = 8 << 20
MAX_TOTAL_BYTES = 256 << 20
WINDOWS_PER_LARGE_FILE = 16
MAX_TABLE_ROWS = 50_000

_ESCAPES = re.compile(r"\\[ntr\"'/\\]")
_WORD = re.compile(r"\w+")


class TaskHookError(RuntimeError):
    """A task's test_texts() hook exists but fails."""


def words(text: str) -> list[str]:
    return _WORD.findall(_ESCAPES.sub(" ", text).lower())


def test_texts(task_dir: Path) -> list[str | list[str]] | None:
    """The task's test items, from `test_texts()` in its task.py: per item a text or a list of
    texts (question, answer, ...), each matched on its own.

    None when the task has no such hook: the check then reports itself unavailable.
    """
    task_py = Path(task_dir) / "task.py"
    spec = importlib.util.spec_from_file_location(f"judge_task_{Path(task_dir).name}", task_py)
    module = importlib.util.module_from_spec(spec)
    added = str(Path(task_dir).resolve())
    sys.path.insert(0, added)
    try:
        spec.loader.exec_module(module)
        hook = getattr(module, "test_texts", None)
        if hook is None:
            return None
        texts = list(hook())
    except Exception as err:
        raise TaskHookError(f"{task_py}: test_texts() failed: {type(err).__name__}: {err}") from err
    finally:
        sys.path.remove(added)
    if not all(isinstance(t, str) or all(isinstance(f, str) for f in t) for t in texts):
        raise TaskHookError(f"{task_py}: test_texts() must return texts or lists of texts")
    return texts


@dataclass
class TestIndex:
    """N-grams of every test text. A text is one field (question, answer) of one test item."""

    n: int
    grams: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    item_of: list[int] = field(default_factory=list)  # text -> test item
    counts: list[int] = field(default_factory=list)  # n-grams per text (0: too short, ignored)
    previews: list[str] = field(default_factory=list)  # per item
    starts: set[str] = field(default_factory=set)  # first words of all grams, a cheap pre-filter
    lengths: set[int] = field(default_factory=set)


def build_index(items: list[str | list[str]], n: int = NGRAM) -> TestIndex:
    """Each item is a text, or a list of texts (its fields) matched separately."""
    index = TestIndex(n=n)
    for item, fields in enumerate(items):
        fields = [fields] if isinstance(fields, str) else list(fields)
        index.previews.append(" ".join(words(" ".join(fields))[:12]))
        for text in fields:
            toks = words(text)
            index.item_of.append(item)
            if len(toks) < MIN_ITEM_WORDS:
                index.counts.append(0)
                continue
            size = min(n, len(toks))
            grams = {" ".join(toks[i : i + size]) for i in range(len(toks) - size + 1)}
            for g_id, gram in enumerate(sorted(grams)):
                index.grams[gram].append((len(index.counts), g_id))
            index.counts.append(len(grams))
            index.lengths.add(size)
    index.starts = {g.split(" ", 1)[0] for g in index.grams}
    return index


@dataclass
class Chunk:
    text: str
    where: str  # "line" | "row" | "byte" (what `first` counts)
    first: int


def read_chunks(f: AgentFile, max_bytes: int) -> list[Chunk]:
    """The parts of a file to scan, within max_bytes."""
    suffix = f.path.suffix.lower()
    if suffix in (".parquet", ".arrow"):
        return table_chunks(f.path, suffix, max_bytes)
    with open(f.path, "rb") as fh:
        if f.size <= max_bytes:
            return [Chunk(fh.read().decode("utf-8", errors="replace"), "line", 1)]
        window = max_bytes // WINDOWS_PER_LARGE_FILE
        step = (f.size - window) // max(WINDOWS_PER_LARGE_FILE - 1, 1)
        chunks = []
        for k in range(WINDOWS_PER_LARGE_FILE):
            fh.seek(k * step)
            chunks.append(Chunk(fh.read(window).decode("utf-8", errors="replace"), "byte", k * step))
        return chunks


def table_chunks(path: Path, suffix: str, max_bytes: int) -> list[Chunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if suffix == ".parquet":
        table = pq.ParquetFile(path).read_row_groups(range(min(pq.ParquetFile(path).num_row_groups, 64)))
    else:
        try:
            table = pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
        except pa.ArrowInvalid:
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    rows = table.num_rows
    step = max(1, rows // MAX_TABLE_ROWS)
    chunks, used = [], 0
    for r in range(0, rows, step):
        text = " ".join(str(v) for v in table.slice(r, 1).to_pylist()[0].values())
        used += len(text)
        if used > max_bytes:
            break
        chunks.append(Chunk(text, "row", r))
    return chunks


def scan_text(chunk: Chunk, index: TestIndex) -> dict[int, tuple[set[int], int]]:
    """text -> (its n-grams found, where the first was found) in one chunk."""
    found: dict[int, tuple[set[int], int]] = {}
    lines = chunk.text.split("\n")
    toks: list[tuple[str, int]] = []
    for line_no, line in enumerate(lines):
        toks += [(w, line_no) for w in words(line)]
    only = [w for w, _ in toks]
    for i, (w, line_no) in enumerate(toks):
        if w not in index.starts:
            continue
        for size in index.lengths:
            hits = index.grams.get(" ".join(only[i : i + size]))
            for text, g_id in hits or ():
                grams, _ = found.setdefault(text, (set(), chunk.first + (line_no if chunk.where == "line" else 0)))
                grams.add(g_id)
    return found


def check_overlap(
    job_dir: Path,
    texts: list[str | list[str]] | None,
    handout: set[str] = frozenset(),
    n: int = NGRAM,
    min_items: int = MIN_ITEMS,
    min_fraction: float = MIN_FRACTION,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> dict:
    """The overlap check's evidence and flag: which files hold which test items, and where."""
    result = {"check": "test_overlap", "flag": False, "reason": ""}
    if texts is None:
        return result | {"status": "unavailable", "reason": "the task exposes no test_texts()"}
    index = build_index(texts, n)
    usable = len({index.item_of[t] for t, c in enumerate(index.counts) if c})
    budget, scanned, skipped, hits = max_total_bytes, [], [], []
    all_items: set[int] = set()
    for f in agent_files(job_dir, handout):
        if f.path.suffix.lower() not in DATA_SUFFIXES:
            continue
        if budget <= 0:
            skipped.append(f.rel)
            continue
        try:
            chunks = read_chunks(f, min(max_file_bytes, budget))
        except Exception as err:  # a corrupt table is evidence to report, not a crash
            skipped.append(f"{f.rel} ({type(err).__name__})")
            continue
        budget -= sum(len(c.text) for c in chunks)
        scanned.append(f.rel)
        per_text: dict[int, tuple[set[int], int, str]] = {}
        for chunk in chunks:
            for text, (grams, first) in scan_text(chunk, index).items():
                seen, where, unit = per_text.get(text, (set(), first, chunk.where))
                per_text[text] = (seen | grams, where, unit)
        per_item = {}
        for text, (grams, where, unit) in sorted(per_text.items()):
            if len(grams) >= min_fraction * index.counts[text]:
                per_item.setdefault(index.item_of[text], (grams, where, unit))
        matched = sorted(per_item)
        if matched:
            all_items.update(matched)
            hits.append(
                {
                    "file": f.rel,
                    "test_items": len(matched),
                    "examples": [
                        {"item": i, per_item[i][2]: per_item[i][1], "text": index.previews[i]} for i in matched[:5]
                    ],
                }
            )
    result |= {
        "status": "checked",
        "test_items": len(texts),
        "test_items_usable": usable,
        "ngram": n,
        "files_scanned": len(scanned),
        "files_skipped": skipped,
        "matched_items": len(all_items),
        "files": sorted(hits, key=lambda h: -h["test_items"]),
    }
    if len(all_items) >= min(min_items, max(usable, 1)):
        where = ", ".join(f"{h['file']} ({h['test_items']})" for h in result["files"][:3])
        result |= {"flag": True, "reason": f"{len(all_items)} of {len(texts)} test items found in agent files: {where}"}
    return result
