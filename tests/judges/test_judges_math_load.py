"""Math verdicts of the rules judge do not depend on machine load (issue 12.6).

The judge used to give math-verify a 2 s wall-clock guard that included the first sympy
import, so `\\sqrt{9}` vs 3 came out undecided on a busy machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import math_verify
import pytest

from ivgr.judges.rules import judge_answer, math_equivalent

# Easy answers that only math-verify can settle (rule "math-verify"), each equal to its reference.
EASY_MATH = [
    ("$\\sqrt{9}$", "3"), ("\\sqrt{16}", "4"), ("2\\pi", "\\pi \\cdot 2"), ("\\pi \\cdot 3", "3\\pi"),
    ("2^{3}", "8"), ("3^2", "9"), ("\\frac{3}{\\sqrt{9}}", "1"), ("\\pi - \\pi", "0"),
    ("\\sqrt{2} \\cdot \\sqrt{2}", "2"), ("\\frac{\\pi}{2}", "\\pi / 2"), ("10^{2}", "100"),
    ("\\sqrt{8}", "2\\sqrt{2}"), ("\\frac{1}{2} + \\frac{1}{4}", "0.75"), ("2 \\times 3", "6"),
    ("\\dfrac{\\pi}{\\pi}", "1"), ("\\sqrt{\\frac{1}{4}}", "\\frac{1}{2}"), ("4 \\div 2", "2"), ("(1+2)^2", "9"),
]


def _busy_processes(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def test_easy_math_is_decided_even_when_math_verify_is_very_slow(monkeypatch):
    # A machine 1000x slower than needed: each comparison takes 2.5 s (the old guard was 2 s).
    judge_answer("$\\sqrt{9}$", "3")  # import and warm up first, as any earlier verdict would
    real_verify = math_verify.verify

    def slow_verify(*args, **kwargs):
        import time

        time.sleep(2.5)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(math_verify, "verify", slow_verify)
    decision = judge_answer("$\\sqrt{9}$", "3")
    assert (decision.score, decision.decided, decision.rule) == (1.0, True, "math-verify")


def test_math_outside_the_simple_class_keeps_a_safety_net(monkeypatch):
    real_verify = math_verify.verify
    monkeypatch.setattr(math_verify, "verify", lambda *a, **k: __import__("time").sleep(1.0) or real_verify(*a, **k))
    assert math_equivalent("$x + 1$", "$1 + x$", timeout_s=0.1) is None  # variables: not simple
    assert math_equivalent("$9^{9^{9^{9}}}$", "$1$") is None  # refused from the text alone


@pytest.mark.slow
def test_math_verdicts_are_the_same_with_the_cpus_busy():
    # A fresh interpreter (math-verify not yet imported), with more busy processes than CPUs.
    code = (
        "import json, sys; from ivgr.judges.rules import judge_answer; "
        "pairs = json.loads(sys.argv[1]); "
        "print(json.dumps([list(vars(judge_answer(a, r)).values()) for a, r in pairs]))"
    )
    n_busy = max(8, 4 * len(os.sched_getaffinity(0)))
    busy = _busy_processes(n_busy)
    try:
        out = subprocess.run([sys.executable, "-c", code, json.dumps(EASY_MATH)], check=True,
                             capture_output=True, text=True).stdout
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    verdicts = json.loads(out)
    assert verdicts == [[1.0, True, "math-verify"]] * len(EASY_MATH)
