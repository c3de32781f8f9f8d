"""Summaries of the agent CLIs' streaming JSON traces.

`parse_trace(scaffold, lines)` reads the stdout of one agent job (one or more
CLI invocations: a run plus resumed runs) and returns a readable transcript
and usage figures. Lines may be raw CLI output or the runner's wrapper
`{"t": <iso time>, "line": <raw line>}`; non-JSON lines and unknown events
are skipped, because a killed CLI can leave a half-written line and new CLI
versions add events.

Token counts are comparable across CLIs: `input_tokens` is the whole prompt
side including cached tokens, `cached_tokens` the part read from a cache.

Besides the transcript, the summary keeps the run as `steps` (each with its
time and trace line, for the per-cell trace page), and `usage_record` turns
it into what run.json keeps: tokens and dollars.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

OUTPUT_LIMIT = 2000  # characters of command output kept per command
INPUT_LIMIT = 500  # characters of a non-shell tool's input kept


@dataclass
class Step:
    """One thing the agent did: a message, a tool call (with its result), or a (re)start of the CLI."""

    kind: str  # start | message | tool
    t: str | None  # the runner's timestamp of the trace line where it began
    line: int  # that line's number in trace.jsonl (1-based)
    end_line: int  # the line where it ended (a tool's result)
    role: str = ""  # message: assistant | user
    text: str = ""  # message text, or the session id of a start
    tool: str = ""  # tool name
    command: str | None = None  # a shell tool's command line
    input: str = ""  # a non-shell tool's input, shortened
    exit: int | None = None
    status: str | None = None
    output: str = ""  # shortened
    files: list[str] = field(default_factory=list)  # files the step wrote (as named in the call)


@dataclass
class TraceSummary:
    transcript: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int | None = None
    tool_calls: int = 0
    turns: int = 0
    cost_usd: float | None = None
    model: str | None = None
    errors: list[str] = field(default_factory=list)
    # The same run, step by step; not part of equality (figures and transcript are).
    steps: list[Step] = field(default_factory=list, compare=False, repr=False)


class _State:
    """Accumulates one trace; `out` is the transcript being built."""

    def __init__(self):
        self.s = TraceSummary()
        self.out: list[str] = []
        # tool call id -> (name, input, where the call began)
        self.pending: dict[str, tuple[str, dict, tuple[str | None, int]]] = {}
        self.at: tuple[str | None, int] = (None, 0)  # (time, line) of the event being read

    def text(self, role: str, text: str, at: tuple[str | None, int] | None = None):
        if text and text.strip():
            self.out.append(f"[{role}] {text.strip()}")
            t, line = at or self.at
            self.s.steps.append(Step("message", t, line, self.at[1], role=role, text=text.strip()))

    def start(self, session):
        """A CLI invocation starts (the first run, or a resume of it)."""
        self.out.append(f"--- run start (session {session}) ---")
        self.s.steps.append(Step("start", *self.at, self.at[1], text=str(session)))

    def call(self, call_id, name: str, args):
        """A tool call begins; its result comes with a later event."""
        self.pending[call_id] = (name, args, self.at)

    def result(self, call_id, default=("?", {})) -> tuple[str, dict, tuple[str | None, int]]:
        """The call a result belongs to: (name, input, where it began)."""
        return self.pending.pop(call_id, (*default, self.at))

    def tool(self, name: str, args, exit_code=None, output=None, status=None, began=None):
        """One finished tool call. Shell commands show command, exit code, output."""
        self.s.tool_calls += 1
        command = _shell_command(name, args)
        t, line = began or self.at
        step = Step("tool", t, line, self.at[1], tool=name, command=command, exit=exit_code, status=status)
        step.files = files_written(name, args)
        if output and str(output).strip():
            step.output = shorten(str(output).rstrip(), OUTPUT_LIMIT)
        self.s.steps.append(step)
        if command is None:
            shown = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            step.input = shorten(shown, INPUT_LIMIT)
            self.out.append(f"[tool {name}] {shorten(shown, INPUT_LIMIT)}")
        else:
            self.out.append(f"$ {command}")
        if exit_code is not None:
            self.out.append(f"[exit {exit_code}]")
        elif status:
            self.out.append(f"[{status}]")
        if output and str(output).strip():
            self.out.append(shorten(str(output).rstrip(), OUTPUT_LIMIT))

    def add_cached(self, n):
        if n is not None:
            self.s.cached_tokens = (self.s.cached_tokens or 0) + int(n)


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def _shell_command(name: str, args) -> str | None:
    """The command line of a shell tool call, None for other tools."""
    if not isinstance(args, dict) or name not in {"Bash", "bash", "shell", "exec_command", "run_shell_command"}:
        return None
    cmd = args.get("command", args.get("cmd"))
    if isinstance(cmd, list):  # Codex's older shell tool: ["bash", "-lc", "..."]
        cmd = cmd[-1] if len(cmd) == 3 and cmd[1] in ("-c", "-lc") else " ".join(map(str, cmd))
    return None if cmd is None else str(cmd)


def _events(lines: Iterable[str]) -> Iterator[tuple[dict, str | None, int]]:
    """(event, time, line number) of every JSON event; time only under the runner's wrapper."""
    for number, line in enumerate(lines, 1):
        try:
            event = json.loads(line)
        except (TypeError, ValueError):
            continue
        t = None
        if isinstance(event, dict) and set(event) == {"t", "line"}:  # the runner's wrapper
            t, event = event["t"], event["line"]
            if isinstance(event, str):
                try:
                    event = json.loads(event)
                except ValueError:
                    continue
        if isinstance(event, dict):
            yield event, t, number


