"""`ivgr.jsonl`: the one JSONL reader behind eval, sft-build, SFT training and `ivgr score`."""

from __future__ import annotations

import re

import pytest

from ivgr.errors import DataError
from ivgr.jsonl import JsonLineError, iter_jsonl, parse_json_object


def test_blank_lines_are_skipped_and_line_numbers_count_them(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2})]


def test_empty_file_yields_nothing(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    assert list(iter_jsonl(path)) == []


def test_invalid_json_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{broken\n', encoding="utf-8")
    rows = iter_jsonl(path)
    assert next(rows) == (1, {"a": 1})  # rows before the bad line are still yielded
    with pytest.raises(DataError, match=re.escape(f"{path}:3: invalid JSON (") + r".*at column \d+\)"):
        next(rows)


@pytest.mark.parametrize("line, kind", [("[1, 2]", "list"), ('"text"', "str"), ("3", "int"), ("null", "NoneType")])
def test_a_line_that_is_not_an_object_is_rejected(tmp_path, line, kind):
    path = tmp_path / "rows.jsonl"
    path.write_text(f'{{"a": 1}}\n{line}\n', encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: expected a JSON object, got {kind}")):
        list(iter_jsonl(path))


def test_unicode_text_is_read_as_utf8(tmp_path):
    path = tmp_path / "rows.jsonl"
    row = {"question": "Qu'y a-t-il sur la table ? 桌子上有什么？ 🍎", "answer": "ÄÖÜ"}
    path.write_text('{"question": "Qu\'y a-t-il sur la table ? 桌子上有什么？ 🍎", "answer": "ÄÖÜ"}\n'
                    '{"answer": "\\u00e9"}\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, row), (2, {"answer": "é"})]


def test_windows_line_endings_are_accepted(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\r\n\r\n{"a": 2}\r\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]


def test_a_missing_file_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "none.jsonl"
    with pytest.raises(DataError, match=re.escape(f"{path}: no such file or directory")):
        list(iter_jsonl(path))


def test_a_directory_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"{tmp_path}: cannot open (")):
        list(iter_jsonl(tmp_path))


def test_parse_json_object_returns_the_object():
    assert parse_json_object('{"sample_id": "s1", "n": [1, 2]}\n') == {"sample_id": "s1", "n": [1, 2]}


def test_parse_json_object_errors_say_what_is_wrong_but_not_where():
    with pytest.raises(JsonLineError, match=r"^invalid JSON \(.* at column 2\)$"):
        parse_json_object("{broken")
    with pytest.raises(JsonLineError, match=r"^expected a JSON object, got list$"):
        parse_json_object("[]")


def test_parse_json_object_error_is_a_value_error_not_a_data_error():
    # Callers that report a bad row and go on (`ivgr score`) catch it per line.
    with pytest.raises(ValueError) as err:
        parse_json_object("nope")
    assert not isinstance(err.value, DataError)
