"""Consistency for the `rules` judge (`ivgr.judges.rules`): `compare_reasoning`, by facts and content words.

A candidate reasoning text is compared with a reference, after removing `<box>...</box>` spans
and tags, on the authors' consistency rubric: contradiction -> 0.0; extra AND missing -> 0.3; one -> 0.7; else 1.0.
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

import functools
import re
from dataclasses import dataclass

from ivgr.judges.words import (
    ARTICLES,
    ATTRIBUTE_CATEGORIES,
    CLAUSE_SPLIT,
    POSITIONS,
    SHAPES,
    STOPWORDS,
    TOKEN,
    normalize_text,
    parse_number,
    singular,
    tokens,
    vocabulary_of,
)
from ivgr.parsing import strip_boxes

MAX_REASONING_CHARS = 50_000  # longer texts are analysed by their head only: bounded time on hostile input

# Shape words that are also nouns: the name of the object when no noun follows them.
SHAPE_NOUNS = frozenset({"circle", "square", "triangle", "rectangle", "diamond", "star", "hexagon", "oval",
                         "cross", "ring"})
# Nouns that say nothing about what the object is: a shape predicate names it instead.
GENERIC_NOUNS = frozenset({"object", "shape", "item", "figure", "thing"})
COPULAS = frozenset({"is", "are", "was", "were", "be", "being", "looks", "seems"})
REASONING_WORDS = frozenset("""
question answer answers image picture photo scene think thinking reason reasoning therefore thus hence
because since based given need needs determine determined identify find found check option options choice
choices correct final conclude conclusion step first second third finally observe observed observation
notice noticed analyze analyse describe described description box boxes region area coordinate coordinates
""".split())
_TAG = re.compile(r"</?(?:think|answer|box)>", re.IGNORECASE)

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
    """Remove `<box>..</box>` spans and think/answer tags (ivgr.parsing's pass, then a local one)."""
    text = strip_boxes(text)
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
        and vocabulary_of(tok) is None
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
        category = vocabulary_of(tok)
        if category in ("colour", "size", "shape") and not heads[i]:
            obj = _attribute_object(toks, heads, i)
            if obj:
                facts.add((obj, category, ATTRIBUTE_CATEGORIES[category][tok]))
        elif category == "position" and subject:
            facts.add((subject, "position", POSITIONS[tok]))
        elif category == "number":
            value = parse_number(tok)
            nxt = next((j for j in range(i + 1, len(toks))
                        if vocabulary_of(toks[j]) not in ("colour", "size", "shape") or heads[j]), None)
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
    return [[t for t in TOKEN.findall(clause.replace("-", " ")) if t not in ARTICLES]
            for clause in CLAUSE_SPLIT.split(normalize_text(strip_boxes_text(text)))]


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


__all__ = [
    "MAX_REASONING_CHARS",
    "ConsistencyReport",
    "Fact",
    "compare_reasoning",
    "content_words",
    "extract_facts",
    "strip_boxes_text",
]
