"""Benchmark of `ivgr ui`: start-up cost, and request latency through the page's API.

Starts the real CLI (`ivgr ui --model TINY`) in a subprocess, reads its start-up line (imports,
model load, page build, server), then calls `/infer` with `gradio_client` in each mode. The
baseline, measured in the same run, is `InferenceEngine.run` on the same image, question and
budget in this process: the ratio is what the page (upload, queue, PNG of the annotated image,
download) adds to the model itself.

A random tiny model never stops before its budget, so `--max-new-tokens` sets the work per pass
(32 is about the length of an `ivgr demo` model's compact answer; tool mode runs two passes).

    .venv/bin/python bench/bench_ui.py
    .venv/bin/python bench/bench_ui.py --max-new-tokens 64 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("textual", "grounded", "tool")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from PIL import Image, ImageDraw

    from ivgr.inference import InferenceEngine, InferenceRequest
    from ivgr.models import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    ckpt = build_tiny_model(work / "tiny", seed=0)
    image_path = work / "scene.png"
    img = Image.new("RGB", (640, 480), "white")
    ImageDraw.Draw(img).rectangle((80, 80, 240, 240), fill="red")
    img.save(image_path)
    question = "What colour is the square?"

    port, log = free_port(), work / "server.log"
    started = time.perf_counter()
    with open(log, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "ivgr.cli", "ui", "--model", str(ckpt), "--port", str(port),
                                 "--max-new-tokens", str(args.max_new_tokens)], stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        while "ivgr ui: serving" not in log.read_text():
            if proc.poll() is not None:
                sys.exit(log.read_text())
            time.sleep(0.2)
        ready_s = time.perf_counter() - started
        line = next(x for x in log.read_text().splitlines() if "ivgr ui: serving" in x)
        from gradio_client import Client, handle_file

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(handle_file(str(image_path)), question, "textual", api_name="/infer")  # warm-up
        via_page = {}
        for mode in MODES:
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                client.predict(handle_file(str(image_path)), question, mode, api_name="/infer")
                times.append(time.perf_counter() - t)
            via_page[mode] = statistics.median(times)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    engine = InferenceEngine(ckpt, max_new_tokens=args.max_new_tokens, batch_size=1)
    engine.run([InferenceRequest(img, question)], mode="textual")  # warm-up
    direct = {}
    for mode in MODES:
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            engine.run([InferenceRequest(img, question)], mode=mode)
            times.append(time.perf_counter() - t)
        direct[mode] = statistics.median(times)

    print(f"load average {os.getloadavg()[0]:.1f}; max_new_tokens {args.max_new_tokens}; "
          f"median of {args.repeats}")
    print(f"start-up: page answering after {ready_s:.1f} s (process start to the 'serving' line)")
    print(f"  {line.strip()}")
    print("| mode | engine.run (baseline) s | /infer via the page s | ratio |")
    print("|---|---|---|---|")
    for mode in MODES:
        print(f"| {mode} | {direct[mode]:.2f} | {via_page[mode]:.2f} | {via_page[mode] / direct[mode]:.2f} |")


if __name__ == "__main__":
    main()
