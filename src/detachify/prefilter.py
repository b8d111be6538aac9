"""A text test that skips files which cannot hold a finding, before anything is parsed.

Conservative by construction: every finding needs evidence — the word `torch` (also what the strict rule needs, a
torch import), or `cuda` for GPU evidence — and a conversion: a `.numpy` attribute (possibly split over lines) for
`.numpy()` rules, the name of a converting library for implicit conversions.
"""
from __future__ import annotations

import re
from typing import Iterator

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
    if EVIDENCE.search(source) is None and not (in_project and _has_project_evidence(source)):
        return False
    if NUMPY_ATTRIBUTE.search(source):
        return True
    return any(code in IMPLICIT_CODES for code in codes) and _imports_converting_library(source)


# `CONVERTING_LIBRARIES.search(source)` and `PROJECT_EVIDENCE.search(source)`, the same answers, faster: those
# patterns start at a statement boundary, which `re` tries at every character of the file, and an alternation of
# words is as slow (half a millisecond for a 10 kB file). The word each match ends with is found first, by `str.find`,
# and the pattern is run on its line only.
def _imports_converting_library(source: str) -> bool:
    return any(CONVERTING_LIBRARIES.search(source, _line_start(source, start, continued=True), start + len(name))
               for name in CONVERTING_LIBRARY_NAMES for start in _word_starts(source, name))


def _has_project_evidence(source: str) -> bool:
    return next(_word_starts(source, "def"), None) is not None or any(
        PROJECT_EVIDENCE.search(source, _line_start(source, start, continued=False), start + len(keyword))
        for keyword in ("import", "from") for start in _word_starts(source, keyword))


def _word_starts(source: str, word: str) -> Iterator[int]:
    """Where `word` stands as a whole word (`\\bword\\b`)."""
    start = source.find(word)
    while start >= 0:
        end = start + len(word)
        if not (start and _is_word_character(source[start - 1])) and not (
                end < len(source) and _is_word_character(source[end])):
            yield start
        start = source.find(word, start + 1)


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def _line_start(source: str, position: int, continued: bool) -> int:
    """Where the line holding `position` starts (with `continued`: the first of the lines a backslash joins
    to it), on the line-ending character before it, which the patterns' statement boundary matches."""
    start = max(source.rfind("\n", 0, position), source.rfind("\r", 0, position), 0)
    while continued and start > 0:
        end = start - 1 if source[start] == "\n" and source[start - 1] == "\r" else start
        if end == 0 or source[end - 1] != "\\":
            break
        start = max(source.rfind("\n", 0, end - 1), source.rfind("\r", 0, end - 1), 0)
    return start
