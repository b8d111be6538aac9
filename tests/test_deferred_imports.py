"""Names imported from project modules are read when first looked up: which imports may be, and what it spares.

Reading an imported module's summary means parsing it and running its functions; a package's `__init__` that
only passes names on, or an import no analysed path reads, should cost nothing, and change no finding (the
fixture project `fixtures/projects/reexport_chains` holds the findings to the labels torch proves).
"""
from __future__ import annotations

import os
import textwrap

import libcst as cst
import pytest

from detachify import api
from detachify.analysis.deferred_imports import deferrable_imports


def deferred(source: str):
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    found = deferrable_imports(module, source)
    return sorted(name for names in found.values() for name in names)


def test_top_level_imports_bound_once_are_deferred():
    assert deferred("""
        from .model import Net, make as build
        from pkg.helpers import show
        import torch
    """) == ["Net", "build", "show"]


@pytest.mark.parametrize("source", [
    "from .a import x\nx = 2\n",
    "x = 2\nfrom .a import x\n",
    "from .a import x\nfrom .b import x\n",
    "from .a import x\nif c:\n    x = None\n",
    "from .a import x\ntry:\n    pass\nexcept E as x:\n    pass\n",
    "from .a import x\nfor x in range(3):\n    pass\n",
    "from .a import x\nwith open(p) as x:\n    pass\n",
    "from .a import x\ndef x():\n    pass\n",
    "from .a import x\nclass x:\n    pass\n",
    "from .a import x\nimport x\n",
    "from .a import x\ndel x\n",
    "from .a import x\nx += 1\n",
    "from .a import x\n(x, y) = 1, 2\n",
    "from .a import x\ndef f():\n    global x\n    x = 1\n",
    "from .a import x\nif (x := 3):\n    pass\n",
    "from .a import x\nmatch y:\n    case x:\n        pass\n",
])
def test_an_import_whose_name_is_bound_elsewhere_at_module_level_is_read_at_once(source):
    assert "x" not in deferred(source)


def test_only_imports_at_the_top_of_the_module_are_deferred():
    assert deferred("""
        if TYPE_CHECKING:
            from .a import x
        try:
            from .b import y
        except ImportError:
            y = None
        def f():
            from .c import z
        from .d import w
    """) == ["w"]


def test_a_star_import_is_never_deferred():
    assert deferred("from .a import *\n") == []


def _project(root, files):
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _summarised_after_checking(path):
    project = api.project_of(str(path))
    findings = api.check_source(path.read_text(), str(path), project=project)
    return findings, {os.path.relpath(p, path.parent) for p in project.workspace.summarised()}


def test_a_module_imported_and_never_read_is_not_summarised(tmp_path):
    _project(tmp_path, {
        "pkg/__init__.py": "from .model import Net\nfrom .heavy import Unused\n",
        "pkg/model.py": """
            from torch import nn
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(2, 1)
                def forward(self, x):
                    return self.fc(x)
        """,
        "pkg/heavy.py": "import torch\nclass Unused:\n    pass\n",
        "main.py": "import torch\nfrom pkg import Net, Unused\nprint(Net()(torch.ones(1, 2)).numpy())\n",
    })
    findings, summarised = _summarised_after_checking(tmp_path / "main.py")
    assert [(f.code, f.line) for f in findings] == [("TNP001", 3)]
    assert "pkg/model.py" in summarised and "pkg/__init__.py" in summarised
    assert "pkg/heavy.py" not in summarised


def test_a_name_passed_on_is_followed_to_the_module_that_defines_it(tmp_path):
    """`pkg/__init__` imports the function from `pkg/inner/__init__`, which imports it from its module: the
    reader follows both references, and a call with a grad tensor is still reported in the helper."""
    _project(tmp_path, {
        "pkg/__init__.py": "from .inner import show\n",
        "pkg/inner/__init__.py": "from .plots import show\n",
        "pkg/inner/plots.py": "def show(t):\n    return t.numpy()\n",
        "main.py": "import torch\nfrom pkg import show\nw = torch.ones(2, requires_grad=True)\nshow(w * 2)\n",
    })
    plots = tmp_path / "pkg" / "inner" / "plots.py"
    findings = api.check_source(plots.read_text(), str(plots), project=api.project_of(str(plots)))
    assert [(f.code, f.line) for f in findings] == [("TNP001", 2)]
    assert "main.py:4" in findings[0].message


def test_a_later_star_import_rebinds_a_deferred_name(tmp_path):
    _project(tmp_path, {
        "plain.py": "import torch\ndef make():\n    return torch.ones(2)\n",
        "graded.py": "import torch\nW = torch.ones(2, requires_grad=True)\ndef make():\n    return W * 2\n",
        "main.py": "from plain import make\nfrom graded import *\nprint(make().numpy())\n",
        "other.py": "from graded import *\nfrom plain import make\nprint(make().numpy())\n",
    })
    findings, _ = _summarised_after_checking(tmp_path / "main.py")
    assert [(f.code, f.line) for f in findings] == [("TNP001", 3)]
    findings, _ = _summarised_after_checking(tmp_path / "other.py")
    assert findings == []


def test_names_two_modules_import_from_each_other_read_as_unknown(tmp_path):
    """`from b import x` in `a` and `from a import x` in `b` (an ImportError at run time): following the
    references ends, and nothing is reported."""
    _project(tmp_path, {
        "a.py": "from b import x\n",
        "b.py": "from a import x\n",
        "main.py": "from a import x\nprint(x.numpy())\n",
    })
    findings, _ = _summarised_after_checking(tmp_path / "main.py")
    assert findings == []
