"""Names from other modules of the project, read from their summaries.

An imported class becomes a `ForeignClass` and a function a `ForeignFunction`: they stand where the engine
expects a `ClassInfo` / `FunctionInfo` (inheritance, `find_method`, instances), but calling one applies its
summary instead of running a body. A call that hands such a function a value worth a second look (a grad tensor,
a GPU tensor, a model) is remembered as an outgoing call: the callee's module re-runs it and reports there.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, FrozenSet, Optional, Tuple

from . import provenance as P
from .arguments import Args
from .program import ClassInfo, FunctionInfo
from .provenance import Site
from .deferred_imports import deferrable_imports
from .summary import IMPORTED, UNKNOWN_SUMMARY, ClassSummary, FunctionSummary, ModuleSummary, Ref, ValueSummary
from .values import UNKNOWN, Grad, Kind, Mode, Value, container, join, join_all

# Grad sources that survive grad mode off: leaves, not results of ops (`requires_grad=True`, parameters).
LEAF_SOURCES = frozenset({P.PARAMETER_OF, P.NN_PARAMETER, P.REQUIRES_GRAD_FACTORY, P.REQUIRES_GRAD_CALL,
                          P.REQUIRES_GRAD_SET})


@dataclass(frozen=True)
class ModuleTarget:
    """What a project module value points at: its file (None for a namespace package), name, source root."""

    ref: Optional[Ref]
    name: str
    root: str


# A summary spells these as plain values; looking the member up by value is Enum's slow path, run per value.
_KINDS = {member.value: member for member in Kind}
_GRADS = {member.value: member for member in Grad}
_MODES = {member.value: member for member in Mode}


class ForeignFunction(FunctionInfo):
    def __init__(self, summary: FunctionSummary, ref: Ref, owner: Optional["ForeignClass"] = None):  # noqa: D107
        self.node = None
        self.summary = summary
        self.ref = ref
        self.name = summary.name.rsplit(".", 1)[-1]
        self.owner = owner
        self.is_lambda = False
        self.local_names = frozenset()
        self.global_names = frozenset()
        self.analysed = True
        self.decorator_mode = _MODES[summary.decorator_mode] if summary.decorator_mode else None
        self.closure = None
        self.is_property = summary.is_property
        self.is_static = summary.is_static
        self.is_context_manager = summary.is_context_manager
        self.annotations = {}

    def __repr__(self):
        return f"<foreign function {self.ref.name} of {self.ref.path}>"


class ForeignClass(ClassInfo):
    def __init__(self, summary: ClassSummary, ref: Ref, bases, class_attrs):  # noqa: D107
        self.node = None
        self.summary = summary
        self.ref = ref
        self.name = summary.name
        self.methods: Dict[str, ForeignFunction] = {
            name: ForeignFunction(method, Ref(ref.path, f"{summary.name}.{name}"), owner=self)
            for name, method in summary.methods}
        self.bases = bases
        self.is_module = summary.is_module
        self.torch_base = summary.torch_base
        self.class_attrs = dict(class_attrs)
        for name, method in self.methods.items():
            self.class_attrs.setdefault(name, Value(Kind.FUNCTION, Grad.NO, qname=name, target=method))
        self.ctor: Optional[Tuple[tuple, dict]] = None  # the arguments an instance was built with

    def built_with(self, args: Args) -> "ForeignClass":
        """A view of this class that remembers an instance's constructor arguments (for outgoing calls)."""
        view = object.__new__(ForeignClass)
        view.__dict__.update(self.__dict__)
        view.ctor = (tuple(args.positional), dict(args.keywords))
        return view

    def __repr__(self):
        return f"<foreign class {self.ref.name} of {self.ref.path}>"


@dataclass
class OutgoingRecord:
    target: str
    function: str
    positional: tuple
    keywords: dict
    mode: Mode
    node: object
    ctor: Optional[Tuple[tuple, dict]]


def worth_a_look(value: Value, depth: int = 0) -> bool:
    """A value whose conversion may crash in the callee: it requires grad, may live on a GPU, or is a model."""
    if value.grad is Grad.YES or value.gpu:
        return True
    if value.kind in (Kind.MODULE, Kind.INSTANCE) and value.has_params:
        return True
    if value.kind is Kind.CONTAINER and depth < 2:
        return any(worth_a_look(v, depth + 1) for v in (value.items or ()) + ((value.elem,) if value.elem else ()))
    return False


