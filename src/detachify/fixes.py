"""Fixes as text edits: small insertions into conversion chains and arguments, nothing else.

Every fix is an insertion, so comments and layout around it stay exactly as they were.
"""
from __future__ import annotations

from typing import Optional, Tuple

import libcst as cst

from .analysis.engine import Conversion
from .analysis.values import Kind
from .findings import Edit, Fix

# Expressions that may be evaluated once more (they name a container; no side effects).
_SIMPLE = (cst.Name, cst.Attribute, cst.Subscript)
# Expressions that can take a method call without parentheses: `x.detach()`, `f(x).detach()`, `x[0].detach()`.
_ATOMIC = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.List, cst.Tuple, cst.Dict, cst.ListComp,
           cst.DictComp, cst.SetComp, cst.Set)


def unsafe_reason(conversion: Conversion) -> Optional[str]:
    """Why a fix could change what the program computes (None: the fix only turns a crash into working code)."""
    if conversion.flows_back:
        return "the converted value flows back into torch, where detaching changes what is computed"
    function = conversion.function
    if function is not None and function.cuts_gradients:
        return f"detaching inside `{function.name}` would cut the gradient through this value"
    return None


# Kinds of value a tensor's fix would break: `.detach()` on an array, a number, a model.
_NOT_TENSORS = frozenset({Kind.NDARRAY, Kind.OTHER, Kind.QUALNAME, Kind.MODULE, Kind.INSTANCE})


def called_with_other_values(conversion: Conversion) -> bool:
    """A conversion in a function that some contexts hand a tensor and others something else."""
    return conversion.function is not None and bool(conversion.kinds_seen & _NOT_TENSORS)


def call_site_fix(conversion: Conversion, positions, reason: Optional[str]) -> Optional[Fix]:
    """`show(out)` → `show(out.detach())` at every call of the module that passed a tensor requiring grad (the
    receiver must be a parameter of the function, and every such call must be in this module)."""
    function, receiver = conversion.function, conversion.receiver
    if not isinstance(receiver, cst.Name) or not conversion.raising_calls or function.node is None \
            or isinstance(function.node, cst.Lambda):
        return None
    params = list(function.node.params.posonly_params) + list(function.node.params.params)
    names = [param.name.value for param in params]
    if receiver.value not in names:
        return None
    index = names.index(receiver.value)
    if function.owner is not None and not function.is_static:
        index -= 1  # called as a method: `self` is not among the call's arguments
    suffix = ".detach().cpu()" if conversion.value.gpu else ".detach()"
    edits = []
    for call in conversion.raising_calls:
        argument = _argument(call, index, receiver.value)
        if argument is None:
            return None
        edits.extend(_append(argument.value, suffix, positions))
    return _fix(f"Insert `{suffix}` where `{function.name}` is called with a tensor that requires grad "
                "(it is also called with other values)", tuple(edits), reason)


def _argument(call, index: int, name: str):
    if not isinstance(call, cst.Call):
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    positional = [arg for arg in call.args if arg.keyword is None]
    if any(arg.star for arg in positional[:index + 1]) or not 0 <= index < len(positional):
        return None
    return positional[index]


def method_fix(conversion: Conversion, positions, style: str, detach: bool, reason: Optional[str]) -> Optional[Fix]:
    """`t.numpy()` → `t.detach().cpu().numpy()` (`.cpu()` alone when only the device is wrong)."""
    call = conversion.node
    attribute = call.func
    receiver = attribute.value
    if style == "force":
        if call.args:
            return None  # `.numpy(force=False)` and friends: leave them to a human
        inside = positions[call.whitespace_before_args].start  # right after `(`, whatever spacing follows
        edit = _insert(inside, "force=True")
        return _fix("Use `.numpy(force=True)`", (edit,), reason)
    if detach and _is_method_call(receiver, "cpu"):
        # `.cpu().numpy()` still raises: detach before the copy.
        dot = positions[receiver.func.dot].start
        return _fix("Insert `.detach()` before `.cpu()`", (_insert(dot, ".detach()"),), reason)
    if detach and _is_method_call(receiver, "detach"):
        detach = False  # `x.detach().numpy()` on a GPU: only the copy is missing
    text = ".detach().cpu()" if detach else ".cpu()"
    return _fix(f"Insert `{text}` before `.numpy()`", (_insert(positions[attribute.dot].start, text),), reason)


