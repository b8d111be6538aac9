"""The names a file spells in code decide which files are analysed for their calls into a module."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from detachify import api
from detachify.project.words import code_words

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("source, spelled, unspelled", [
    ('"""Uses Helper."""\n', set(), {"Uses", "Helper"}),
    ("x = 1  # Helper(x)\n", {"x"}, {"Helper"}),
    ("a = 'Helper' + \"Helper\" + r'Helper' + b'Helper' + Rb'Helper'\n", {"a"}, {"Helper"}),
    ("s = '''it's\nHelper'''\nt = '\\'Helper'\n", {"s", "t"}, {"Helper", "it"}),
    ('y = f"{Helper(x)} text"\n', {"y", "Helper", "x"}, set()),
    ("z = rf'{Helper}'\n", {"z", "Helper"}, set()),
    ("u = '#' + Helper()  # comment\n", {"u", "Helper"}, {"comment"}),
    ("w = ''\nHelper()\n", {"w", "Helper"}, set()),
])
def test_code_words_leave_comments_and_plain_literals_out(source, spelled, unspelled):
    words = code_words(source)
    assert spelled <= words
    assert not unspelled & words


def tokenizer_names(text: str) -> set:
    return {token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
            if token.type == tokenize.NAME}


def test_every_name_the_tokenizer_sees_in_code_is_spelled():
    """Never fewer names than Python's own tokenizer finds outside comments and literals (f-string fields count
    as code here: more names), over every source, test and fixture of this repository."""
    paths = sorted([*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("fixtures/**/*.py")])
    checked = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        try:
            names = tokenizer_names(text)
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue  # fixtures that do not tokenize on purpose
        words = code_words(text)
        assert names <= words, (path, sorted(names - words)[:5])
        assert words <= set(re.findall(r"\w+", text))
        checked += 1
    assert checked > 300


HELPER = """import torch


def show(t):
    return t.numpy()
"""


def test_a_file_naming_the_helper_only_in_prose_is_not_a_caller(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPER)
    (package / "calls.py").write_text("from pkg import helpers\n\nhelpers.show(1)\n")
    (package / "prose.py").write_text('"""See show() in pkg.helpers."""\nfrom pkg import helpers  # show\n\n'
                                      "x = 'show'\n")
    (package / "formats.py").write_text('from pkg import helpers\n\nmessage = f"{helpers.show(2)}"\n')
    helpers = str(package / "helpers.py")
    workspace = api.project_of(helpers).workspace
    callers = workspace.callers_naming(helpers, {"show"})
    assert sorted(Path(caller).name for caller in callers) == ["calls.py", "formats.py"]
