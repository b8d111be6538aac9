"""The English of findings: provenance (`analysis.provenance.Why`) rendered as a noun phrase.

Lines are resolved only here, when a message is written: `line_of(node)` turns a site's node into a line of the
analysed file; a site from another file already carries its path and line.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..analysis import provenance as P
from ..analysis.provenance import Site, Why

SOURCES = {
    P.MODULE_OUTPUT: "the output of module `{}`",
    P.PARAMETER_OF: "a parameter of `{}`",
    P.NN_PARAMETER: "an `nn.Parameter`",
    P.REQUIRES_GRAD_FACTORY: "a tensor created with `requires_grad=True`",
    P.REQUIRES_GRAD_CALL: "a tensor with `requires_grad_()` called on it",
    P.REQUIRES_GRAD_SET: "a tensor with `requires_grad = True`",
    P.CREATE_GRAPH_GRAD: "a gradient computed with `create_graph=True`",
    P.BACKWARD_CREATE_GRAPH: "a gradient from `backward(create_graph=True)`",
    P.BACKPROPAGATED: "a loss that `.backward()` is called on",
    P.AUTOGRAD_OUTPUT: "a tensor handed to `torch.autograd.grad` as an output",
    P.DOUBLE_BACKWARD: "a gradient given to `{}.backward`, which is not `@once_differentiable`: it requires grad when"
                       " higher-order gradients are taken",
    P.ARGUMENT: "the argument `{}`",
}


def source(why: Optional[Why]) -> str:
    if why is None:
        return "a tensor that requires grad"
    return SOURCES[why.key].format(why.subject)


def site(place: Site, line_of: Callable[[object], int]) -> str:
    line = place.line if isinstance(place.line, int) else line_of(place.line)
    if place.cell:
        where = f"{place.path}, cell {place.cell}, line {line}"
    else:
        where = f"{place.path}:{line}" if place.path else f"line {line}"
    verb = "passed to" if place.key == P.PASSED_TO else "returned by"
    return f"{verb} `{place.function}` at {where}"


def describe(why: Optional[Why], line_of: Callable[[object], int]) -> str:
    """`the output of module `model` (passed to `plot` at line 12)`."""
    text = source(why)
    if why is not None and why.via:
        text += " (" + "; ".join(site(place, line_of) for place in why.via) + ")"
    return text
