"""Fixes as text edits: insert `.detach().cpu()` (or `force=True`) into a conversion chain, nothing else."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from .findings import Edit, Fix


def conversion_fix(call: cst.Call, positions, style: str, unsafe_reason: Optional[str]) -> Optional[Fix]:
    """The fix for `receiver.numpy()`: minimal insertions, so comments and layout around it stay as they were."""
    attribute = call.func
    if not isinstance(attribute, cst.Attribute):
        return None
    receiver = attribute.value
    if style == "force":
        if call.args:
            return None  # `.numpy(force=False)` and friends: leave them to a human
        end = positions[call].end
        edit = Edit(end.line, end.column - 1, end.line, end.column - 1, "force=True")
        description = "Use `.numpy(force=True)`"
    elif _is_method_call(receiver, "cpu"):
        # `.cpu().numpy()` still raises: detach before the copy.
        dot = _dot_position(receiver.func, positions)
        edit = Edit(dot.line, dot.column, dot.line, dot.column, ".detach()")
        description = "Insert `.detach()` before `.cpu()`"
    else:
        dot = _dot_position(attribute, positions)
        edit = Edit(dot.line, dot.column, dot.line, dot.column, ".detach().cpu()")
        description = "Insert `.detach().cpu()` before `.numpy()`"
    return Fix(description, (edit,), safe=unsafe_reason is None, unsafe_reason=unsafe_reason)


def _is_method_call(node, name: str) -> bool:
    return (isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == name)


def _dot_position(attribute: cst.Attribute, positions):
    """Where the `.` of `.attr` starts (the receiver's own range excludes its parentheses, the dot's does not)."""
    return positions[attribute.dot].start