class ProjectCalls:
    """Engine mixin: materialising summaries, calling foreign functions, recording outgoing calls."""

    # summaries → values ------------------------------------------------------------------------------------
    def module_summary(self, ref: Optional[Ref]) -> Optional[ModuleSummary]:
        if ref is None or self.project is None:
            return None
        return self.project.summary_at(ref.path)

    # names imported from project modules, read when first looked up -----------------------------------------
    def deferrable_names(self, statement, frame) -> FrozenSet[str]:
        """The names this `from module import ...` binds that may be read lazily: at the top of the module."""
        if frame.parent is not None or frame.function is not None:
            return frozenset()
        if self._deferrable is None:
            source = self.source if self.source is not None else self.module.code
            self._deferrable = deferrable_imports(self.module, source)
        return self._deferrable.get(id(statement), frozenset())

    def defer_import(self, bound: str, ref: Ref) -> None:
        self.deferred_imports[bound] = ref
        self.deferred_values.pop(bound, None)

    def deferred_value(self, name: str) -> Value:
        found = self.deferred_values.get(name)
        if found is None:
            found = self.deferred_values[name] = self.imported_value(self.deferred_imports[name])
        return found

    def imported_value(self, ref: Ref, depth: int = 0) -> Value:
        """Name `ref.name` of project module `ref.path`, as its summary has it."""
        summary = self.module_summary(Ref(ref.path))
        symbol = summary.symbol(ref.name) if summary is not None else None
        return self.materialise(symbol, depth) if symbol is not None else UNKNOWN

    def materialise(self, summary: Optional[ValueSummary], depth: int = 0, bound=None, mode=None,
                    site=None) -> Value:
        """A summary's value as an engine value; `bound`/`mode`/`site`: a function's result for one call.

        The same summary (a class's attribute, a re-exported symbol) is read again and again: its value is kept,
        unless a class is half-built meanwhile (a class met again inside its own bases reads as unknown there)."""
        if bound is not None or summary is None or self.classes_building:
            return self._materialise(summary, depth, bound, mode, site)
        key = (id(summary), depth)
        known = self.materialised.get(key)
        if known is not None and known[0] is summary:
            return known[1]
        value = self._materialise(summary, depth)
        self.materialised[key] = (summary, value)  # the summary is kept alive with it: its id stays its own
        return value

    def _materialise(self, summary: Optional[ValueSummary], depth: int = 0, bound=None, mode=None,
                     site=None) -> Value:
        if summary is None or depth > 6:
            return UNKNOWN
        if summary.kind == IMPORTED:  # a name the module imported and never read: read it now, from there
            return self.imported_value(summary.ref, depth + 1)
        if summary.alternatives:  # their join is again a value of one of these classes
            return join_all(self.materialise(one, depth + 1, bound, mode, site) for one in summary.alternatives)
        if bound is not None:
            plain = self.materialise(summary, depth)  # itself, without what the call brings
            value = self.called_with(plain, summary, bound, mode, site)
            if summary.items is not None:
                value = replace(value, items=tuple(self.materialise(item, depth + 1, bound, mode, site)
                                                   for item in summary.items))
            if summary.elem is not None:
                value = replace(value, elem=self.materialise(summary.elem, depth + 1, bound, mode, site))
            return value
        kind = _KINDS[summary.kind]
        ref = summary.ref
        if kind is Kind.CLASS:
            found = self.foreign_class(ref)
            return Value(Kind.CLASS, Grad.NO, qname=found.name, target=found) if found else UNKNOWN
        if kind is Kind.FUNCTION:
            function = self.foreign_function(ref)
            return Value(Kind.FUNCTION, Grad.NO, qname=function.name, target=function) if function else UNKNOWN
        if kind is Kind.PROJECT_MODULE:
            return self.module_value_for_ref(ref) if ref is not None else UNKNOWN
        target = None
        if kind is Kind.INSTANCE:
            target = self.foreign_class(ref)
            if target is None:
                return UNKNOWN
        return Value(
            kind, _GRADS[summary.grad], summary.why, summary.derived, summary.gpu, summary.qname,
            elem=self.materialise(summary.elem, depth + 1) if summary.elem is not None else None,
            items=tuple(self.materialise(item, depth + 1) for item in summary.items)
            if summary.items is not None else None,
            names=summary.names,
            target=target,
            attrs=tuple((name, self.materialise(value, depth + 1)) for name, value in summary.attrs),
            has_params=summary.has_params,
            mode=_MODES[summary.mode] if summary.mode else None,
            const=summary.const,
            scalar=summary.scalar,
            mapping=summary.mapping,
        )

    # star imports of project modules ------------------------------------------------------------------------
    def import_star_from_project(self, summary: ModuleSummary, frame) -> None:
        """`from .core import *`: a name the module has bound already is rebound now, as Python does; the
        others resolve when first looked up (`star_value`). A package's star import can bind thousands of
        names, of which a module reads a few."""
        bound = frame.state.vars
        for name in summary.star_names():
            self.star_values.pop(name, None)  # an earlier star import's, now shadowed
            self.deferred_imports.pop(name, None)
            if name in bound:
                self.bind(name, self.materialise(summary.symbol(name)), frame)
        self.star_modules.append(summary)

    def star_value(self, name: str) -> Optional[Value]:
        """What the last project star import binding `name` bound it to; None if none does."""
        if name in self.star_values:
            return self.star_values[name]
        for summary in reversed(self.star_modules):
            if summary.binds_by_star(name):
                value = self.star_values[name] = self.materialise(summary.symbol(name))
                return value
        return None

    def star_symbols(self, bound) -> Dict[str, ValueSummary]:
        """The names project star imports bound that the module did not bind again (`bound`), with the value
        summaries they were imported with: what the module re-exports of them."""
        symbols: Dict[str, ValueSummary] = {}
        for summary in self.star_modules:
            for name in summary.star_names():
                if name not in bound and name != "__all__":
                    symbols[name] = summary.symbol(name) or UNKNOWN_SUMMARY
        return symbols

    def foreign_class(self, ref: Optional[Ref]) -> Optional[ForeignClass]:
        if ref is None:
            return None
        if ref in self.foreign:
            return self.foreign[ref]
        self.foreign[ref] = None  # a class that (through its bases) refers to itself stays unknown inside
        summary = self.module_summary(ref)
        found = summary.cls(ref.name) if summary is not None else None
        if found is not None:
            self.classes_building += 1
            try:
                bases = [self.materialise(base) for base in found.bases]
                attrs = [(name, self.materialise(value)) for name, value in found.class_attrs]
            finally:
                self.classes_building -= 1
            self.foreign[ref] = ForeignClass(found, ref, bases, attrs)
        return self.foreign[ref]

    def foreign_function(self, ref: Optional[Ref]) -> Optional[ForeignFunction]:
        if ref is None:
            return None
        if "." in ref.name:
            owner = self.foreign_class(Ref(ref.path, ref.name.split(".", 1)[0]))
            return owner.methods.get(ref.name.split(".", 1)[1]) if owner is not None else None
        if ref not in self.foreign:
            summary = self.module_summary(ref)
            found = summary.function(ref.name) if summary is not None else None
            self.foreign[ref] = ForeignFunction(found, ref) if found is not None else None
        return self.foreign[ref]

    def module_value_for_ref(self, ref: Ref) -> Value:
        summary = self.module_summary(ref)
        name = summary.name if summary is not None else ref.name
        root = self.project.root_of(ref.path, name) if self.project is not None else ""
        return Value(Kind.PROJECT_MODULE, Grad.NO, qname=name, target=ModuleTarget(ref, name, root))

    def project_module_value(self, found) -> Value:
        """A `layout.ModuleFile` (or a namespace package: path "") as a value."""
        ref = Ref(found.path) if found.path else None
        return Value(Kind.PROJECT_MODULE, Grad.NO, qname=found.name, target=ModuleTarget(ref, found.name, found.root))

    def project_attribute(self, base: Value, name: str) -> Value:
        target: ModuleTarget = base.target
        summary = self.module_summary(target.ref)
        if summary is not None:
            symbol = summary.symbol(name)
            if symbol is not None:
                return self.materialise(symbol)
        sub = self.project.submodule(target.root, f"{target.name}.{name}") if self.project is not None else None
        if sub is not None:
            return self.project_module_value(sub)
        if target.ref is None and self.project is not None:
            return self.defined_in_namespace(target.root, target.name, name)
        return UNKNOWN

    def defined_in_namespace(self, root: str, package: str, name: str) -> Value:
        """`Name` of namespace package `package` (under source root `root`) that is none of its submodules: the
        package's `__init__` is missing from this copy; the one module of it defining `Name` stands in."""
        found = self.project.defining_module(root, package, name)
        summary = self.module_summary(Ref(found.path)) if found is not None else None
        symbol = summary.symbol(name) if summary is not None else None
        return self.materialise(symbol) if symbol is not None else UNKNOWN

    # calls --------------------------------------------------------------------------------------------------
    def call_foreign(self, info: ForeignFunction, positional, keywords, node, frame, want_frame: bool = False):
        summary = info.summary
        mode = info.decorator_mode or frame.state.mode
        bound = _bind(summary, positional, keywords)
        result = self.foreign_result(info, bound, mode)
        if summary.has_conversions:
            self.note_outgoing(info, positional, keywords, mode, node)
        return (result, None) if want_frame else result

    def foreign_result(self, info: ForeignFunction, bound: Dict[str, Value], mode: Mode) -> Value:
        summary = info.summary
        site = Site(P.RETURNED_BY, summary.name, summary.line, self.project.display(info.ref.path))
        value = self.materialise(summary.returns, bound=bound, mode=mode, site=site)
        if summary.passes is not None and summary.passes in bound:
            given = bound[summary.passes]  # `def to_gpu(x): return x.cuda()`: the argument itself, moved
            return replace(given, gpu=given.gpu or value.gpu)
        return value

    def called_with(self, value: Value, summary: ValueSummary, bound, mode: Mode, site: Site) -> Value:
        """A part of a function's result, for this call: grad mode and the arguments' grad and device."""
        if value.grad is Grad.YES:
            leaf = not value.derived and value.why is not None and value.why.key in LEAF_SOURCES
            if mode is not Mode.ON and not leaf:
                value = value.with_grad(Grad.NO if mode is Mode.OFF else Grad.UNKNOWN)
            elif value.why is not None and not value.why.via:
                value = replace(value, why=value.why.through(site))
        for name in summary.deps:
            argument = bound.get(name)
            if argument is None:
                continue
            if mode is Mode.ON:
                grad = argument.grad
            else:
                grad = Grad.NO if mode is Mode.OFF else min(argument.grad, Grad.UNKNOWN)
            if grad > value.grad:
                value = replace(value, grad=grad, why=argument.why if grad is Grad.YES else None, derived=True)
            if argument.gpu:
                value = replace(value, gpu=True)
        return value

    def note_outgoing(self, info: ForeignFunction, positional, keywords, mode: Mode, node):
        args = list(positional)
        ctor = None
        if info.owner is not None and not info.is_static and args:
            instance = args.pop(0)
            owner = instance.target if instance.kind is Kind.INSTANCE else None
            ctor = getattr(owner, "ctor", None)
        # Every call counts, not only those handing over a grad tensor: a function the project calls only with
        # grad off is judged by those calls in its own module, not analysed there as if called with grad on.
        self.outgoing_calls.append(OutgoingRecord(info.ref.path, info.ref.name, tuple(args), dict(keywords),
                                                  mode, node, ctor))

    def instantiate_foreign(self, info: ForeignClass, args: Args, node, frame) -> Value:
        summary = info.summary
        init = info.find_method("__init__")
        if init is None and info.torch_base is not None:
            return self.torch_module(info.torch_base, args)
        if isinstance(init, ForeignFunction) and init.summary.has_conversions:
            self.note_outgoing(init, [UNKNOWN, *args.positional], args.keywords, frame.state.mode, node)
        target = info.built_with(args) if any(worth_a_look(v) for v in args.all()) else info
        attrs = tuple((name, self.materialise(value)) for name, value in summary.attrs)
        gpu = any(value.gpu for _, value in attrs if value.kind is Kind.MODULE)
        return Value(Kind.INSTANCE, Grad.NO, qname=info.name, target=target, attrs=attrs,
                     has_params=summary.has_params, gpu=gpu)


def _bind(summary: FunctionSummary, positional, keywords) -> Dict[str, Value]:
    bound: Dict[str, Value] = {}
    ordered = [p for p in summary.params if p.kind == "positional"]
    for index, param in enumerate(ordered):
        if index < len(positional):
            bound[param.name] = positional[index]
        elif param.name in keywords:
            bound[param.name] = keywords[param.name]
    for param in summary.params:
        if param.kind == "keyword" and param.name in keywords:
            bound[param.name] = keywords[param.name]
        elif param.kind == "star":
            extra = list(positional[len(ordered):])
            if extra:
                elem = extra[0]
                for value in extra[1:]:
                    elem = join(elem, value)
                bound[param.name] = container(elem, tuple(extra))
    return bound
