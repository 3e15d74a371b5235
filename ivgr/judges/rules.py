"""The `rules` judge: deterministic, offline accuracy and consistency (the default judge).

The authors judge both terms with Qwen2.5-72B (arXiv 2605.31096, reward design). This judge needs
no endpoint, so tests, the CPU demo and `ivgr score --judge rules` run anywhere; in front
of the `openai` judge it settles the cases it is sure of and saves endpoint calls.

The rules live in two modules, each with its own description and limits:
- `ivgr.judges.accuracy`: `judge_answer` (letters, yes/no, numbers and math-verify, free text);
- `ivgr.judges.consistency`: `compare_reasoning` (facts and content words, on the authors'
  consistency rubric).
Their public names are importable from here too (`from ivgr.judges.rules import judge_answer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivgr.judges.accuracy import MAX_ANSWER_CHARS, AnswerDecision, judge_answer, math_equivalent, parse_options
from ivgr.judges.base import JudgeStats, SyncJudgeMixin, Verdict
from ivgr.judges.consistency import ConsistencyReport, compare_reasoning, content_words, extract_facts, strip_boxes_text
from ivgr.judges.words import parse_number, tokens


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
    "MAX_ANSWER_CHARS",
    "judge_answer",
    "compare_reasoning",
    "extract_facts",
    "content_words",
    "parse_number",
    "parse_options",
    "math_equivalent",
    "strip_boxes_text",
    "tokens",
]
