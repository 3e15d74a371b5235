"""The `rules` judge: deterministic, offline accuracy and consistency (the default judge).

The authors judge both terms with Qwen2.5-72B (arXiv 2605.31096, reward design). This judge needs
no endpoint, so tests, the CPU demo and `ivgr score --judge rules` run anywhere; in front
of the `openai` judge it settles the cases it is sure of and saves endpoint calls.

Accuracy (`judge_answer`), tried in this order; "decided" means the rules are confident:
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

Consistency (`compare_reasoning`), after removing `<box>...</box>` spans and tags, on the
authors' consistency rubric: contradiction -> 0.0; extra AND missing -> 0.3; one -> 0.7; else 1.0.
  * a *fact* is (object, category, value) with categories colour, count, position, size,
    shape from small vocabularies. The object of a colour/size/shape word is the next
    noun-like word in its clause ("a red car"), else the previous one ("the car is red");
    a count is a number directly before a noun ("three cups", "2 cups"); a position word
    belongs to the first noun-like word of its clause ("the cup is on the left").
  * shape words that are also nouns (circle, square, triangle, diamond, star, ...) name the
    object when no noun follows them ("the square is red" is about a square; "a square
    table" is about a table). After a copula they describe the subject ("the red object is a
    square"), and a generic subject (object, shape, item) with such a shape is renamed to it,
    so "the red object is a square" and "the square is red" state the same facts.
  * contradiction: some (object, category) has values in both texts and the value sets are
    disjoint ("red car" vs "blue car", "3 cups" vs "2 cups", left vs right).
  * content words: lower-cased, crudely singularised head nouns that are not stop words,
    reasoning words ("therefore", "answer", "image"), generic nouns ("object"), attribute
    values, numbers, or words of the question (restating the question describes nothing).
  * missing: a reference fact absent from the candidate, or more than `word_tolerance`
    (default 20%) of the reference's content words absent from the candidate; extra: the
    same in the other direction. An empty candidate scores 0.0. Only the first 50 000
    characters of each text are read (bounded time on hostile input).
Limits, honestly: this is bag-of-words reading, not understanding. Synonyms ("car" vs
"automobile") look like extra plus missing content; two objects with the same name
(two cars of different colours) are merged into one; negation ("the car is not red") is
not modelled in facts; "right" meaning "correct" is read as a direction; object words are
guessed without a parser. It is deterministic, cheap and good at the cases the rubric
cares most about (a changed colour, count or side), and meant for offline runs, tests and
the CPU demo; use the `openai` judge for training runs that should match the paper.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field

from ivgr.judges.base import JudgeStats, SyncJudgeMixin, Verdict

try:  # ivgr.parsing is owned separately; the judge keeps working (local pass below) without it
    from ivgr.parsing import strip_boxes as _strip_boxes
except ImportError:
    _strip_boxes = None

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1000  # the authors' reward code (github Visual-AI/iVGR): longer answers score 0, no call
# Safety net only, for math outside the simple class (`_is_simple_math`): ordinary answers
# take milliseconds, so even a 100x slower machine stays far below it.
MATH_VERIFY_TIMEOUT_S = 30.0
MATH_VERIFY_MAX_CHARS = 200
MATH_SIMPLE_MAX_TOKENS = 40  # simple math: at most this many tokens ...
MATH_SIMPLE_MAX_DEPTH = 4  # ... nested at most this deep
MAX_REASONING_CHARS = 50_000  # longer texts are analysed by their head only: bounded time on hostile input

ARTICLES = frozenset({"a", "an", "the"})
NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "none", "n't", "cannot", "isn't", "aren't",
                       "doesn't", "don't", "wasn't", "weren't", "can't", "won't", "without"})
YES_WORDS = frozenset({"yes", "yeah", "yep"})
NO_WORDS = frozenset({"no", "nope"})

# Attribute vocabularies: surface word -> canonical value (synonyms share a value, so they
# never count as a contradiction).
COLOURS = {w: w for w in (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
    "silver", "beige", "tan", "maroon", "navy", "teal", "cyan", "magenta", "turquoise",
)} | {"grey": "gray", "gray": "gray", "golden": "gold", "gold": "gold", "violet": "purple"}
POSITIONS = {
    "left": "left", "right": "right", "top": "top", "bottom": "bottom", "above": "top",
    "below": "bottom", "under": "bottom", "beneath": "bottom", "underneath": "bottom",
    "front": "front", "behind": "behind", "middle": "center", "center": "center", "centre": "center",
    "leftmost": "left", "rightmost": "right", "topmost": "top", "bottommost": "bottom",
}
SIZES = {
    "small": "small", "tiny": "small", "little": "small", "large": "large", "big": "large",
    "huge": "large", "tall": "tall", "short": "short", "long": "long", "medium": "medium",
}
SHAPES = {
    "round": "round", "circular": "round", "square": "square", "rectangular": "rectangular",
    "triangular": "triangular", "oval": "oval", "cylindrical": "cylindrical", "spherical": "spherical",
    "circle": "round", "triangle": "triangular", "rectangle": "rectangular", "diamond": "diamond",
    "star": "star", "hexagon": "hexagonal", "hexagonal": "hexagonal", "cross": "cross", "ring": "ring",
}
# Shape words that are also nouns: the name of the object when no noun follows them.
SHAPE_NOUNS = frozenset({"circle", "square", "triangle", "rectangle", "diamond", "star", "hexagon", "oval",
                         "cross", "ring"})
# Nouns that say nothing about what the object is: a shape predicate names it instead.
GENERIC_NOUNS = frozenset({"object", "shape", "item", "figure", "thing"})
COPULAS = frozenset({"is", "are", "was", "were", "be", "being", "looks", "seems"})
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ATTRIBUTE_CATEGORIES = {"colour": COLOURS, "position": POSITIONS, "size": SIZES, "shape": SHAPES}

STOPWORDS = frozenset("""
a an the and or but if then than so as of at by for with without from into onto on in to up down out over
off about between through during before after again further once here there where when why how what which
who whom whose this that these those it its it's itself they them their theirs he him his she her hers we us
our you your i me my is are was were be been being am do does did doing have has had having can could will
would shall should may might must also very just only too more most other some such any each both all few
own same not no nor never none n't s t can't don't isn't aren't one ones thing things something side part
appear appears appearing seem seems looks look looking see seen shown show shows visible located locate
place placed there's that's what's let's like near next
""".split())
REASONING_WORDS = frozenset("""
question answer answers image picture photo scene think thinking reason reasoning therefore thus hence
because since based given need needs determine determined identify find found check option options choice
choices correct final conclude conclusion step first second third finally observe observed observation
notice noticed analyze analyse describe described description box boxes region area coordinate coordinates
""".split())

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+(?:'[^\W\d_]+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CLAUSE_SPLIT = re.compile(r"[.,;:!?\n]+(?!\d)")
_TAG = re.compile(r"</?(?:think|answer|box)>", re.IGNORECASE)


# --------------------------------------------------------------------------- normalisation
def normalize_text(text: str) -> str:
    """NFKC, lower case, curly quotes straightened, thousands separators dropped."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return _THOUSANDS.sub("", text)


