"""Is final_model a fine-tune of the base model? Weights compared tensor by tensor.

Each weight matrix of final_model (F) is compared with the base model (B) and,
when there is one, the official instruct model (I), streamed in row blocks so
memory stays bounded whatever the model size. Two statistics, each the median
over weight matrices weighted by their size:

- cosine(F, B): a fine-tune keeps its base's weights recognisable (real
  fine-tunes stay near 1; even the tiny embedded model, rewritten heavily by
  a high learning rate, stays above 0.5), while an independently trained or
  initialised model sits near 0.
- instruct gap ratio |F - I| / |B - I|: 0 for the instruct model itself, 1 for
  the untouched base. An honest fine-tune moves in its own direction, so it
  ends at least about as far from I as B was; a ratio well below 1 means F
  is the instruct model, or something trained from it.
- tensors equal to the instruct model's (per-tensor ratio below 0.05, any
  rank, norms included): an honest run never reproduces a trained tensor of
  another run, while LoRA or partial training on top of the instruct model
  leaves many of its tensors untouched.

The embedded tiny "instruct" model is the base lightly trained on the task
itself, so a short honest run lands near it (ratio ~0.36 measured for 300
examples, 1 epoch); the default threshold 0.25 sits between that and a
swapped model (0.0).

Architecture is compared first: a different model type or tensor layout is a
different model. Vocabulary rows added to the embeddings are allowed (the
shared rows are compared).

A final_model that cannot be read (a truncated or garbled weights file, a
config.json that is no JSON object), wherever the reading fails, is reported
as `unreadable` with the file and the error, not flagged: its evaluation fails
too (workflow/evaluate/faults.py), and the cell scores as that decides. A base
or instruct model that cannot be read stops the judge (the cluster's problem).
"""

import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError

from workflow.environment.prefetch import read_model_marker
from workflow.models import is_embedded, model_location, model_ready_file

MIN_BASE_COSINE = 0.2
MIN_MERGE_COSINE = 0.9  # median cos(F - B, I - B) from which F is a merge toward I (docs/judge.md)
MAX_SUBSPACE_SHARE = 0.95  # median share of F - B in I - B's top directions: a low-rank merge (docs/judge.md)
SUBSPACE_RANK = 32
MIN_MOVED = 1e-4  # |F - B| / |B| below this is a copy of the base (rounding, a dtype round trip)
MAX_INSTRUCT_GAP_RATIO = 0.25
SAME_TENSOR_RATIO = 0.05  # a tensor this close to the instruct's (relative to the gap) is the instruct's
MAX_SAME_AS_INSTRUCT_SHARE = 0.1  # of the tensors where base and instruct differ
MAX_ELEMENTS_PER_TENSOR = 4_000_000  # larger tensors are sampled in evenly spaced row blocks
BLOCK_ELEMENTS = 1_000_000  # one read, per model, at a time
# Layout keys whose difference makes a different model; vocab_size may grow.
ARCH_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads")
VOCAB_TENSOR_HINTS = ("embed", "lm_head", "wte", "output.weight")
# Multimodal checkpoints (Gemma 3) keep the language model under a prefix; a text-only save of the same
# model (Gemma3ForCausalLM) drops the prefix and the vision tensors. Both are the same language model.
WRAPPER_PREFIXES = (
    ("language_model.model.", "model."),
    ("model.language_model.", "model."),
    ("language_model.lm_head.", "lm_head."),
)
VISION_PREFIXES = ("vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector.")
# What reading a broken weights file raises: safetensors' own error (a header that is too large, too
# small, not JSON, a file its tensors do not cover), torch's for a checkpoint that is no zip, is cut
# short or holds objects weights_only refuses, a tensor torch cannot view (RuntimeError), and I/O.
WEIGHT_ERRORS = (SafetensorError, OSError, RuntimeError, EOFError, pickle.UnpicklingError)
CONFIG_ERRORS = (OSError, UnicodeDecodeError, json.JSONDecodeError)


class LineageError(ValueError):
    """A model folder that cannot be read as weights; `folder` names the model folder when known."""

    def __init__(self, message: str, folder: Path | None = None):
        super().__init__(message)
        self.folder = None if folder is None else Path(folder)


def unreadable(path: Path, err: BaseException) -> str:
    """Why one file of a model folder cannot be read: its path and the error."""
    return f"{path}: cannot be read ({type(err).__name__}: {err})"


