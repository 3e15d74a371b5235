"""A lean async client for one OpenAI-compatible `/chat/completions` endpoint.

Why not the openai SDK on the hot path: one reward step puts a few thousand short questions to
the judge, and the SDK's stack (httpx, anyio, pydantic models, retries it does not need here)
cost several ms of CPU per request on a 2-core box, so the event loop, not the judge, set the
pace. This module speaks the chat-completions JSON directly over a pool of keep-alive HTTP/1.1
connections on asyncio streams; a whole `ivgr score` process then spends under 1 ms of CPU per
request, parsing and scoring included (docs/PERFORMANCE.md, Judge). What the SDK does that
matters is kept: the key goes only into the `Authorization: Bearer` header (never into a
message or `repr`), each request is bounded by the caller's timeout, retries stay in
`OpenAIJudge` (bounded, counted), HTTPS and keep-alive work as usual. The SDK stays available
(`judge.transport: sdk`) and is used automatically where this client cannot go: an HTTP(S)
proxy configured in the environment, or an injected client.

    endpoint = ChatEndpoint("http://localhost:8000/v1", api_key="EMPTY")
    body = await endpoint.ask(ChatRequest("judge", temperature=0.01), "Is a laptop a computer?")
    texts = [c["message"]["content"] for c in body["choices"]]
    await endpoint.aclose()

Per request, only the user message is encoded: the rest of the JSON body (`ChatRequest`) is
encoded once, and the reply's status line and headers are read with one stream call
(docs/PERFORMANCE.md, Judge: client CPU per request).
"""

from __future__ import annotations

import asyncio
import functools
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 16 << 20  # a judge reply is a few hundred bytes; refuse absurd bodies
MAX_HEADER_LINES = 100


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


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def __repr__(self) -> str:
        return f"ChatEndpoint({self.base_url!r})"  # never the key

    async def ask(self, request: ChatRequest, content: str) -> dict[str, Any]:
        """`chat(request.payload(content))`, encoding only `content` (the rest is a cached template)."""
        prefix, suffix = _template(request)
        return await self._post(b"".join((prefix, _encode(content), suffix)))

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST `payload` to `/chat/completions`; the decoded JSON object of a 2xx reply.

        Raises ChatHTTPError (non-2xx), ChatProtocolError (not HTTP or not JSON) or OSError
        (connection trouble). A reused connection that the server had already closed is
        replaced once, transparently, as HTTP clients do for idempotent retries.
        """
        return await self._post(_encode(payload))

    async def _post(self, body: bytes) -> dict[str, Any]:
        request = b"".join((self.__head, b"Content-Length: %d\r\n\r\n" % len(body), body))
        while self._idle:
            conn = self._idle.pop()
            try:
                return await self._exchange(conn, request, reused=True)
            except _StaleConnection:
                continue
        return await self._exchange(await self._connect(), request, reused=False)

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for _reader, writer in idle:
            writer.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ssl: Any = None
        if self._tls:
            import ssl as ssl_module  # only HTTPS endpoints pay for the TLS context

            ssl = ssl_module.create_default_context()
        return await asyncio.open_connection(self._host, self._port, ssl=ssl, limit=1 << 16)

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes, *, reused: bool
    ) -> dict[str, Any]:
        reader, writer = conn
        keep = False
        try:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")  # status line and headers in one call
            except ConnectionError as err:
                if reused:
                    raise _StaleConnection() from err
                raise
            except asyncio.IncompleteReadError as err:
                if not err.partial:
                    if reused:
                        raise _StaleConnection() from None
                    raise ConnectionError("judge endpoint closed the connection without a reply") from None
                raise ChatProtocolError("judge endpoint did not answer with HTTP/1.x") from None
            except asyncio.LimitOverrunError:
                raise ChatProtocolError("judge reply has too many header lines") from None
            status, headers = _parse_head(head)
            raw = await _read_body(reader, headers)
            keep = headers.get("connection", "").lower() != "close"
            if not 200 <= status < 300:
                raise ChatHTTPError(status)
            try:
                data = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ChatProtocolError("judge reply is not JSON") from None
            if not isinstance(data, dict):
                raise ChatProtocolError("judge reply is not a JSON object")
            return data
        except asyncio.IncompleteReadError as err:
            raise ConnectionError("judge endpoint closed the connection mid-reply") from err
        finally:
            # `keep` is set only once the whole reply was read: after an error, a timeout or a
            # cancellation part of a reply may still be in the socket, so the connection goes.
            if keep:
                self._idle.append(conn)
            else:
                writer.close()


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
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise ChatProtocolError(f"judge reply has a bad Content-Length {length[:20]!r}")
        return await reader.readexactly(int(length))
    headers["connection"] = "close"  # delimited by EOF: the connection cannot be reused
    body = await reader.read(MAX_BODY_BYTES + 1)
    while len(body) <= MAX_BODY_BYTES:
        more = await reader.read(MAX_BODY_BYTES + 1 - len(body))
        if not more:
            return body
        body += more
    raise ChatProtocolError("judge reply is too large")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readline()).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise ChatProtocolError("judge reply has a bad chunk size") from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise ChatProtocolError("judge reply is too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # CRLF after each chunk


__all__ = ["ChatEndpoint", "ChatHTTPError", "ChatProtocolError", "ChatRequest", "proxy_for"]
