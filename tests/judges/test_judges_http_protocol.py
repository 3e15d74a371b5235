"""The lean client's `asyncio.Protocol` connections and its one deadline timer per endpoint.

Each test runs a real loopback TCP server whose connection handler is a script: how the reply
is cut into pieces, what comes after it, when the server closes. Every wait is bounded by
`GUARD_S`, so a client that hangs fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from ivgr.judges.http import ChatEndpoint, ChatProtocolError, ChatRequest
from ivgr.judges.openai_judge import OpenAIJudge

from judges_fake_server import FakeJudgeServer, Reply

GUARD_S = 20.0  # a hang guard, never a timing assertion
BODY = b'{"choices": [{"message": {"content": "1"}}]}'
REQUEST = ChatRequest("judge", 0.0)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def ok(body: bytes = BODY, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(*pieces: bytes, trailer: bytes = b"") -> bytes:
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n" + trailer + b"\r\n"


async def read_request(reader: asyncio.StreamReader) -> bool:
    """Read one request (head and Content-Length body); False at EOF."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return False
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    await reader.readexactly(length)
    return True


class ScriptedServer:
    """A loopback server that runs `handler(reader, writer, connection index)` per connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index, self.connections = self.connections, self.connections + 1
        try:
            await self.handler(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def serve_each_request(reply: Callable[[int, int], bytes], *, piece: int = 0, close_after: bool = False) -> Handler:
    """A handler that answers the k-th request of a connection with `reply(connection, k)`,
    written `piece` bytes at a time (0: at once)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        k = 0
        while await read_request(reader):
            data = reply(index, k)
            for start in range(0, len(data), piece or len(data)):
                writer.write(data[start:start + (piece or len(data))])
                await writer.drain()
                if piece:
                    await asyncio.sleep(0)  # let the client see each piece on its own
            k += 1
            if close_after:
                return

    return handler


def run(handler: Handler, client: Callable[[ChatEndpoint], Awaitable[object]]) -> tuple[object, int]:
    """Run `client(endpoint)` against a ScriptedServer; (its result, connections the server accepted)."""

    async def main() -> tuple[object, int]:
        async with ScriptedServer(handler) as server:
            endpoint = ChatEndpoint(server.url, api_key="sk-test")
            try:
                result = await asyncio.wait_for(client(endpoint), GUARD_S)
            finally:
                await endpoint.aclose()
            return result, server.connections

    return asyncio.run(main())


async def ask_n(endpoint: ChatEndpoint, n: int, timeout: float | None = 5.0) -> list[dict]:
    return [await endpoint.ask(REQUEST, f"q{i}", timeout=timeout) for i in range(n)]


@pytest.mark.parametrize(
    "reply",
    [ok(), ok(extra=b"X-A: 1\r\nX-B: 2\r\n"), chunked(BODY[:7], BODY[7:20], BODY[20:], trailer=b"X-Trailer: t\r\n")],
    ids=["content-length", "more-headers", "chunked-with-trailer"],
)
@pytest.mark.parametrize("piece", [0, 1, 5], ids=["whole", "byte-by-byte", "5-byte-pieces"])
def test_replies_cut_into_any_pieces_parse_the_same_and_keep_the_connection(reply, piece):
    replies, connections = run(serve_each_request(lambda c, k: reply, piece=piece), lambda e: ask_n(e, 3))
    assert [r["choices"][0]["message"]["content"] for r in replies] == ["1"] * 3  # type: ignore[union-attr]
    assert connections == 1  # one keep-alive connection served all three


def test_bytes_after_a_reply_are_not_taken_for_the_next_reply():
    # The stray bytes look like a reply; read as the next request's answer they would give "0".
    stray = ok(b'{"choices": [{"message": {"content": "0"}}]}')
    replies, connections = run(serve_each_request(lambda c, k: ok() + stray), lambda e: ask_n(e, 2))
    assert [r["choices"][0]["message"]["content"] for r in replies] == ["1", "1"]  # type: ignore[union-attr]
    assert connections == 2  # the connection with extra bytes was dropped, not reused


def test_bytes_on_an_idle_connection_drop_it_before_it_is_reused():
    async def handler(reader, writer, index):
        assert await read_request(reader)
        writer.write(ok())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")  # unsolicited, while idle
        await writer.drain()
        while await read_request(reader):
            writer.write(ok())

    async def client(endpoint):
        first = await endpoint.ask(REQUEST, "q0", timeout=5.0)
        await asyncio.sleep(0.05)  # the unsolicited bytes arrive while the connection is idle
        return [first, await endpoint.ask(REQUEST, "q1", timeout=5.0)]

    replies, connections = run(handler, client)
    assert [r["choices"][0]["message"]["content"] for r in replies] == ["1", "1"]  # type: ignore[index]
    assert connections == 2


def test_an_http_1_0_reply_closes_the_connection_unless_it_says_keep_alive():
    def reply(connection, k):
        return ok().replace(b"HTTP/1.1", b"HTTP/1.0", 1)

    _replies, connections = run(serve_each_request(reply), lambda e: ask_n(e, 2))
    assert connections == 2
    keep = ok(extra=b"Connection: keep-alive\r\n").replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    _replies, connections = run(serve_each_request(lambda c, k: keep), lambda e: ask_n(e, 2))
    assert connections == 1


