"""Scripted loopback model server speaking the four providers' streaming APIs.

The "model" decides from each request alone, so any CLI's conversation flow
works without per-CLI state:
  no tools offered        -> plain text (titles, summaries, helper calls)
  tools, no tool result   -> call the shell tool with SHELL_COMMAND
  a tool result present   -> final text
Every request is appended to --log as one JSON line (path, whether the
expected key was sent, body) so tests can inspect what the CLI sent. The key
itself is never logged.

Run: python fake_providers.py --port 8765 --log LOG [--ready FILE]
(expected key in env FAKE_PROVIDER_KEY).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

if __name__ == "__main__":  # run as a script (by agent_harness.py): the repo root, for tests.loopback
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.loopback import send_json, send_sse  # noqa: E402

SHELL_COMMAND = os.environ.get("FAKE_SHELL_COMMAND", "mkdir -p final_model && echo done > final_model/done.txt")
FINAL_TEXT = "The model is saved in final_model."
PLAIN_TEXT = "Post-training run"
# Shell tool names across CLIs: Claude Bash, Codex exec_command/shell,
# Gemini run_shell_command, OpenCode bash.
SHELL_TOOLS = ("Bash", "exec_command", "shell", "run_shell_command", "bash")

_lock = threading.Lock()
_ids = itertools.count(1)  # unique ids: CLIs merge stream chunks by message id


def shell_args(schema: dict) -> dict:
    """Arguments for the shell tool, shaped by its JSON schema."""
    props = (schema or {}).get("properties", {})
    if "cmd" in props:
        args = {"cmd": SHELL_COMMAND}
    elif props.get("command", {}).get("type") == "array":
        args = {"command": ["bash", "-lc", SHELL_COMMAND]}
    else:
        args = {"command": SHELL_COMMAND}
    for name in (schema or {}).get("required", []):  # e.g. OpenCode's description
        if name not in args and props.get(name, {}).get("type") == "string":
            args[name] = "create the model folder"
    return args


def pick_tool(tools: list[tuple[str, dict]]) -> tuple[str, dict] | None:
    by_name = dict(tools)
    for name in SHELL_TOOLS:
        if name in by_name:
            return name, by_name[name]
    return None


def tokens(body: bytes) -> int:
    return max(1, len(body) // 4)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep stderr quiet
        pass

    def do_GET(self):
        self._log({})
        send_json(self, 404, {"error": {"message": "not found"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            req = {}
        self._log(req)
        path = urlparse(self.path).path
        if path.endswith("/messages"):
            self._anthropic(req, raw)
        elif path.endswith("/responses"):
            self._responses(req, raw)
        elif path.endswith("/chat/completions"):
            self._chat(req, raw)
        elif ":streamGenerateContent" in path or ":generateContent" in path:
            self._gemini(req, raw, stream=":stream" in path)
        elif path.endswith(":countTokens") or path.endswith("/count_tokens"):
            send_json(self, 200, {"totalTokens": tokens(raw), "input_tokens": tokens(raw)})
        else:
            send_json(self, 404, {"error": {"message": "not found"}})

    # --- plumbing ---------------------------------------------------------
    def _log(self, req):
        key = os.environ.get("FAKE_PROVIDER_KEY", "")
        sent = [
            self.headers.get("x-api-key", ""),
            self.headers.get("x-goog-api-key", ""),
            self.headers.get("Authorization", "").removeprefix("Bearer "),
            *parse_qs(urlparse(self.path).query).get("key", []),
        ]
        entry = {
            "method": self.command,
            "path": self.path.split("?")[0],
            "key_ok": bool(key) and key in sent,
            "body": req,
        }
        with _lock, open(self.server.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    # --- Anthropic Messages API (Claude Code) -----------------------------
    def _anthropic(self, req, raw):
        has_result = any(
            isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
            for m in req.get("messages", [])
        )
        tool = pick_tool([(t.get("name"), t.get("input_schema", {})) for t in req.get("tools") or []])
        usage = {"input_tokens": tokens(raw), "output_tokens": 12}
        if tool and not has_result:
            block = {"type": "tool_use", "id": f"toolu_ptb{next(_ids)}", "name": tool[0], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(shell_args(tool[1]))}
            stop, final = "tool_use", {**block, "input": shell_args(tool[1])}
        else:
            text = FINAL_TEXT if has_result else PLAIN_TEXT
            block = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": text}
            stop, final = "end_turn", {"type": "text", "text": text}
        message = {
            "id": f"msg_ptb{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": req.get("model"),
            "stop_sequence": None,
        }
        if not req.get("stream"):
            return send_json(self, 200, {**message, "content": [final], "stop_reason": stop, "usage": usage})
        send_sse(
            self,
            [
                (
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            **message,
                            "content": [],
                            "stop_reason": None,
                            "usage": {**usage, "output_tokens": 1},
                        },
                    },
                ),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": usage["output_tokens"]},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ],
        )

    # --- OpenAI Responses API (Codex) -------------------------------------
    def _responses(self, req, raw):
        items = req.get("input") if isinstance(req.get("input"), list) else []
        has_result = any(str(i.get("type", "")).endswith("_output") for i in items)
        tool = pick_tool([(t.get("name"), t.get("parameters", {})) for t in req.get("tools") or []])
        if tool and not has_result:
            item = {
                "type": "function_call",
                "id": "fc_ptb1",
                "call_id": "call_ptb1",
                "name": tool[0],
                "arguments": json.dumps(shell_args(tool[1])),
                "status": "completed",
            }
        else:
            text = FINAL_TEXT if has_result else PLAIN_TEXT
            item = {
                "type": "message",
                "id": "msg_ptb1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        n = tokens(raw)
        usage = {
            "input_tokens": n,
            "input_tokens_details": {"cached_tokens": n // 2},
            "output_tokens": 12,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": n + 12,
        }
        resp = {"id": f"resp_ptb{next(_ids)}", "object": "response", "model": req.get("model"), "status": "in_progress"}
        # The full event sequence: the AI SDK (OpenCode) needs the .added/.delta
        # events, Codex reads only the .done items.
        if item["type"] == "function_call":
            args = item["arguments"]
            body = [
                ("response.output_item.added", {"item": {**item, "arguments": "", "status": "in_progress"}}),
                ("response.function_call_arguments.delta", {"item_id": item["id"], "delta": args}),
                ("response.function_call_arguments.done", {"item_id": item["id"], "arguments": args}),
            ]
        else:
            text, part = item["content"][0]["text"], {"type": "output_text", "text": "", "annotations": []}
            ids = {"item_id": item["id"], "content_index": 0}
            body = [
                ("response.output_item.added", {"item": {**item, "content": [], "status": "in_progress"}}),
                ("response.content_part.added", {**ids, "part": part}),
                ("response.output_text.delta", {**ids, "delta": text}),
                ("response.output_text.done", {**ids, "text": text}),
                ("response.content_part.done", {**ids, "part": {**part, "text": text}}),
            ]
        body.append(("response.output_item.done", {"item": item}))
        send_sse(
            self,
            [
                ("response.created", {"type": "response.created", "response": resp}),
                *[(name, {"type": name, "output_index": 0, **data}) for name, data in body],
                (
                    "response.completed",
                    {
                        "type": "response.completed",
                        "response": {**resp, "status": "completed", "output": [item], "usage": usage},
                    },
                ),
            ],
        )

    # --- OpenAI Chat Completions (OpenCode via @ai-sdk/openai-compatible) --
    def _chat(self, req, raw):
        has_result = any(m.get("role") == "tool" for m in req.get("messages", []))
        tool = pick_tool(
            [
                (t.get("function", {}).get("name"), t.get("function", {}).get("parameters", {}))
                for t in req.get("tools") or []
            ]
        )
        if tool and not has_result:
            delta = {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_ptb1",
                        "type": "function",
                        "function": {"name": tool[0], "arguments": json.dumps(shell_args(tool[1]))},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            delta = {"role": "assistant", "content": FINAL_TEXT if has_result else PLAIN_TEXT}
            finish = "stop"
        base = {
            "id": f"chatcmpl-ptb{next(_ids)}",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": req.get("model"),
        }
        usage = {"prompt_tokens": tokens(raw), "completion_tokens": 12, "total_tokens": tokens(raw) + 12}
        if not req.get("stream"):
            msg = {k: v for k, v in delta.items()}
            for c in msg.get("tool_calls", []):
                c.pop("index")
            return send_json(
                self,
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "usage": usage,
                    "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                },
            )
        send_sse(
            self,
            [
                (None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}),
                (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}),
                (None, {**base, "choices": [], "usage": usage}),
                (None, "[DONE]"),
            ],
        )

    # --- Gemini generateContent (Gemini CLI) ------------------------------
    def _gemini(self, req, raw, stream):
        has_result = any("functionResponse" in p for c in req.get("contents", []) for p in c.get("parts", []))
        decls = [d for t in req.get("tools") or [] for d in t.get("functionDeclarations", [])]
        tool = pick_tool([(d.get("name"), d.get("parametersJsonSchema") or d.get("parameters") or {}) for d in decls])
        if tool and not has_result:
            part = {"functionCall": {"name": tool[0], "args": shell_args(tool[1])}}
        else:
            part = {"text": FINAL_TEXT if has_result else PLAIN_TEXT}
        n = tokens(raw)
        chunk = {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {
                "promptTokenCount": n,
                "candidatesTokenCount": 12,
                "cachedContentTokenCount": n // 2,
                "totalTokenCount": n + 12,
            },
            "modelVersion": self.path.split("/models/")[-1].split(":")[0],
        }
        if stream:
            send_sse(self, [(None, chunk)])
        else:
            send_json(self, 200, chunk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", help="file to create once listening")
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.log_path = a.log
    if a.ready:
        open(a.ready, "w").close()
    server.serve_forever()


if __name__ == "__main__":
    main()