def _tracked(lines: Iterable[str], st: _State) -> Iterator[dict]:
    """The events, telling the state where each one sits while the parser handles it."""
    for event, t, number in _events(lines):
        st.at = (t, number)
        yield event


def _blocks(content) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


# --- Claude Code: --output-format stream-json --------------------------------
def _claude(events: Iterator[dict], st: _State):
    # `result` closes each invocation with that invocation's usage and turns,
    # but total_cost_usd is cumulative over the session (it survives
    # --continue), so keep the largest per session. Assistant usage is only
    # a fallback for an invocation killed before its `result`.
    since_result: dict[str, dict] = {}  # message id -> usage
    cost: dict[str, float] = {}
    for e in events:
        kind = e.get("type")
        if kind == "system" and e.get("subtype") == "init":
            st.s.model = e.get("model") or st.s.model
            st.start(e.get("session_id"))
        elif kind == "assistant":
            msg = e.get("message") or {}
            if isinstance(msg.get("usage"), dict):
                since_result[msg.get("id") or str(len(since_result))] = msg["usage"]
            for b in _blocks(msg.get("content")):
                if b.get("type") == "text":
                    st.text("assistant", b.get("text", ""))
                elif b.get("type") == "tool_use":
                    st.call(b.get("id"), b.get("name", "?"), b.get("input") or {})
        elif kind == "user":
            for b in _blocks((e.get("message") or {}).get("content")):
                if b.get("type") != "tool_result":
                    continue
                name, args, began = st.result(b.get("tool_use_id"))
                out = b.get("content")
                if isinstance(out, list):
                    out = "\n".join(str(x.get("text", "")) for x in out if isinstance(x, dict))
                out = str(out or "")
                code = None
                if _shell_command(name, args) is not None:
                    m = re.match(r"Exit code (\d+)\n?", out) if b.get("is_error") else None
                    code, out = (int(m[1]), out[m.end() :]) if m else (None if b.get("is_error") else 0, out)
                st.tool(name, args, code, out, "error" if b.get("is_error") and code is None else None, began)
        elif kind == "result":
            _claude_usage(st, [e.get("usage") or {}])
            since_result.clear()
            st.s.turns += int(e.get("num_turns") or 0)
            if e.get("total_cost_usd") is not None:
                sid = e.get("session_id", "")
                cost[sid] = max(cost.get(sid, 0.0), float(e["total_cost_usd"]))
            if e.get("is_error"):
                st.s.errors.append(str(e.get("result") or e.get("subtype")))
    if since_result:  # last invocation ended without a result (killed)
        _claude_usage(st, since_result.values())
        st.s.turns += len(since_result)
    if cost:
        st.s.cost_usd = sum(cost.values())


def _claude_usage(st: _State, usages):
    for u in usages:
        cached = int(u.get("cache_read_input_tokens") or 0)
        st.s.input_tokens += int(u.get("input_tokens") or 0) + int(u.get("cache_creation_input_tokens") or 0) + cached
        st.s.output_tokens += int(u.get("output_tokens") or 0)
        st.add_cached(cached)


