"""The static shape of a module: its functions and classes, and the names each function binds locally."""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import libcst as cst


class FunctionInfo:
    """A `def` or `lambda` of the analysed module (identity-hashed: it keys the call memo)."""

    def __init__(self, node, name: str, owner: Optional["ClassInfo"] = None):
        self.node = node
        self.name = name
        self.owner = owner
        self.is_lambda = isinstance(node, cst.Lambda)
        self.local_names, self.global_names = _local_names(node)
        self.is_generator = not self.is_lambda and _contains_yield(node.body)
        self.analysed = False  # set once any analysis (by call or standalone) has run its body
        self.decorator_mode = None  # grad mode forced by a decorator, set when the def executes
        self.closure = None  # the frame the def executed in: where free names are looked up
        self.is_property = False
        self.is_static = False
        self.is_context_manager = False

    @property
    def cuts_gradients(self) -> bool:
        """Detaching here would silently cut gradients the author may want (forward passes, losses)."""
        lowered = self.name.lower()
        return self.name == "forward" or "loss" in lowered

    def __repr__(self):
        return f"<function {self.name}>"


class ClassInfo:
    def __init__(self, node: cst.ClassDef):
        self.node = node
        self.name = node.name.value
        self.methods: Dict[str, FunctionInfo] = {}
        self.bases = []  # Values of the base-class expressions, set when the class statement executes
        self.is_module = False
        self.torch_base = None  # "Linear" for `class MyLinear(nn.Linear)`
        self.class_attrs = {}  # names bound in the class body (methods included)

    def find_method(self, name: str) -> Optional[FunctionInfo]:
        if name in self.methods:
            return self.methods[name]
        for base in self.bases:
            info = base.target
            if isinstance(info, ClassInfo) and info is not self:
                found = info.find_method(name)
                if found is not None:
                    return found
        return None

    def __repr__(self):
        return f"<class {self.name}>"


class _Binder(cst.CSTVisitor):
    """Names a function body binds (Python's rule: assigned anywhere in the body → local everywhere)."""

    def __init__(self):
        self.bound: Set[str] = set()
        self.declared_global: Set[str] = set()

    def visit_FunctionDef(self, node):
        self.bound.add(node.name.value)
        return False  # its body is its own scope

    def visit_ClassDef(self, node):
        self.bound.add(node.name.value)
        return False

    def visit_Lambda(self, node):
        return False

    def visit_Name(self, node):
        return None

    def visit_AssignTarget(self, node):
        self._targets(node.target)

    def visit_AnnAssign(self, node):
        self._targets(node.target)

    def visit_AugAssign(self, node):
        self._targets(node.target)

    def visit_For(self, node):
        self._targets(node.target)

    def visit_AsName(self, node):
        self._targets(node.name)

    def visit_NamedExpr(self, node):
        self._targets(node.target)

    def visit_ImportAlias(self, node):
        if node.asname is not None:
            self._targets(node.asname.name)
        else:
            name = node.name
            while isinstance(name, cst.Attribute):
                name = name.value
            self._targets(name)

    def visit_Global(self, node):
        self.declared_global.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node):
        self.declared_global.update(item.name.value for item in node.names)

    def visit_CompFor(self, node):
        return None

    def _targets(self, target):
        if isinstance(target, cst.Name):
            self.bound.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._targets(element.value)
        elif isinstance(target, cst.StarredElement):
            self._targets(target.value)


def _local_names(node):
    binder = _Binder()
    if isinstance(node, cst.Lambda):
        body = [node.body]
        params = node.params
    else:
        body = [node.body]
        params = node.params
    for param in _all_params(params):
        binder.bound.add(param.name.value)
    for part in body:
        part.visit(binder)
    return frozenset(binder.bound - binder.declared_global), frozenset(binder.declared_global)


def _all_params(params: cst.Parameters) -> List[cst.Param]:
    found = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found


class _YieldFinder(cst.CSTVisitor):
    def __init__(self):
        self.found = False

    def visit_Yield(self, node):
        self.found = True

    def visit_FunctionDef(self, node):
        return False

    def visit_Lambda(self, node):
        return False


def _contains_yield(body) -> bool:
    finder = _YieldFinder()
    body.visit(finder)
    return finder.found


class _ReferenceCounter(cst.CSTVisitor):
    """How each name is used: as the callee of a call, or otherwise (passed as a callback, stored, ...)."""

    def __init__(self):
        self.called: Set[str] = set()
        self.other: Set[str] = set()
        self._callees: Set[int] = set()

    def visit_Call(self, node):
        self._callees.add(id(node.func))

    def visit_Name(self, node):
        (self.called if id(node) in self._callees else self.other).add(node.value)

    def visit_Attribute(self, node):
        (self.called if id(node) in self._callees else self.other).add(node.attr.value)
        node.value.visit(self)
        return False

    def visit_FunctionDef(self, node):
        # The def's own name is a binding, not a reference; visit everything else.
        for decorator in node.decorators:
            decorator.visit(self)
        node.params.visit(self)
        node.body.visit(self)
        return False

    def visit_ClassDef(self, node):
        for part in (*node.decorators, *node.bases, *node.keywords):
            part.visit(self)
        node.body.visit(self)
        return False


def reference_kinds(module: cst.Module):
    counter = _ReferenceCounter()
    module.visit(counter)
    return counter.called, counter.other


def param_list(params: cst.Parameters) -> List[cst.Param]:
    return _all_params(params)