def tokens(text: str, *, drop_articles: bool = True) -> list[str]:
    """Word and number tokens of `text` after `normalize_text`; punctuation is dropped.

    >>> tokens("It's the PINK one!")
    ["it's", 'pink', 'one']
    """
    out = _TOKEN.findall(normalize_text(text))
    return [t for t in out if not (drop_articles and t in ARTICLES)]


def singular(word: str) -> str:
    """Crude singular form, enough to match "cups" with "cup" and "boxes" with "box"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


# --------------------------------------------------------------------------- accuracy
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

    >>> parse_options("Colour? (A) red (B) dark blue")
    {'A': 'red', 'B': 'dark blue'}
    """
    found = {m.group(1): m.group(2) for m in _OPTION_LINE.finditer(question)}
    found.update({m.group(1): m.group(2) for m in _OPTION_INLINE.finditer(question)})
    return found


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
    for clause in _CLAUSE_SPLIT.split(normalize_text(answer)):
        toks = _TOKEN.findall(clause)
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


_FRAC = re.compile(r"^\\d?frac\{\s*(-?\d+(?:\.\d+)?)\s*\}\{\s*(-?\d+(?:\.\d+)?)\s*\}$")
_PLAIN_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?%?$|^[-+]?\.\d+%?$")
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$")
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?%?")


def _words_to_number(toks: list[str]) -> float | None:
    """'twenty one' / 'twenty-one' / 'three' -> number; None if not a number phrase."""
    if len(toks) == 1 and toks[0] in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[toks[0]])
    if len(toks) == 1 and toks[0] in _TENS:
        return float(_TENS[toks[0]])
    if len(toks) == 2 and toks[0] in _TENS and toks[1] in _NUMBER_WORDS and 0 < _NUMBER_WORDS[toks[1]] < 10:
        return float(_TENS[toks[0]] + _NUMBER_WORDS[toks[1]])
    return None