# --- Codex CLI: exec --json --------------------------------------------------
def _codex(events: Iterator[dict], st: _State):
    # turn.completed usage is the thread's running total (a resumed thread
    # continues it), so keep the last one per thread and add up threads.
    usage: dict[str, dict] = {}
    thread = ""
    for e in events:
        kind = e.get("type")
        if kind == "thread.started":
            thread = e.get("thread_id", "")
            st.start(thread)
        elif kind == "turn.completed":
            st.s.turns += 1
            if isinstance(e.get("usage"), dict):
                usage[thread] = e["usage"]
        elif kind in ("turn.failed", "error"):
            err = e.get("error") if isinstance(e.get("error"), dict) else e
            st.s.errors.append(str(err.get("message", err)))
        elif kind == "item.started" and (e.get("item") or {}).get("type") == "command_execution":
            item = e["item"]  # kept until completed: a killed run still shows its last command
            st.call(item.get("id"), "shell", {"command": _unwrap_shell(item.get("command", ""))})
        elif kind == "item.completed":
            item = e.get("item") or {}
            t = item.get("type")
            began = st.result(item.get("id"), (None, None))[2]
            if t == "agent_message":
                st.text("assistant", item.get("text", ""))
            elif t == "command_execution":
                st.tool(
                    "shell",
                    {"command": _unwrap_shell(item.get("command", ""))},
                    item.get("exit_code"),
                    item.get("aggregated_output"),
                    began=began,
                )
            elif t == "file_change":
                st.tool(
                    "apply_patch",
                    [f"{c.get('kind')} {c.get('path')}" for c in item.get("changes", [])],
                    status=item.get("status"),
                )
            elif t in ("mcp_tool_call", "web_search"):
                st.tool(
                    item.get("tool") or t, item.get("arguments") or item.get("query") or {}, status=item.get("status")
                )
            elif t == "error":
                st.s.errors.append(str(item.get("message")))
    for u in usage.values():
        st.s.input_tokens += int(u.get("input_tokens") or 0)
        st.s.output_tokens += int(u.get("output_tokens") or 0)
        st.add_cached(u.get("cached_input_tokens"))


def _unwrap_shell(command: str) -> str:
    """Codex reports `/bin/bash -lc '<cmd>'`; show the agent's own command."""
    m = re.fullmatch(r"\S*(?:ba)?sh -l?c '(.*)'", command, re.S)
    return m[1].replace("'\\''", "'") if m else command


# --- Gemini CLI: --output-format stream-json -----------------------------------
def _gemini(events: Iterator[dict], st: _State):
    # Each invocation ends with `result` holding that invocation's stats;
    # assistant text arrives as deltas that are joined until the next event.
    buf: list[str] = []
    opened: list[tuple[str | None, int]] = []  # where the buffered message began

    def flush():
        if buf:
            st.text("assistant", "".join(buf), opened[0])
        buf.clear()
        opened.clear()

    for e in events:
        kind = e.get("type")
        if kind == "message" and e.get("role") == "assistant":
            buf.append(str(e.get("content", "")))
            opened.append(st.at)
            continue
        flush()
        if kind == "init":
            st.s.model = e.get("model") or st.s.model
            st.start(e.get("session_id"))
        elif kind == "message" and e.get("role") == "user":
            st.text("user", shorten(str(e.get("content", "")), INPUT_LIMIT))
        elif kind == "tool_use":
            st.call(e.get("tool_id"), e.get("tool_name", "?"), e.get("parameters") or {})
        elif kind == "tool_result":
            name, args, began = st.result(e.get("tool_id"))
            out = e.get("output")
            if out is None and isinstance(e.get("error"), dict):
                out = e["error"].get("message")
            m = re.search(r"Exit Code: (\d+)", str(out or ""))  # stream-json omits it; older output had it
            st.tool(name, args, int(m[1]) if m else None, out, None if m else e.get("status"), began)
        elif kind == "result":
            stats = e.get("stats") or {}
            st.s.input_tokens += int(stats.get("input_tokens") or 0)
            st.s.output_tokens += int(stats.get("output_tokens") or 0)
            st.add_cached(stats.get("cached"))
            st.s.turns += 1
            if e.get("status") not in (None, "success"):
                st.s.errors.append(json.dumps(e.get("error") or e.get("status")))
        elif kind == "error":
            st.s.errors.append(str(e.get("message") or e))
    flush()


# --- OpenCode: run --format json -----------------------------------------------
def _opencode(events: Iterator[dict], st: _State):
    # One step_finish per model call, with that call's tokens and cost.
    cost = 0.0
    for e in events:
        kind, part = e.get("type"), e.get("part") or {}
        if kind == "text":
            st.text("assistant", part.get("text", ""))
        elif kind == "tool_use":
            state = part.get("state") or {}
            meta = state.get("metadata") or {}
            st.tool(
                part.get("tool", "?"),
                state.get("input") or {},
                meta.get("exit"),
                state.get("output") if state.get("status") == "completed" else state.get("error"),
                None if state.get("status") == "completed" else state.get("status"),
            )
        elif kind == "step_finish":
            st.s.turns += 1
            tok = part.get("tokens") or {}
            cache = tok.get("cache") or {}
            st.s.input_tokens += sum(int(x or 0) for x in (tok.get("input"), cache.get("read"), cache.get("write")))
            st.s.output_tokens += int(tok.get("output") or 0) + int(tok.get("reasoning") or 0)
            st.add_cached(cache.get("read"))
            cost += float(part.get("cost") or 0)
        elif kind == "error":
            err = e.get("error") or {}
            st.s.errors.append(str((err.get("data") or {}).get("message") or err.get("name") or err))
    # OpenCode reports 0 for models it has no price for: treat that as unknown.
    if cost > 0:
        st.s.cost_usd = cost


