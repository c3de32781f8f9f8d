"""A minimal OpenAI-compatible server for a local model (GET /v1/models, POST /v1/chat/completions)."""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from transformers import AutoModelForCausalLM, AutoTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--port", type=int, required=True)
args = ap.parse_args()
tok = AutoTokenizer.from_pretrained(args.model)
model = AutoModelForCausalLM.from_pretrained(args.model)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self.reply({"object": "list", "data": [{"id": "base", "object": "model", "created": 0, "owned_by": "me"}]})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ids = tok.apply_chat_template(
            body["messages"], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        out = model.generate(**ids, max_new_tokens=body.get("max_tokens") or 16, do_sample=False)
        text = tok.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)
        self.reply(
            {
                "id": "local-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "base",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
