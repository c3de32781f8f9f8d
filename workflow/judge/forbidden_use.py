"""Forbidden use, read from the structure of the agent's code and from its trace.

Three kinds, each tied to the rule it breaks:
- hosted_api: a hosted LLM provider's API (synthetic data or answers from another
  model). A client pointed at a loopback server (the agent's own vLLM) is allowed,
  and so are the graders' calls, which run inside the handed-out task code.
- instruct_model: loading or downloading an official instruct model.
- disallowed_dataset: loading or downloading a dataset the task's meta.yaml
  disallows (its test data in another form).

Python is read as a syntax tree: string constants are followed through
variables, concatenation, f-strings, joins and `os.environ.get` defaults, so
`"Qwen/Qwen3-" + "1.7B"` is seen as the name it builds, and a client's
`base_url` decides whether it is hosted. Shell scripts and the trace's
commands are read with their variable assignments substituted; Python inside
the trace (heredocs, `python -c`) is parsed like a file. The cache overlay's
upper layer shows what the agent downloaded into the cache.
"""

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from workflow.judge.files import CODE_SUFFIXES, agent_files, read_head, redact
from workflow.models import embedded_name, is_embedded

MAX_CODE_BYTES = 1 << 20
MAX_TRACE_LINES = 200_000
MAX_HITS = 20

