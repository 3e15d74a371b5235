"""A real OpenAI-compatible `/v1/chat/completions` server on loopback, scriptable per request.

Used by the judge tests and by `bench/bench_judge.py`. It runs `http.server` in a background
thread, records every request (JSON body and headers), measures the largest number of
requests in flight at once, and answers each request as a script says: fixed text, an HTTP
error status, a delay (to exceed client timeouts), or a garbage non-JSON body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """How to answer one request. `text` is one choice's content, copied `n` times; a list
    gives the choices explicitly. `raw_body` replaces the whole JSON body (garbage tests)."""

    text: str | list[str] = "1"
    status: int = 200
    delay_s: float = 0.0
    raw_body: str | None = None


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        return self.body["messages"][-1]["content"]


Script = Callable[[Recorded, int], Reply]


@dataclass
class FakeJudgeServer:
    """Start with `with FakeJudgeServer(script) as server:`; `server.url` is the base URL."""

    script: Script | Reply = field(default_factory=Reply)
    requests: list[Recorded] = field(default_factory=list)
    max_in_flight: int = 0
    port: int = 0  # 0 = any free port; a fixed port lets a test restart "the same" server

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> FakeJudgeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            # One buffered write per reply and no Nagle: otherwise headers and body go out as two
            # packets and delayed ACKs add ~40 ms to every request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    index = len(server.requests)
                    server.requests.append(recorded)
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    reply = server.script(recorded, index) if callable(server.script) else server.script
                    if reply.delay_s:
                        server._stop.wait(reply.delay_s)
                    self._send(reply, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to do
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def _send(self, reply: Reply, body: dict[str, Any]) -> None:
                if reply.raw_body is not None:
                    payload = reply.raw_body.encode()
                elif reply.status != 200:
                    payload = json.dumps({"error": {"message": "scripted failure", "type": "server_error"}}).encode()
                else:
                    n = int(body.get("n") or 1)
                    texts = reply.text if isinstance(reply.text, list) else [reply.text] * n
                    payload = json.dumps(_completion(body.get("model", "judge"), texts)).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 refuses bursts of concurrent clients

        httpd = Server(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # do not join handlers still sleeping in a slow reply
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


def _completion(model: str, texts: list[str]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def sequence(*replies: Reply) -> Script:
    """A script answering the i-th request with `replies[i]` (the last one repeats)."""

    def script(_request: Recorded, index: int) -> Reply:
        return replies[min(index, len(replies) - 1)]

    return script
