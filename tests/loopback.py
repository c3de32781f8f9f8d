"""Plumbing shared by the tests' loopback HTTP servers (stand-ins for paid APIs on 127.0.0.1):
JSON and server-sent-event replies, the text of a request, a server in a background thread.

Standard library only: tests/agents/fake_providers.py runs it under a bare python3.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def texts(value) -> list[str]:
    """Every string in a JSON value, in order: the text of a prompt however a request nests it."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


def send_json(handler: BaseHTTPRequestHandler, code: int, obj) -> None:
    data = json.dumps(obj).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def send_sse(handler: BaseHTTPRequestHandler, events: list[tuple[str | None, object]]) -> None:
    """events: (event name or None, payload) pairs; a str payload is sent raw (e.g. "[DONE]")."""
    out = []
    for name, payload in events:
        if name:
            out.append(f"event: {name}\n")
        out.append(f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n")
    data = "".join(out).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class LoopbackServer:
    """`handler` served on host:port (0: any free port) from a daemon thread, started and
    stopped as a context manager; base_url is its OpenAI-style root."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0):
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
