"""Answer extraction: our robust extractor plus faithful re-implementations of each toolkit's.

The toolkits disagree (lmms-eval lmms_eval/tasks/*/utils.py vs VLMEvalKit vlmeval/utils/matching_util.py;
docs/evaluation.md#scoring-profiles), so the same raw
output can be right under one and wrong under another. Each function here reproduces one
documented rule, *including its quirks* (marked `Quirk:`), so a score can be compared with a
published number. `ivgr_choice` / `ivgr_yes_no` / `ivgr_open` are our own robust rules.

All functions are pure (no torch), take the model's response text and return the extracted
label or None / a toolkit sentinel ("Z", "Unknown", "").
"""

from __future__ import annotations

import re
import string

from ivgr.parsing import extract_answer

_THINK_END_RE = re.compile(r"</think>", re.I)


def answer_text(completion: str) -> str:
    """What a toolkit's model wrapper would hand to the extractor.

    The content of the first `<answer>…</answer>` when present (as the TreeVGR VLMEvalKit
    wrapper does, `extract_answer_content`); else the text after `</think>`; else the raw completion.
    Every profile scores this text, since the toolkits' short-answer rules cannot read a
    reasoning trace.

    >>> answer_text("<think>red</think><answer> B </answer>")
    'B'
    >>> answer_text("no tags here")
    'no tags here'
    """
    found = extract_answer(completion)
    # Deviation: toolkit profiles see the <answer> content, not the raw CoT completion, as a
    # reasoning-model wrapper would hand it over (VLMEvalKit's TreeVGR wrapper); option --profile
    if found is not None:
        return found
    parts = _THINK_END_RE.split(completion, maxsplit=1)
    return (parts[1] if len(parts) == 2 else completion).strip()


# ---------------------------------------------------------------------------------------------
# ivgr: robust extraction (our default profile)
# ---------------------------------------------------------------------------------------------

_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten".split())}
_LEAD_PHRASE = re.compile(
    r"^(?:the\s+)?(?:final\s+|correct\s+|best\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:\-]?\s*", re.I)


def _strip_markup(text: str) -> str:
    return text.replace("**", "").replace("`", "").strip()


def _clean(text: str) -> str:
    return _LEAD_PHRASE.sub("", _strip_markup(text)).strip()


# After "A" one of these words shows that "A" is a label, not the article ("A because ...").
_NOT_AFTER_ARTICLE = frozenset({"because", "since", "as", "is", "seems", "appears", "fits", "matches"})
_LOWER_LABEL = re.compile(r"^(?:\(([a-z])\)|([a-z])[.:)])(?=\s|$)|^([a-z])$")


def _norm_text(text: str) -> str:
    text = text.lower().strip()
    text = text.translate(str.maketrans("", "", string.punctuation))
    return " ".join(_NUMBER_WORDS.get(w, w) for w in text.split())


