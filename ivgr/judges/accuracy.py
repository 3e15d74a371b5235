"""Accuracy for the `rules` judge (`ivgr.judges.rules`): `judge_answer`, and math-verify behind a guard.

The rules, tried in this order; "decided" means the rules are confident:
  0. no answer, or more than 1000 characters -> 0, decided (the authors' length rule).
  1. multiple choice: the reference is one letter ("B", "(B)", "B. red"); the answer's
     letter is read from "B", "(b)", "B. red", "Option B", "The answer is B". A letter ->
     decided by equality. No letter, but the options are known (from the reference
     "(B) red" or from "(A) ... (B) ..." lines in the question) and the answer text equals
     exactly one option's text -> decided by that option.
  2. yes/no: the reference is "yes" or "no". A *polarity marker* is a yes/no word at the
     start or end of a clause ("Yes.", "No, it is not", "yes, but no"); "no" inside a
     clause ("there is no dog") is a determiner, not a marker. Markers all agree -> decided
     by polarity; markers disagree ("yes, but no") -> 0, decided (a hedge is wrong).
  3. numbers: the reference is a number (int, decimal, 1,000, 50%, 1/2, \\frac{1}{2},
     number words up to ninety-nine) or a short LaTeX expression. If the answer holds
     exactly one distinct number -> decided by |a - r| <= 1e-6 * max(1, |r|) (a percentage
     also matches its fraction). Otherwise `math-verify` compares the two (its own timeouts
     off; at most 200 characters a side, no huge exponents or factorials) and decides when
     both sides parse. Its verdict never depends on machine load: it is imported and warmed
     up outside any time limit, and simple arithmetic (numbers, + - * / ^, fractions, roots,
     pi; at most 40 tokens, 4 levels deep) runs to completion. Anything else gets a
     generous 30 s safety net against pathological input, and is undecided beyond it.
  4. free text: equal token lists after normalisation (NFKC, lower case, punctuation and
     the articles a/an/the removed) -> 1, decided. Else the *span rule*, not decided: the
     shorter side's tokens (with at least one content word) occur as one contiguous run in
     the longer side, and the rest of the longer side contains no negation (not, no,
     never, n't, nor, neither), no alternative ("or") and no competing value from the same
     vocabulary as the reference (another colour, number, direction, size or shape) -> 1,
     else 0. So "pink" vs "it is pink" and "tan" vs "The countertop is tan." match, while
     "pink and white", "not pink" and "pink or red" do not.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ivgr.judges.words import (
    CLAUSE_SPLIT,
    STOPWORDS,
    TOKEN,
    normalize_text,
    parse_number,
    tokens,
    vocabulary_of,
    words_to_number,
)

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1000  # the authors' reward code (github Visual-AI/iVGR): longer answers score 0, no call
# Safety net only, for math outside the simple class (`_is_simple_math`): ordinary answers
# take milliseconds, so even a 100x slower machine stays far below it.
MATH_VERIFY_TIMEOUT_S = 30.0
MATH_VERIFY_MAX_CHARS = 200
MATH_SIMPLE_MAX_TOKENS = 40  # simple math: at most this many tokens ...
MATH_SIMPLE_MAX_DEPTH = 4  # ... nested at most this deep

NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "none", "n't", "cannot", "isn't", "aren't",
                       "doesn't", "don't", "wasn't", "weren't", "can't", "won't", "without"})
YES_WORDS = frozenset({"yes", "yeah", "yep"})
NO_WORDS = frozenset({"no", "nope"})


@dataclass(frozen=True)
class AnswerDecision:
    """Outcome of the accuracy rules: the score, whether the rules are confident, which rule."""

    score: float
    decided: bool
    rule: str


_REF_LETTER = re.compile(r"^\s*[(\[]?([A-Za-z])[)\]]?\s*[.:)]?\s*$")
_REF_LETTER_WITH_TEXT = re.compile(r"^\s*(?:[(\[]([A-Z])[)\]]|([A-Z])[.:)])\s*(\S.*?)\s*$", re.DOTALL)
_ANS_LETTER_ALONE = _REF_LETTER
_ANS_LETTER_KEYWORD = re.compile(
    r"^\s*(?:the\s+)?(?:correct\s+|final\s+|right\s+|best\s+)?(?:answer|option|choice)\s*(?:is|:|-)?\s*"
    r"[(\[]?([A-Za-z])[)\]]?(?=$|[\s.,:;)!])",
    re.IGNORECASE,
)
_ANS_LETTER_WRAPPED = re.compile(r"^\s*[(\[]([A-Za-z])[)\]]")
_ANS_LETTER_PUNCT = re.compile(r"^\s*([A-Z])(?:[.:),]|\s*$)")
_OPTION_INLINE = re.compile(r"[(\[]([A-Z])[)\]]\s*([^()\[\]\n]+?)\s*(?=[(\[][A-Z][)\]]|\n|$)")
_OPTION_LINE = re.compile(r"^\s*([A-Z])[.:)]\s+(.+?)\s*$", re.MULTILINE)


def parse_options(question: str) -> dict[str, str]:
    """Options of a multiple-choice question: "(A) red (B) blue" or "A. red" lines.

    A new dict each call (callers add to it); the parsing itself is cached by question.

    >>> parse_options("Colour? (A) red (B) dark blue")
    {'A': 'red', 'B': 'dark blue'}
    """
    return dict(_parsed_options(question))


@functools.lru_cache(maxsize=1024)  # a step asks about each question once per rollout of both streams
def _parsed_options(question: str) -> tuple[tuple[str, str], ...]:
    found = {m.group(1): m.group(2) for m in _OPTION_LINE.finditer(question)}
    found.update({m.group(1): m.group(2) for m in _OPTION_INLINE.finditer(question)})
    return tuple(found.items())


def _answer_letter(answer: str) -> str | None:
    for pattern in (_ANS_LETTER_ALONE, _ANS_LETTER_KEYWORD, _ANS_LETTER_WRAPPED, _ANS_LETTER_PUNCT):
        match = pattern.match(answer)
        if match:
            return match.group(1).upper()
    return None


def _judge_letter(answer: str, ref_letter: str, options: dict[str, str], *, all_known: bool) -> AnswerDecision:
    letter = _answer_letter(answer)
    # With the question's full option list, a letter outside it ("I", "A" of "A cat") is no answer.
    if letter is not None and (not all_known or letter in options):
        return AnswerDecision(float(letter == ref_letter), True, "letter")
    answer_toks = tokens(answer)
    matching = [k for k, text in options.items() if tokens(text) == answer_toks and answer_toks]
    if len(matching) == 1:
        return AnswerDecision(float(matching[0] == ref_letter), True, "option-text")
    return AnswerDecision(0.0, False, "letter-unread")


def _polarity_markers(answer: str) -> set[str]:
    markers: set[str] = set()
    for clause in CLAUSE_SPLIT.split(normalize_text(answer)):
        toks = TOKEN.findall(clause)
        for tok in {toks[0], toks[-1]} if toks else set():
            if tok in YES_WORDS:
                markers.add("yes")
            elif tok in NO_WORDS:
                markers.add("no")
    return markers


def _judge_yes_no(answer: str, ref: str) -> AnswerDecision:
    markers = _polarity_markers(answer)
    if not markers:
        return AnswerDecision(0.0, False, "yes-no-unread")
    if len(markers) > 1:
        return AnswerDecision(0.0, True, "yes-no-ambiguous")
    return AnswerDecision(float(markers == {ref}), True, "yes-no")


_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?%?")


def _numbers_in(answer: str) -> set[float]:
    """Distinct numeric values in free text: digits, fractions and number words."""
    text = normalize_text(answer)
    values: set[float] = set()
    for match in _NUMBER_IN_TEXT.finditer(text):
        value = parse_number(match.group(0))
        if value is not None:
            values.add(value)
    toks = TOKEN.findall(text.replace("-", " "))
    i = 0
    while i < len(toks):
        two = words_to_number(toks[i : i + 2]) if i + 1 < len(toks) else None
        if two is not None:
            values.add(two)
            i += 2
            continue
        # "one" is too often a pronoun ("the red one") to count as a number in free text
        if toks[i] != "one":
            one = words_to_number(toks[i : i + 1])
            if one is not None:
                values.add(one)
        i += 1
    return values


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


_MATHY = re.compile(r"\\[a-zA-Z]+|\^|\$|\\sqrt|\bpi\b")
_HUGE_POWER = re.compile(r"\^\s*\{?\s*[-+]?\d{3,}|\^\s*\{?[^}]*\^|!\s*!|\d{4,}\s*!")


def lazy_thread_pool(max_workers: int, name: str) -> Callable[[], concurrent.futures.ThreadPoolExecutor]:
    """A getter of one process-wide thread pool, made on first use: a process that never needs
    it starts no threads, and every caller (judge, event loop) shares the same workers."""
    pool: list[concurrent.futures.ThreadPoolExecutor] = []
    lock = threading.Lock()

    def get() -> concurrent.futures.ThreadPoolExecutor:
        with lock:
            if not pool:
                pool.append(concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name))
            return pool[0]

    return get


_math_verify_pool = lazy_thread_pool(2, "ivgr-math-verify")


class _DropTimeoutNotice(logging.Filter):
    """math-verify warns that its timeouts are off; we turned them off on purpose (guard below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


def _quiet_math_verify_loggers() -> None:
    """Drop math-verify's "Timeout is disabled" notice; installed on first use, not at import,
    so importing the judge leaves other libraries' loggers as they are."""
    for name in ("math_verify.grader", "math_verify.parser"):
        logging.getLogger(name).addFilter(_DropTimeoutNotice())


_MV_WARM_LOCK = threading.Lock()
_MV_WARM = False


def warm_math_verify() -> None:
    """Import math-verify (and sympy, its LaTeX grammar) and run a few comparisons, once.

    Runs outside any time limit: the first import costs seconds on a busy machine, and that
    cost must never turn a verdict into "cannot tell" (issue: `\\sqrt{9}` vs 3 undecided
    under load).
    """
    global _MV_WARM
    with _MV_WARM_LOCK:
        if _MV_WARM:
            return
        _quiet_math_verify_loggers()
        for gold, pred in (("$3$", "$\\sqrt{9}$"), ("$0.5$", "$\\frac{1}{2}$"), ("$\\pi \\cdot 2$", "$2\\pi$")):
            _math_verify_blocking(gold, pred)
        _MV_WARM = True


_SIMPLE_MATH_TOKEN = re.compile(
    r"\\(?:d?frac|tfrac|sqrt|pi|cdot|times|div|left|right|%|,|!|\s)(?![a-zA-Z])|\d+(?:\.\d+)?|\.\d+|\bpi\b|[-+*/^()\[\]{}$%,.]"
)


def _is_simple_math(text: str) -> bool:
    """Arithmetic without variables: numbers, + - * / ^, fractions, roots and pi, few tokens.

    Deterministic, from the text alone; such input is fast in sympy on any machine, so it runs
    with no time limit. `_HUGE_POWER` has already refused huge exponents and factorials.
    """
    found = _SIMPLE_MATH_TOKEN.findall(text)
    if "".join(found) != re.sub(r"\s+", "", text) or len(found) > MATH_SIMPLE_MAX_TOKENS:
        return False
    depth = deepest = 0
    for tok in found:
        if tok in ("(", "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif tok in (")", "]", "}"):
            depth -= 1
    return deepest <= MATH_SIMPLE_MAX_DEPTH