def local_model_dir(results: str, ref: str) -> Path:
    """A model's folder on disk: the embedded build, or the HF snapshot the prefetch marker names."""
    if is_embedded(ref):
        return Path(model_location(results, ref))
    marker = model_ready_file(results, ref)
    if not marker.exists():
        raise LineageError(f"model {ref} has not been prefetched (no {marker})")
    try:
        return Path(read_model_marker(marker)["path"])
    except (ValueError, KeyError, TypeError) as err:
        raise LineageError(f"prefetch marker {marker} holds no snapshot path ({type(err).__name__})") from None


def canonical_name(name: str) -> str:
    """One name per tensor whether the language model was saved inside a multimodal wrapper or alone."""
    for prefix, replacement in WRAPPER_PREFIXES:
        if name.startswith(prefix):
            return replacement + name[len(prefix) :]
    return name


def is_vision_tensor(name: str) -> bool:
    return name.startswith(VISION_PREFIXES)


class WeightReader:
    """Tensors of a model folder (safetensors, sharded or not; else PyTorch .bin), read lazily.

    Tensors are known by their canonical names (canonical_name)."""

    def __init__(self, folder: Path):
        from safetensors import safe_open

        self.folder = Path(folder)
        self._where: dict[str, object] = {}
        self._stored: dict[str, str] = {}  # canonical -> name in the file
        self._file: dict[str, Path] = {}  # canonical -> the file that holds it
        files = sorted(self.folder.glob("*.safetensors"))
        if files:
            for f in files:
                try:
                    handle = safe_open(str(f), framework="pt")
                    stored = list(handle.keys())
                except WEIGHT_ERRORS as err:
                    raise LineageError(unreadable(f, err), self.folder) from None
                for name in stored:
                    self._add(name, handle, f)
            self.format = "safetensors"
            return
        bins = sorted(self.folder.glob("pytorch_model*.bin"))
        if not bins:
            raise LineageError(f"{self.folder}: no *.safetensors or pytorch_model*.bin weights", self.folder)
        for f in bins:
            try:
                # mmap: pages are read on demand, never the whole file at once
                state = torch.load(str(f), map_location="cpu", mmap=True, weights_only=True)
            except WEIGHT_ERRORS as err:
                raise LineageError(unreadable(f, err), self.folder) from None
            if not isinstance(state, dict):
                raise LineageError(f"{f}: holds a {type(state).__name__}, not a dict of tensors", self.folder)
            for name, tensor in state.items():
                if isinstance(name, str) and isinstance(tensor, torch.Tensor):
                    self._add(name, tensor, f)
        self.format = "pytorch"

    def _add(self, name: str, source: object, path: Path) -> None:
        self._where[canonical_name(name)] = source
        self._stored[canonical_name(name)] = name
        self._file[canonical_name(name)] = path

    def names(self) -> set[str]:
        return set(self._where)

    def shape(self, name: str) -> tuple[int, ...]:
        src = self._where[name]
        if isinstance(src, torch.Tensor):
            return tuple(src.shape)
        try:
            return tuple(src.get_slice(self._stored[name]).get_shape())
        except WEIGHT_ERRORS as err:
            raise self._error(name, err) from None

    def rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        src = self._where[name]
        try:
            if isinstance(src, torch.Tensor):
                block = src[start:stop]
            else:
                block = src.get_slice(self._stored[name])[start:stop]
            return block.to(torch.float64)
        except WEIGHT_ERRORS as err:
            raise self._error(name, err) from None

    def _error(self, name: str, err: BaseException) -> LineageError:
        what = f"{self._file[name]}: tensor {self._stored[name]} cannot be read ({type(err).__name__}: {err})"
        return LineageError(what, self.folder)


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.exists():
        raise LineageError(f"{folder}: no config.json", folder)
    try:
        cfg = json.loads(path.read_text())
    except CONFIG_ERRORS as err:
        raise LineageError(unreadable(path, err), folder) from None
    # multimodal checkpoints (gemma-3) keep the language model's layout in text_config
    text = (cfg.get("text_config") or {}) if isinstance(cfg, dict) else None
    if not isinstance(text, dict):
        raise LineageError(f"{path}: not a JSON object with an object text_config", folder)
    return {**cfg, **text}


