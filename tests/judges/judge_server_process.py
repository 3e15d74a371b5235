"""The loopback judge server as its own process, so a test can kill it and start it again.

    python tests/judges/judge_server_process.py --port 0 [--die-after N] [--fail-every K]
                                                [--status S] [--model NAME]

Prints `READY <port>` once listening, then serves until killed. Killing the process closes
every socket, keep-alive connections included: what a crashed judge server looks like to a
client. `JudgeServerProcess` starts and stops it from a test.

--die-after N   the process exits (no reply) on request number N+1: a crash mid-run
--fail-every K  every K-th request gets HTTP 503: a flapping server
--status S      every request gets HTTP S (e.g. 401)
--model NAME    requests for another model get vLLM's 404 "The model `x` does not exist."
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--die-after", type=int, default=None)
    parser.add_argument("--fail-every", type=int, default=None)
    parser.add_argument("--status", type=int, default=None)
    parser.add_argument("--model", default="judge")
    parser.add_argument("--text", default="1")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from judges_fake_server import FakeJudgeServer, Reply

    def script(request, index: int) -> Reply:
        if args.die_after is not None and index >= args.die_after:
            os._exit(0)  # a crash: no reply, every socket closed by the kernel
        if args.status is not None:
            return Reply(status=args.status)
        if request.body.get("model") != args.model:
            message = f"The model `{request.body.get('model')}` does not exist."
            return Reply(status=404, raw_body=json.dumps({"object": "error", "message": message, "code": 404}))
        if args.fail_every and index % args.fail_every == args.fail_every - 1:
            return Reply(status=503)
        return Reply(text=args.text)

    server = FakeJudgeServer(script, port=args.port)
    server.start()
    print(f"READY {server.url.rsplit(':', 1)[1].split('/')[0]}", flush=True)
    threading.Event().wait()


class JudgeServerProcess:
    """Start with `JudgeServerProcess(port=0, extra=["--fail-every", "10"]).start()`; `.url`, `.stop()`."""

    def __init__(self, *, port: int = 0, extra: list[str] | None = None) -> None:
        self.port = port
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> JudgeServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), *self.extra],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()  # blocks until the socket listens (or the process died)
        if not line.startswith("READY "):
            self.proc.wait()
            raise RuntimeError(f"judge server process did not start (exit {self.proc.returncode})")
        self.port = int(line.split()[1])
        return self

    def wait_dead(self, timeout: float) -> int:
        """Wait until the process has exited (e.g. after --die-after); its exit status."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> JudgeServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
