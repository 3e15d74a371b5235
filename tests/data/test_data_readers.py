"""Readers (parquet, JSONL, datasets folders), image references and column adapters."""

from __future__ import annotations

import base64

import pytest
from data_fixture_builder import authors_row, good_dataset, image_bytes, write_image, write_jsonl

from ivgr.data.adapters import parse_columns, read_box
from ivgr.data.prepare import PrepareConfig, prepare
from ivgr.data.prepared import read_prepared
from ivgr.data.readers import count_rows, iter_rows, load_image_ref, open_source
from ivgr.data.validate import validate
from ivgr.errors import ConfigError, DataError


def test_parquet_rows_stream_with_row_numbers(tmp_path):
    src = open_source(good_dataset(tmp_path))
    rows = list(iter_rows(src))
    assert count_rows(src) == 5
    assert [r.index for r in rows] == [0, 1, 2, 3, 4]
    assert rows[2].where == "data.parquet row 2"
    assert rows[0].data["target_instances"] == [{"bbox": [10.0, 20.0, 110.0, 220.0]}]


def test_jsonl_with_user_column_mapping_and_bad_line(tmp_path):
    write_image(tmp_path / "pics" / "a.png", (100, 80))
    rows = [
        {"qid": "x1", "q": "Where is the cup?", "a": "left", "img": "a.png", "bb": [[1, 2, 30, 40]], "src": "mine"},
        {"qid": "x2", "q": "What colour?", "a": "red", "img": "a.png", "bb": [], "src": "mine"},
    ]
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    with path.open("a") as fh:
        fh.write("{not json\n")
    mapping = parse_columns("sample_id=qid,question=q,answer=a,image=img,boxes=bb,datasource=src")
    config = PrepareConfig(paired_sources=("mine",), columns=mapping)
    summary = validate(open_source(path), image_dir=tmp_path / "pics", rules=config)
    assert summary.rows == 3 and summary.usable == 2
    assert summary.problems == {"bad_row": 1}
    assert summary.examples["bad_row"][0].startswith("rows.jsonl:3:")
    prepare(open_source(path), tmp_path / "out", image_dir=tmp_path / "pics", config=config)
    samples = read_prepared(tmp_path / "out")
    assert [s.sample_id for s in samples] == ["x1", "x2"]
    # 100x80 -> 112x84 (smart_resize); x*1.12, y*1.05: 30*1.12 = 33.6 -> 34, 40*1.05 = 42
    assert samples[0].target_boxes == [(1.0, 2.0, 34.0, 42.0)]


