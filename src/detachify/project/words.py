"""The names a file spells in its code: what decides which files may call into a module (workspace.callers_naming).

A caller of a converting function spells its name in code. Names in comments and string literals call nothing,
and docstrings name classes a lot (kornia's `Image` is spelled by 77 files, in code by 15): such a file need not
be analysed for its calls. One left-to-right pass of a regular expression finds comments and literals as
Python's tokenizer does. An f-string is kept whole, its fields being code; an f-string whose field holds its own
quote (Python 3.12) may end early, and what follows then counts as code: more names, never fewer.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import FrozenSet, Set

from .imports import IMPORT_STATEMENT

_LITERAL = (  # the quoted part of a string literal, triple-quoted first
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\r\n]|\\.)*"'
    r"|'(?:[^'\\\r\n]|\\.)*'"
)
_NOT_CODE = re.compile(
    r"(?P<comment>\#[^\r\n]*)"
    r"|(?P<fstring>(?<!\w)(?:[fF][rR]?|[rR][fF])(?=['\"]))"  # only its prefix: the literal after it is kept
    r"|(?<!\w)[rRbBuU]{0,2}(?:" + _LITERAL + ")",
    re.S,
)
_F_LITERAL = re.compile(_LITERAL, re.S)
_WORD = re.compile(r"\w+")
_ATTRIBUTE = re.compile(r"\.\s*(\w+)")
_CHAIN = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\s*\.\s*\w+)+)")


def code_words(text: str) -> FrozenSet[str]:
    """The identifiers `text` spells outside comments and (non-f) string literals."""
    return frozenset(_WORD.findall(_code_of(text)))


def calling_words(text: str, libraries: FrozenSet[str]) -> FrozenSet[str]:
    """The names through which `text` may call a function (or build a class) of another project module: those it
    spells as a name of its own (`reshape(x)`, `Net()`), and attributes of a module it imports (`utils.reshape`,
    `pkg.models.Net`: the first name of the chain bound by an import of anything but a known library). An
    attribute of any other value is no such call: `x.reshape(...)`, `F.pad(...)` after `import torch.nn.functional
    as F`, `self.softmax(...)`, which are most of the spellings of the names helpers share with tensor methods."""
    code = _code_of(text)
    spelled = Counter(_WORD.findall(code))
    as_attribute = Counter(_ATTRIBUTE.findall(code))
    words = {word for word, count in spelled.items() if count > as_attribute.get(word, 0)}
    modules = _bound_by_imports(code, libraries)
    for head, rest in _CHAIN.findall(code):
        if head in modules:
            words.update(_WORD.findall(rest))
    return frozenset(words)


def _bound_by_imports(code: str, libraries: FrozenSet[str]) -> Set[str]:
    """The names the file's import statements bind, but to a module of a known library."""
    bound = set()
    for match in IMPORT_STATEMENT.finditer(code):
        base = match.group("base")
        if base is not None:  # from ... import ...
            if not match.group("dots") and base.split(".", 1)[0] in libraries:
                continue
            names = match.group("names").replace("\\", " ").strip().strip("()")
        else:
            names = match.group("modules").replace("\\", " ")
        for part in names.split(","):
            words = part.split()
            if not words or words[0] == "*":
                continue
            if base is None and words[0].split(".", 1)[0] in libraries:
                continue
            alias = words[2] if len(words) >= 3 and words[1] == "as" else words[0].split(".", 1)[0]
            bound.add(alias)
    return bound


def _code_of(text: str) -> str:
    """`text` without its comments and (non-f) string literals."""
    pieces, position = [], 0
    while True:
        found = _NOT_CODE.search(text, position)
        if found is None:
            break
        pieces.append(text[position:found.start()])
        position = found.end()
        if found.group("fstring") is not None:
            literal = _F_LITERAL.match(text, position)  # kept whole, fields and all
            end = literal.end() if literal is not None else position
            pieces.append(text[position:end])
            position = end
    pieces.append(text[position:])
    return " ".join(pieces)
