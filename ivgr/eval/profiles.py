"""Scoring profiles: which toolkit's extraction and aggregation rules produce a number.

Every score ivgr prints carries its profile, because the same raw outputs give different
numbers under different toolkits (docs/evaluation.md#scoring-profiles).
"""

from __future__ import annotations

PROFILES = ("ivgr", "official", "lmms-eval", "vlmevalkit")

DESCRIPTIONS = {
    "ivgr": "ivgr robust extraction (<answer> first, then letter / yes-no / option text; "
            "optional LLM judge only for unparseable answers) with the official aggregation",
    "official": "the benchmark authors' own extraction and aggregation where they publish one "
                "(POPE evaluate.py, MME-RealWorld script, Cambrian CV-Bench rule); else ivgr "
                "extraction with the official aggregation",
    "lmms-eval": "lmms-eval v0.7.2 task rules (extraction quirks included), values x100",
    "vlmevalkit": "VLMEvalKit exact_matching (can_infer / YOrN_Extraction, no LLM judge)",
}

DEFAULT_PROFILE = "ivgr"


def parse_profiles(text: str | None) -> list[str]:
    """'all' or a comma list -> validated profile names (ConfigError on an unknown one)."""
    from ivgr.errors import ConfigError

    if not text or text == "all":
        return list(PROFILES)
    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in names if p not in PROFILES]
    if bad:
        raise ConfigError(f"--profile: unknown profile(s) {bad}; choose from {', '.join(PROFILES)} or 'all'")
    return names
