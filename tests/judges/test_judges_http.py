"""The lean chat-completions client (`ivgr.judges.http`) and judge fleets, on real loopback servers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from ivgr.errors import ConfigError
from ivgr.judges import JudgeConfig
from ivgr.judges.http import ChatEndpoint, ChatHTTPError, ChatProtocolError, ChatRequest
from ivgr.judges.openai_judge import OpenAIJudge

from judges_fake_server import FakeJudgeServer, Reply

PAYLOAD = {"model": "judge", "messages": [{"role": "user", "content": "q"}], "temperature": 0.0}
FAST = {"timeout_s": 2.0, "backoff_s": 0.01, "backoff_max_s": 0.02, "deadline_s": 10.0}


class RawServer:
    """An asyncio TCP server that answers each request with scripted raw HTTP bytes.

    `replies[i]` answers the i-th request; `close_after` closes the connection after a reply.
    Counts the connections it accepted.
    """

    def __init__(self, replies: list[bytes], *, close_after: bool = False) -> None:
        self.replies, self.close_after = replies, close_after
        self.connections = 0
        self.requests = 0

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while line := await reader.readline():
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                await reader.readexactly(length)
                reply = self.replies[min(self.requests, len(self.replies) - 1)]
                self.requests += 1
                writer.write(reply)
                await writer.drain()
                if self.close_after or b"connection: close" in reply.lower():
                    break
        finally:
            writer.close()


def ok(body: bytes = b'{"choices": [{"message": {"content": "1"}}]}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body


async def _chat_n(url: str, n: int) -> list[dict]:
    endpoint = ChatEndpoint(url, api_key="sk-test")
    try:
        return [await endpoint.chat(PAYLOAD) for _ in range(n)]
    finally:
        await endpoint.aclose()


def test_lean_client_reuses_one_keep_alive_connection_for_sequential_requests():
    async def main():
        async with RawServer([ok()]) as server:
            replies = await _chat_n(server.url, 5)
            return replies, server.connections

    replies, connections = asyncio.run(main())
    assert [r["choices"][0]["message"]["content"] for r in replies] == ["1"] * 5
    assert connections == 1


def test_lean_client_replaces_a_connection_the_server_closed_without_counting_a_failure():
    async def main():
        async with RawServer([ok()], close_after=True) as server:
            replies = await _chat_n(server.url, 3)
            return replies, server.connections

    replies, connections = asyncio.run(main())
    assert len(replies) == 3 and connections == 3


def test_lean_client_reads_chunked_and_eof_delimited_bodies():
    pieces = [b'{"cho', b'ices": [{"message": {}}]}']
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(
        b"%x\r\n%s\r\n" % (len(p), p) for p in pieces
    ) + b"0\r\n\r\n"
    eof = b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"choices": []}'

    async def main():
        async with RawServer([chunked, eof]) as server:
            return await _chat_n(server.url, 2)

    assert asyncio.run(main()) == [{"choices": [{"message": {}}]}, {"choices": []}]


@pytest.mark.parametrize(
    "reply,error",
    [
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}", ChatHTTPError),
        (ok(b"<html>oops</html>"), ChatProtocolError),
        (ok(b"[1, 2]"), ChatProtocolError),
        (b"SSH-2.0-OpenSSH\r\n\r\n", ChatProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}", ConnectionError),  # body cut short
    ],
    ids=["http-503", "not-json", "not-an-object", "not-http", "truncated"],
)
def test_lean_client_turns_bad_replies_into_retryable_errors(reply, error):
    async def main():
        async with RawServer([reply], close_after=True) as server:
            await _chat_n(server.url, 1)

    with pytest.raises(error) as info:
        asyncio.run(main())
    if error is ChatHTTPError:
        assert info.value.status_code == 503


def test_lean_client_repr_never_shows_the_key():
    endpoint = ChatEndpoint("http://127.0.0.1:9/v1", api_key="sk-secret-123")
    assert "sk-secret" not in repr(endpoint) and "sk-secret" not in str(endpoint)


def test_a_fleet_of_endpoints_shares_the_load_and_each_keeps_its_concurrency_bound():
    servers = [FakeJudgeServer(Reply(text="1", delay_s=0.05)) for _ in range(3)]
    for server in servers:
        server.start()
    try:
        judge = OpenAIJudge(base_url=",".join(s.url for s in servers), max_concurrency=2, cache_size=0, **FAST)

        async def main():
            try:
                return await asyncio.gather(
                    *[judge.accuracy(question=f"q{i}", answer="a laptop", reference="computer") for i in range(24)]
                )
            finally:
                await judge.aclose()

        verdicts = asyncio.run(main())
    finally:
        for server in servers:
            server.stop()
    assert [v.source for v in verdicts] == ["llm"] * 24
    assert sum(s.count for s in servers) == 24 and all(s.count > 0 for s in servers)
    assert all(s.max_in_flight <= 2 for s in servers)
    assert judge.base_url == servers[0].url and judge.base_urls == tuple(s.url for s in servers)


def test_sdk_transport_gives_the_same_verdicts_as_the_lean_one():
    with FakeJudgeServer(Reply(text=["0.7", "1.0"])) as server:
        verdicts = []
        for transport in ("lean", "sdk"):
            # a generous timeout: the SDK's first request builds its client stack (slow on a busy box)
            judge = OpenAIJudge(base_url=server.url, transport=transport, n=2, cache_size=0, timeout_s=60.0)

            async def main(judge=judge):
                try:
                    return await judge.consistency(question="q", reference="The red car.", candidate="A red car.")
                finally:
                    await judge.aclose()

            verdicts.append(asyncio.run(main()))
        headers = [r.headers for r in server.requests]
    assert verdicts[0] == verdicts[1] and verdicts[0].score == pytest.approx(0.85)
    assert [h["authorization"] for h in headers] == ["Bearer EMPTY"] * 2


def test_judge_config_reads_a_fleet_and_its_concurrency_from_the_environment(monkeypatch):
    monkeypatch.setenv("IVGR_JUDGE_BASE_URL", "http://a:8000/v1, http://b:8000/v1")
    monkeypatch.setenv("IVGR_JUDGE_MAX_CONCURRENCY", "16")
    config = JudgeConfig.from_env()
    assert (config.kind, config.max_concurrency) == ("openai", 16)
    assert config.resolved_base_urls() == ["http://a:8000/v1", "http://b:8000/v1"]
    assert config.resolved_base_url() == "http://a:8000/v1"
    assert config.resolved_consistency_base_urls() == config.resolved_base_urls()


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"base_url": "http://a/v1,ftp://b/v1"}, "must start with http"),
        ({"base_url": "http://a/v1,http://a/v1"}, "twice"),
        ({"base_url": " , "}, "no endpoint"),
        ({"transport": "grpc"}, "judge.transport"),
    ],
)
def test_judge_config_rejects_bad_fleets_and_transports_in_one_line(settings, message):
    with pytest.raises(ConfigError, match=message):
        JudgeConfig(kind="openai", **settings)


def test_the_scoring_path_imports_neither_the_sdk_nor_pydantic():
    """`import ivgr` is lazy and the lean transport needs no SDK: both cost start-up before the first request."""
    code = (
        "import sys, ivgr, ivgr.rewards.scorer, ivgr.judges.openai_judge, ivgr.judges.http\n"
        "heavy = {'openai', 'pydantic', 'httpx', 'ivgr.data.schema'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert ivgr.Sample.__name__ == 'Sample' and 'Sample' in dir(ivgr)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("request_", [ChatRequest("judge", 0.01), ChatRequest("qwen/72b \"q\"", 0.5, n=4)])
@pytest.mark.parametrize("content", ["q", 'a "quoted" reply\nline two \\ tab\t', "ünïcode ✓ \u2028 \x00 end"])
def test_a_request_template_encodes_the_same_bytes_as_the_whole_payload(request_, content):
    from ivgr.judges.http import _encode, _template

    prefix, suffix = _template(request_)
    assert prefix + _encode(content) + suffix == _encode(request_.payload(content))


def test_ask_sends_the_payload_and_reads_a_head_with_many_headers_in_one_piece():
    headers = b"".join(b"X-Header-%d: value %d\r\n" % (i, i) for i in range(40))
    sent: list[bytes] = []

    async def main():
        async with RawServer([ok(extra=headers)]) as server:
            endpoint = ChatEndpoint(server.url, api_key="sk-test")
            original = endpoint._post

            async def spy(body: bytes, timeout: float | None) -> dict:
                sent.append(body)
                return await original(body, timeout)

            endpoint._post = spy  # type: ignore[method-assign]
            try:
                return await endpoint.ask(ChatRequest("judge", 0.0), "q")
            finally:
                await endpoint.aclose()

    assert asyncio.run(main())["choices"][0]["message"]["content"] == "1"
    assert [json.loads(b) for b in sent] == [PAYLOAD]


def test_a_reply_head_without_an_end_is_a_protocol_error_not_a_hang():
    async def main():
        async with RawServer([b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * (1 << 17)], close_after=True) as server:
            await _chat_n(server.url, 1)

    with pytest.raises(ChatProtocolError):
        asyncio.run(main())
