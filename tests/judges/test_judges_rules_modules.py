"""The rules judge in modules: accuracy, consistency and the words they share; import has no side effects."""

from __future__ import annotations

import subprocess
import sys

import ivgr.judges.accuracy
import ivgr.judges.consistency
import ivgr.judges.rules
import ivgr.judges.words


def test_public_names_stay_importable_from_ivgr_judges_rules():
    for module in (ivgr.judges.accuracy, ivgr.judges.consistency):
        for name in module.__all__:
            if name in ivgr.judges.rules.__all__:
                assert getattr(ivgr.judges.rules, name) is getattr(module, name), name
    moved = {"judge_answer", "math_equivalent", "parse_options", "compare_reasoning", "extract_facts",
             "content_words", "strip_boxes_text", "MAX_ANSWER_CHARS", "AnswerDecision", "ConsistencyReport"}
    assert moved <= set(ivgr.judges.rules.__all__)


def test_accuracy_and_consistency_do_not_import_each_other():
    """Each half of the judge reads on its own; what they share lives in ivgr.judges.words."""
    for module, other in ((ivgr.judges.accuracy, "consistency"), (ivgr.judges.consistency, "accuracy")):
        source = open(module.__file__, encoding="utf-8").read()
        assert f"ivgr.judges.{other}" not in source.replace(f"`ivgr.judges.{other}`", "")


def test_importing_the_judge_leaves_math_verify_loggers_alone_until_math_is_checked():
    code = (
        "import logging\n"
        "import ivgr.judges, ivgr.judges.rules as rules\n"
        "names = ('math_verify.grader', 'math_verify.parser')\n"
        "assert not any(logging.getLogger(n).filters for n in names), 'filters installed at import'\n"
        "assert rules.math_equivalent('$3$', '$\\\\sqrt{9}$') is True\n"
        "notice = logging.LogRecord('math_verify.grader', logging.WARNING, 'x.py', 1,\n"
        "                           'Timeout is disabled as timeout_seconds is None', None, None)\n"
        "other = logging.LogRecord('math_verify.grader', logging.WARNING, 'x.py', 1, 'other', None, None)\n"
        "for n in names:\n"
        "    assert not logging.getLogger(n).filter(notice) and logging.getLogger(n).filter(other), n\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
