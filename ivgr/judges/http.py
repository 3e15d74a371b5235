"""A lean async client for one OpenAI-compatible `/chat/completions` endpoint.

Why not the openai SDK on the hot path: one reward step puts a few thousand short questions to
the judge, and the SDK's stack (httpx, anyio, pydantic models, retries it does not need here)
cost several ms of CPU per request on a 2-core box, so the event loop, not the judge, set the
pace. This module speaks the chat-completions JSON directly over a pool of keep-alive HTTP/1.1
connections; a whole `ivgr score` process then spends under 1 ms of CPU per request, parsing
and scoring included, the client itself about 0.1 ms (docs/PERFORMANCE.md, Judge). What the SDK does that
matters is kept: the key goes only into the `Authorization: Bearer` header (never into a
message or `repr`), each request is bounded by the caller's timeout, retries stay in
`OpenAIJudge` (bounded, counted), HTTPS and keep-alive work as usual. The SDK stays available
(`judge.transport: sdk`) and is used automatically where this client cannot go: an HTTP(S)
proxy configured in the environment, or an injected client.

    endpoint = ChatEndpoint("http://localhost:8000/v1", api_key="EMPTY")
    body = await endpoint.ask(ChatRequest("judge", temperature=0.01), "Is a laptop a computer?", timeout=30.0)
    texts = [c["message"]["content"] for c in body["choices"]]
    await endpoint.aclose()

Per request, only the user message is encoded: the rest of the JSON body (`ChatRequest`) is
encoded once. Each connection is an `asyncio.Protocol` that parses the reply as its bytes
arrive and wakes the waiting request once, when the reply is whole; timeouts share one timer
per endpoint, set for the earliest deadline in flight, instead of a timer per request. A fleet
of 10 endpoints asks thousands of requests a second of one event loop, and asyncio's stream
and per-request timer machinery cost a fifth of the judge's CPU per request
(docs/PERFORMANCE.md, Judge: client CPU per request).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 16 << 20  # a judge reply is a few hundred bytes; refuse absurd bodies
MAX_HEADER_LINES = 100
MAX_HEAD_BYTES = 1 << 16  # status line and headers


@dataclass(frozen=True)
class ChatRequest:
    """The constant part of a chat-completions request: everything but its one user message."""

    model: str
    temperature: float
    n: int = 1  # choices per request; sent only when > 1

    def payload(self, content: str) -> dict[str, Any]:
        """The request as a JSON-ready dict (the openai SDK's `create(**payload)` takes it too)."""
        payload: dict[str, Any] = {
            "model": self.model, "messages": [{"role": "user", "content": content}], "temperature": self.temperature,
        }
        if self.n > 1:
            payload["n"] = self.n
        return payload


@functools.lru_cache(maxsize=64)
def _template(request: ChatRequest) -> tuple[bytes, bytes]:
    """The body bytes around the message text, byte for byte what `json.dumps(request.payload(..))` gives."""
    marker = "\x00content\x00"
    body = _encode(request.payload(marker))
    prefix, _, suffix = body.partition(_encode(marker))
    return prefix, suffix


# One encoder for every request: `json.dumps` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _encode(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


class ChatHTTPError(Exception):
    """The endpoint answered with a non-2xx status. `status_code` as in the openai SDK's errors."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


class ChatProtocolError(ValueError):
    """The reply is not HTTP/1.x or not a JSON object (a retryable failed attempt)."""


class _StaleConnection(ConnectionError):
    """A reused keep-alive connection was closed by the server before it answered."""


def proxy_for(url: str) -> str | None:
    """The HTTP(S) proxy the environment sets for `url` (as httpx would use it), else None."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


class ChatEndpoint:
    """Keep-alive connection pool to one OpenAI-compatible base URL, bound to one event loop.

    Connections are opened on demand and reused last-in first-out; the caller bounds how many
    requests run at once (`OpenAIJudge` holds a slot per request), so the pool never holds
    more connections than that bound. A connection that saw an error, a timeout or a
    cancellation is closed, never reused.
    """

    def __init__(self, base_url: str, *, api_key: str, user_agent: str = "ivgr") -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"judge endpoint must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = parts.scheme == "https"
        self._path = parts.path.rstrip("/") + "/chat/completions"
        default_port = self._port == (443 if self._tls else 80)
        host_header = self._host if default_port else f"{self._host}:{self._port}"
        # Built once: every request shares these header bytes. The key lives only here.
        self.__head = (
            f"POST {self._path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\n"
            f"Authorization: Bearer {api_key}\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nConnection: keep-alive\r\n"
        ).encode("latin-1")
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()  # connections awaiting a reply, for the deadline sweep
        self._sweep: asyncio.TimerHandle | None = None  # the one timer: the earliest deadline in flight
        self._sweep_at = math.inf

    def __repr__(self) -> str:
        return f"ChatEndpoint({self.base_url!r})"  # never the key

    async def ask(self, request: ChatRequest, content: str, *, timeout: float | None = None) -> dict[str, Any]:
        """`chat(request.payload(content))`, encoding only `content` (the rest is a cached template)."""
        prefix, suffix = _template(request)
        return await self._post(b"".join((prefix, _encode(content), suffix)), timeout)

    async def chat(self, payload: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """POST `payload` to `/chat/completions`; the decoded JSON object of a 2xx reply.

        Raises ChatHTTPError (non-2xx), ChatProtocolError (not HTTP or not JSON), OSError
        (connection trouble) or asyncio.TimeoutError (no whole reply within `timeout` seconds,
        connecting included). A reused connection that the server had already closed is
        replaced once, transparently, as HTTP clients do for idempotent retries.
        """
        return await self._post(_encode(payload), timeout)

    async def _post(self, body: bytes, timeout: float | None) -> dict[str, Any]:
        request = b"".join((self.__head, b"Content-Length: %d\r\n\r\n" % len(body), body))
        loop = asyncio.get_running_loop()
        deadline = math.inf if timeout is None else loop.time() + timeout
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue  # the server closed it while idle
            try:
                status, raw = await self._exchange(loop, conn, request, deadline, reused=True)
                break
            except _StaleConnection:
                continue
        else:
            conn = await self._connect(loop, deadline)
            status, raw = await self._exchange(loop, conn, request, deadline, reused=False)
        if not 200 <= status < 300:
            raise ChatHTTPError(status)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ChatProtocolError("judge reply is not JSON") from None
        if not isinstance(data, dict):
            raise ChatProtocolError("judge reply is not a JSON object")
        return data

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        if self._sweep is not None and not self._busy:
            self._sweep.cancel()
            self._sweep, self._sweep_at = None, math.inf

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        ssl: Any = None
        if self._tls:
            import ssl as ssl_module  # only HTTPS endpoints pay for the TLS context

            ssl = ssl_module.create_default_context()
        connect = loop.create_connection(_Connection, self._host, self._port, ssl=ssl)
        if deadline == math.inf:
            _transport, conn = await connect
        else:  # one timer per new connection: at most max_concurrency per endpoint and run
            _transport, conn = await asyncio.wait_for(connect, max(0.0, deadline - loop.time()))
        return conn

    async def _exchange(
        self, loop: asyncio.AbstractEventLoop, conn: _Connection, request: bytes, deadline: float, *, reused: bool
    ) -> tuple[int, bytes]:
        """Send `request` on `conn` and wait for its whole reply; the connection goes back to
        the pool only after a whole reply that leaves it reusable."""
        waiter = conn.send(loop, request, deadline, reused)
        if deadline < self._sweep_at:
            self._arm(loop, deadline)
        self._busy.add(conn)
        try:
            status, raw, keep = await waiter
        except BaseException:
            # An error, a timeout or a cancellation: part of a reply may still be on its way.
            conn.close()
            raise
        finally:
            self._busy.discard(conn)
        if keep:
            self._idle.append(conn)
        else:
            conn.close()
        return status, raw

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep_at = when
        self._sweep = loop.call_at(when, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail the requests past their deadline; set the timer for the next deadline in flight."""
        self._sweep, self._sweep_at = None, math.inf
        now = loop.time()
        following = math.inf
        for conn in self._busy:
            if conn.deadline <= now:
                conn.fail(asyncio.TimeoutError())
            elif conn.deadline < following:
                following = conn.deadline
        if following < math.inf:
            self._arm(loop, following)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parses the reply as bytes arrive and resolves one future per request.

    The future's result is `(status, body, reusable)` once the whole reply is in; it fails
    with ChatProtocolError (a reply that is not HTTP/1.x or too large), ConnectionError (the
    server closed mid-reply), _StaleConnection (a reused connection closed before any byte
    of a reply) or asyncio.TimeoutError (set by the endpoint's deadline sweep).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.deadline = math.inf
        self._waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._reused = False
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str], int] | None = None  # status, headers, body start

    def send(
        self, loop: asyncio.AbstractEventLoop, request: bytes, deadline: float, reused: bool
    ) -> asyncio.Future[tuple[int, bytes, bool]]:
        self._waiter = waiter = loop.create_future()
        self.deadline, self._reused = deadline, reused
        self._buffer.clear()
        self._head = None
        assert self.transport is not None
        self.transport.write(request)
        return waiter

    def fail(self, error: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: this connection's framing cannot be trusted
            return
        self._buffer += data
        try:
            reply = self._parse(eof=False)
        except ChatProtocolError as err:
            waiter.set_exception(err)
            return
        if reply is not None:
            waiter.set_result(reply)

    def eof_received(self) -> bool:
        self._at_eof()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._at_eof()

    def _at_eof(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            reply = self._parse(eof=True)
        except (ChatProtocolError, ConnectionError) as err:
            waiter.set_exception(err)
            return
        if reply is not None:
            waiter.set_result(reply)

    def _parse(self, *, eof: bool) -> tuple[int, bytes, bool] | None:
        """The whole reply `(status, body, reusable)` if it is in the buffer, else None (more to come)."""
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise ChatProtocolError("judge reply has too many header lines")
                if not eof:
                    return None
                if not buffer:
                    if self._reused:
                        raise _StaleConnection()
                    raise ConnectionError("judge endpoint closed the connection without a reply")
                raise ChatProtocolError("judge endpoint did not answer with HTTP/1.x")
            status, headers = _parse_head(bytes(buffer[: end + 4]))
            self._head = (status, headers, end + 4)
        status, headers, start = self._head
        keep = headers.get("connection", "").lower() != "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parsed = _parse_chunked(buffer, start)
            if parsed is None:
                if eof:
                    raise ConnectionError("judge endpoint closed the connection mid-reply")
                return None
            body, end = parsed
        elif (length := headers.get("content-length")) is not None:
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                raise ChatProtocolError(f"judge reply has a bad Content-Length {length[:20]!r}")
            end = start + int(length)
            if len(buffer) < end:
                if eof:
                    raise ConnectionError("judge endpoint closed the connection mid-reply")
                return None
            body = bytes(buffer[start:end])
        else:  # delimited by EOF: the connection cannot be reused
            if len(buffer) - start > MAX_BODY_BYTES:
                raise ChatProtocolError("judge reply is too large")
            if not eof:
                return None
            body, end, keep = bytes(buffer[start:]), len(buffer), False
        # Bytes beyond the reply (nothing was pipelined) mean the framing is off: do not reuse.
        return status, body, keep and end == len(buffer) and not eof


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers (lower-case names) of a reply head that ends with an empty line."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ChatProtocolError("judge endpoint did not answer with HTTP/1.x")
    if len(lines) > MAX_HEADER_LINES + 3:
        raise ChatProtocolError("judge reply has too many header lines")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if parts[0] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"  # HTTP/1.0 closes unless it says otherwise
    return int(parts[1]), headers


def _parse_chunked(buffer: bytearray, pos: int) -> tuple[bytes, int] | None:
    """A chunked body starting at `pos`: `(body, end of the reply)`, or None if it is not all in yet."""
    chunks: list[bytes] = []
    total = 0
    while True:
        eol = buffer.find(b"\n", pos)
        if eol < 0:
            return None
        size_field = bytes(buffer[pos:eol]).split(b";", 1)[0].strip()
        if not size_field or any(c not in b"0123456789abcdefABCDEF" for c in size_field):
            raise ChatProtocolError("judge reply has a bad chunk size")
        size = int(size_field, 16)
        pos = eol + 1
        if size == 0:
            while True:  # trailers, up to an empty line
                eol = buffer.find(b"\n", pos)
                if eol < 0:
                    return None
                line, pos = buffer[pos : eol + 1], eol + 1
                if line in (b"\r\n", b"\n"):
                    return b"".join(chunks), pos
        total += size
        if total > MAX_BODY_BYTES:
            raise ChatProtocolError("judge reply is too large")
        if len(buffer) < pos + size + 2:
            return None
        chunks.append(bytes(buffer[pos : pos + size]))
        pos += size + 2  # CRLF after each chunk


__all__ = ["ChatEndpoint", "ChatHTTPError", "ChatProtocolError", "ChatRequest", "proxy_for"]