def test_jsonl_bad_lines_become_row_errors_that_say_what_is_wrong(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{not json\n[1, 2]\n\xff\xfe\n')
    rows = list(iter_rows(open_source(path)))
    assert [r.where for r in rows] == ["rows.jsonl:1", "rows.jsonl:3", "rows.jsonl:4", "rows.jsonl:5"]
    assert rows[0].data == {"a": 1}
    assert rows[1].data["__error__"].startswith("invalid JSON (") and "at column" in rows[1].data["__error__"]
    assert rows[2].data == {"__error__": "expected a JSON object, got list"}
    assert rows[3].data == {"__error__": "line is not valid UTF-8"}


def test_hf_save_to_disk_folder_with_embedded_image_bytes(tmp_path):
    import datasets

    png = image_bytes((90, 60))
    features = datasets.Features({
        "query": datasets.Value("string"), "answer": datasets.Value("string"),
        "image": datasets.Image(), "datasource": datasets.Value("string"),
        "boxes": datasets.Sequence(datasets.Sequence(datasets.Value("float32"))),
    })
    ds = datasets.Dataset.from_dict(
        {"query": ["q1", "q2"], "answer": ["1", "2"], "image": [{"bytes": png, "path": None}] * 2,
         "datasource": ["treevgr", "ours_tqa"], "boxes": [[[0, 0, 10, 10]], []]},
        features=features,
    )
    ds.save_to_disk(str(tmp_path / "hf"))
    src = open_source(tmp_path / "hf")
    assert src.fmt == "hf" and count_rows(src) == 2
    summary = prepare(src, tmp_path / "out")
    assert summary.kept == 2 and summary.kinds == {"paired": 1, "single": 1}
    samples = read_prepared(tmp_path / "out")
    assert samples[0].image.startswith("images/") and samples[0].image_size == (84, 56)


def test_image_values_in_every_supported_form(tmp_path):
    write_image(tmp_path / "imgs" / "a.png", (10, 10))
    png = image_bytes((8, 8))
    b64 = base64.b64encode(png).decode()
    kw = dict(image_dir=tmp_path / "imgs", base_dir=tmp_path)
    assert load_image_ref(["a.png", "b.png"], **kw).path == tmp_path / "imgs" / "a.png"
    assert load_image_ref("a.png", image_dir=None, base_dir=tmp_path).path == tmp_path / "a.png"
    assert load_image_ref(png, **kw).data == png
    assert load_image_ref({"bytes": png, "path": "x.png"}, **kw).data == png
    assert load_image_ref({"bytes": None, "path": "a.png"}, **kw).path == tmp_path / "imgs" / "a.png"
    assert load_image_ref(b64, **kw).data == png
    assert load_image_ref("data:image/png;base64," + b64, **kw).data == png
    assert load_image_ref([], **kw) is None and load_image_ref("", **kw) is None
    with pytest.raises(ValueError):
        load_image_ref(3.5, **kw)


def test_authors_question_prefers_query_and_strips_image_token(tmp_path):
    write_image(tmp_path / "a.png", (56, 56))
    row = authors_row("a.png", query="Which side?")
    row.pop("query")
    path = write_jsonl(tmp_path / "r.jsonl", [row])
    prepare(open_source(path), tmp_path / "out")
    assert read_prepared(tmp_path / "out")[0].question == "Which side?"


@pytest.mark.parametrize("cell, box", [
    ({"bbox": [1, 2, 3, 4]}, (1.0, 2.0, 3.0, 4.0)),
    ([1, 2, 3, 4], (1.0, 2.0, 3.0, 4.0)),
    ("[1, 2.5, 3, 4]", (1.0, 2.5, 3.0, 4.0)),
    ({"box": (0, 0, 1, 1)}, (0.0, 0.0, 1.0, 1.0)),
])
def test_box_cells_in_common_shapes(cell, box):
    assert read_box(cell) == box


@pytest.mark.parametrize("cell", [{"bbox": None}, [1, 2, 3], "a,b,c,d", 7])
def test_unreadable_box_cells_raise_value_error(cell):
    with pytest.raises(ValueError):
        read_box(cell)


def test_bad_columns_spec_and_unknown_paths_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown field 'qestion'"):
        parse_columns("qestion=q")
    with pytest.raises(ConfigError, match="field=column"):
        parse_columns("question")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unknown data format '.csv'"):
        open_source(tmp_path / "x.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .parquet/.jsonl"):
        open_source(tmp_path / "empty")


def test_hf_dataset_dict_split_is_chosen_with_at_suffix(tmp_path):
    import datasets

    png = image_bytes((56, 56))
    part = {"query": ["q"], "answer": ["a"], "image": [{"bytes": png, "path": None}], "datasource": ["treevgr"]}
    features = datasets.Features({"query": datasets.Value("string"), "answer": datasets.Value("string"),
                                  "image": datasets.Image(), "datasource": datasets.Value("string")})
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(part, features=features),
        "test": datasets.Dataset.from_dict({**part, "query": ["q1"], "answer": ["b"]}, features=features),
    })
    dd.save_to_disk(str(tmp_path / "dd"))
    rows = list(iter_rows(open_source(f"{tmp_path / 'dd'}@test")))
    assert [r.data["answer"] for r in rows] == ["b"]
    assert [r.data["answer"] for r in iter_rows(open_source(tmp_path / "dd"))] == ["a"]  # default: train
    with pytest.raises(DataError, match="no split 'dev'; available: train, test"):
        list(iter_rows(open_source(f"{tmp_path / 'dd'}@dev")))
