"""Why a value requires grad, as data: a kind of source, the code that names it, and the calls it went through.

The analysis never writes English: a finding's message is rendered from this at the very end
(`rules/messages.py`), and module summaries carry it to other modules unchanged, with line numbers instead of
nodes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Tuple, Union

# Kinds of source (keys of rules/messages.py's SOURCES).
MODULE_OUTPUT = "module-output"  # subject: the module as written (`model`, `self.fc`)
PARAMETER_OF = "parameter-of"  # subject: the module whose parameter it is
NN_PARAMETER = "nn-parameter"
REQUIRES_GRAD_FACTORY = "requires-grad-factory"  # torch.zeros(..., requires_grad=True)
REQUIRES_GRAD_CALL = "requires-grad-call"  # t.requires_grad_()
REQUIRES_GRAD_SET = "requires-grad-set"  # t.requires_grad = True
CREATE_GRAPH_GRAD = "create-graph-grad"  # torch.autograd.grad(..., create_graph=True)
BACKWARD_CREATE_GRAPH = "backward-create-graph"  # x.grad after backward(create_graph=True)
BACKPROPAGATED = "backpropagated"  # subject: the value `.backward()` is called on
AUTOGRAD_OUTPUT = "autograd-output"  # handed to torch.autograd.grad as outputs
DOUBLE_BACKWARD = "double-backward"  # subject: an autograd.Function whose backward is given this gradient
ARGUMENT = "argument"  # subject: a parameter, bound to a grad tensor while its function is summarised

PASSED_TO = "passed-to"
RETURNED_BY = "returned-by"


@dataclass(frozen=True)
class Site:
    """A call a value went through: passed to `function`, or returned by it, at `line` of `path`.

    `line` is a libcst node inside the analysis (resolved to a number when a message is rendered) and an int in
    a summary; `path` is "" for the analysed file itself.
    """

    key: str
    function: str
    line: Union[int, object] = 0
    path: str = ""
    cell: int = 0  # in a notebook: the cell `line` counts in


@dataclass(frozen=True)
class Why:
    key: str
    subject: str = ""
    via: Tuple[Site, ...] = ()

    def passed(self) -> bool:
        return any(site.key == PASSED_TO for site in self.via)

    def through(self, site: Site) -> "Why":
        return replace(self, via=self.via + (site,))


def why(key: str, subject: str = "") -> Why:
    return Why(key, subject)