@pytest.mark.parametrize(
    "partial,error",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Le", ChatProtocolError),  # head cut off
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"cho", ConnectionError),  # body cut off
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"choi", ConnectionError),  # inside a chunk
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", ConnectionError),  # before the last chunk
    ],
    ids=["in-head", "in-body", "in-chunk", "between-chunks"],
)
def test_a_server_that_closes_mid_reply_is_a_one_line_retryable_error(partial, error):
    with pytest.raises(error):
        run(serve_each_request(lambda c, k: partial, close_after=True), lambda e: ask_n(e, 1))


@pytest.mark.parametrize("size", [b"zz", b"-1", b""], ids=["not-hex", "negative", "empty"])
def test_a_bad_chunk_size_is_a_protocol_error(size):
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n{}\r\n0\r\n\r\n"
    with pytest.raises(ChatProtocolError, match="chunk size"):
        run(serve_each_request(lambda c, k: reply), lambda e: ask_n(e, 1))


def test_a_reply_that_never_comes_times_out_and_its_connection_is_not_reused():
    async def handler(reader, writer, index):
        while await read_request(reader):
            if index == 0:
                await asyncio.sleep(GUARD_S)  # the first connection never answers
            writer.write(ok())

    async def client(endpoint):
        with pytest.raises(asyncio.TimeoutError):
            await endpoint.ask(REQUEST, "slow", timeout=0.2)
        return await endpoint.ask(REQUEST, "fast", timeout=5.0)

    reply, connections = run(handler, client)
    assert reply["choices"][0]["message"]["content"] == "1"  # type: ignore[index]
    assert connections == 2


def test_the_deadline_timer_follows_every_request_in_flight():
    """One timer per endpoint: set for a later deadline after an earlier one passes with its
    request answered, and moved earlier when a request with a shorter timeout arrives."""

    answered = []

    async def handler(reader, writer, index):
        while await read_request(reader):
            if not answered:
                answered.append(True)
                writer.write(ok())  # the first request is answered at once; no other one is
            else:
                await asyncio.sleep(GUARD_S)

    async def client(endpoint):
        # 1. A short deadline whose request is answered arms the timer; a longer one must still fire.
        await endpoint.ask(REQUEST, "answered", timeout=0.2)
        hang = asyncio.ensure_future(endpoint.ask(REQUEST, "never answered", timeout=0.6))
        # 2. A shorter deadline arriving after a longer one must fire first.
        await asyncio.sleep(0.05)
        with pytest.raises(asyncio.TimeoutError):
            await endpoint.ask(REQUEST, "never answered, short", timeout=0.1)
        assert not hang.done()
        with pytest.raises(asyncio.TimeoutError):
            await hang
        return True

    assert run(handler, client)[0] is True


def test_a_cancelled_request_closes_its_connection():
    async def handler(reader, writer, index):
        while await read_request(reader):
            if index == 0:
                await asyncio.sleep(GUARD_S)
            writer.write(ok())

    async def client(endpoint):
        task = asyncio.ensure_future(endpoint.ask(REQUEST, "q", timeout=None))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await endpoint.ask(REQUEST, "q", timeout=5.0)

    reply, connections = run(handler, client)
    assert reply["choices"][0]["message"]["content"] == "1"  # type: ignore[index]
    assert connections == 2  # the half-answered connection was not reused


def test_a_connection_that_cannot_be_made_fails_with_an_os_error():
    async def main():
        listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        listener.close()
        await listener.wait_closed()  # nothing listens on `port` now
        endpoint = ChatEndpoint(f"http://127.0.0.1:{port}/v1", api_key="sk-test")
        await endpoint.ask(REQUEST, "q", timeout=5.0)

    with pytest.raises(OSError):
        asyncio.run(main())


def test_the_judge_sets_no_timer_per_request():
    """40 questions at once through OpenAIJudge, on open keep-alive connections, arm one
    deadline timer, not one per request (its per-request `asyncio.timeout` cost a timer each)."""
    armed: list[float] = []

    async def main(judge: OpenAIJudge) -> list:
        questions = [dict(question=f"q{i}", answer="a laptop", reference="computer") for i in range(40)]
        await asyncio.gather(*(judge.accuracy(**q) for q in questions))  # opens the 40 connections
        loop = asyncio.get_running_loop()
        call_at = loop.call_at

        def counting_call_at(when, callback, *args, **kwargs):
            armed.append(when)
            return call_at(when, callback, *args, **kwargs)

        loop.call_at = counting_call_at  # type: ignore[method-assign]
        try:
            return await asyncio.gather(*(judge.accuracy(**q) for q in questions))
        finally:
            await judge.aclose()

    with FakeJudgeServer(Reply(text="1", delay_s=0.05)) as server:
        judge = OpenAIJudge(base_url=server.url, max_concurrency=40, cache_size=0, timeout_s=30.0)
        verdicts = asyncio.run(main(judge))
    assert [v.source for v in verdicts] == ["llm"] * 40
    assert len(armed) <= 1  # at most the endpoint's deadline timer, moved once; never 40