def parse_number(text: str) -> float | None:
    """A whole string that is one number -> its value (percent kept as written).

    >>> parse_number("\\\\frac{1}{2}"), parse_number("1,000"), parse_number("twenty-one"), parse_number("5 apples")
    (0.5, 1000.0, 21.0, None)
    """
    s = normalize_text(text).strip().strip("$").strip().rstrip(".").strip()
    s = s.replace("\\left", "").replace("\\right", "").replace("\\%", "%").replace(" ", "") if "\\" in s else s
    if _PLAIN_NUMBER.match(s):
        return float(s.rstrip("%"))
    for pattern in (_FRAC, _SLASH):
        match = pattern.match(s)
        if match and float(match.group(2)) != 0:
            return float(match.group(1)) / float(match.group(2))
    return _words_to_number(_TOKEN.findall(s.replace("-", " ")))


def _numbers_in(answer: str) -> set[float]:
    """Distinct numeric values in free text: digits, fractions and number words."""
    text = normalize_text(answer)
    values: set[float] = set()
    for match in _NUMBER_IN_TEXT.finditer(text):
        value = parse_number(match.group(0))
        if value is not None:
            values.add(value)
    toks = _TOKEN.findall(text.replace("-", " "))
    i = 0
    while i < len(toks):
        two = _words_to_number(toks[i : i + 2]) if i + 1 < len(toks) else None
        if two is not None:
            values.add(two)
            i += 2
            continue
        # "one" is too often a pronoun ("the red one") to count as a number in free text
        if toks[i] != "one":
            one = _words_to_number(toks[i : i + 1])
            if one is not None:
                values.add(one)
        i += 1
    return values


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


_MATHY = re.compile(r"\\[a-zA-Z]+|\^|\$|\\sqrt|\bpi\b")
_HUGE_POWER = re.compile(r"\^\s*\{?\s*[-+]?\d{3,}|\^\s*\{?[^}]*\^|!\s*!|\d{4,}\s*!")
_MV_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_MV_POOL_LOCK = threading.Lock()


def _math_verify_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _MV_POOL
    with _MV_POOL_LOCK:
        if _MV_POOL is None:
            _MV_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="ivgr-math-verify")
        return _MV_POOL


