"""The checkpoint's inference record (ivgr_inference.json): file format, precedence, warnings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ivgr.errors import ModelError
from ivgr.models.inference_record import (
    RECORD_FILE,
    InferenceRecord,
    prompt_version_warning,
    read_inference_record,
    resolve_settings,
    styles_of_prompts,
    write_inference_record,
)
from ivgr.prompts import STREAM_PROMPT_VERSION, stream_prompt

COMPACT = InferenceRecord(prompt_style="compact", frame="pixel", min_pixels=3136, max_pixels=12544,
                          stream_prompt_version=STREAM_PROMPT_VERSION, stage="sft", ivgr_version="0.0.test")
UNSET = {"prompt_style": None, "frame": None, "min_pixels": None, "max_pixels": None}


def test_record_round_trips_through_a_versioned_file_with_no_temporary_left(tmp_path):
    path = write_inference_record(tmp_path, COMPACT)
    assert path == tmp_path / RECORD_FILE and [p.name for p in tmp_path.iterdir()] == [RECORD_FILE]
    data = json.loads(path.read_text())
    assert data["format"] == "ivgr-inference" and data["version"] == 1 and data["prompt_style"] == "compact"
    assert read_inference_record(tmp_path) == COMPACT


def test_a_checkpoint_ivgr_did_not_write_has_no_record_and_keeps_the_defaults(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert read_inference_record(tmp_path) is None
    asked = {**UNSET, "max_pixels": 50176}
    assert resolve_settings(None, asked) == (asked, None)
    assert prompt_version_warning(None) is None


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "unreadable inference record"),
    ('{"format": "something-else", "version": 1}', "not an ivgr inference record"),
    ('{"format": "ivgr-inference", "version": 2}', "record version 2 is newer than this ivgr reads"),
    ('{"format": "ivgr-inference", "version": 1, "prompt_style": "fancy"}', "invalid prompt_style 'fancy'"),
    ('{"format": "ivgr-inference", "version": 1, "max_pixels": -4}', "invalid max_pixels -4"),
])
def test_a_broken_or_newer_record_is_one_model_error_naming_the_file(tmp_path, text, message):
    (tmp_path / RECORD_FILE).write_text(text)
    with pytest.raises(ModelError, match=message) as err:
        read_inference_record(tmp_path)
    assert str(tmp_path / RECORD_FILE) in str(err.value) and "\n" not in str(err.value)


def test_unset_settings_come_from_the_record_without_a_warning():
    assert resolve_settings(COMPACT, UNSET) == (
        {"prompt_style": "compact", "frame": "pixel", "min_pixels": 3136, "max_pixels": 12544}, None)


def test_explicit_settings_win_and_every_difference_is_named_in_one_warning_line():
    asked = {"prompt_style": "standard", "frame": "pixel", "min_pixels": None, "max_pixels": 50176}
    settings, warning = resolve_settings(COMPACT, asked)
    assert settings == {"prompt_style": "standard", "frame": "pixel", "min_pixels": 3136, "max_pixels": 50176}
    assert warning == ("the checkpoint was trained with prompt_style=compact, max_pixels=12544; "
                       "using prompt_style=standard, max_pixels=50176 as asked")


def test_an_explicit_setting_equal_to_the_record_is_silent():
    assert resolve_settings(COMPACT, {**UNSET, "prompt_style": "compact", "max_pixels": 12544})[1] is None


def test_another_stream_prompt_version_warns_and_the_current_one_does_not():
    old = InferenceRecord("standard", "pixel", None, None, STREAM_PROMPT_VERSION + 1)
    assert "stream prompts version" in prompt_version_warning(old)
    assert prompt_version_warning(COMPACT) is None


@pytest.mark.parametrize(("rows", "expected"), [
    # every stream in the compact style: the style, and no frame (compact prompts name none)
    ([("grounded", stream_prompt("grounded", "Q?", style="compact")),
      ("textual", stream_prompt("textual", "Which?", style="compact"))], ("compact", None)),
    # standard grounded prompts name their frame
    ([("grounded", stream_prompt("grounded", "Q?", frame="norm1000")),
      ("single", stream_prompt("single", "2+2?"))], ("standard", "norm1000")),
    # a mix of styles records no style
    ([("grounded", stream_prompt("grounded", "Q?")),
      ("textual", stream_prompt("textual", "Q?", style="compact"))], (None, "pixel")),
    # hand-written prompts match no style
    ([("textual", "What colour is the square?")], (None, None)),
])
def test_sft_prompts_reveal_the_style_they_were_written_in(rows, expected):
    assert styles_of_prompts(rows) == expected


def test_reading_a_record_imports_no_torch(tmp_path):
    write_inference_record(tmp_path, COMPACT)
    code = ("import sys; from ivgr.models.inference_record import read_inference_record; "
            f"assert read_inference_record({str(tmp_path)!r}).prompt_style == 'compact'; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
