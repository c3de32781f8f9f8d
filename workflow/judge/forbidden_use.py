"""Forbidden API use visible in the agent's trace or in the code it wrote.

A small list of patterns, each with the rule it breaks: model-provider APIs
(synthetic data from a stronger model is not allowed) and loading the
official instruct models. The config's `judge.forbidden` adds patterns.
Patterns aim at use (an endpoint, an SDK import, a download call naming the
model), not at the agent merely discussing a rule.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from workflow.judge.files import CODE_SUFFIXES, agent_files, read_head, redact
from workflow.models import embedded_name, is_embedded

MAX_CODE_BYTES = 1 << 20
MAX_TRACE_LINES = 200_000
MAX_HITS = 20


@dataclass(frozen=True)
class Forbidden:
    pattern: re.Pattern
    reason: str


_PROVIDER_REASON = "calls a model provider's API (synthetic data from another model is not allowed)"
BUILTIN = [
    (r"\bapi\.openai\.com\b|\bapi\.anthropic\.com\b|\bgenerativelanguage\.googleapis\.com\b", _PROVIDER_REASON),
    (r"\bopenrouter\.ai/api\b|\bapi\.together\.(xyz|ai)\b|\bapi\.groq\.com\b|\bapi\.mistral\.ai\b", _PROVIDER_REASON),
    (r"\bapi\.deepseek\.com\b|\bapi\.fireworks\.ai\b|\bapi\.cohere\.(ai|com)\b", _PROVIDER_REASON),
    (r"^\s*(from\s+(openai|anthropic|litellm|google\.generativeai|google\s+import\s+genai)\b"
     r"|import\s+(openai|anthropic|litellm|google\.generativeai)\b)", _PROVIDER_REASON),
]  # fmt: skip
_LOAD_VERBS = r"(from_pretrained|snapshot_download|hf_hub_download|load_dataset|hf\s+download|huggingface-cli\s+download|\bcp\b|\brsync\b|\bln\b)"  # noqa: E501


def instruct_patterns(models: dict) -> list[tuple[str, str]]:
    """One pattern per official instruct model of the config: loading it is forbidden."""
    out = []
    for entry in models.values():
        ref = entry.get("instruct")
        if not ref:
            continue
        name = embedded_name(ref) if is_embedded(ref) else ref
        # the name not followed by more of a name (Qwen/Qwen3-1.7B is not Qwen/Qwen3-1.7B-Base)
        out.append((rf"{_LOAD_VERBS}.{{0,300}}{re.escape(name)}(?![\w.-])", f"loads the instruct model {name}"))
    return out


def compile_patterns(models: dict, extra: list[dict] = ()) -> list[Forbidden]:
    specs = BUILTIN + instruct_patterns(models) + [(e["pattern"], e["reason"]) for e in extra]
    compiled = []
    for pattern, reason in specs:
        try:
            compiled.append(Forbidden(re.compile(pattern, re.MULTILINE), reason))
        except re.error as err:
            raise ValueError(f"judge.forbidden: bad pattern {pattern!r}: {err}") from None
    return compiled


def trace_texts(trace: Path) -> list[tuple[int, str]]:
    """(line number, text) of each trace line; JSON events are flattened so escaped code reads as code."""
    out = []
    if not Path(trace).exists():
        return out
    with open(trace, errors="replace") as fh:
        for number, raw in enumerate(fh, 1):
            if number > MAX_TRACE_LINES:
                break
            try:
                line = json.loads(raw).get("line", raw)
            except (json.JSONDecodeError, AttributeError):
                line = raw
            try:
                line = "\n".join(_strings(json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                pass
            out.append((number, line))
    return out


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _hits(text: str, source: str, line_of, patterns: list[Forbidden]) -> list[dict]:
    out = []
    for p in patterns:
        for m in p.pattern.finditer(text):
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            snippet = text[start : end if end >= 0 else None].strip()[:200]
            out.append({"source": source, "line": line_of(m.start()), "reason": p.reason, "text": redact(snippet)})
    return out


def check_forbidden(
    job_dir: Path, trace: Path, models: dict, extra: list[dict] = (), handout: set[str] = frozenset()
) -> dict:
    patterns = compile_patterns(models, extra)
    hits: list[dict] = []
    for number, text in trace_texts(trace):
        hits += _hits(text, "trace.jsonl", lambda _pos, n=number: n, patterns)
    for f in agent_files(job_dir, handout):
        if f.path.suffix.lower() not in CODE_SUFFIXES and f.path.suffix:
            continue
        text = read_head(f.path, MAX_CODE_BYTES)
        hits += _hits(text, f.rel, lambda pos, t=text: t.count("\n", 0, pos) + 1, patterns)
    reasons = sorted({h["reason"] for h in hits})
    return {
        "check": "forbidden_use",
        "flag": bool(hits),
        "reason": "; ".join(reasons),
        "patterns": len(patterns),
        "hits": len(hits),
        "evidence": hits[:MAX_HITS],
    }