def _math_verify_blocking(gold: str, pred: str) -> bool | None:
    from math_verify import parse, verify

    # math-verify's signal-based timeouts only work on the main thread; turn them off and
    # bound the work ourselves (input size, exponent guard, simple class, safety net below).
    gold_parsed = parse(gold, parsing_timeout=None)
    pred_parsed = parse(pred, parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return None
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


# Deviation: math-verify runs for every numeric/LaTeX reference, with its signal timeouts off
# and our own deterministic guard (the authors' math path is dead code);
# option judge.rules_first decides whether its verdict replaces the LLM's.
def math_equivalent(gold: str, pred: str, *, timeout_s: float = MATH_VERIFY_TIMEOUT_S) -> bool | None:
    """math-verify equivalence with our own guard; None when it cannot tell.

    Guard, decided from the text alone: each side at most 200 characters and free of huge
    powers or factorials. Simple arithmetic on both sides (`_is_simple_math`) then runs to
    completion, after `warm_math_verify`, so its verdict cannot depend on machine load. Other
    input waits at most `timeout_s` (a safety net against pathological input) in a 2-thread
    pool; a call that overruns is abandoned (its thread finishes in the background; the pool
    bounds how many can pile up).
    """
    if len(gold) > MATH_VERIFY_MAX_CHARS or len(pred) > MATH_VERIFY_MAX_CHARS:
        return None
    if _HUGE_POWER.search(gold) or _HUGE_POWER.search(pred):
        return None
    try:
        warm_math_verify()
        if _is_simple_math(gold) and _is_simple_math(pred):
            return _math_verify_blocking(gold, pred)
    except Exception as err:  # math-verify/sympy raise many types on odd input; it means "cannot tell"
        logger.debug("math-verify failed: %s", type(err).__name__)
        return None
    future = _math_verify_pool().submit(_math_verify_blocking, gold, pred)
    try:
        return future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        logger.warning("math-verify gave no answer within %.0fs on non-simple math; rules leave it undecided", timeout_s)
        return None
    except Exception as err:  # math-verify/sympy raise many types on odd input; it means "cannot tell"
        logger.debug("math-verify failed: %s", type(err).__name__)
        return None


def _wrap_math(text: str) -> str:
    return text if "$" in text else f"${text.strip()}$"


_MATH_WORDS = frozenset({"pi", "sqrt", "frac", "dfrac", "tfrac", "left", "right", "cdot", "times", "div", "circ"})


def _is_math_only(text: str) -> bool:
    """No prose: every word of two or more letters is a LaTeX command or a math word."""
    words = re.findall(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}", text)
    return all(w.lower() in _MATH_WORDS for w in words)


def _judge_number(answer: str, reference: str, ref_value: float | None) -> AnswerDecision:
    if ref_value is not None:
        whole = parse_number(answer)
        # LaTeX ("\\sqrt{9}") is left to math-verify: its digits are not the answer's value.
        values = {whole} if whole is not None else (set() if _MATHY.search(answer) else _numbers_in(answer))
        if len(values) == 1:
            (value,) = values
            # A percentage matches its fraction in either direction ("50%" vs "0.5").
            ok = (
                _close(value, ref_value)
                or (answer.strip().endswith("%") and _close(value / 100, ref_value))
                or (reference.strip().endswith("%") and _close(value, ref_value / 100))
            )
            return AnswerDecision(float(ok), True, "number")
    # math-verify reads prose as algebra ("2 cats and 3 dogs"), so only math-only answers go there.
    if _is_math_only(answer) and (_MATHY.search(reference) or _MATHY.search(answer) or ref_value is not None):
        verdict = math_equivalent(_wrap_math(reference), _wrap_math(answer))
        if verdict is not None:
            return AnswerDecision(float(verdict), True, "math-verify")
    return AnswerDecision(0.0, False, "number-unread")


def _span_match(short: list[str], long: list[str]) -> bool:
    """`short` occurs contiguously in `long`, and the rest of `long` cannot compete with it."""
    if not short or not any(t not in STOPWORDS for t in short):
        return False
    n = len(short)
    starts = [i for i in range(len(long) - n + 1) if long[i : i + n] == short]
    if not starts:
        return False
    rest = long[: starts[0]] + long[starts[0] + n :]
    if any(t in NEGATIONS or t.endswith("n't") or t == "or" for t in rest):
        return False
    short_values = {(vocabulary_of(t), t) for t in short if vocabulary_of(t)}
    short_vocabs = {v for v, _ in short_values}
    return not any(vocabulary_of(t) in short_vocabs and (vocabulary_of(t), t) not in short_values for t in rest)


def _judge_free_text(answer: str, reference: str) -> AnswerDecision:
    a, r = tokens(answer), tokens(reference)
    if a and a == r:
        return AnswerDecision(1.0, True, "exact")
    short, long = (r, a) if len(r) <= len(a) else (a, r)
    return AnswerDecision(float(_span_match(short, long)), False, "span")


def judge_answer(answer: str | None, reference: str, question: str = "") -> AnswerDecision:
    """Rule-based accuracy of `answer` against `reference` (see the module docstring).

    >>> judge_answer("It is pink.", "pink").score, judge_answer("(B) red", "B").decided
    (1.0, True)
    """
    if answer is None or not answer.strip():
        return AnswerDecision(0.0, True, "empty")
    if len(answer) > MAX_ANSWER_CHARS:
        return AnswerDecision(0.0, True, "too-long")
    ref_letter = _REF_LETTER.match(reference)
    ref_letter_text = _REF_LETTER_WITH_TEXT.match(reference)
    if ref_letter or ref_letter_text:
        options = parse_options(question)
        all_known = bool(options)
        if ref_letter:
            letter = ref_letter.group(1).upper()
        else:
            letter = (ref_letter_text.group(1) or ref_letter_text.group(2)).upper()  # type: ignore[union-attr]
            options.setdefault(letter, ref_letter_text.group(3))  # type: ignore[union-attr]
        # A lower-case one-letter reference ("a") is a letter only when the question has options.
        if ref_letter_text or reference.strip().strip("()[].:").isupper() or letter in options:
            return _judge_letter(answer, letter, options, all_known=all_known)
    ref_tokens = tokens(reference)
    if len(ref_tokens) == 1 and ref_tokens[0] in YES_WORDS | NO_WORDS:
        return _judge_yes_no(answer, "yes" if ref_tokens[0] in YES_WORDS else "no")
    ref_value = parse_number(reference)
    if ref_value is not None or (_MATHY.search(reference) and len(reference) <= MATH_VERIFY_MAX_CHARS):
        decision = _judge_number(answer, reference, ref_value)
        if decision.decided:
            return decision
    return _judge_free_text(answer, reference)


__all__ = [
    "MAX_ANSWER_CHARS",
    "AnswerDecision",
    "judge_answer",
    "math_equivalent",
    "parse_options",
    "warm_math_verify",
]
