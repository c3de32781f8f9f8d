"""A loopback server speaking the parts of the Hugging Face Hub API that downloads use.

Endpoints (as huggingface_hub 2.4 and datasets 5.2 call them):
  GET  /api/{models|datasets}/{repo}[/revision/{rev}]      repo info (sha, siblings)
  GET  /api/{models|datasets}/{repo}/tree/{rev}[/{path}]    file listing (recursive=...)
  POST /api/{models|datasets}/{repo}/paths-info/{rev}       info for given paths
  HEAD/GET /{repo}/resolve/{rev}/{path}, /datasets/{repo}/resolve/{rev}/{path}
       X-Repo-Commit, ETag (git blob sha1, or sha256 for LFS-sized files), Content-Length, Range
  GET  /{any path in `files`}                                plain files (a site mirror:
       BFCL's files, HealthBench's JSONL as the tasks' `downloads:` fetch them)
Errors carry X-Error-Code as the hub sends it (RepoNotFound, RevisionNotFound,
EntryNotFound, GatedRepo). A gated repo answers 401 without a token and 403
with a token not in its allowed list. Every request is recorded with the
`phase` the hub was in when it came (a test sets it between stages).
"""

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

LFS_THRESHOLD = 10_000  # bytes; larger files are served as LFS files (sha256 ETag), as on the hub


