"""The conversion rules: each turns what the analysis saw at one conversion site into at most one finding.

TNP001 `.numpy()` on a grad tensor · TNP002 a maybe-GPU tensor without `.cpu()` · TNP003 an implicit
conversion (NumPy, matplotlib, pandas, ...) of a grad tensor or a list of them · TNP901 strict: unknown provenance.
"""
from __future__ import annotations

from typing import Optional

from ..analysis.engine import Conversion
from ..analysis.knowledge import OTHER_TENSOR_LIBRARIES
from ..analysis.values import Grad, Kind, Mode
from ..findings import Finding
from ..fixes import argument_fix, call_site_fix, called_with_other_values, method_fix, unsafe_reason
from .messages import describe


def check_tnp001(conversion: Conversion, report) -> Optional[Finding]:
    if conversion.kind != "method" or not conversion.raises:
        return None  # no grad evidence, grad mode off, or force=True
    message = (f"`{report.code(conversion.receiver)}` {_why(conversion, report)} and grad mode is on"
               + _no_fix(conversion))
    return report.finding("TNP001", message, conversion, _fix(conversion, report, detach=True))


def check_tnp002(conversion: Conversion, report) -> Optional[Finding]:
    if not conversion.value.gpu or conversion.force:
        return None
    what = "`.numpy()`" if conversion.kind == "method" else f"`{conversion.callee}`"
    message = f"`{report.code(conversion.receiver)}` may live on a GPU and {what} needs a CPU tensor"
    # detachify cannot prove a GPU tensor does not require grad: `.cpu()` alone could leave the crash behind.
    return report.finding("TNP002", message, conversion, _fix(conversion, report, detach=True))


def check_tnp003(conversion: Conversion, report) -> Optional[Finding]:
    if conversion.kind != "implicit" or not conversion.raises:
        return None
    message = (f"`{report.code(conversion.receiver)}` {_why(conversion, report)} and grad mode is on; "
               f"`{conversion.callee}` converts it to NumPy" + _no_fix(conversion))
    return report.finding("TNP003", message, conversion, _fix(conversion, report, detach=True))


def check_tnp901(conversion: Conversion, report) -> Optional[Finding]:
    value = conversion.value
    if conversion.force or conversion.mode is Mode.OFF or value.grad is not Grad.UNKNOWN:
        return None  # proven either way: the default rules decide
    imports = report.analysis.imports
    if "torch" not in imports or imports & OTHER_TENSOR_LIBRARIES:
        return None  # not (only) torch code: an unknown `.numpy()` may well be TensorFlow's or JAX's
    tensor = value.kind is Kind.TENSOR or (value.kind is Kind.CONTAINER and value.elem is not None
                                           and value.elem.kind is Kind.TENSOR)
    if conversion.kind == "implicit" and not tensor:
        return None  # unknown values handed to NumPy are mostly lists of numbers
    what = "`.numpy()`" if conversion.kind == "method" else f"`{conversion.callee}`"
    message = (f"`{report.code(conversion.receiver)}` may require grad (its provenance is unknown here); "
               f"detach it before {what}")
    reason = unsafe_reason(conversion) or (None if tensor else "the value may not be a torch tensor")
    return report.finding("TNP901", message, conversion, _fix(conversion, report, detach=True, reason=reason))


def _fix(conversion: Conversion, report, detach: bool, reason: Optional[str] = None):
    if conversion.backpropagated:
        return None  # what it computes from the array is backpropagated: a detached copy would break that
    if called_with_other_values(conversion):
        # `def show(v): plt.plot(v)` called with a model output here and an array there: a fix inside would
        # break the array's call. Detach at the calls that pass a tensor instead.
        return call_site_fix(conversion, report.positions, reason or unsafe_reason(conversion))
    build = method_fix if conversion.kind == "method" else argument_fix
    return build(conversion, report.positions, report.settings.fix_style, detach,
                 reason or unsafe_reason(conversion))


def _no_fix(conversion: Conversion) -> str:
    if not conversion.backpropagated:
        return ""
    return (" (no fix: the NumPy value flows back into torch and what it computes is backpropagated; detaching "
            "here would only move the error to `.backward()`)")


def _why(conversion: Conversion, report) -> str:
    value = conversion.value
    reason = describe(value.why, report.line_of)
    if value.kind is Kind.CONTAINER:
        text = "holds tensors that " + ("depend on " if value.derived else "are ") + reason
    else:
        text = ("depends on " if value.derived else "is ") + reason
    if conversion.call_site is not None and not (value.why and value.why.passed()):
        text += f" (when called at line {report.line_of(conversion.call_site)})"
    return text


CONVERSION_CHECKS = {
    "TNP001": check_tnp001,
    "TNP002": check_tnp002,
    "TNP003": check_tnp003,
    "TNP901": check_tnp901,
}
# The least `Conversion.severity` each check can report: positions are computed only for what some enabled
# check may report (3: torch raises, 2: may be on a GPU, 1: provenance unknown).
LEAST_SEVERITY = {"TNP001": 3, "TNP002": 2, "TNP003": 3, "TNP901": 1}
