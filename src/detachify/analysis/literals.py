"""The value of a literal node, as libcst's ``evaluated_value`` gives it, without its cost.

libcst evaluates a number or string literal with ``ast.literal_eval``, which compiles the text: a tenth of the
whole analysis of a real package went there (every float, every docstring). The common spellings are read
directly; the rest (escapes, prefixes, bytes, ``\\r`` in a triple-quoted string) go to ``ast.literal_eval`` once
per distinct text. tests/test_literals.py proves both give the same values.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from typing import Union

import libcst as cst

Literal = Union[cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString]


def evaluated_value(node: Literal):
    """``node.evaluated_value``: raises what ``ast.literal_eval`` raises on a text Python rejects."""
    text = node.value
    kind = type(node)
    if kind is cst.SimpleString:
        if text[0] in "'\"" and "\\" not in text and "\r" not in text:
            quotes = 3 if len(text) >= 6 and text[:3] == text[0] * 3 else 1
            return text[quotes:-quotes]
    elif kind is cst.Integer:
        if text.isdigit() and text.isascii() and (text[0] != "0" or not text.strip("0")):
            return int(text)
    elif kind is cst.Float:
        if text.isascii() and "_" not in text:
            return float(text)
    return _literal_eval(text)


@lru_cache(maxsize=8192)
def _literal_eval(text: str):
    return ast.literal_eval(text)