@dataclass
class Repo:
    repo_id: str
    kind: str  # "model" | "dataset"
    files: dict[str, bytes]
    gated: bool = False
    allowed_tokens: tuple[str, ...] = ()
    sha: str = ""

    def __post_init__(self):
        if not self.sha:
            digest = hashlib.sha1(self.repo_id.encode())
            for path in sorted(self.files):
                digest.update(path.encode() + hashlib.sha1(self.files[path]).digest())
            self.sha = digest.hexdigest()

    @classmethod
    def from_folder(cls, repo_id: str, kind: str, folder: Path, **kw) -> "Repo":
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
        return cls(repo_id, kind, files, **kw)

    def entry(self, path: str) -> dict:
        data = self.files[path]
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        item = {"type": "file", "oid": blob, "size": len(data), "path": path}
        if len(data) > LFS_THRESHOLD:
            item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return item

    def etag(self, path: str) -> str:
        item = self.entry(path)
        return item["lfs"]["oid"] if "lfs" in item else item["oid"]


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    status: int = 0
    phase: str = ""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class FakeHub:
    repos: dict[tuple[str, str], Repo] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # path in repo -> bytes to send before dropping the connection, once
    truncate_once: dict[str, int] = field(default_factory=dict)
    # URL path (no leading slash) -> content, served as plain files
    files: dict[str, bytes] = field(default_factory=dict)
    phase: str = ""

    def add(self, repo: Repo) -> Repo:
        self.repos[(repo.kind, repo.repo_id)] = repo
        return repo

    def add_file(self, path: str, data: bytes) -> None:
        self.files[path.lstrip("/")] = data

    def start(self, port: int = 0) -> str:
        hub = self

        class Handler(_Handler):
            fake = hub

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def downloads(self, suffix: str = "") -> list[Request]:
        """GET requests of file contents (resolve URLs), optionally for one file name."""
        return [r for r in self.requests if r.method == "GET" and "/resolve/" in r.path and r.path.endswith(suffix)]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    # -- helpers -------------------------------------------------------------
    def _record(self) -> Request:
        req = Request(self.command, self.path, dict(self.headers), phase=self.fake.phase)
        self.fake.requests.append(req)
        return req

    def _send(self, req: Request, status: int, body: bytes = b"", headers: dict | None = None, head=False):
        req.status = status
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, req, payload, status=200, headers=None):
        self._send(req, status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, req, status, code, message, head=False, extra=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        self._send(req, status, json.dumps({"error": message}).encode(), {**headers, **(extra or {})}, head=head)

    def _find(self, kind: str, rest: str) -> tuple[Repo | None, str]:
        parts = rest.split("/")
        repo = self.fake.repos.get((kind, "/".join(parts[:2])))
        return repo, "/".join(parts[2:])

    def _token_problem(self, req, repo: Repo, head=False) -> bool:
        """Answer 401/403 for a gated repo as the hub does; True when refused."""
        if not repo.gated:
            return False
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if not token:
            message = f"Access to {repo.kind} {repo.repo_id} is restricted. You must be authenticated to access it."
            self._error(req, 401, "GatedRepo", message, head)
            return True
        if token not in repo.allowed_tokens:
            message = f"Access to {repo.kind} {repo.repo_id} is restricted and you are not in the authorized list."
            self._error(req, 403, "GatedRepo", message, head)
            return True
        return False

    def _revision_ok(self, req, repo: Repo, rev: str, head=False) -> bool:
        if unquote(rev) in ("main", repo.sha):
            return True
        self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {rev}", head, {"X-Repo-Commit": repo.sha})
        return False

    # -- API -------------------------------------------------------------------
    def _api(self, req, url):
        rest = url.path[len("/api/") :]
        kind_plural, _, rest = rest.partition("/")
        kind = {"models": "model", "datasets": "dataset"}.get(kind_plural)
        repo, tail = self._find(kind, rest) if kind else (None, "")
        if repo is None:
            return self._error(req, 404, "RepoNotFound", "Repository not found")
        action, _, after = tail.partition("/")
        if action in ("", "revision"):
            rev = after or "main"
            if not self._revision_ok(req, repo, rev):
                return
            info = {
                "_id": repo.sha[:24],
                "id": repo.repo_id,
                "sha": repo.sha,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "siblings": [{"rfilename": p} for p in sorted(repo.files)],
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "lastModified": "2026-01-01T00:00:00.000Z",
            }
            if kind == "model":
                info["modelId"] = repo.repo_id
            return self._json(req, info)
        if action == "tree":
            rev, _, path = after.partition("/")
            if not self._revision_ok(req, repo, rev):
                return
            path = unquote(path).strip("/")
            if path and not any(f == path or f.startswith(path + "/") for f in repo.files):
                return self._error(
                    req, 404, "EntryNotFound", f"{path} does not exist", extra={"X-Repo-Commit": repo.sha}
                )
            recursive = parse_qs(url.query).get("recursive", ["false"])[0].lower() in ("true", "1")
            return self._json(req, _tree(repo, path, recursive))
        if action == "paths-info":
            rev = after
            if not self._revision_ok(req, repo, rev):
                return
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            wanted = form.get("paths", [])
            out = []
            for p in wanted:
                p = p.strip("/")
                if p in repo.files:
                    out.append(repo.entry(p))
                elif any(f.startswith(p + "/") for f in repo.files):
                    out.append({"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0, "path": p})
            return self._json(req, out)
        return self._error(req, 404, "NotFound", f"no such API route: {url.path}")

    # -- files -------------------------------------------------------------------
    def _resolve(self, req, url, head):
        path = url.path
        kind = "model"
        if path.startswith("/datasets/"):
            kind, path = "dataset", path[len("/datasets") :]
        before, sep, after = path.lstrip("/").partition("/resolve/")
        repo = self.fake.repos.get((kind, before)) if sep else None
        if repo is None:
            return self._error(req, 404, "RepoNotFound", "Repository not found", head)
        rev, _, file_path = after.partition("/")
        file_path = unquote(file_path)
        if not self._revision_ok(req, repo, rev, head):
            return
        if self._token_problem(req, repo, head):
            return
        if file_path not in repo.files:
            return self._error(
                req, 404, "EntryNotFound", f"{file_path} does not exist", head, {"X-Repo-Commit": repo.sha}
            )
        data = repo.files[file_path]
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{repo.etag(file_path)}"', "Accept-Ranges": "bytes"}
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and not head:
            start = int(rng[len("bytes=") :].split("-")[0] or 0)
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        cut = self.fake.truncate_once.pop(file_path, None) if not head else None
        if cut is not None:
            # Announce the whole body, send part of it, drop the connection.
            req.status = 200
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(req, 206 if start else 200, body, headers, head=head)

    def do_HEAD(self):
        req = self._record()
        self._resolve(req, urlparse(self.path), head=True)

    def do_GET(self):
        req = self._record()
        url = urlparse(self.path)
        if url.path.startswith("/api/"):
            return self._api(req, url)
        plain = self.fake.files.get(unquote(url.path).lstrip("/"))
        if plain is not None:
            return self._send(req, 200, plain, {"Content-Type": "application/octet-stream"})
        return self._resolve(req, url, head=False)

    def do_POST(self):
        req = self._record()
        url = urlparse(self.path)
        if url.path.startswith("/api/"):
            return self._api(req, url)
        return self._error(req, 404, "NotFound", "no such route")


def _tree(repo: Repo, path: str, recursive: bool) -> list[dict]:
    prefix = f"{path}/" if path else ""
    files = [f for f in sorted(repo.files) if f.startswith(prefix)]
    out, dirs = [], set()
    for f in files:
        rel = f[len(prefix) :]
        if "/" in rel:
            top = prefix + rel.split("/")[0]
            if top not in dirs:
                dirs.add(top)
                out.append({"type": "directory", "oid": hashlib.sha1(top.encode()).hexdigest(), "size": 0, "path": top})
            if not recursive:
                continue
            # recursive listings name every intermediate directory too
            parts = rel.split("/")[:-1]
            for i in range(2, len(parts) + 1):
                sub = prefix + "/".join(parts[:i])
                if sub not in dirs:
                    dirs.add(sub)
                    out.append(
                        {"type": "directory", "oid": hashlib.sha1(sub.encode()).hexdigest(), "size": 0, "path": sub}
                    )
        out.append(repo.entry(f))
    return out
