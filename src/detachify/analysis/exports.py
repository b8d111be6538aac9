"""A finished analysis → the plain-data summary other modules import (`summary.py`).

Functions and methods are summarised by two runs each: one with unknown arguments (what the function gives on
its own: a module, a tensor created with `requires_grad=True`, a GPU tensor) and one with every parameter a
grad tensor tagged with its name, in a sandbox whose observations are thrown away (which parameters reach the
result, and which reach a conversion).
"""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Tuple

import libcst as cst

from . import provenance as P
from .program import ClassInfo, FunctionInfo
from .provenance import Site, Why
from .summary import (
    IMPORTED, ClassSummary, FunctionSummary, ModuleSummary, OutgoingCall, ParamSummary, Ref, ValueSummary,
    UNKNOWN_SUMMARY,
)
from .values import Grad, Kind, Value

MAX_DEPTH = 3  # nesting kept in exported values (containers of containers of ...)


class Exporter:
    def __init__(self, analysis, path: str, display: str):
        self.analysis = analysis
        self.path = path
        self.display = display

    # values ------------------------------------------------------------------------------------------------
    def value(self, value: Optional[Value], depth: int = 0) -> ValueSummary:
        if value is None:
            return UNKNOWN_SUMMARY
        ref = self.ref_of(value)
        kind = value.kind
        if kind in (Kind.FUNCTION, Kind.CLASS) and ref is None:
            return UNKNOWN_SUMMARY  # a lambda or a nested def: nothing another module can call by name
        deeper = depth < MAX_DEPTH
        return ValueSummary(
            kind=kind.value,
            grad=int(value.grad),
            why=self.why(value.why),
            derived=value.derived,
            gpu=value.gpu,
            qname=value.qname,
            elem=self.value(value.elem, depth + 1) if value.elem is not None and deeper else None,
            items=tuple(self.value(item, depth + 1) for item in value.items)
            if value.items is not None and deeper else None,
            names=value.names if value.items is not None and deeper else None,
            attrs=tuple((name, self.value(attr, depth + 1)) for name, attr in value.attrs) if deeper else (),
            has_params=value.has_params,
            mode=value.mode.value if value.mode is not None else None,
            const=value.const if _plain(value.const) else (),
            scalar=value.scalar,
            mapping=value.mapping,
            ref=ref,
            deps=tuple(sorted(value.deps)),
            alternatives=tuple(self.value(one, depth + 1) for one in value.alternatives) if deeper else (),
        )

    def ref_of(self, value: Value) -> Optional[Ref]:
        target = value.target
        foreign = getattr(target, "ref", None)
        if isinstance(foreign, Ref):
            return foreign  # re-exported from another module of the project
        if value.kind is Kind.PROJECT_MODULE:
            return target if isinstance(target, Ref) else None
        if isinstance(target, ClassInfo):
            return Ref(self.path, target.name) if self.is_top_level_class(target) else None
        if isinstance(target, FunctionInfo) and not target.is_lambda:
            name = self.qualified(target)
            return Ref(self.path, name) if name else None
        return None

    def why(self, why: Optional[Why]) -> Optional[Why]:
        if why is None or not why.via:
            return why
        return replace(why, via=tuple(self.site(site) for site in why.via))

    def site(self, site: Site) -> Site:
        if site.path:
            return site
        line = site.line if isinstance(site.line, int) else self.analysis.line_of(site.line)
        return replace(site, line=line, path=self.display)

    # functions and classes --------------------------------------------------------------------------------
    def is_top_level_class(self, info: ClassInfo) -> bool:
        return info.node in self.analysis.top_level_classes

    def qualified(self, info: FunctionInfo) -> Optional[str]:
        if info.owner is not None:
            return f"{info.owner.name}.{info.name}" if self.is_top_level_class(info.owner) else None
        return info.name if info.node in self.analysis.top_level_functions else None

    def function(self, info: FunctionInfo, name: str) -> FunctionSummary:
        analysis = self.analysis
        tagged, converted, converts_any = analysis.tagged_run(info)
        returns = _with_dependencies(self.value(_intrinsic(tagged)), tagged)
        source = tagged.why
        passes = source.subject if (tagged.kind is Kind.TENSOR and tagged.grad is Grad.YES and not tagged.derived
                                    and source is not None and source.key == P.ARGUMENT) else None
        return FunctionSummary(
            name=name,
            line=analysis.definition_line(info.node),
            params=_params(info),
            returns=returns,
            passes=passes,
            converts=tuple(sorted(converted)),
            has_conversions=converts_any,
            decorator_mode=info.decorator_mode.value if info.decorator_mode is not None else None,
            is_property=info.is_property,
            is_static=info.is_static,
            is_context_manager=info.is_context_manager,
        )

    def cls(self, info: ClassInfo) -> ClassSummary:
        analysis = self.analysis
        instance = analysis.default_instance(info)
        methods = tuple((name, self.function(method, f"{info.name}.{name}"))
                        for name, method in sorted(info.methods.items()))
        class_attrs = tuple((name, self.value(value)) for name, value in sorted(info.class_attrs.items())
                            if value.kind is not Kind.FUNCTION)
        grad_mode = analysis.grad_mode_of_instance(instance)
        return ClassSummary(
            name=info.name,
            line=analysis.definition_line(info.node),
            bases=tuple(self.value(base) for base in info.bases),
            is_module=info.is_module,
            torch_base=info.torch_base,
            has_params=instance.has_params,
            methods=methods,
            attrs=tuple((name, self.value(value)) for name, value in instance.attrs),
            class_attrs=class_attrs,
            grad_mode=grad_mode.value if grad_mode is not None else None,
        )

    # the module ---------------------------------------------------------------------------------------------
    def module(self, name: str) -> ModuleSummary:
        analysis = self.analysis
        top = analysis.module_frame
        bound = top.state.vars
        symbols = {key: self.value(value) for key, value in bound.items() if "." not in key and key != "__all__"}
        symbols.update(analysis.star_symbols(bound))  # star-imported, read back as they came
        # imported and never read here: passed on as references, for the module that reads them
        symbols.update((name, ValueSummary(IMPORTED, ref=ref)) for name, ref in analysis.deferred_imports.items())
        symbols = tuple(sorted(symbols.items(), key=lambda item: item[0]))
        functions = tuple((info.name, self.function(info, info.name))
                          for info in list(analysis.functions.values())
                          if info.node in analysis.top_level_functions)
        classes = tuple((info.name, self.cls(info)) for info in list(analysis.classes.values())
                        if info.node in analysis.top_level_classes)
        return ModuleSummary(
            path=self.path,
            name=name,
            symbols=symbols,
            functions=tuple(sorted(dict(functions).items(), key=lambda item: item[0])),
            classes=tuple(sorted(dict(classes).items(), key=lambda item: item[0])),
            all_names=analysis.all_names(),
            mode=top.state.mode.value,
            imports_torch="torch" in analysis.imports,
            other_tensor_library=analysis.imports_other_tensor_library(),
        )

    def nodes_to_position(self):
        return [_start_of(call.node) for call in self.analysis.outgoing_calls if call.node is not None]

    def outgoing(self, locate=None) -> Tuple[OutgoingCall, ...]:
        """`locate`: a notebook's (program line, column) → (cell, line, column), so callees name the cell."""
        self.analysis.prepare_positions(self.nodes_to_position())
        calls = []
        for call in self.analysis.outgoing_calls:
            ctor = None
            if call.ctor is not None:
                positional, keywords = call.ctor
                ctor = (tuple(self.value(v) for v in positional),
                        tuple((k, self.value(v)) for k, v in sorted(keywords.items())))
            calls.append(OutgoingCall(
                target=call.target,
                function=call.function,
                positional=tuple(self.value(v) for v in call.positional),
                keywords=tuple((k, self.value(v)) for k, v in sorted(call.keywords.items())),
                mode=call.mode.value,
                path=self.display,
                line=self.analysis.line_of(_start_of(call.node)) if call.node is not None else 0,
                ctor=ctor,
            ))
            if locate is not None and calls[-1].line:
                cell, line, _ = locate(calls[-1].line, 0)
                calls[-1] = replace(calls[-1], cell=cell, line=line)
        return tuple(dict.fromkeys(calls))