class _DropTimeoutNotice(logging.Filter):
    """math-verify warns that its timeouts are off; we turned them off on purpose (guard below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.grader", "math_verify.parser"):
    logging.getLogger(_name).addFilter(_DropTimeoutNotice())


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


_WORD_CATEGORY: dict[str, str] = {w: "number" for w in (*_NUMBER_WORDS, *_TENS)}
for _category, _vocab in ATTRIBUTE_CATEGORIES.items():
    _WORD_CATEGORY.update(dict.fromkeys(_vocab, _category))


def _vocabulary_of(tok: str) -> str | None:
    """Attribute category of a token (colour, position, size, shape, number) or None."""
    category = _WORD_CATEGORY.get(tok)
    if category is None and tok[:1].isdigit():
        return "number"
    return category


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
    short_values = {(_vocabulary_of(t), t) for t in short if _vocabulary_of(t)}
    short_vocabs = {v for v, _ in short_values}
    return not any(_vocabulary_of(t) in short_vocabs and (_vocabulary_of(t), t) not in short_values for t in rest)


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


# --------------------------------------------------------------------------- consistency
Fact = tuple[str, str, str]  # (object, category, value)


@dataclass(frozen=True)
class ConsistencyReport:
    """What the lexical comparison found, and the rubric level it implies."""

    level: float
    contradictions: tuple[tuple[str, str], ...] = ()
    extra_facts: tuple[Fact, ...] = ()
    missing_facts: tuple[Fact, ...] = ()
    extra_words: tuple[str, ...] = ()
    missing_words: tuple[str, ...] = ()
    extra: bool = False
    missing: bool = False


def strip_boxes_text(text: str) -> str:
    """Remove `<box>..</box>` spans and think/answer tags; uses ivgr.parsing when present."""
    if _strip_boxes is not None:
        text = _strip_boxes(text)
    # The local pass also runs after ivgr.parsing: it catches any span that parser bounds out.
    return _TAG.sub(" ", _remove_box_spans(text))


def _remove_box_spans(text: str) -> str:
    """Drop every `<box>...</box>` span (case-insensitive) in linear time.

    A lazy regex rescans to the end of the text from every unclosed `<box>`, which is
    quadratic on hostile input ("<box>" * 5000); one forward scan is not.
    """
    lower = text.lower()
    out: list[str] = []
    pos = 0
    while True:
        start = lower.find("<box>", pos)
        if start < 0:
            break
        end = lower.find("</box>", start + 5)
        if end < 0:
            break  # no closing tag anywhere after: nothing more to remove
        out.append(text[pos:start])
        out.append(" ")
        pos = end + 6
    out.append(text[pos:])
    return "".join(out)


def _noun_like(tok: str) -> bool:
    return (
        len(tok) > 1
        and tok not in STOPWORDS
        and tok not in REASONING_WORDS
        and _vocabulary_of(tok) is None
        and not tok[0].isdigit()
    )


def _head_nouns(toks: list[str]) -> list[bool]:
    """Which tokens of a clause name an object: noun-like words, and shape nouns used as nouns.

    A shape noun is an adjective when a noun follows it ("square table"), and a predicate when
    a copula precedes it ("... is a square"); otherwise it names the object ("the square").
    """
    heads = [_noun_like(t) for t in toks]
    for i, tok in enumerate(toks):
        if tok in SHAPE_NOUNS:
            modifies_next = i + 1 < len(toks) and heads[i + 1]
            predicate = i > 0 and toks[i - 1] in COPULAS
            heads[i] = not modifies_next and not predicate
    return heads


def _attribute_object(toks: list[str], heads: list[bool], i: int) -> str | None:
    """Object of an adjective: the next head noun, else the previous one, in the clause."""
    for j in range(i + 1, len(toks)):
        if heads[j]:
            return singular(toks[j])
        if toks[j] in STOPWORDS and toks[j] not in ARTICLES and toks[j] not in {"and", "or"}:
            break  # "red and the car" / "red is ..." -> not attributive
    for j in range(i - 1, -1, -1):
        if heads[j]:
            return singular(toks[j])
    return None


def _clause(toks: list[str]) -> tuple[set[Fact], set[str]]:
    """Facts and head nouns (singular) of one clause of article-free tokens."""
    heads = _head_nouns(toks)
    facts: set[Fact] = set()
    subject = next((singular(t) for t, head in zip(toks, heads) if head), None)
    for i, tok in enumerate(toks):
        category = _vocabulary_of(tok)
        if category in ("colour", "size", "shape") and not heads[i]:
            obj = _attribute_object(toks, heads, i)
            if obj:
                facts.add((obj, category, ATTRIBUTE_CATEGORIES[category][tok]))
        elif category == "position" and subject:
            facts.add((subject, "position", POSITIONS[tok]))
        elif category == "number":
            value = parse_number(tok)
            nxt = next((j for j in range(i + 1, len(toks))
                        if _vocabulary_of(toks[j]) not in ("colour", "size", "shape") or heads[j]), None)
            if value is not None and nxt is not None and heads[nxt] and tok != "one":
                facts.add((singular(toks[nxt]), "count", f"{value:g}"))
    # "the red object is a square": the generic subject is the square.
    names = {obj: next(t for t in SHAPE_NOUNS if SHAPES[t] == val)
             for obj, cat, val in facts if cat == "shape" and obj in GENERIC_NOUNS}
    facts = {(names.get(obj, obj), cat, val) for obj, cat, val in facts if not (obj in names and cat == "shape")}
    words = {names.get(w, w) for w in (singular(t) for t, head in zip(toks, heads) if head)}
    return facts, words - GENERIC_NOUNS


def _clauses(text: str) -> list[list[str]]:
    """Article-free tokens of each clause, after boxes and tags are removed."""
    return [[t for t in _TOKEN.findall(clause.replace("-", " ")) if t not in ARTICLES]
            for clause in _CLAUSE_SPLIT.split(normalize_text(strip_boxes_text(text)))]


@functools.lru_cache(maxsize=4096)
def _analyse(text: str) -> tuple[frozenset[Fact], frozenset[str]]:
    """Facts and content words of one text, cached: an archived reference meets many candidates."""
    text = text[:MAX_REASONING_CHARS]
    return frozenset(extract_facts(text)), frozenset(content_words(text))


def extract_facts(text: str) -> set[Fact]:
    """(object, category, value) facts of a reasoning text (see the module docstring).

    >>> sorted(extract_facts("There are two red cups on the left."))
    [('cup', 'colour', 'red'), ('cup', 'count', '2'), ('cup', 'position', 'left')]
    """
    return set().union(*(_clause(toks)[0] for toks in _clauses(text)))


def content_words(text: str, *, ignore: frozenset[str] = frozenset()) -> set[str]:
    """Descriptive words: not stop/reasoning words, attribute values, numbers, or `ignore`."""
    return set().union(*(_clause(toks)[1] for toks in _clauses(text))) - ignore


def compare_reasoning(
    reference: str, candidate: str, *, question: str = "", word_tolerance: float = 0.2
) -> ConsistencyReport:
    """Lexical rubric level of `candidate` against `reference` (module docstring, the authors' rubric)."""
    (ref_facts, ref_all_words), (cand_facts, cand_all_words) = _analyse(reference), _analyse(candidate)
    ignore = frozenset(singular(t) for t in tokens(question))
    ref_words, cand_words = ref_all_words - ignore, cand_all_words - ignore
    if not cand_words and not cand_facts:
        return ConsistencyReport(level=0.0, missing=True)
    ref_by_key: dict[tuple[str, str], set[str]] = {}
    for obj, cat, val in ref_facts:
        ref_by_key.setdefault((obj, cat), set()).add(val)
    cand_by_key: dict[tuple[str, str], set[str]] = {}
    for obj, cat, val in cand_facts:
        cand_by_key.setdefault((obj, cat), set()).add(val)
    contradictions = tuple(sorted(k for k in ref_by_key.keys() & cand_by_key.keys() if not ref_by_key[k] & cand_by_key[k]))
    extra_facts = tuple(sorted(cand_facts - ref_facts))
    missing_facts = tuple(sorted(ref_facts - cand_facts))
    extra_words = tuple(sorted(cand_words - ref_words))
    missing_words = tuple(sorted(ref_words - cand_words))
    extra = bool(extra_facts) or len(extra_words) > word_tolerance * max(1, len(cand_words))
    missing = bool(missing_facts) or len(missing_words) > word_tolerance * max(1, len(ref_words))
    if contradictions:
        level = 0.0
    elif extra and missing:
        level = 0.3
    elif extra or missing:
        level = 0.7
    else:
        level = 1.0
    return ConsistencyReport(level, contradictions, extra_facts, missing_facts, extra_words, missing_words, extra, missing)


# --------------------------------------------------------------------------- the judge
# Deviation: an offline rules judge (the authors have only the Qwen2.5-72B judge), so the
# scorer, tests and the CPU demo run without an endpoint; option judge.kind (rules|openai).
@dataclass
class RulesJudge(SyncJudgeMixin):
    """Deterministic offline judge; never calls out, never fails (every verdict is "rules")."""

    word_tolerance: float = 0.2
    _stats: JudgeStats = field(default_factory=JudgeStats, repr=False)

    def decides(self, question: str, answer: str, reference: str) -> bool:
        """True when the rules are confident about accuracy (letters, yes/no, numbers, exact)."""
        return judge_answer(answer, reference, question).decided

    def accuracy_decision(self, *, question: str, answer: str, reference: str) -> AnswerDecision:
        """The full rule decision (score, decided, rule), for callers that need `decided`."""
        return judge_answer(answer, reference, question)

    async def accuracy(self, *, question: str, answer: str, reference: str) -> Verdict:
        """Rule-based accuracy, 0 or 1."""
        self._stats.rules += 1
        return Verdict(judge_answer(answer, reference, question).score, 0, "rules")

    async def consistency(self, *, question: str, reference: str, candidate: str) -> Verdict:
        """Lexical rubric level 0.0 / 0.3 / 0.7 / 1.0."""
        self._stats.rules += 1
        report = compare_reasoning(reference, candidate, question=question, word_tolerance=self.word_tolerance)
        return Verdict(report.level, 0, "rules")

    def stats(self) -> JudgeStats:
        """A snapshot of the counters (only `rules` moves for this judge)."""
        return JudgeStats(**vars(self._stats))


__all__ = [
    "RulesJudge",
    "AnswerDecision",
    "ConsistencyReport",
    "judge_answer",
    "compare_reasoning",
    "extract_facts",
    "content_words",
    "parse_number",
    "parse_options",
    "math_equivalent",
    "tokens",
]
