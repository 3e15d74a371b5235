"""Latency of the tiny Qwen2.5-VL on this machine: build, load, forward, generate, SFT steps.

    .venv/bin/python bench/bench_models_tiny.py [--repeats 20] [--threads 1]

Ratios are against a baseline measured in the same run: the same model's text-only forward of a
prompt of equal length (so "image/text" is the cost of the vision tower + mRoPE indexing), and
generating 1 token (so "gen32/gen1" is the per-token decode cost).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: least sensitive to other load)")
    args = parser.parse_args()

    import torch
    from PIL import Image

    from ivgr.models import build_tiny_model, load_model_and_processor

    torch.set_num_threads(max(1, args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = build_tiny_model(Path(tmp) / "tiny", seed=0)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model, processor = load_model_and_processor(path)
        load_s = time.perf_counter() - t0

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is the circle?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    image_inputs = processor(images=[Image.new("RGB", (112, 112), (200, 30, 30))], text=[text], return_tensors="pt")
    n = image_inputs["input_ids"].shape[1]
    text_ids = torch.full((1, n), processor.tokenizer.convert_tokens_to_ids("red"), dtype=torch.long)

    with torch.inference_mode():
        fwd_img = _median_ms(lambda: model(**image_inputs), args.repeats)
        fwd_txt = _median_ms(lambda: model(input_ids=text_ids), args.repeats)
        gen1 = _median_ms(lambda: model.generate(**image_inputs, max_new_tokens=1, min_new_tokens=1, do_sample=False),
                          args.repeats)
        gen32 = _median_ms(lambda: model.generate(**image_inputs, max_new_tokens=32, min_new_tokens=32,
                                                  do_sample=False), args.repeats)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"tiny Qwen2.5-VL: {n_params:,} parameters, {n} prompt tokens (16 image tokens), torch threads "
          f"{torch.get_num_threads()}")
    print(f"build {build_s:.2f} s   load {load_s:.2f} s")
    print(f"forward image+text {fwd_img:.1f} ms   text-only baseline {fwd_txt:.1f} ms   ratio {fwd_img / fwd_txt:.2f}x")
    print(f"generate 32 tokens {gen32:.1f} ms   1-token baseline {gen1:.1f} ms   ratio {gen32 / gen1:.2f}x")


if __name__ == "__main__":
    main()
