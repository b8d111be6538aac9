"""The language server's position arithmetic and its own two edits, without a client or pygls
(tests/test_server.py drives the real server; these pin the corner cases)."""
from __future__ import annotations

import pytest

from detachify import check_source
from detachify.api import apply_edits
from detachify.noqa import noqa_line_ranges
from detachify.server.checking import Cell, notebook_bytes, notebook_sources, python_bytes
from detachify.server.text import Lines, characters, noqa_codes_at, replacement, silence_edit, units


@pytest.mark.parametrize("text, utf8, utf16, utf32", [
    ("abc", 3, 3, 3),
    ("é", 2, 1, 1),
    ("损失", 6, 2, 2),
    ("😀", 4, 2, 1),  # outside the BMP: a surrogate pair in UTF-16
])
def test_units(text, utf8, utf16, utf32):
    assert (units(text, "utf-8"), units(text, "utf-16"), units(text, "utf-32")) == (utf8, utf16, utf32)


def test_units_round_trip_through_characters():
    line = "print('损失 😀', out.numpy())"
    for encoding in ("utf-8", "utf-16", "utf-32"):
        for column in range(len(line) + 1):
            assert characters(line, units(line[:column], encoding), encoding) == column


def test_lines_split_where_python_and_lsp_do():
    lines = Lines("a\r\nb\rc\x0cd\ne")  # \x0c is no line break (str.splitlines would split there)
    assert [lines.line(n) for n in range(1, len(lines) + 1)] == ["a", "b", "c\x0cd", "e"]
    assert lines.to_client(3, 3, "utf-16") == (2, 3)
    assert lines.from_client(2, 3, "utf-16") == (3, 3)
    assert lines.position_of(len("a\r\nb\r")) == (3, 0)


def test_a_byte_order_mark_shifts_the_first_line_only():
    source = "\ufeffimport torch; print(torch.ones(1, requires_grad=True).numpy())\nx = 1\n"
    [finding] = check_source(source)
    lines = Lines(source)
    column = source.index(".numpy") - 1  # the engine counts without the BOM
    assert finding.column == column
    assert lines.to_client(1, column, "utf-16") == (0, column + 1)
    assert lines.to_client(2, 1, "utf-16") == (1, 1)
    assert lines.from_client(0, column + 1, "utf-16") == (1, column)


def test_positions_past_the_end_are_clamped():
    lines = Lines("ab\ncd")
    assert lines.to_client(9, 9, "utf-16") == (1, 2)
    assert lines.to_client(1, 99, "utf-16") == (0, 2)


@pytest.mark.parametrize("old, new", [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc\n", "a\nb\nc\nd\n"),
    ("a\nb\nc", "a\nb!\nc"),
    ("x = 1\r\ny = t.numpy()\r\n", "x = 1\r\ny = t.detach().cpu().numpy()\r\n"),
    ("same\n", "same\n"),
    ("", "new\n"),
])
def test_replacement_is_one_edit_that_makes_the_new_text(old, new):
    edit = replacement(old, new)
    if old == new:
        assert edit is None
        return
    assert apply_edits(old, [edit]) == new
    assert edit.start_column == 0 and (edit.end_column == 0 or edit.end_line == len(Lines(old)))  # whole lines


@pytest.mark.parametrize("line, expected", [
    ("x = t.numpy()", "x = t.numpy()  # noqa: TNP001"),
    ("x = t.numpy()  # noqa: E501", "x = t.numpy()  # noqa: E501, TNP001"),
    ("x = t.numpy()  # noqa: TNP003", "x = t.numpy()  # noqa: TNP003, TNP001"),
    ("x = t.numpy()  # noqa", None),  # silenced already
    ("x = t.numpy()  # noqa: TNP0", None),  # a prefix covers it
])
def test_silence_edit(line, expected):
    source = f"import torch\n{line}\n"
    lines = Lines(source)
    edit = silence_edit(lines, noqa_line_ranges(source), 2, "TNP001")
    if expected is None:
        assert edit is None
    else:
        assert apply_edits(source, [edit]) == f"import torch\n{expected}\n"


def test_silence_goes_after_a_multiline_string_that_shares_the_line():
    source = 'y = f(t.numpy(), """\nabc\n""")\nz = 1\n'
    edit = silence_edit(Lines(source), noqa_line_ranges(source), 1, "TNP001")
    assert apply_edits(source, [edit]) == 'y = f(t.numpy(), """\nabc\n""")  # noqa: TNP001\nz = 1\n'


def test_noqa_codes_at():
    line = "x = 1  # noqa: E501, TNP003"
    assert noqa_codes_at(line, line.index("TNP003") + 3) == ["TNP003"]
    assert noqa_codes_at(line, line.index("E501")) == ["E501"]
    assert noqa_codes_at(line, 0) == []


def test_buffers_become_the_bytes_of_their_file():
    text = "# -*- coding: latin-1 -*-\nname = 'café'\n"
    assert python_bytes(text) == text.encode("latin-1")
    assert python_bytes("x = 'café'\n") == "x = 'café'\n".encode("utf-8")
    cells = (Cell("c0", False, "# title"), Cell("c1", True, "x = 1\n"), Cell("c2", True, "print(x)"))
    assert notebook_sources(notebook_bytes(cells)) == ["", "x = 1\n", "print(x)"]