def argument_fix(conversion: Conversion, positions, style: str, detach: bool,
                 reason: Optional[str]) -> Optional[Fix]:
    """`plt.plot(x, y)` → `plt.plot(x, y.detach().cpu().numpy())`; a list of tensors is fixed where it is filled."""
    value = conversion.value
    chain = ".numpy(force=True)" if style == "force" else (".detach().cpu().numpy()" if detach else ".cpu().numpy()")
    if conversion.detached:
        # `d2l.numpy(x)` is `x.detach().numpy()`: it needs a tensor, and one that requires grad is fine there.
        chain, detach = ".cpu()", False
    if value.kind is Kind.CONTAINER:
        if value.stores and not conversion.stores_escape:
            if conversion.stores_aliased:
                reason = reason or "the list may also be filled under another name, which this fix does not see"
            return _store_fix(value, positions, detach, reason)
        return _element_fix(conversion, chain, positions, reason)
    if detach and style != "force" and _is_method_call(conversion.node, "detach") and not conversion.detached:
        chain = ".cpu().numpy()"  # `plt.plot(x.detach())` on a GPU: only the copy is missing
    description = "Move it to the CPU with `.cpu()`" if conversion.detached else f"Convert with `{chain}`"
    return _fix(description, _append(conversion.node, chain, positions), reason)


def _element_fix(conversion: Conversion, chain: str, positions, reason: Optional[str]) -> Optional[Fix]:
    """Convert each element where the container is handed over: its other readers keep their tensors."""
    value, node = conversion.value, conversion.node
    if value.elem is None or value.elem.kind is not Kind.TENSOR or not isinstance(node, _SIMPLE):
        return None  # nested or unknown contents: no fix rather than a guess
    if value.mapping:
        head, tail = "{k: v" + chain + " for k, v in ", ".items()}"
    else:
        head, tail = "[t" + chain + " for t in ", "]"
    start = positions[node.lpar[0] if node.lpar else node].start
    end = positions[node.rpar[-1] if node.rpar else node].end
    return _fix(f"Convert each element with `{chain}`", (_insert(start, head), _insert(end, tail)), reason)


def _store_fix(value, positions, detach: bool, reason: Optional[str]) -> Optional[Fix]:
    """Fix where the tensors enter the list: `losses.append(loss.item())` for numbers, `.detach()` otherwise."""
    if not value.stores:
        return None  # we do not know where the tensors came in: no fix rather than a guess
    edits = []
    for node, scalar in sorted(value.stores, key=lambda site: _start(site[0], positions)):
        detached = detach and not _is_method_call(node, "detach")  # `(None, loss.detach())` on a GPU: `.cpu()`
        suffix = ".item()" if scalar else (".detach()" if detached else "") + (".cpu()" if value.gpu else "")
        edits.extend(_append(node, suffix, positions))
    description = "Store `.item()` / `.detach()` values instead of tensors that require grad"
    return _fix(description, tuple(edits), reason)


def _append(node, suffix: str, positions) -> Tuple[Edit, ...]:
    """Edits that make `node` read `node<suffix>`, parenthesised when precedence needs it."""
    end = positions[node.rpar[-1]].end if node.rpar else positions[node].end
    if node.lpar or isinstance(node, _ATOMIC):
        return (_insert(end, suffix),)
    start = positions[node].start
    return (_insert(start, "("), _insert(end, ")" + suffix))


def _start(node, positions):
    start = positions[node.lpar[0]].start if getattr(node, "lpar", None) else positions[node].start
    return (start.line, start.column)


def _insert(position, text: str) -> Edit:
    return Edit(position.line, position.column, position.line, position.column, text)


def _fix(description: str, edits, reason: Optional[str]) -> Fix:
    return Fix(description, tuple(edits), safe=reason is None, unsafe_reason=reason)


def _is_method_call(node, name: str) -> bool:
    return (isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == name)
