"""``parse_for_analysis`` builds the same tree as ``libcst.parse_module``, fails the same way, and leaves libcst's
node validation on for everyone else."""
from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from detachify.parsing import SKIPS_VALIDATION, parse_for_analysis

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "fixtures").glob("**/*.py"), *(ROOT / "src" / "detachify").glob("**/*.py")])


def test_validation_is_skipped_on_this_libcst():
    assert SKIPS_VALIDATION, "a libcst node class now hooks __post_init__: parse_for_analysis validates again"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_tree_as_the_validating_parser(path):
    source = path.read_text(encoding="utf-8")
    assert parse_for_analysis(source).deep_equals(cst.parse_module(source))
    assert parse_for_analysis(source).code == source


@pytest.mark.parametrize("source", ["x = (\n", "def f(:\n    pass\n", "a = 1 +\n", "\tif x:\n  y\n"])
def test_same_error_and_validation_restored(source):
    with pytest.raises(cst.ParserSyntaxError) as expected:
        cst.parse_module(source)
    with pytest.raises(cst.ParserSyntaxError) as got:
        parse_for_analysis(source)
    assert str(got.value) == str(expected.value)
    with pytest.raises(cst.CSTValidationError):  # hand-built nodes are still validated afterwards
        cst.Name("not an identifier")


def test_a_text_parsed_again_gives_the_kept_tree_within_the_bound(monkeypatch):
    from detachify import parsing
    monkeypatch.setattr(parsing, "MEMO_CHARACTERS", 400)
    parsing.forget_parses()
    first, other = "x = 1\n" * 10, "y = 2\n" * 10
    tree = parse_for_analysis(first)
    assert parse_for_analysis(first) is tree
    assert parse_for_analysis(other) is not tree and parse_for_analysis(other).code == other
    for index in range(10):  # 600 more characters: the first text is forgotten, the bound holds
        parse_for_analysis(f"z{index} = 3\n" * 10)
    assert parse_for_analysis(first) is not tree and parse_for_analysis(first).deep_equals(tree)
    assert parsing._memo_size <= 400
    parsing.forget_parses()
