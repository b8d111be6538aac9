"""The static shape of a module: its functions and classes, and the names each function binds locally.

Nothing here walks expressions with libcst's visitors: on large files those traversals cost more than the
analysis itself, so local names come from a walk over statements and call sites from one regex pass.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst


class FunctionInfo:
    """A `def` or `lambda` of the analysed module (identity-hashed: it keys the call memo)."""

    def __init__(self, node, name: str, owner: Optional["ClassInfo"] = None):
        self.node = node
        self.name = name
        self.owner = owner
        self.is_lambda = isinstance(node, cst.Lambda)
        self.local_names, self.global_names = _local_names(node)
        self.analysed = False  # set once any analysis (by call or standalone) has run its body
        self.decorator_mode = None  # grad mode forced by a decorator, set when the def executes
        self.closure = None  # the frame the def executed in: where free names are looked up
        self.is_property = False
        self.is_static = False
        self.is_context_manager = False
        self.once_differentiable = False  # `@once_differentiable`: an autograd.Function's backward runs with grad off
        self.annotations = None  # parameters typed by their annotations, computed once
        self.standalone_result = None  # what it returned when analysed on its own (unknown arguments)

    @property
    def cuts_gradients(self) -> bool:
        """Detaching here would silently cut gradients the author may want (forward passes, losses)."""
        return self.name == "forward" or "loss" in self.name.lower()

    def __repr__(self):
        return f"<function {self.name}>"


class ClassInfo:
    def __init__(self, node: cst.ClassDef):
        self.node = node
        self.name = node.name.value
        self.methods: Dict[str, FunctionInfo] = {}
        self.bases = []  # Values of the base-class expressions, set when the class statement executes
        self.is_module = False
        self.is_autograd_function = False  # a subclass of torch.autograd.Function
        self.torch_base = None  # "Linear" for `class MyLinear(nn.Linear)`
        self.class_attrs = {}  # names bound in the class body (methods included)

    def find_method(self, name: str, _seen=None) -> Optional[FunctionInfo]:
        if name in self.methods:
            return self.methods[name]
        seen = _seen or set()
        seen.add(self)
        for base in self.bases:
            info = base.target
            if isinstance(info, ClassInfo) and info not in seen:
                found = info.find_method(name, seen)
                if found is not None:
                    return found
        return None

    def __repr__(self):
        return f"<class {self.name}>"


def param_list(params: cst.Parameters) -> List[cst.Param]:
    found = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found


def _local_names(node) -> Tuple[frozenset, frozenset]:
    """Python's rule: a name assigned anywhere in the body is local everywhere in it (unless declared global)."""
    bound: Set[str] = {param.name.value for param in param_list(node.params)}
    declared: Set[str] = set()
    if not isinstance(node, cst.Lambda):
        _bind_statements(_body(node), bound, declared)
    return frozenset(bound - declared), frozenset(declared)


def _body(node) -> list:
    body = node.body
    return list(body.body) if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)) else [body]


def _bind_statements(statements, bound: Set[str], declared: Set[str]):
    for statement in statements:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                _bind_small(small, bound, declared)
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            bound.add(statement.name.value)
        else:
            if isinstance(statement, cst.For):
                _bind_target(statement.target, bound)
            elif isinstance(statement, cst.With):
                for item in statement.items:
                    if item.asname is not None:
                        _bind_target(item.asname.name, bound)
            elif isinstance(statement, (cst.Try, cst.TryStar)):
                for handler in statement.handlers:
                    if handler.name is not None:
                        _bind_target(handler.name.name, bound)
                    _bind_statements(_body(handler), bound, declared)
            for block in _blocks_of(statement):
                _bind_statements(block, bound, declared)


def _blocks_of(statement):
    """The statement lists nested in a compound statement (handlers are done by the caller)."""
    body = getattr(statement, "body", None)
    if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)):
        yield list(body.body)
    if isinstance(statement, cst.Match):
        for case in statement.cases:
            yield _body(case)
    orelse = getattr(statement, "orelse", None)
    while orelse is not None:
        if isinstance(orelse, cst.If):
            yield _body(orelse)
            orelse = orelse.orelse
        else:
            yield _body(orelse)
            orelse = None
    final = getattr(statement, "finalbody", None)
    if final is not None:
        yield _body(final)


def _bind_small(small, bound: Set[str], declared: Set[str]):
    if isinstance(small, cst.Assign):
        for target in small.targets:
            _bind_target(target.target, bound)
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        _bind_target(small.target, bound)
    elif isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
        for alias in small.names:
            if alias.asname is not None:
                _bind_target(alias.asname.name, bound)
            else:
                name = alias.name
                while isinstance(name, cst.Attribute):
                    name = name.value
                _bind_target(name, bound)
    elif isinstance(small, (cst.Global, cst.Nonlocal)):
        declared.update(item.name.value for item in small.names)


def _bind_target(target, bound: Set[str]):
    if isinstance(target, cst.Name):
        bound.add(target.value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _bind_target(element.value, bound)
    elif isinstance(target, cst.StarredElement):
        _bind_target(target.value, bound)


_IDENTIFIERS = re.compile(r"[A-Za-z_]\w*")
_CALLEES = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_DEFINITIONS = re.compile(r"\bdef\s+([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=64)  # a run analyses a text more than once (a summary, its calls, its check)
def reference_kinds(source: str):
    """Names used as callees (`name(`) and names used any other way (passed along, stored), from the text.

    Text, not tree: strings and comments may add spurious uses, which only make a function look referenced
    elsewhere, i.e. analysed on its own with grad on: the default. Three C-level scans, no Python loop
    over identifiers: this runs on every candidate file.
    """
    every = Counter(_IDENTIFIERS.findall(source))
    callees = Counter(_CALLEES.findall(source))  # includes `def name(`
    definitions = Counter(_DEFINITIONS.findall(source))
    called = frozenset(name for name, count in callees.items() if count > definitions.get(name, 0))
    other = frozenset(name for name, count in every.items() if count > callees.get(name, 0))
    return called, other