def ivgr_choice(response: str, choices: dict[str, str]) -> str | None:
    """Robust option-letter extraction; None when the response names no option unambiguously.

    Order: exact option text; a leading letter marked as a label (`B`, `B.`, `(B)`, `B:`, `B)`);
    a leading letter followed by its own option text (`B. red`); "answer is X" (also at the
    very start: "The answer is A because ..."); a lower-case label (`b`, `(b)`, `b)`, `b.`);
    a single stand-alone letter token; a single option text contained in the response.
    Unlike the toolkits, an article ("A red glove") is not read as option A unless the rest
    is option A's text, and "Based on…" is never read as B.

    >>> ivgr_choice("(C) kevlar", {"A": "rubber", "B": "cotton", "C": "kevlar"})
    'C'
    >>> ivgr_choice("A red glove", {"A": "blue", "B": "red"})  # the article is not option A
    'B'
    >>> ivgr_choice("maybe", {"A": "blue", "B": "red"}) is None
    True
    >>> ivgr_choice("Based on the image, the answer is C.", {"A": "x", "B": "y", "C": "z"})
    'C'
    """
    raw = _strip_markup(response)
    text = _LEAD_PHRASE.sub("", raw).strip()
    if not text:
        return None
    letters = list(choices)
    norm = _norm_text(text)
    for k, v in choices.items():
        if v and norm == _norm_text(str(v)):
            return k
    m = re.match(r"^\(?([A-Z])\)?\s*(?:[.:,;)\]]|$)", text)
    if m and m.group(1) in letters:
        return m.group(1)
    m = re.match(r"^\(?([A-Z])\)?[.:)]?\s+(.+)$", text, re.S)
    if m and m.group(1) in letters and _norm_text(m.group(2)).startswith(_norm_text(str(choices[m.group(1)])) or "\0"):
        return m.group(1)
    # Searched in `raw`: with the lead phrase cut off, "The answer is A because ..." would
    # leave "A because ...", and a leading "A" before a lower-case word reads as the article.
    m = re.search(r"(?i:answer|option|choice)\s*(?i:is)?\s*:?\s*\(?([A-Z])\)?(?![A-Za-z])", raw)
    if m and m.group(1) in letters:
        return m.group(1)
    m = _LOWER_LABEL.match(text)
    if m:
        letter = next(g for g in m.groups() if g).upper()
        if letter in letters:
            return letter
    found = set()
    for m in re.finditer(r"(?<![A-Za-z])\(?([A-Z])\)?(?![A-Za-z'])", text):
        letter = m.group(1)
        if letter not in letters:
            continue
        # "A" followed by a lower-case word is an article, not option A.
        after = re.match(r"\s+([a-z]+)", text[m.end():])
        if letter == "A" and not m.group(0).startswith("(") and after and after.group(1) not in _NOT_AFTER_ARTICLE:
            continue
        found.add(letter)
    if len(found) == 1:
        return found.pop()
    hits = [k for k, v in choices.items() if v and _norm_text(str(v)) and f" {_norm_text(str(v))} " in f" {norm} "]
    if len(hits) == 1:
        return hits[0]
    return None


def ivgr_yes_no(response: str) -> str | None:
    """'yes' / 'no' from the first word, else from a single yes/no word; None if neither or both.

    >>> ivgr_yes_no("Yes.") , ivgr_yes_no("No, there is not.") , ivgr_yes_no("maybe")
    ('yes', 'no', None)
    """
    words = _norm_text(_clean(response)).split()
    if not words:
        return None
    if words[0] in ("yes", "no"):
        return words[0]
    has = {w for w in words if w in ("yes", "no")}
    return has.pop() if len(has) == 1 else None


def ivgr_open(response: str) -> str | None:
    """Normalized free-form answer (lower case, no punctuation, number words as digits).

    >>> ivgr_open("Two.")
    '2'
    """
    text = _norm_text(_clean(response))
    return text or None


# ---------------------------------------------------------------------------------------------
# VLMEvalKit (exact_matching, no judge): can_infer, YOrN_Extraction — vlmeval/utils/matching_util.py
# ---------------------------------------------------------------------------------------------

_VK_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)