PARSERS: dict[str, Callable[[Iterator[dict], _State], None]] = {
    "claude": _claude,
    "codex": _codex,
    "gemini": _gemini,
    "opencode": _opencode,
}


def parse_trace(
    scaffold: str, lines: Iterable[str], prices: dict | None = None, model: str | None = None
) -> TraceSummary:
    """Summarise one agent job's trace.

    prices: {model: {"input_per_mtok", "output_per_mtok"[, "cached_input_per_mtok"]}}
    in USD, used only when the trace carries no cost; the model is `model`,
    else the one the trace names.
    """
    if scaffold not in PARSERS:
        raise ValueError(f"unknown scaffold {scaffold!r}; known: {sorted(PARSERS)}")
    st = _State()
    PARSERS[scaffold](_tracked(lines, st), st)
    for name, args, began in st.pending.values():  # calls whose result never came (killed)
        st.tool(name, args, status="no result", began=began)
    s = st.s
    s.model = model or s.model
    s.transcript = "\n".join(st.out)
    price = (prices or {}).get(s.model or "")
    if s.cost_usd is None and price:
        cached = s.cached_tokens or 0
        s.cost_usd = (
            (s.input_tokens - cached) * price["input_per_mtok"]
            + cached * price.get("cached_input_per_mtok", price["input_per_mtok"])
            + s.output_tokens * price["output_per_mtok"]
        ) / 1e6
    return s


# Tools that write a file, and the argument naming it (Claude Code, Gemini CLI, OpenCode).
FILE_TOOLS = {
    "Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path", "NotebookEdit": "notebook_path",
    "write_file": "file_path", "replace": "file_path", "write": "filePath", "edit": "filePath",
}  # fmt: skip
# Shell output redirections and tee: `> out.txt`, `>> log`, `| tee -a run.log`.
_REDIRECT = re.compile(r"(?:^|[^0-9&>])>>?\s*([^\s;&|<>()]+)|\btee\s+(?:-a\s+)?([^\s;&|<>()]+)")


def files_written(name: str, args) -> list[str]:
    """The files a tool call writes, as the call names them (a best effort for shell commands)."""
    if name in FILE_TOOLS and isinstance(args, dict) and args.get(FILE_TOOLS[name]):
        return [str(args[FILE_TOOLS[name]])]
    if name == "apply_patch" and isinstance(args, list):  # Codex file_change: ["add path", ...]
        return [str(c).split(" ", 1)[-1] for c in args if str(c).split(" ", 1)[0] != "delete"]
    command = _shell_command(name, args)
    if command is None:
        return []
    found = [a or b for a, b in _REDIRECT.findall(command)]
    return [f for f in dict.fromkeys(found) if f and not f.startswith("/dev/")]


def trace_format(scaffold: str) -> str | None:
    """Which parser reads a scaffold's trace; None for scaffolds without an agent CLI (noop, reference-sft)."""
    return scaffold if scaffold in PARSERS else None


def _price(prices: dict, *models: str | None) -> dict | None:
    for model in models:
        if model and model in prices:
            return prices[model]
    return None


def usage_record(scaffold: str, trace: Path, prices: dict | None = None, model: str | None = None) -> dict | None:
    """Tokens and dollars of a finished run, for run.json; None for a scaffold without a CLI trace.

    The dollars are what the CLI reported (Claude Code, OpenCode), else the
    tokens priced with `prices` ({model: {input_per_mtok, cached_input_per_mtok,
    output_per_mtok}}, USD), looked up by the agent's configured model, then by
    the one the trace names; None when neither is known.
    """
    kind = trace_format(scaffold)
    if kind is None:
        return None
    lines = Path(trace).read_text(errors="replace").splitlines() if Path(trace).exists() else []
    reported = parse_trace(kind, lines)
    price = _price(prices or {}, model, reported.model)
    summary = parse_trace(kind, lines, prices={reported.model or "": price} if price else None)
    source = None
    if reported.cost_usd is not None:
        source = "cli"
    elif summary.cost_usd is not None:
        source = "prices"
    return {
        "tokens": {
            "input": summary.input_tokens,
            "cached": summary.cached_tokens or 0,
            "output": summary.output_tokens,
        },
        "cost_usd": None if summary.cost_usd is None else round(summary.cost_usd, 6),
        "cost_source": source,
        "trace_model": summary.model,
        "tool_calls": summary.tool_calls,
        "turns": summary.turns,
        "errors": len(summary.errors),
    }


def steps_as_dicts(steps: list[Step]) -> list[dict]:
    return [asdict(s) for s in steps]
