"""Evaluated call arguments, shared by every kind of call."""
from __future__ import annotations

from typing import Dict, List, Optional

import libcst as cst

from .literals import evaluated_value
from .values import UNKNOWN, Value


class Args:
    """Evaluated call arguments: positional values, keyword values, and whether `*`/`**` made them partial."""

    def __init__(self, positional: List[Value], keywords: Dict[str, Value], partial: bool, nodes):
        self.positional = positional
        self.keywords = keywords
        self.partial = partial
        self.nodes = nodes
        self.values: List[Value] = []  # one per node, as evaluated (star args unexpanded)

    def all(self):
        return [*self.positional, *self.keywords.values()]

    def first(self) -> Value:
        return self.positional[0] if self.positional else UNKNOWN

    def constant(self, keyword: str, position: Optional[int] = None):
        """The constant passed as `keyword` (or at `position`): a literal, or a name known to hold one; else ``...``."""
        value = self.keywords.get(keyword)
        if value is None and position is not None and position < len(self.positional) and not self.partial:
            value = self.positional[position]
        if value is not None and value.const:
            return value.const[0]
        return ...


def literal(node):
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return evaluated_value(node)
    return ...
