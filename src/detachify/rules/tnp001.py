"""TNP001: `.numpy()` on a tensor that requires grad while grad mode is on."""
from __future__ import annotations

from typing import Optional

from ..analysis.engine import Conversion
from ..findings import Finding
from ..fixes import conversion_fix
from .registry import TNP001


def check(conversion: Conversion, report) -> Optional[Finding]:
    if not conversion.raises:
        return None  # no grad evidence, grad mode off, or force=True
    receiver = report.code(conversion.receiver)
    message = f"`{receiver}` {conversion.value.describe()} and grad mode is on"
    return report.finding(TNP001.code, message, conversion, conversion_fix(
        conversion.node, report.positions, report.settings.fix_style, unsafe_reason(conversion)))


def unsafe_reason(conversion: Conversion) -> Optional[str]:
    if conversion.flows_back:
        return "the NumPy value flows back into torch, where detaching changes what is computed"
    function = conversion.function
    if function is not None and function.cuts_gradients:
        return f"detaching inside `{function.name}` would cut the gradient through this value"
    return None
