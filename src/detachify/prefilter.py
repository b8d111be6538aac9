"""A text test that skips files which cannot hold a finding, before anything is parsed.

Conservative by construction: every finding needs evidence — the word `torch` (also what the strict rule needs, a
torch import), or `cuda` for GPU evidence — and a conversion: a `.numpy` attribute (possibly split over lines) for
`.numpy()` rules, the name of a converting library for implicit conversions.
"""
from __future__ import annotations

import re

from .analysis import knowledge as K
from .analysis.converters import (
    CONVERTING_FUNCTIONS, CONVERTING_METHODS, DETACHING_CONVERTERS, LAZY_CONVERTERS, LIST_CONVERTING_FUNCTIONS,
)
from .analysis.libraries import BOUND_NAMES, REEXPORTING_MODULES

# `.numpy`, also split as `.\n    numpy`, `. \\\n numpy` or `.  # comment\n numpy`; the word boundary keeps
# `.numpy_array` out.
NUMPY_ATTRIBUTE = re.compile(r"\.(?:[\s\\]|#[^\r\n]*[\r\n])*numpy\b")  # a comment runs to its line end: no backtracking
# Grad evidence comes from torch, from a model-building library the analysis knows (timm, transformers, ...), or
# from the attributes and keywords that make any tensor require grad, whatever it was imported as
# (`x.requires_grad = True` after `import torch as renamed`... or with no import the analysis knows); GPU evidence
# from `x.cuda()` or a "cuda" device on any value.
EVIDENCE = re.compile("|".join(sorted({"torch", "lightning", "requires_grad", "create_graph", "cuda",
                                       *K.MODEL_LIBRARIES,
                                       *(prefix.split(".")[0] for prefix in K.MODEL_CONSTRUCTOR_PREFIXES)})))
# Implicit conversions are calls the analysis resolves through an absolute import of a converting library
# (`import numpy as np`, `import os, numpy`, `from matplotlib import pyplot`; a name imported from elsewhere
# stays unknown), so a file without such an import statement cannot hold one. The words come from the tables: a
# new converting library is found as soon as it has an entry.
CONVERTING_LIBRARY_NAMES = sorted({module.split(".", 1)[0] for module in (
    *CONVERTING_FUNCTIONS, *LIST_CONVERTING_FUNCTIONS, *LAZY_CONVERTERS, *REEXPORTING_MODULES, *CONVERTING_METHODS,
    *DETACHING_CONVERTERS, *BOUND_NAMES)})
CONVERTING_LIBRARIES = re.compile(
    r"(?:^\ufeff?|[;:\r\n])[ \t\f]*(?:from|import)\b"  # a statement start (also after a BOM, `x = 1; import`,
    # `if y: import ...`)
    r"[^;\r\n]*?(?:\\(?:\r\n|\r|\n)[^;\r\n]*?)*"  # anything on the line, backslash continuations included
    r"\b(?:" + "|".join(CONVERTING_LIBRARY_NAMES) + r")\b",
)
IMPLICIT_CODES = ("TNP002", "TNP003", "TNP901")
# In a project, evidence may also come from the project itself: a name imported from one of its modules, or a
# call into one of this file's functions from another file.
PROJECT_EVIDENCE = re.compile(r"(?:^|[\r\n;:])[ \t\f]*(?:from|import)\b|\bdef\b")


def may_contain_findings(source: str, codes, in_project: bool = False) -> bool:
    if EVIDENCE.search(source) is None and not (in_project and PROJECT_EVIDENCE.search(source)):
        return False
    if NUMPY_ATTRIBUTE.search(source):
        return True
    return any(code in IMPLICIT_CODES for code in codes) and CONVERTING_LIBRARIES.search(source) is not None