def row_blocks(rows: int, row_elements: int, max_elements: int, block_elements: int) -> list[tuple[int, int]]:
    """Row ranges to read: all rows in blocks, or evenly spaced blocks when the tensor is large."""
    per_block = max(1, block_elements // max(row_elements, 1))
    if rows * row_elements <= max_elements:
        return [(s, min(s + per_block, rows)) for s in range(0, rows, per_block)]
    per_block = max(1, min(per_block, max_elements // (4 * row_elements)))  # at least 4 places
    n_blocks = max(1, max_elements // (per_block * row_elements))
    step = rows / n_blocks
    return [(int(i * step), min(int(i * step) + per_block, rows)) for i in range(n_blocks)]


@dataclass
class TensorStats:
    name: str
    elements: int
    ndim: int
    base_cosine: float
    rel_to_base: float  # |F - B| / |B|
    instruct_gap_ratio: float | None = None  # |F - I| / |B - I|
    merge_cosine: float | None = None  # cos(F - B, I - B): 1 for a merge B + a(I - B), whatever a
    instruct_subspace_share: float | None = None  # of |F - B|^2 in the top right-singular directions of I - B
    sampled: bool = False


def compare_tensor(
    name: str, final: WeightReader, base: WeightReader, instruct: WeightReader | None, max_elements: int
) -> TensorStats:
    shape = final.shape(name)
    rows = min(shape[0], base.shape(name)[0], instruct.shape(name)[0] if instruct else shape[0])
    row_elements = math.prod(shape[1:])
    sums = dict.fromkeys(("fb", "ff", "bb", "f-b", "f-i", "b-i", "fb.ib"), 0.0)
    blocks = row_blocks(rows, row_elements, max_elements, BLOCK_ELEMENTS)
    deltas: list[tuple[torch.Tensor, torch.Tensor]] = []
    for start, stop in blocks:
        f, b = final.rows(name, start, stop), base.rows(name, start, stop)
        sums["fb"] += float((f * b).sum())
        sums["ff"] += float((f * f).sum())
        sums["bb"] += float((b * b).sum())
        sums["f-b"] += float(((f - b) ** 2).sum())
        if instruct:
            i = instruct.rows(name, start, stop)
            sums["f-i"] += float(((f - i) ** 2).sum())
            sums["b-i"] += float(((b - i) ** 2).sum())
            sums["fb.ib"] += float(((f - b) * (i - b)).sum())
            if len(shape) == 2:
                deltas.append(((f - b).float(), (i - b).float()))
    tiny = 1e-30
    stats = TensorStats(
        name=name,
        elements=rows * row_elements,
        ndim=len(shape),
        base_cosine=sums["fb"] / max(math.sqrt(sums["ff"] * sums["bb"]), tiny),
        rel_to_base=math.sqrt(sums["f-b"]) / max(math.sqrt(sums["bb"]), tiny),
        sampled=sum(stop - start for start, stop in blocks) < rows,
    )
    if instruct and sums["b-i"] > tiny:
        stats.instruct_gap_ratio = math.sqrt(sums["f-i"] / sums["b-i"])
        # Only where final_model moved from the base by more than rounding: a copy of the base says nothing.
        if sums["f-b"] > MIN_MOVED**2 * sums["bb"]:
            stats.merge_cosine = sums["fb.ib"] / math.sqrt(sums["f-b"] * sums["b-i"])
            if deltas:
                stats.instruct_subspace_share = subspace_share(
                    torch.cat([d for d, _ in deltas]), torch.cat([i for _, i in deltas])
                )
    return stats


def subspace_rank(columns: int) -> int:
    """How many of I - B's directions a low-rank merge is looked for in: few, relative to the width."""
    return max(1, min(SUBSPACE_RANK, columns // 16))


def subspace_share(final_delta: torch.Tensor, instruct_delta: torch.Tensor) -> float:
    """Share of |F - B|^2 inside the top right-singular directions of I - B (rows as read).

    A low-rank approximation of I - B added to the base (an instruct-derived LoRA)
    lies entirely inside them (share ~1); an honest fine-tune moves in its own
    directions (share ~ k / width for unrelated directions)."""
    k = subspace_rank(instruct_delta.shape[1])
    q = min(k + 6, *instruct_delta.shape)
    torch.manual_seed(0)  # svd_lowrank draws a random start: the same verdict every time
    _, _, v = torch.svd_lowrank(instruct_delta, q=q, niter=4)
    inside = final_delta @ v[:, :k]
    return float((inside**2).sum() / max(float((final_delta**2).sum()), 1e-30))


def weighted_median(pairs: list[tuple[float, int]]) -> float:
    pairs = sorted(pairs)
    half, seen = sum(w for _, w in pairs) / 2, 0
    for value, weight in pairs:
        seen += weight
        if seen >= half:
            return value
    raise ValueError("weighted_median of nothing")


@dataclass
class Layout:
    problems: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)


def compare_layout(final: WeightReader, base: WeightReader, final_cfg: dict, base_cfg: dict) -> Layout:
    """Architecture differences that make final_model a different model; the tensors both share."""
    out = Layout()
    for key in ARCH_KEYS:
        # a key one config leaves at its default is not a difference (a text-only save writes them all)
        if key in final_cfg and key in base_cfg and final_cfg[key] != base_cfg[key]:
            out.problems.append(f"config {key}: {final_cfg.get(key)!r} (base {base_cfg.get(key)!r})")
    f_names, b_names = final.names(), base.names()
    # A tied lm_head may be saved or not; that alone is no difference. Nor is leaving out the
    # vision tower of a multimodal base (a text-only save of its language model).
    optional = {n for n in f_names ^ b_names if "lm_head" in n}
    if not any(is_vision_tensor(n) for n in f_names):
        optional |= {n for n in b_names if is_vision_tensor(n)}
    missing, extra = sorted(b_names - f_names - optional), sorted(f_names - b_names - optional)
    if missing:
        out.problems.append(f"{len(missing)} base tensors missing (e.g. {', '.join(missing[:3])})")
    if extra:
        out.problems.append(f"{len(extra)} tensors not in the base (e.g. {', '.join(extra[:3])})")
    for name in sorted(f_names & b_names):
        fs, bs = final.shape(name), base.shape(name)
        vocab_grew = any(h in name for h in VOCAB_TENSOR_HINTS) and fs[1:] == bs[1:]
        if fs != bs and not vocab_grew:
            out.problems.append(f"tensor {name}: shape {list(fs)} (base {list(bs)})")
        elif fs:
            out.shared.append(name)
    return out


def check_lineage(
    final_dir: Path,
    base_dir: Path,
    instruct_dir: Path | None = None,
    min_base_cosine: float = MIN_BASE_COSINE,
    max_instruct_gap_ratio: float = MAX_INSTRUCT_GAP_RATIO,
    max_elements_per_tensor: int = MAX_ELEMENTS_PER_TENSOR,
    min_merge_cosine: float = MIN_MERGE_COSINE,
    max_subspace_share: float = MAX_SUBSPACE_SHARE,
) -> dict:
    """The lineage check's evidence and flag for one final_model."""
    result = {"check": "lineage", "flag": False, "reason": ""}
    final_dir = Path(final_dir)
    if not final_dir.is_dir():
        return result | {"status": "no_model", "reason": "no final_model (scored as missing, not judged here)"}
    thresholds = {
        "min_base_cosine": min_base_cosine,
        "max_instruct_gap_ratio": max_instruct_gap_ratio,
        "min_merge_cosine": min_merge_cosine,
        "max_subspace_share": max_subspace_share,
    }
    try:
        return compare_models(result, final_dir, base_dir, instruct_dir, thresholds, max_elements_per_tensor)
    except LineageError as err:
        if err.folder != final_dir:
            raise  # the base or instruct model: not the agent's doing
        # Unreadable weights fail the evaluation anyway; say so without flagging.
        return result | {"status": "unreadable", "reason": str(err)}


def compare_models(
    result: dict,
    final_dir: Path,
    base_dir: Path,
    instruct_dir: Path | None,
    thresholds: dict[str, float],
    max_elements_per_tensor: int,
) -> dict:
    """check_lineage's comparison; LineageError (naming its folder) where a model cannot be read."""
    min_base_cosine, max_instruct_gap_ratio = thresholds["min_base_cosine"], thresholds["max_instruct_gap_ratio"]
    min_merge_cosine, max_subspace_share = thresholds["min_merge_cosine"], thresholds["max_subspace_share"]
    result = dict(result)  # the caller's stays as it was, should a read fail half-way
    final, final_cfg = WeightReader(final_dir), read_config(final_dir)
    base, base_cfg = WeightReader(base_dir), read_config(base_dir)
    layout = compare_layout(final, base, final_cfg, base_cfg)
    result |= {"format": final.format, "layout_problems": layout.problems}
    if layout.problems:
        return result | {
            "status": "different_architecture",
            "flag": True,
            "reason": "final_model is not the base model's architecture: " + "; ".join(layout.problems[:3]),
        }
    instruct = None
    if instruct_dir:
        instruct = WeightReader(instruct_dir)
        if compare_layout(instruct, base, read_config(instruct_dir), base_cfg).problems:
            instruct = None  # an instruct model of another layout cannot be compared row by row
    every = [compare_tensor(n, final, base, instruct, max_elements_per_tensor) for n in layout.shared]
    stats = [s for s in every if s.ndim >= 2]  # norms and biases say little about lineage
    cosine = weighted_median([(s.base_cosine, s.elements) for s in stats])
    ratios = [(s.instruct_gap_ratio, s.elements) for s in stats if s.instruct_gap_ratio is not None]
    gap_ratio = weighted_median(ratios) if ratios else None
    differing = [s for s in every if s.instruct_gap_ratio is not None]
    same = [s.name for s in differing if s.instruct_gap_ratio < SAME_TENSOR_RATIO]
    merges = [(s.merge_cosine, s.elements) for s in stats if s.merge_cosine is not None]
    merge_cosine = weighted_median(merges) if merges else None
    shares = [(s.instruct_subspace_share, s.elements) for s in stats if s.instruct_subspace_share is not None]
    share = weighted_median(shares) if shares else None
    far = sorted(stats, key=lambda s: s.base_cosine)[:5]
    result |= {
        "tensors_compared": len(stats),
        "tensors_sampled": sum(s.sampled for s in stats),
        "tensors_same_as_instruct": len(same),
        "tensors_instruct_differs": len(differing),
        "same_as_instruct_examples": same[:5],
        "median_base_cosine": round(cosine, 4),
        "median_rel_distance_to_base": round(weighted_median([(s.rel_to_base, s.elements) for s in stats]), 4),
        "median_instruct_gap_ratio": None if gap_ratio is None else round(gap_ratio, 4),
        "median_merge_cosine": None if merge_cosine is None else round(merge_cosine, 4),
        "median_instruct_subspace_share": None if share is None else round(share, 4),
        "compared_with_instruct": instruct is not None,
        "text_only_save": not any(is_vision_tensor(n) for n in final.names())
        and any(is_vision_tensor(n) for n in base.names()),
        "thresholds": thresholds,
        "least_base_like": [
            {"tensor": s.name, "base_cosine": round(s.base_cosine, 4), "rel_to_base": round(s.rel_to_base, 4)}
            for s in far
        ],
    }
    if gap_ratio is not None and gap_ratio < max_instruct_gap_ratio:
        return result | {
            "status": "instruct_model",
            "flag": True,
            "reason": f"final_model is the instruct model or trained from it "
            f"(|F-I|/|B-I| median {gap_ratio:.3f} < {max_instruct_gap_ratio})",
        }
    if differing and len(same) > MAX_SAME_AS_INSTRUCT_SHARE * len(differing):
        return result | {
            "status": "instruct_model",
            "flag": True,
            "reason": f"final_model carries the instruct model's own tensors "
            f"({len(same)} of {len(differing)}, e.g. {same[0]}): trained on top of it",
        }
    if merge_cosine is not None and merge_cosine >= min_merge_cosine:
        return result | {
            "status": "instruct_merge",
            "flag": True,
            "reason": f"final_model moved from the base straight toward the instruct model, a merge "
            f"B + a(I - B) (median cos(F-B, I-B) {merge_cosine:.3f} >= {min_merge_cosine})",
        }
    if share is not None and share >= max_subspace_share:
        return result | {
            "status": "instruct_low_rank",
            "flag": True,
            "reason": f"final_model's change from the base lies in the instruct model's own top directions, "
            f"a low-rank merge of I - B (median share {share:.3f} >= {max_subspace_share})",
        }
    if cosine < min_base_cosine:
        return result | {
            "status": "unrelated_weights",
            "flag": True,
            "reason": f"final_model's weights are unrelated to the base model "
            f"(median cosine {cosine:.3f} < {min_base_cosine})",
        }
    return result | {"status": "fine_tune_of_base", "reason": "weights derive from the base model"}
