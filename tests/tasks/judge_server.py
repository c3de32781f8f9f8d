"""A loopback stand-in for a judge's API: OpenAI's chat-completions protocol on 127.0.0.1.

Inspect's `openai-api/loopback/judge` provider talks to it through
LOOPBACK_BASE_URL and LOOPBACK_API_KEY, exactly as to a paid API.
"""

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from tests.loopback import LoopbackServer, send_json


class JudgeServer(LoopbackServer):
    def __init__(self, reply: Callable[[list[dict]], str]):
        self.reply = reply
        self.requests: list[dict] = []
        self.auth_headers: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.auth_headers.append(self.headers.get("Authorization", ""))
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                text = server.reply(body["messages"])
                payload = {
                    "id": f"cmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }
                send_json(self, 200, payload)

        super().__init__(Handler)
