"""Evidence from use: what a name must be, given what the code does with it somewhere in its scope.

`model.parameters()`, `model.eval()`, `model.zero_grad()`... say `model` is an `nn.Module` (or an optimizer):
calling it then yields a tensor that requires grad. `loss.backward()` says `loss` requires grad wherever it is
computed in that scope (torch raises otherwise), and so does `torch.autograd.backward(loss)`. `x.cuda()` /
`x.to(device)` say `x` may live on a GPU.

Read from the text of the scope (a function, the class of a `self.` attribute, or the module): a regular
expression over names as written, flow-insensitive by design: the evidence holds for every assignment of the
name in the scope, before or after the use.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import FrozenSet

_NAME = r"(?<![\w.])([A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*?)"
# Methods only an nn.Module (or an optimizer, which is never called) has.
MODULE_METHODS = ("parameters", "named_parameters", "zero_grad", "load_state_dict", "train", "eval", "modules",
                  "named_modules", "children", "register_forward_hook", "requires_grad_")
# `_NAME` followed by a method call, found faster: the call first, then the dotted name that ends right before
# it (a pattern that starts with the name is tried at every identifier of the text).
_MODULE_CALL = re.compile(r"[ \t]*\.[ \t]*(?:" + "|".join(MODULE_METHODS) + r")[ \t]*\(")
_BACKWARD_CALL = re.compile(r"[ \t]*\.[ \t]*backward[ \t]*\(")
_NAME_AT_END = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*)\Z")
_LONGEST_NAME = 300  # characters looked back for the name
# `torch.autograd.backward(loss)` is `loss.backward()`: torch raises alike when `loss` does not require grad. Bare
# `backward(loss)` counts only where the module imports it from torch.autograd (a forward-backward algorithm's
# own `backward(obs)` says nothing).
_AUTOGRAD_BACKWARD = re.compile(r"(?<![\w.])(?:torch[ \t]*\.[ \t]*)?autograd[ \t]*\.[ \t]*backward[ \t]*\([ \t]*"
                                + _NAME + r"[ \t]*[,)]")
_BARE_BACKWARD = re.compile(r"(?<![\w.])(?<!def )backward[ \t]*\([ \t]*" + _NAME + r"[ \t]*[,)]")
_IMPORTS_BACKWARD = re.compile(r"^[ \t]*from[ \t]+torch\.autograd[ \t]+import[^\n;#]*\bbackward\b", re.MULTILINE)
_TRIGGER = re.compile(r"\.[ \t]*(?:backward|" + "|".join(MODULE_METHODS) + r")[ \t]*\(|(?<![\w.])backward[ \t]*\(")


@dataclass(frozen=True)
class Evidence:
    modules: FrozenSet[str] = frozenset()  # place keys used as nn.Modules
    backpropagated: FrozenSet[str] = frozenset()  # place keys `.backward()` is called on

    def __bool__(self):
        return bool(self.modules or self.backpropagated)


NONE = Evidence()


@functools.lru_cache(maxsize=64)  # a module's text, once per analysis of it
def may_have_evidence(text: str) -> bool:
    return _TRIGGER.search(text) is not None


def imports_autograd_backward(module_text: str) -> bool:
    """`from torch.autograd import backward`: a bare `backward(x)` in this module is torch's."""
    return _IMPORTS_BACKWARD.search(module_text) is not None


@functools.lru_cache(maxsize=1024)  # a scope's text, once per analysis of its module
def evidence_in(text: str, bare_backward: bool = False) -> Evidence:
    """`bare_backward`: the module imports `backward` from torch.autograd."""
    if not may_have_evidence(text):
        return NONE
    backpropagated = set(_receivers(_BACKWARD_CALL, text)) | set(_keys(_AUTOGRAD_BACKWARD, text))
    if bare_backward:
        backpropagated |= set(_keys(_BARE_BACKWARD, text))
    return Evidence(frozenset(_receivers(_MODULE_CALL, text)), frozenset(backpropagated))


def _receivers(call, text: str):
    """The dotted names a method is called on (`call` matches `.method(`): what `_NAME + call` finds."""
    end_of_last = 0
    for match in call.finditer(text):
        start = match.start()
        if start < end_of_last:
            continue
        name = _NAME_AT_END.search(text, max(end_of_last, start - _LONGEST_NAME), start)
        if name is not None:
            end_of_last = match.end()
            yield re.sub(r"[ \t]+", "", name.group(1))


def _keys(pattern, text: str):
    for match in pattern.finditer(text):
        yield re.sub(r"[ \t]+", "", match.group(1))