def vk_can_infer(answer: str, choices: dict[str, str], *, legacy: bool = False) -> str | bool:
    """VLMEvalKit `can_infer` (option letter, 'Z', or False). `legacy=True` is the older copy
    embedded in lmms-eval's HR-Bench: no last-4-tokens rule, no length cap, no "answer is" regex.

    Quirk: "A" used as an article counts as option A ("A red glove" -> 'A').

    >>> vk_can_infer("A red glove", {"A": "blue", "B": "red"})
    'A'
    >>> vk_can_infer("The answer is B because of the colour of the item shown", {"A": "x", "B": "y"})
    'B'
    """
    answer = str(answer)
    if "Failed to obtain answer via API" in answer:
        return False
    for refusal in _VK_REFUSALS:
        if refusal in answer:
            return "Z"
    mod = answer
    for ch in ".()[],:;!*#{}":
        mod = mod.replace(ch, " ")
    tokens = mod.split()
    present = [k for k in choices if k in tokens]
    if len(present) == 1:
        ch = present[0]
        # Since VLMEvalKit c3371551 (2025-08-04) the letter must be among the last 4 tokens.
        if legacy or tokens.index(ch) > len(tokens) - 5:
            return ch
    elif not present and tokens.count("Z") == 1:
        return "Z"
    if not legacy:
        m = re.search(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**", answer)
        if m and m.group(1).upper() in choices:
            return m.group(1).upper()
    return _vk_can_infer_text(answer, choices, legacy=legacy)


def _vk_can_infer_text(answer: str, choices: dict[str, str], *, legacy: bool) -> str | bool:
    low = answer.lower()
    if not legacy and len(low) > 2 * sum(len(str(v)) for v in choices.values()):
        return False
    cands = [k for k, v in choices.items() if str(v).lower() in low]
    return cands[0] if len(cands) == 1 else False


def vk_mcq(answer: str, choices: dict[str, str], *, legacy: bool = False) -> str:
    """`can_infer` with the exact_matching fallback: no match -> 'Z' (always wrong)."""
    got = vk_can_infer(answer, choices, legacy=legacy)
    return got if got else "Z"


_VQA_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")


def vqa_process_punctuation(text: str) -> str:
    """The VQA-eval punctuation rule VLMEvalKit uses before yes/no matching."""
    out = text
    for p in _VQA_PUNCT:
        if (p + " " in text or " " + p in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out)


def vk_yes_no(answer: str) -> str:
    """VLMEvalKit `YOrN_Extraction`: 'Yes' / 'No' / 'Unknown'.

    >>> vk_yes_no("Yes."), vk_yes_no("No, not yes"), vk_yes_no("There is one")
    ('Yes', 'Unknown', 'Unknown')
    """
    words = vqa_process_punctuation(str(answer).lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"


# ---------------------------------------------------------------------------------------------
# lmms-eval v0.7.2 rules
# ---------------------------------------------------------------------------------------------


def lmms_vstar_letter(response: str) -> str | None:
    """lmms-eval V* `extract_answer_letter` (lmms_eval/tasks/vstar_bench/utils.py).

    Quirk: the first pattern matches any response *starting* with A–D, words included
    ("Based on…" -> B, "Clearly…" -> C).

    >>> lmms_vstar_letter("Based on the image it is (C)")
    'B'
    """
    text = response.strip().upper()
    for pat in (
        r"^([A-D])\s*[\.)\]]*",
        r"(?:THE\s+)?(?:ANSWER|CHOICE|OPTION)(?:\s+IS)?[\s:]+([A-D])",
        r"\(([A-D])\)",
        r"([A-D])\s*(?:\.|\)|])",
        r"(?:^|\s)([A-D])(?:\s|$)",
    ):
        m = re.search(pat, text)
        if m:
            return m.group(1)
    present = [c for c in "ABCD" if c in text]
    if len(present) == 1:
        return present[0]
    if text[:1] in ("A", "B", "C", "D"):
        return text[:1]
    return None


def lmms_mcq_extract(response: str, letters: list[str]) -> str | None:
    """lmms-eval `extract_mcq_answer` (RealWorldQA since 2026-04, lmms_eval/tasks/_task_utils/mcq_extract.py).

    Candidates by priority: starts-with-letter 10 > ends-with-letter 9 > "answer is X" 7 >
    `(X)` 6 > `X.` 5 > `X:` 4 > `X)` 3 > `X ` 2 > bare letter 0 (only if nothing else);
    highest priority wins, ties go to the latest position. Re-implemented from that
    description: the regex details are ours (approximation).

    >>> lmms_mcq_extract("C", ["A", "B", "C", "D"]), lmms_mcq_extract("I think (B).", ["A", "B", "C", "D"])
    ('C', 'B')
    """
    s = " " + response.strip().strip(",.!?;:'\"") + " "
    ls = "".join(letters)
    if not ls:
        return None
    cands: list[tuple[int, int, str]] = []
    patterns = [
        (10, rf"^\s([{ls}])(?![A-Za-z])"),
        (9, rf"(?<![A-Za-z])([{ls}])\s$"),
        (7, rf"(?i:answer\s+is|answer:)\s*\(?([{ls}])(?![A-Za-z])"),
        (6, rf"\(([{ls}])\)"),
        (5, rf"(?<![A-Za-z])([{ls}])\."),
        (4, rf"(?<![A-Za-z])([{ls}]):"),
        (3, rf"(?<![A-Za-z(])([{ls}])\)"),
        (2, rf"(?<![A-Za-z])([{ls}])\s"),
    ]
    for prio, pat in patterns:
        for m in re.finditer(pat, s):
            cands.append((prio, m.start(1), m.group(1)))
    if not cands:
        for m in re.finditer(rf"([{ls}])", s):
            cands.append((0, m.start(1), m.group(1)))
    if not cands:
        return None
    return max(cands)[2]


def lmms_first_letter(response: str) -> str | None:
    """lmms-eval CV-Bench `_extract_answer_letter`: the first letter of the response.

    Quirk: "The answer is B" -> 'T'; "Bottom" -> 'B'.

    >>> lmms_first_letter("The answer is B")
    'T'
    """
    m = re.match(r"[\(\s]*([A-Z])[\)\.\s]*", response.strip(), re.I)
    return m.group(1).upper() if m else None


# ---------------------------------------------------------------------------------------------
# Benchmark authors' own rules
# ---------------------------------------------------------------------------------------------

MME_PREFIXES = [
    "The best answer is", "The correct answer is", "The answer is", "The answer",
    "The best option is", "The correct option is", "Best answer:", "Best option:",
]
# Quirk: the official MME-RealWorld script lacks two commas, so Python concatenates its last
# entries into strings that never match (github yfzhang114/MME-RealWorld, evaluation/eval_your_results.py).
MME_PREFIXES_OFFICIAL = [
    "The best answer is", "The correct answer is", "The answer is", "The answer",
    "The best option isThe correct option is", "Best answer:Best option:",
]


# The default `choices` of `extract_characters_regex` in lmms-eval
# (lmms_eval/tasks/mme_realworld/utils.py) and VLMEvalKit (vlmeval/dataset/utils/multiple_choice.py);
# both call it without choices, so the option texts never take part there.
MME_DEFAULT_CHOICES = ["(A)", "(B)", "(C)", "(D)", "(E)"]


def mme_extract(response: str, choices: list[str] = MME_DEFAULT_CHOICES, *,
                prefixes: list[str] = MME_PREFIXES) -> str:
    """MME-RealWorld `extract_characters_regex`: the first capital A–E anywhere; else the
    first of `choices` that contains the whole (lower-cased) response, as its letter; else "".

    `choices` are the toolkits' default labels `(A)`…`(E)`, or, in the authors' script
    (evaluation/eval_your_results.py), the item's "(A) text" options.
    Quirks: "Answer: C" -> 'A' (from "Answer"); an empty response returns 'A' because ""
    is a substring of "(A)"; with the default labels a lower-case "c" or "(c)" is read
    (it is inside "(C)") but "c." or option text is not; with option texts, "c" is the
    first option whose text contains a "c".

    >>> mme_extract("Answer: C"), mme_extract(""), mme_extract("c"), mme_extract("Go straight")
    ('A', 'A', 'C', '')
    >>> mme_extract("go straight", ["(A) Turn left", "(B) Go straight"])
    'B'
    """
    s = response.strip()
    for p in prefixes:
        s = s.replace(p, "")
    if len(s.split()) > 10 and not re.search("[ABCDE]", s):
        return ""
    m = re.search(r"[ABCDE]", s)
    if m is None:
        for choice in choices:
            if s.lower() in choice.lower():
                return choice[1]
        return ""
    return m.group(0)


def pope_official(response: str) -> str:
    """Original POPE `evaluate.py`: first sentence, no commas; a negation word -> 'no', else 'yes'.

    >>> pope_official("There is no dog."), pope_official("I cannot tell")
    ('no', 'yes')
    """
    text = response
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def cambrian_letter(response: str) -> str:
    """Cambrian (CV-Bench authors') extraction: lower-case, text after "answer is"/"answer:",
    strip periods and parentheses, keep the first character.

    >>> cambrian_letter("The answer is (b).")
    'b'
    """
    ans = response.lower()
    for sep in ("answer is:", "answer is", "answer:"):
        if sep in ans:
            ans = ans.split(sep)[-1]
            break
    ans = ans.strip().replace(".", "").replace("(", "").replace(")", "").strip()
    return ans[:1]
