"""Words for the rules judge: normalisation, tokens, attribute vocabularies and numbers.

Shared by `ivgr.judges.accuracy` (answer rules) and `ivgr.judges.consistency` (fact extraction).
"""

from __future__ import annotations

import re
import unicodedata

ARTICLES = frozenset({"a", "an", "the"})

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

TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+(?:'[^\W\d_]+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
CLAUSE_SPLIT = re.compile(r"[.,;:!?\n]+(?!\d)")


def normalize_text(text: str) -> str:
    """NFKC, lower case, curly quotes straightened, thousands separators dropped."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return _THOUSANDS.sub("", text)


def tokens(text: str, *, drop_articles: bool = True) -> list[str]:
    """Word and number tokens of `text` after `normalize_text`; punctuation is dropped.

    >>> tokens("It's the PINK one!")
    ["it's", 'pink', 'one']
    """
    out = TOKEN.findall(normalize_text(text))
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


_FRAC = re.compile(r"^\\d?frac\{\s*(-?\d+(?:\.\d+)?)\s*\}\{\s*(-?\d+(?:\.\d+)?)\s*\}$")
_PLAIN_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?%?$|^[-+]?\.\d+%?$")
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$")


def words_to_number(toks: list[str]) -> float | None:
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
    return words_to_number(TOKEN.findall(s.replace("-", " ")))


_WORD_CATEGORY: dict[str, str] = {w: "number" for w in (*_NUMBER_WORDS, *_TENS)}
for _category, _vocab in ATTRIBUTE_CATEGORIES.items():
    _WORD_CATEGORY.update(dict.fromkeys(_vocab, _category))


def vocabulary_of(tok: str) -> str | None:
    """Attribute category of a token (colour, position, size, shape, number) or None."""
    category = _WORD_CATEGORY.get(tok)
    if category is None and tok[:1].isdigit():
        return "number"
    return category


__all__ = [
    "ARTICLES",
    "ATTRIBUTE_CATEGORIES",
    "CLAUSE_SPLIT",
    "COLOURS",
    "POSITIONS",
    "SHAPES",
    "SIZES",
    "STOPWORDS",
    "TOKEN",
    "normalize_text",
    "parse_number",
    "singular",
    "tokens",
    "vocabulary_of",
    "words_to_number",
]
