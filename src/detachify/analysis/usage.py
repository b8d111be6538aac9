"""Evidence from use: what a name must be, given what the code does with it somewhere in its scope.

`model.parameters()`, `model.eval()`, `model.zero_grad()`... say `model` is an `nn.Module` (or an optimizer):
calling it then yields a tensor that requires grad. `loss.backward()` says `loss` requires grad wherever it is
computed in that scope (torch raises otherwise). `x.cuda()` / `x.to(device)` say `x` may live on a GPU.

Read from the text of the scope (a function, the class of a `self.` attribute, or the module): a regular
expression over names as written, flow-insensitive by design: the evidence holds for every assignment of the
name in the scope, before or after the use.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet

_NAME = r"(?<![\w.])([A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*?)"
# Methods only an nn.Module (or an optimizer, which is never called) has.
MODULE_METHODS = ("parameters", "named_parameters", "zero_grad", "load_state_dict", "train", "eval", "modules",
                  "named_modules", "children", "register_forward_hook", "requires_grad_")
_MODULE_USE = re.compile(_NAME + r"[ \t]*\.[ \t]*(?:" + "|".join(MODULE_METHODS) + r")[ \t]*\(")
_BACKWARD = re.compile(_NAME + r"[ \t]*\.[ \t]*backward[ \t]*\(")
_TRIGGER = re.compile(r"\.[ \t]*(?:backward|" + "|".join(MODULE_METHODS) + r")[ \t]*\(")


@dataclass(frozen=True)
class Evidence:
    modules: FrozenSet[str] = frozenset()  # place keys used as nn.Modules
    backpropagated: FrozenSet[str] = frozenset()  # place keys `.backward()` is called on

    def __bool__(self):
        return bool(self.modules or self.backpropagated)


NONE = Evidence()


def may_have_evidence(text: str) -> bool:
    return _TRIGGER.search(text) is not None


def evidence_in(text: str) -> Evidence:
    if not may_have_evidence(text):
        return NONE
    return Evidence(frozenset(_keys(_MODULE_USE, text)), frozenset(_keys(_BACKWARD, text)))


def _keys(pattern, text: str):
    for match in pattern.finditer(text):
        yield re.sub(r"[ \t]+", "", match.group(1))
