"""The names a file spells in code decide which files are analysed for their calls into a module."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from detachify import api
from detachify.project.words import calling_words, code_words

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


LIBRARIES = frozenset({"torch", "numpy"})


@pytest.mark.parametrize("source, calls, no_calls", [
    ("y = reshape(x)\n", {"reshape"}, set()),
    ("y = x.reshape(3)\n", set(), {"reshape"}),
    ("y = x.reshape(3)\nz = reshape(y)\n", {"reshape"}, set()),
    ("import torch.nn.functional as F\ny = F.pad(x)\n", set(), {"pad"}),
    ("import numpy as np\nfrom torch import nn\ny = np.pad(x) + nn.functional.pad(x)\n", set(), {"pad"}),
    ("from .utils import generic\ny = generic.transpose(x)\n", {"transpose"}, set()),
    ("from ..pkg import tools as T\ny = T.transpose(x)\n", {"transpose"}, set()),
    ("import mylib.sub as M\nnet = M.Net()\n", {"Net"}, set()),
    ("import mylib.sub\nnet = mylib.sub.models.Net()\n", {"Net", "models"}, set()),
    ("from . import (\n    api,\n)\napi.to_numpy(x)\n", {"to_numpy"}, set()),
    ("import os, mylib\nmylib.show(x)\n", {"show"}, set()),
    ("self.softmax(x)\nmodel.sigmoid(y)\n", set(), {"softmax", "sigmoid"}),
    ("x = 1  # reshape(x)\ns = 'reshape(x)'\n", set(), {"reshape"}),
])
def test_calls_into_a_module_are_spelled_by_name_or_through_a_module_it_imports(source, calls, no_calls):
    words = calling_words(source, LIBRARIES)
    assert calls <= words
    assert not no_calls & words
    assert words <= code_words(source)


def test_a_file_spelling_the_helper_only_as_a_method_of_another_value_is_not_a_caller(tmp_path):
    """Helpers share names with tensor methods (`reshape`, `softmax`, `pad`): a file that imports the module
    for something else and calls `x.softmax()` is not analysed for calls into it; one calling it through the
    module is, and what it passes is reported in the helper."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ops.py").write_text("def softmax(t):\n    return t.numpy()\n\n\ndef other():\n    return 1\n")
    (package / "through_module.py").write_text(
        "import torch\nfrom pkg import ops\n\nw = torch.ones(2, requires_grad=True)\nops.softmax(w * 2)\n")
    (package / "method_only.py").write_text(
        "import torch\nfrom pkg.ops import other\n\nw = torch.ones(2, requires_grad=True)\n"
        "print(w.softmax(0), other())\n")
    ops = package / "ops.py"
    workspace = api.project_of(str(ops)).workspace
    assert [Path(c).name for c in workspace.callers_naming(str(ops), {"softmax"})] == ["through_module.py"]
    findings = api.check_source(ops.read_text(), str(ops), project=api.project_of(str(ops)))
    assert [(f.code, f.line) for f in findings] == [("TNP001", 2)]
    assert "through_module.py:5" in findings[0].message