HOSTED_API, INSTRUCT_MODEL, DISALLOWED_DATASET, CONFIG_PATTERN = (
    "hosted_api", "instruct_model", "disallowed_dataset", "config_pattern",
)  # fmt: skip
# Which broken rule (judgement question) each kind stands for.
QUESTION_OF_KIND = {
    HOSTED_API: "api_use",
    INSTRUCT_MODEL: "disallowed_model",
    DISALLOWED_DATASET: "contamination",
    CONFIG_PATTERN: "disallowed_model",
}
PROVIDER_HOSTS = re.compile(
    r"\b(api\.openai\.com|[\w-]+\.openai\.azure\.com|api\.anthropic\.com|generativelanguage\.googleapis\.com"
    r"|[\w-]*aiplatform\.googleapis\.com|openrouter\.ai|api\.together\.(?:xyz|ai)|api\.groq\.com|api\.mistral\.ai"
    r"|api\.deepseek\.com|api\.fireworks\.ai|api\.cohere\.(?:ai|com)|api\.x\.ai|api\.perplexity\.ai"
    r"|api-inference\.huggingface\.co|router\.huggingface\.co|bedrock-runtime\.[\w.-]+\.amazonaws\.com"
    r"|api\.moonshot\.(?:ai|cn)|dashscope\.aliyuncs\.com|open\.bigmodel\.cn|api\.z\.ai)\b"
)
# SDK clients that call a hosted provider unless given a base URL (constructor -> its URL keywords).
CLIENTS = {
    "OpenAI": ("base_url",), "AsyncOpenAI": ("base_url",), "AzureOpenAI": ("azure_endpoint", "base_url"),
    "Anthropic": ("base_url",), "AsyncAnthropic": ("base_url",), "AnthropicVertex": (), "AnthropicBedrock": (),
    "Groq": ("base_url",), "Mistral": ("server_url",), "Together": ("base_url",), "Cerebras": ("base_url",),
    "GenerativeModel": (), "ChatOpenAI": ("base_url", "openai_api_base"), "ChatAnthropic": ("base_url",),
    "InferenceClient": ("base_url",),
}  # fmt: skip
# Module-level calls that reach a hosted API unless the module's base URL was pointed elsewhere.
MODULE_CALLS = re.compile(
    r"^(openai|anthropic)\.(chat|completions|responses|messages|beta)\b|^litellm\.(a?completion)$"
)
BASE_URL_ENV = re.compile(r"(OPENAI_BASE_URL|OPENAI_API_BASE|ANTHROPIC_BASE_URL)\s*[=:]\s*[\"']?(\S+?)[\"']?(\s|$)")
LOAD_CALLS = {
    "from_pretrained", "snapshot_download", "hf_hub_download", "load_dataset", "LLM", "pipeline",
    "load_model", "SentenceTransformer", "load_from_hub",
}  # fmt: skip
LOAD_KEYWORDS = ("pretrained_model_name_or_path", "repo_id", "model", "path", "model_name", "model_id")
SHELL_DOWNLOAD = re.compile(
    r"\b(?:hf|huggingface-cli)\s+download\s+([\w.-]+/[\w.-]+)|\bgit\s+clone\s+\S*huggingface\.co/(?:datasets/)?([\w.-]+/[\w.-]+)"
)  # noqa: E501
LOOPBACK = {"localhost", "127.0.0.1", "0.0.0.0", "::1", "ip6-localhost"}
_SHELL_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_]\w*)=([\"']?)([^\s\"']*)\2\s*$", re.MULTILINE)
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?[^\n]*\n(.*?)\n\s*\1\b", re.DOTALL)
_PY_C = re.compile(r"python3?\s+-c\s+([\"'])(.*?)(?<!\\)\1", re.DOTALL)


@dataclass(frozen=True)
class Rules:
    """What is forbidden for one run: instruct model names, disallowed datasets, extra config patterns."""

    instruct_names: tuple[str, ...]
    disallowed_datasets: tuple[str, ...] = ()
    extra: tuple[tuple[re.Pattern, str], ...] = ()

    def name_kind(self, text: str) -> tuple[str, str] | None:
        """(kind, name) when a string names an instruct model or a disallowed dataset."""
        for kind, names in ((INSTRUCT_MODEL, self.instruct_names), (DISALLOWED_DATASET, self.disallowed_datasets)):
            for name in names:
                # the name not followed by more of a name (Qwen/Qwen3-1.7B is not Qwen/Qwen3-1.7B-Base);
                # the cache spells it models--Qwen--Qwen3-1.7B
                for spelled in (name, name.replace("/", "--")):
                    if re.search(rf"(?<![\w.-]){re.escape(spelled)}(?![\w.-])", text, re.IGNORECASE):
                        return kind, name
        return None


def instruct_names(models: dict) -> tuple[str, ...]:
    out = []
    for entry in models.values():
        ref = entry.get("instruct")
        if ref:
            out.append(embedded_name(ref) if is_embedded(ref) else ref)
    return tuple(out)


def compile_rules(models: dict, disallowed_datasets=(), extra: list[dict] = ()) -> Rules:
    compiled = []
    for e in extra:
        try:
            compiled.append((re.compile(e["pattern"], re.MULTILINE), e["reason"]))
        except re.error as err:
            raise ValueError(f"judge.forbidden: bad pattern {e['pattern']!r}: {err}") from None
    return Rules(instruct_names(models), tuple(disallowed_datasets), tuple(compiled))


def is_loopback(url: str) -> bool:
    host = urlparse(url if "//" in url else f"http://{url}").hostname or ""
    return host in LOOPBACK or host.startswith("127.")


# --- Python: strings followed through the code --------------------------------------------


class _Strings(ast.NodeVisitor):
    """Resolve string expressions through simple assignments, in the order the code runs them."""

    def __init__(self):
        self.env: dict[str, str] = {}
        self.strings: list[tuple[int, str]] = []  # every resolved string, with its line
        self.calls: list[tuple[int, str, list[str | None], dict[str, str | None]]] = []
        self.base_urls: list[str] = []  # module-level base URLs (openai.base_url = ...)

    def value(self, node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            fmt, arg = self.value(node.left), node.right
            args = [self.value(a) for a in (arg.elts if isinstance(arg, ast.Tuple) else [arg])]
            if fmt is not None and None not in args:
                try:
                    return fmt % tuple(args)
                except (TypeError, ValueError):
                    return None
        if isinstance(node, ast.JoinedStr):
            parts = [self.value(v.value) if isinstance(v, ast.FormattedValue) else self.value(v) for v in node.values]
            return None if None in parts else "".join(parts)
        if isinstance(node, ast.Call):
            return self._call_value(node)
        return None

    def _call_value(self, node: ast.Call) -> str | None:
        name = dotted(node.func)
        args = [self.value(a) for a in node.args]
        if name.endswith(".join") and isinstance(node.func, ast.Attribute):
            if name in ("os.path.join", "posixpath.join"):
                return None if None in args else "/".join(args)
            sep = self.value(node.func.value)
            items = node.args[0].elts if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)) else None
            parts = [self.value(e) for e in items] if items is not None else [None]
            return None if sep is None or None in parts else sep.join(parts)
        if name.endswith(".format") and isinstance(node.func, ast.Attribute):
            fmt = self.value(node.func.value)
            kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
            if fmt is not None and None not in args and None not in kwargs.values():
                try:
                    return fmt.format(*args, **kwargs)
                except (IndexError, KeyError, ValueError):
                    return None
        if name in ("os.environ.get", "os.getenv", "environ.get", "getenv") and len(node.args) >= 2:
            return args[1]
        if name in ("str", "Path", "pathlib.Path") and args and None not in args:
            return "/".join(args)
        return None

    def _assign(self, targets, value_node, line):
        value = self.value(value_node)
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                self.env[target.id] = value
            elif isinstance(target, ast.Attribute) and value is not None:
                if dotted(target) in ("openai.base_url", "openai.api_base", "anthropic.base_url"):
                    self.base_urls.append(value)
            elif isinstance(target, ast.Subscript) and value is not None:
                # os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:8000/v1"
                key = self.value(target.slice)
                if key in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_BASE_URL"):
                    self.base_urls.append(value)
        if value is not None:
            self.strings.append((line, value))

    def visit_Assign(self, node):  # noqa: N802 (ast's naming)
        self.generic_visit(node)
        self._assign(node.targets, node.value, node.lineno)

    def visit_AnnAssign(self, node):  # noqa: N802
        self.generic_visit(node)
        if node.value is not None:
            self._assign([node.target], node.value, node.lineno)

    def visit_Call(self, node):  # noqa: N802
        self.generic_visit(node)
        args = [self.value(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        self.calls.append((node.lineno, dotted(node.func), args, kwargs))
        self.strings += [(node.lineno, s) for s in args + list(kwargs.values()) if s is not None]

    def visit_Constant(self, node):  # noqa: N802
        if isinstance(node.value, str):
            self.strings.append((node.lineno, node.value))


def dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return dotted(node.func) + "()"
    return "?"


def python_hits(source: str, rules: Rules, loopback_env: bool) -> list[tuple[int, str, str]]:
    """(line, kind, why) found in Python source; unparsable source gives nothing (the text rules still run)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    seen = _Strings()
    seen.visit(tree)
    hits = []
    pointed_local = loopback_env or any(is_loopback(u) for u in seen.base_urls)
    for line, name, args, kwargs in seen.calls:
        tail = name.rsplit(".", 1)[-1]
        if tail in CLIENTS:
            urls = [kwargs.get(k) for k in CLIENTS[tail] if k in kwargs]
            if any(u is not None and not is_loopback(u) for u in urls):
                hits.append((line, HOSTED_API, f"{tail} client pointed at {next(u for u in urls if u)}"))
            elif not urls and not (pointed_local and tail in ("OpenAI", "AsyncOpenAI", "Anthropic", "AsyncAnthropic")):
                hits.append((line, HOSTED_API, f"{tail} client with the provider's default (hosted) endpoint"))
        elif MODULE_CALLS.match(name) and not pointed_local:
            base = kwargs.get("api_base") or kwargs.get("base_url")
            if not (base and is_loopback(base)):
                hits.append((line, HOSTED_API, f"{name}() on the provider's hosted endpoint"))
        if tail in LOAD_CALLS:
            for value in [*args[:1], *(kwargs.get(k) for k in LOAD_KEYWORDS)]:
                found = value and rules.name_kind(value)
                if found:
                    hits.append((line, found[0], f"{name}() loads {found[1]}"))
    load_file = any(c[1].rsplit(".", 1)[-1] in LOAD_CALLS for c in seen.calls)
    for line, text in seen.strings:
        if PROVIDER_HOSTS.search(text):
            hits.append((line, HOSTED_API, f"a hosted provider's address: {PROVIDER_HOSTS.search(text).group(0)}"))
        found = load_file and " " not in text.strip() and rules.name_kind(text)
        if found:  # a name built in one place and loaded in another
            hits.append((line, found[0], f"names {found[1]} in code that loads models or datasets"))
    return hits


# --- shell and trace text ---------------------------------------------------------------------


def substitute_shell(text: str) -> str:
    """Shell text with $NAME / ${NAME} replaced by values assigned earlier in it."""
    values = {m.group(1): m.group(3) for m in _SHELL_ASSIGN.finditer(text)}
    if not values:
        return text
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: values.get(m.group(1), m.group(0)), text)


def text_hits(text: str, rules: Rules) -> list[tuple[int, str, str]]:
    """(line, kind, why) in shell code or a trace line: hosts, downloads, embedded Python."""
    text = substitute_shell(text)
    hits = []

    def line_of(pos):
        return text.count("\n", 0, pos) + 1

    for m in PROVIDER_HOSTS.finditer(text):
        hits.append((line_of(m.start()), HOSTED_API, f"a hosted provider's address: {m.group(0)}"))
    for m in SHELL_DOWNLOAD.finditer(text):
        found = rules.name_kind(m.group(1) or m.group(2))
        if found:
            hits.append((line_of(m.start()), found[0], f"downloads {found[1]}"))
    loopback_env = any(is_loopback(m.group(2)) for m in BASE_URL_ENV.finditer(text))
    for body_match in list(_HEREDOC.finditer(text)) + list(_PY_C.finditer(text)):
        first = line_of(body_match.start(2)) - 1
        hits += [(first + ln, k, why) for ln, k, why in python_hits(body_match.group(2), rules, loopback_env)]
    for pattern, reason in rules.extra:
        for m in pattern.finditer(text):
            hits.append((line_of(m.start()), CONFIG_PATTERN, reason))
    return hits


# The CLI's own events (its session, usage, its connection errors): they name the agent's own
# provider, which the scaffold may call; only what the agent does (tool calls, its text) is judged.
CLI_OWN_EVENTS = {"system", "init", "result", "error", "thread.started", "turn.started", "turn.completed",
                  "turn.failed", "step_start", "step_finish", "stream_event"}  # fmt: skip


def trace_texts(trace: Path, agent_actions_only: bool = False) -> list[tuple[int, str]]:
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
                event = json.loads(line)
                if agent_actions_only and isinstance(event, dict) and event.get("type") in CLI_OWN_EVENTS:
                    continue
                line = "\n".join(_strings(event))
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


def cache_downloads(upper: Path | None, rules: Rules) -> list[dict]:
    """Instruct models or disallowed datasets the agent put into its cache view (the overlay's upper layer)."""
    if not upper or not Path(upper).is_dir():
        return []
    out = []
    for folder in sorted(p for sub in ("hub", "datasets") for p in (Path(upper) / sub).glob("*") if p.is_dir()):
        # hub/models--org--name, hub/datasets--org--name, datasets/org___name
        name = re.sub(r"^(models|datasets)--", "", folder.name).replace("___", "/").replace("--", "/", 1)
        found = rules.name_kind(name)
        if found:
            rel = folder.relative_to(upper).as_posix()
            out.append({"source": f"cache/{rel}", "line": 0, "kind": found[0], "reason": f"downloaded {found[1]}",
                        "text": rel})  # fmt: skip
    return out


def check_forbidden(
    job_dir: Path,
    trace: Path,
    models: dict,
    extra: list[dict] = (),
    handout: set[str] = frozenset(),
    disallowed_datasets=(),
    cache_upper: Path | None = None,
) -> dict:
    rules = compile_rules(models, disallowed_datasets, extra)
    hits: list[dict] = []

    def add(source, found, text_of):
        for line, kind, why in found:
            hits.append({"source": source, "line": line, "kind": kind, "reason": why, "text": redact(text_of(line))})

    trace_lines = trace_texts(trace, agent_actions_only=True)
    for number, text in trace_lines:
        for inner, kind, why in _unique(text_hits(text, rules)):
            hits.append({"source": "trace.jsonl", "line": number, "kind": kind, "reason": why,
                         "text": redact(_snippet(substitute_shell(text), inner))})  # fmt: skip
    loopback_env = any(is_loopback(m.group(2)) for _, t in trace_lines for m in BASE_URL_ENV.finditer(t))
    for f in agent_files(job_dir, handout):
        suffix = f.path.suffix.lower()
        if suffix not in CODE_SUFFIXES and suffix:
            continue
        text = read_head(f.path, MAX_CODE_BYTES)
        found = text_hits(text, rules)
        if suffix == ".py":
            found += python_hits(text, rules, loopback_env)
        add(f.rel, _unique(found), lambda line, t=text: _snippet(t, line))
    hits += cache_downloads(cache_upper, rules)
    kinds = sorted({h["kind"] for h in hits})
    return {
        "check": "forbidden_use",
        "flag": bool(hits),
        "reason": "; ".join(sorted({h["reason"] for h in hits}))[:1000],
        "questions": sorted({QUESTION_OF_KIND[k] for k in kinds}),
        "kinds": kinds,
        "hits": len(hits),
        "evidence": hits[:MAX_HITS],
    }


def _unique(found):
    seen, out = set(), []
    for line, kind, why in found:
        if (line, kind) not in seen:
            seen.add((line, kind))
            out.append((line, kind, why))
    return out


def _snippet(text: str, line: int) -> str:
    lines = text.splitlines() or [""]
    return lines[min(max(line, 1), len(lines)) - 1].strip()[:200]
