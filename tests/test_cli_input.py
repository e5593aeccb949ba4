"""``maas predict NAME INPUT``: how the shell's input becomes rows (no server needed)."""

import io
import json

import pandas as pd
import pytest

from maas_nb.cli import read_input
from maas_nb.exceptions import ConfigurationError


def test_json_rows_and_columns():
    assert read_input("[[5.1, 3.5], [6.7, 3.0]]") == [[5.1, 3.5], [6.7, 3.0]]
    frame = read_input('{"a": [1, 2], "b": ["x", "y"]}')
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))


def test_files_and_stdin(tmp_path, monkeypatch):
    (tmp_path / "rows.json").write_text(json.dumps([[1, 2]]))
    assert read_input(f"@{tmp_path / 'rows.json'}") == [[1, 2]]
    (tmp_path / "rows.csv").write_text("a,b\n1,x\n2,y\n")
    frame = read_input(f"@{tmp_path / 'rows.csv'}")
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    monkeypatch.setattr("sys.stdin", io.StringIO('["Bake bread"]'))
    assert read_input("-") == ["Bake bread"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[1, 2]",
            "The input is not JSON (Expecting ',' delimiter at character 7): '[[1, 2]'. Give "
            "'[[5.1, 3.5, 1.4, 0.2]]' (JSON rows; @FILE.json, @FILE.csv, or - for stdin).",
        ),
        (
            "3",
            "The input must be a JSON list of rows or an object of columns, got int '3'.",
        ),
        (
            "@/nonexistent/rows.json",
            "Cannot read the input file '/nonexistent/rows.json': [Errno 2] No such file or "
            "directory: '/nonexistent/rows.json'",
        ),
    ],
    ids=["not-json", "scalar", "no-file"],
)
def test_mistakes_say_what_was_given_and_what_to_give(text, message):
    with pytest.raises(ConfigurationError) as info:
        read_input(text)
    assert str(info.value) == message
