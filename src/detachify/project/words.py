"""The names a file spells in its code: what decides which files may call into a module (workspace.callers_naming).

A caller of a converting function spells its name in code. Names in comments and string literals call nothing,
and docstrings name classes a lot (kornia's `Image` is spelled by 77 files, in code by 15): such a file need not
be analysed for its calls. One left-to-right pass of a regular expression finds comments and literals as
Python's tokenizer does. An f-string is kept whole, its fields being code; an f-string whose field holds its own
quote (Python 3.12) may end early, and what follows then counts as code: more names, never fewer.
"""
from __future__ import annotations

import re
from typing import FrozenSet

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


def code_words(text: str) -> FrozenSet[str]:
    """The identifiers `text` spells outside comments and (non-f) string literals."""
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
    return frozenset(_WORD.findall(" ".join(pieces)))
