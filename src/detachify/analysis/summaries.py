"""Engine mixin: what a summary needs from an analysis, and calls from other modules re-run here.

The runs a summary adds (a function with unknown arguments, a function with tagged grad arguments) happen in a
sandbox: their conversions, memo entries and changes to module-level names are thrown away, so summarising a
module never changes what is reported for it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Optional, Tuple

from . import knowledge as K
from . import provenance as P
from .arguments import Args
from .program import ClassInfo, FunctionInfo, param_list
from .provenance import Site, Why
from .state import Frame, State
from .summary import ModuleSummary, OutgoingCall
from .values import Grad, Kind, Mode, Value


class Summaries:
    # calls from other modules -----------------------------------------------------------------------------
    def run_incoming_call(self, call: OutgoingCall):
        info, owner = self.local_function(call.function)
        if info is None or info.closure is None:
            return
        mode = Mode(call.mode)
        frame = Frame(State(mode=mode), parent=self.module_frame)
        site = Site(P.PASSED_TO, info.name, call.line, call.path, call.cell)
        positional = [self.materialise(value) for value in call.positional]
        keywords = {name: self.materialise(value) for name, value in call.keywords}
        if owner is not None and not info.is_static:
            positional.insert(0, self.instance_for_incoming(owner, call, frame))
        self.call_function(info, positional, keywords, None, frame, site=site)

    def instance_for_incoming(self, owner: ClassInfo, call: OutgoingCall, frame: Frame) -> Value:
        if call.ctor is None:
            return self.default_instance(owner)
        positional, keywords = call.ctor
        args = Args([self.materialise(v) for v in positional], {k: self.materialise(v) for k, v in keywords},
                    False, ())
        return self.instantiate(owner, args, None, frame)

    def local_function(self, qualified: str) -> Tuple[Optional[FunctionInfo], Optional[ClassInfo]]:
        """The module's own `f` or `Class.method`, by name."""
        head, _, method = qualified.partition(".")
        value = self.module_frame.state.vars.get(head)
        if value is None:
            return None, None
        if not method:
            target = value.target if value.kind is Kind.FUNCTION else None
            return (target, None) if isinstance(target, FunctionInfo) and target.node is not None else (None, None)
        owner = value.target if value.kind is Kind.CLASS else None
        if not isinstance(owner, ClassInfo) or owner.node is None:
            return None, None
        found = owner.find_method(method)
        return (found, owner) if found is not None and found.node is not None else (None, None)

    # what summaries ask ------------------------------------------------------------------------------------
    def summarise(self, path: str, display: str, name: str) -> ModuleSummary:
        from .exports import Exporter

        return Exporter(self, path, display).module(name)

    @contextmanager
    def sandbox(self):
        """Runs whose observations must not count: swap out everything a run records, restore it after."""
        saved = (self.conversions, self.flows_back, self.elements_read, self.call_memo, self.outgoing_calls,
                 self.calls_analysed, self.statements_run, dict(self.module_frame.state.vars),
                 self.module_frame.state.mode, self.graph_kept_by_backward)
        self.conversions, self.flows_back, self.elements_read, self.call_memo = {}, set(), set(), {}
        self.outgoing_calls, self.calls_analysed, self.statements_run = [], 0, 0
        analysed = {info: info.analysed for info in self.functions.values()}
        instances, self._default_instances = self._default_instances, dict(self._default_instances)
        passed_other, self.passed_other = self.passed_other, {}
        seen = self.conversions
        try:
            yield seen
        finally:
            for info in self.functions.values():
                info.analysed = analysed.get(info, False)
            self._default_instances = instances
            self.passed_other = passed_other
            (self.conversions, self.flows_back, self.elements_read, self.call_memo, self.outgoing_calls,
             self.calls_analysed, self.statements_run, variables, mode, self.graph_kept_by_backward) = saved
            self.module_frame.state.vars = variables
            self.module_frame.state.mode = mode

    def standalone_result(self, info: FunctionInfo) -> Value:
        if info.standalone_result is not None:
            return info.standalone_result
        with self.sandbox():
            bound = self.standalone_arguments(info)
            mode = info.decorator_mode or self.framework_mode(info)
            result = self.analyse_call(info, tuple(bound.items()), mode, None, self.module_frame)
        info.standalone_result = result
        return result

    def standalone_arguments(self, info: FunctionInfo) -> Dict[str, Value]:
        positional = []
        if info.owner is not None and param_list(info.node.params) and not info.is_static:
            positional.append(self.default_instance(info.owner))
        bound = self.bind_parameters(info, positional, {}, None)
        bound.update(self.annotated_parameters(info))
        return bound

    def tagged_run(self, info: FunctionInfo):
        """Run `info` with each parameter a grad tensor that names it: which reach the result, which a
        conversion, and whether it converts anything at all."""
        with self.sandbox() as seen:
            bound = self.standalone_arguments(info)
            skip = param_list(info.node.params)[0].name.value if (
                info.owner is not None and not info.is_static and param_list(info.node.params)) else None
            for name in list(bound):
                if name != skip:
                    bound[name] = Value(Kind.TENSOR, Grad.YES, Why(P.ARGUMENT, name), deps=frozenset({name}))
            result = self.analyse_call(info, tuple(bound.items()), info.decorator_mode or Mode.ON, None,
                                       self.module_frame)
            converted = set()
            for conversion in seen.values():
                if conversion.value.grad is Grad.YES or conversion.value.gpu:
                    converted |= conversion.value.deps
            return result, converted, bool(seen)

    def all_names(self) -> Optional[Tuple[str, ...]]:
        value = self.module_frame.state.vars.get("__all__")
        if value is None or value.items is None:
            return None
        names = [item.const[0] for item in value.items if item.const and isinstance(item.const[0], str)]
        return tuple(names) if len(names) == len(value.items) else None

    def imports_other_tensor_library(self) -> bool:
        return bool(self.imports & K.OTHER_TENSOR_LIBRARIES)

    def grad_mode_of_instance(self, instance: Value) -> Optional[Mode]:
        for _, value in instance.attrs:
            if value.kind is Kind.GRAD_MODE and value.mode is not None:
                return value.mode
        return None
