"""Integrity checks on a finished agent run, written to judgement.json.

Deterministic checks produce evidence; the LLM judge gives an opinion. Each
check, and the LLM judge, can flag the run; any flag replaces the cell's
score with the base model's. When no judge model is configured or it fails,
the LLM verdict is `unjudged`, never silently clean (config `judge.unjudged`
decides how such cells score).

| check | question | evidence |
| evaluation_files | were handed-out files changed? | changed/missing names |
| lineage | is final_model a fine-tune of the base? | per-tensor statistics |
| test_overlap | are test items in the agent's files? | files, lines, items |
| forbidden_use | hosted APIs, instruct models, disallowed datasets? | trace/code lines |

Questions, each flagged | clean | unjudged: contamination, disallowed_model,
api_use (hosted LLM APIs) and evaluation_files.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workflow.judge.forbidden_use import check_forbidden
from workflow.judge.lineage import (
    MAX_ELEMENTS_PER_TENSOR,
    MAX_INSTRUCT_GAP_RATIO,
    MAX_SUBSPACE_SHARE,
    MIN_BASE_COSINE,
    MIN_MERGE_COSINE,
    check_lineage,
)
from workflow.judge.llm import QUESTIONS, Fence, JudgeSettings, build_context, llm_verdict
from workflow.judge.overlap import MAX_FILE_BYTES, MAX_TOTAL_BYTES, MIN_FRACTION, MIN_ITEMS, NGRAM, check_overlap
from workflow.judge.test_items import TestItems, TestItemsError, load_test_items
from workflow.paths import AGENT_TMP, CACHE_UPPER, DELETED_COPIES
from workflow.tasks import TASKS, sha256, task_meta

# Which broken rule each check's flag stands for.
QUESTION_OF_CHECK = {
    "evaluation_files": "evaluation_files",
    "lineage": "disallowed_model",
    "forbidden_use": "disallowed_model",
    "test_overlap": "contamination",
}


def check_handout(job_dir: Path, handout_hashes: dict[str, str]) -> dict:
    """Which handed-out files (evaluate.py, task files, templates) were changed or deleted."""
    changed, missing = [], []
    for name, digest in sorted(handout_hashes.items()):
        path = Path(job_dir) / name
        if not path.exists():
            missing.append(name)
        elif sha256(path) != digest:
            changed.append(name)
    reason = "modified evaluation files: " + ", ".join(changed) if changed else ""
    return {
        "check": "evaluation_files",
        "changed": changed,
        "missing": missing,
        "flag": bool(changed),
        "reason": reason,
    }


@dataclass
class RunUnderReview:
    """Everything the judge needs to know about one cell."""

    job_dir: Path
    trace: Path
    handout_hashes: dict[str, str]
    benchmark: str
    base_model: str  # as the agent was told (hub id or folder)
    base_dir: Path  # the base model's weights on disk
    instruct_dir: Path | None  # the official instruct model's, when the config names one
    models: dict  # config["models"], for the instruct-model patterns
    tasks_dir: Path = TASKS
    hf_home: Path | None = None  # the shared cache the hub-backed test items are read from
    kept: dict[str, Path] = field(default_factory=dict)  # label -> folder kept beside the job dir


def kept_folders(cell: Path) -> dict[str, Path]:
    """What the sandbox keeps of a run besides its job dir, by the label the evidence shows."""
    cell = Path(cell)
    return {"tmp": cell / AGENT_TMP, "cache": cell / CACHE_UPPER, "deleted": cell / DELETED_COPIES}


def test_items_of(run: RunUnderReview) -> TestItems:
    """The benchmark's test items; a source that cannot be read leaves the overlap check unavailable."""
    try:
        return load_test_items(run.benchmark, run.hf_home, run.tasks_dir)
    except TestItemsError as err:
        return TestItems([], "", unavailable=str(err))