def _params(info: FunctionInfo) -> Tuple[ParamSummary, ...]:
    params = info.node.params
    found: List[ParamSummary] = []
    for param in list(params.posonly_params) + list(params.params):
        found.append(ParamSummary(param.name.value, "positional", _default(param)))
    if isinstance(params.star_arg, cst.Param):
        found.append(ParamSummary(params.star_arg.name.value, "star"))
    for param in params.kwonly_params:
        found.append(ParamSummary(param.name.value, "keyword", _default(param)))
    if isinstance(params.star_kwarg, cst.Param):
        found.append(ParamSummary(params.star_kwarg.name.value, "double-star"))
    return tuple(found)


def _default(param) -> tuple:
    if param.default is None:
        return ()
    from .arguments import literal

    value = literal(param.default)
    return ("?",) if value is ... else (value,)


def _plain(const: tuple) -> bool:
    return all(isinstance(c, (str, int, float, bool, type(None))) for c in const)


def _start_of(call):
    """The smallest node that starts where a call starts (its positions cost the least to compute)."""
    return call.func if isinstance(call, cst.Call) else call


def _with_dependencies(alone: ValueSummary, tagged: Value, depth: int = 0) -> ValueSummary:
    """The result with unknown arguments, told which parameters' grad flows into it (and into each item)."""
    if depth > MAX_DEPTH:
        return alone
    if alone.items is not None and tagged.items is not None and len(alone.items) == len(tagged.items):
        alone = replace(alone, items=tuple(_with_dependencies(a, t, depth + 1)
                                           for a, t in zip(alone.items, tagged.items)))
    if alone.elem is not None and tagged.elem is not None:
        alone = replace(alone, elem=_with_dependencies(alone.elem, tagged.elem, depth + 1))
    if not tagged.deps:
        return alone
    # What the arguments bring decides: unknown grad without them is no grad.
    grad = alone.grad if alone.grad == int(Grad.YES) else int(Grad.NO)
    kind = alone.kind if alone.kind != Kind.UNKNOWN.value else tagged.kind.value
    return replace(alone, kind=kind, grad=grad, deps=tuple(sorted(tagged.deps)))


def _intrinsic(tagged: Value, depth: int = 0) -> Value:
    """What a result holds whatever the arguments: the tagged run's value without the grad they brought."""
    if depth > MAX_DEPTH:
        return tagged
    if tagged.why is not None and tagged.why.key == P.ARGUMENT:
        tagged = replace(tagged, grad=Grad.NO, why=None, derived=False)
    if tagged.items is not None:
        tagged = replace(tagged, items=tuple(_intrinsic(item, depth + 1) for item in tagged.items))
    if tagged.elem is not None:
        tagged = replace(tagged, elem=_intrinsic(tagged.elem, depth + 1))
    return tagged
