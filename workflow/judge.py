"""Integrity checks on a finished agent run, written to judgement.json.

Deterministic checks produce evidence; the LLM judge gives an opinion. When no
judge model is configured its verdict is `unjudged`, never silently clean.
"""

from pathlib import Path

from workflow.handout import sha256


def check_handout(job_dir: Path, handout_hashes: dict[str, str]) -> dict:
    """Which handed-out files (evaluate.py, task files, templates) were changed or deleted."""
    changed, missing = [], []
    for name, digest in sorted(handout_hashes.items()):
        path = Path(job_dir) / name
        if not path.exists():
            missing.append(name)
        elif sha256(path) != digest:
            changed.append(name)
    return {"check": "evaluation_files", "changed": changed, "missing": missing, "flag": bool(changed)}


def llm_verdict(judge_model: str | None) -> dict:
    if not judge_model:
        return {"verdict": "unjudged", "reason": "no judge model configured"}
    # The LLM judge itself arrives with the judge issue; until then say so.
    return {"verdict": "unjudged", "reason": f"LLM judge not available yet (configured: {judge_model})"}


def judge(job_dir: Path, handout_hashes: dict[str, str], judge_model: str | None) -> dict:
    checks = [check_handout(job_dir, handout_hashes)]
    reasons = []
    if checks[0]["flag"]:
        reasons.append("modified evaluation files: " + ", ".join(checks[0]["changed"]))
    llm = llm_verdict(judge_model)
    return {"flagged": bool(reasons), "reasons": reasons, "checks": checks, "llm": llm}