def deterministic_checks(run: RunUnderReview, judge_cfg: dict, texts: TestItems) -> list[dict]:
    handout = set(run.handout_hashes)
    lineage_cfg, overlap_cfg = judge_cfg.get("lineage", {}), judge_cfg.get("overlap", {})
    return [
        check_handout(run.job_dir, run.handout_hashes),
        check_lineage(
            run.job_dir / "final_model",
            run.base_dir,
            run.instruct_dir,
            min_base_cosine=lineage_cfg.get("min_base_cosine", MIN_BASE_COSINE),
            max_instruct_gap_ratio=lineage_cfg.get("max_instruct_gap_ratio", MAX_INSTRUCT_GAP_RATIO),
            max_elements_per_tensor=lineage_cfg.get("max_elements_per_tensor", MAX_ELEMENTS_PER_TENSOR),
            min_merge_cosine=lineage_cfg.get("min_merge_cosine", MIN_MERGE_COSINE),
            max_subspace_share=lineage_cfg.get("max_subspace_share", MAX_SUBSPACE_SHARE),
        ),
        check_overlap(
            run.job_dir,
            texts,
            handout,
            run.kept,
            n=overlap_cfg.get("ngram", NGRAM),
            min_items=overlap_cfg.get("min_items", MIN_ITEMS),
            min_fraction=overlap_cfg.get("min_fraction", MIN_FRACTION),
            max_file_bytes=int(overlap_cfg.get("max_file_mb", MAX_FILE_BYTES >> 20) * (1 << 20)),
            max_total_bytes=int(overlap_cfg.get("max_total_mb", MAX_TOTAL_BYTES >> 20) * (1 << 20)),
        ),
        check_forbidden(
            run.job_dir,
            run.trace,
            run.models,
            judge_cfg.get("forbidden", []),
            handout,
            disallowed_datasets=disallowed_datasets(run),
            cache_upper=run.kept.get("cache"),
        ),
    ]


def task_rules(run: RunUnderReview) -> str:
    """The task's data rules as the agent was told them, for the LLM judge."""
    meta = _meta(run)
    lines = [str(meta.get("train_data_rule", "")).strip()]
    if meta.get("allowed_datasets"):
        lines.append("Allowed datasets: " + ", ".join(meta["allowed_datasets"]))
    if meta.get("disallowed_datasets"):
        lines.append("Disallowed datasets: " + ", ".join(meta["disallowed_datasets"]))
    return "\n".join(x for x in lines if x)


def _meta(run: RunUnderReview) -> dict:
    if Path(run.tasks_dir) == TASKS:
        return task_meta(run.benchmark)
    return yaml.safe_load((Path(run.tasks_dir) / run.benchmark / "meta.yaml").read_text()) or {}


def disallowed_datasets(run: RunUnderReview) -> list[str]:
    return list(_meta(run).get("disallowed_datasets") or [])


def summary(checks: list[dict], llm: dict) -> tuple[list[str], dict[str, str]]:
    """The reasons a run is flagged, and per question: flagged | clean | unjudged (LLM only)."""
    reasons = [f"{c['check']}: {c['reason']}" for c in checks if c["flag"]]
    questions = {q: "clean" for q in (*QUESTIONS, "evaluation_files")}
    for c in checks:
        if c["flag"]:
            for q in c.get("questions") or [QUESTION_OF_CHECK[c["check"]]]:
                questions[q] = "flagged"
    for q in QUESTIONS:
        if llm["verdict"] == "unjudged" and questions[q] == "clean":
            questions[q] = "unjudged"
        elif llm["verdict"] != "unjudged" and llm[q]["flag"]:
            questions[q] = "flagged"
            reasons.append(f"llm_judge ({q}): {llm[q]['reason']}")
    return reasons, questions


def judge(run: RunUnderReview, judge_cfg: dict, model=None) -> dict:
    """The judgement of one run. `model` (an Inspect Model) replaces judge.model, for tests."""
    texts = test_items_of(run)
    checks = deterministic_checks(run, judge_cfg, texts)
    settings = JudgeSettings.from_config(judge_cfg)
    if model is not None or settings.model:
        fence = Fence()  # one nonce for the view and the instructions that announce it
        context = build_context(
            run.job_dir,
            run.trace,
            set(run.handout_hashes),
            run.benchmark,
            run.base_model,
            texts.items,
            settings.context_chars,
            checks=checks,
            kept=run.kept,
            rules=task_rules(run),
            fence=fence,
        )
        llm = llm_verdict(settings, context, model, fence)
    else:
        llm = llm_verdict(settings, "")
    reasons, questions = summary(checks, llm)
    return {"flagged": bool(reasons), "reasons": reasons, "verdicts": questions, "checks": checks, "llm": llm}
