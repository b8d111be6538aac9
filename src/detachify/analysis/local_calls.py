"""Calls of the module's own functions, methods and classes: analysed again at each call site."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional

import libcst as cst

from . import provenance as P
from .arguments import Args, literal
from .provenance import why
from .expressions import place_key
from .foreign import ForeignClass, ForeignFunction
from .program import ClassInfo, FunctionInfo, param_list
from .state import Frame, State
from .values import (
    OTHER, UNKNOWN, Grad, Kind, Mode, Value, constant, container, grad_tensor, join, join_all, tensor,
    frozen,
)

MAX_CALL_DEPTH = 6


@dataclass(frozen=True)
class GeneratorRun:
    """How a generator object was made, so iterating it elsewhere can rerun its body in that grad mode."""

    info: FunctionInfo
    bound: tuple
    mode: Mode
    node: object


class LocalCalls:
    # functions and classes of the module -----------------------------------------------------------------
    def call_function(self, info: FunctionInfo, positional, keywords, node, frame,
                      self_value: Optional[Value] = None, want_frame: bool = False, site: Optional[P.Site] = None):
        if isinstance(info, ForeignFunction):
            return self.call_foreign(info, positional, keywords, node, frame, want_frame)
        mode = info.decorator_mode or frame.state.mode
        parameters = self.bind_parameters(info, positional, keywords, node, site)
        for name, annotated in self.annotated_parameters(info).items():
            if parameters.get(name, UNKNOWN).kind is Kind.UNKNOWN:  # `t: torch.Tensor` given `torch.load(...)`
                given = parameters.get(name, UNKNOWN)
                parameters[name] = replace(annotated, grad=given.grad, why=given.why, derived=given.derived,
                                           deps=given.deps)
        bound = tuple(parameters.items())
        return self.analyse_call(info, bound, mode, node, frame, want_frame)

    def consume(self, iterable: Value, frame) -> Value:
        """Iterating a generator runs its body now, in the consumer's grad mode, not the creator's."""
        run = iterable.target
        if not isinstance(run, GeneratorRun) or run.mode is frame.state.mode:
            return iterable
        return self.analyse_call(run.info, run.bound, frame.state.mode, run.node, frame)

    def analyse_call(self, info: FunctionInfo, bound, mode: Mode, node, frame, want_frame: bool = False):
        key = (info, mode, bound)
        memo = self.call_memo.get(key)
        if memo is not None:
            return memo if want_frame else memo[0]
        if info in self.call_stack or len(self.call_stack) >= MAX_CALL_DEPTH or self.over_budget():
            return (UNKNOWN, None) if want_frame else UNKNOWN
        self.call_stack.append(info)
        self.calls_analysed += 1
        callee = Frame(State(dict(bound), mode), parent=info.closure, function=info, depth=frame.depth + 1)
        callee.call_node = node
        try:
            result = self.run_body(info, callee)
        finally:
            self.call_stack.pop()
        if callee.yield_modes and info.decorator_mode is None and not info.is_context_manager:
            result = replace(result, target=GeneratorRun(info, bound, mode, node))
        self.call_memo[key] = (result, callee)
        return (result, callee) if want_frame else result

    def bind_parameters(self, info: FunctionInfo, positional, keywords, call_node,
                        site: Optional[P.Site] = None) -> Dict[str, Value]:
        params = info.node.params
        bound: Dict[str, Value] = {}
        ordered = list(params.posonly_params) + list(params.params)
        # Positions cost a pass over the module: the node stands for its line until a message needs it.
        label = site or (P.Site(P.PASSED_TO, info.name, call_node) if call_node is not None else None)
        origin = call_node if call_node is not None else site  # None: analysed on its own
        for index, param in enumerate(ordered):
            name = param.name.value
            if index < len(positional):
                value = positional[index]
            elif name in keywords:
                value = keywords[name]
            else:
                value = self.default_value(param, origin)
            bound[name] = _label(value, label) if not (index == 0 and info.owner) else value
        for param in params.kwonly_params:
            name = param.name.value
            given = keywords.get(name)
            bound[name] = _label(given, label) if given is not None else self.default_value(param, origin)
        if isinstance(params.star_arg, cst.Param):
            extra = positional[len(ordered):]
            bound[params.star_arg.name.value] = container(join_all(extra) if extra else UNKNOWN, tuple(extra))
        if isinstance(params.star_kwarg, cst.Param):
            named = {param.name.value for param in ordered} | {param.name.value for param in params.kwonly_params}
            extra = [_label(value, label) for name, value in keywords.items() if name not in named]
            bound[params.star_kwarg.name.value] = container(join_all(extra) if extra else UNKNOWN)
        return bound

    def default_value(self, param: cst.Param, call_node) -> Value:
        """A call that omits the argument gets the literal default; analysed on its own, callers are unknown."""
        if param.default is None or call_node is None:
            return UNKNOWN
        default = literal(param.default)
        return constant(default) if default is not ... else UNKNOWN

    def run_body(self, info: FunctionInfo, frame: Frame) -> Value:
        info.analysed = True
        if info.is_lambda:
            return self.eval(info.node.body, frame)
        self.exec_block(info.node.body, frame)
        if frame.yield_modes:  # it yielded: a generator
            # Grad mode is thread state: a generator suspended inside `with torch.no_grad()` leaves it off
            # for the loop (or `with` block) that consumes it.
            mode = None
            # torch's decorators wrap generators so each resume runs in their mode and each yield restores
            # the caller's: only a `with` block around a `yield` leaks.
            for seen in (frame.yield_modes if info.decorator_mode is None else ()):
                mode = seen if mode is None else mode.join(seen)
            yielded = frame.yielded if frame.yielded is not None else UNKNOWN
            return container(yielded, mode=mode)
        return frame.returns if frame.returns is not None else OTHER

    def instantiate(self, info: ClassInfo, args: Args, node, frame) -> Value:
        if isinstance(info, ForeignClass):
            return self.instantiate_foreign(info, args, node, frame)
        instance = Value(Kind.INSTANCE, Grad.NO, qname=info.name, target=info, has_params=info.is_module)
        init = info.find_method("__init__")
        if init is None:
            if info.torch_base is not None:
                return self.torch_module(info.torch_base, args)
            return instance
        _, callee = self.call_function(init, [instance, *args.positional], args.keywords, node, frame,
                                       want_frame=True)
        if callee is None:
            return instance
        attrs = self.self_attributes(init, callee)
        return self.make_instance(info, attrs)

    def make_instance(self, info: ClassInfo, attrs) -> Value:
        has_params = info.is_module and (
            info.torch_base is not None
            or any(value.has_params or value.grad is Grad.YES or value.kind is Kind.UNKNOWN for _, value in attrs)
            or not attrs)
        return Value(Kind.INSTANCE, Grad.NO, qname=info.name, target=info, attrs=tuple(sorted(attrs)),
                     has_params=has_params,
                     gpu=any(value.gpu for _, value in attrs if value.kind is Kind.MODULE))

    def self_attributes(self, method: FunctionInfo, frame: Frame):
        params = param_list(method.node.params)
        if not params:
            return []
        name = params[0].name.value
        prefix = name + "."
        # What a helper it called set (`self._build()` in `__init__`) was written back into `self` itself.
        held = frame.state.vars.get(name)
        found = dict(held.attrs) if held is not None and held.kind is Kind.INSTANCE else {}
        found.update((key[len(prefix):], value) for key, value in frame.state.vars.items()
                     if key.startswith(prefix) and "." not in key[len(prefix):])
        return list(found.items())

    def instance_attribute(self, instance: Value, name: str, node, frame) -> Value:
        found = instance.attr(name)
        if found is not None:
            return found
        info: ClassInfo = instance.target
        attribute = self.class_attribute(instance, name)
        if attribute is not UNKNOWN:
            if attribute.kind is Kind.FUNCTION and attribute.elem is None:
                if attribute.target.is_property:
                    return self.call_function(attribute.target, [instance], {}, node, frame)
                if not attribute.target.is_static:
                    return Value(Kind.FUNCTION, Grad.NO, target=attribute.target, elem=instance)
            return attribute
        if info.is_module:
            as_module = Value(Kind.MODULE, Grad.NO, qname=info.name, has_params=instance.has_params,
                              gpu=instance.gpu, gpu_if=instance.gpu_if)
            return self.module_attribute(as_module, name, node)
        return UNKNOWN

    def class_attribute(self, owner, name: str) -> Value:
        info = owner.target if isinstance(owner, Value) else owner
        seen = set()
        while isinstance(info, ClassInfo) and info not in seen:
            seen.add(info)
            if name in info.class_attrs:
                return info.class_attrs[name]
            for base in info.bases:
                if isinstance(base.target, ClassInfo):
                    found = self.class_attribute(base.target, name)
                    if found is not UNKNOWN:
                        return found
            break
        return UNKNOWN

    def instance_method(self, instance: Value, name: str, args: Args, node, frame) -> Value:
        info: ClassInfo = instance.target
        stored = instance.attr(name)
        if stored is None:
            attribute = self.class_attribute(instance, name)  # `model = nn.Linear(...)` in the class body
            stored = attribute if attribute is not UNKNOWN and attribute.kind is not Kind.FUNCTION else None
        if stored is not None:  # `self.fc(x)`: an attribute holding a module or a function
            return self.call_value(stored, args, node, frame)
        method = info.find_method(name)
        if method is None:
            if info.is_module:
                as_module = Value(Kind.MODULE, Grad.NO, qname=info.name, has_params=instance.has_params,
                                  gpu=instance.gpu, gpu_if=instance.gpu_if)
                if name == "cuda" or (name == "to" and any(v.gpu for v in args.all())) or name == "cpu":
                    # A module moves in place: `model.cuda()` as a statement moves `model`.
                    moved = replace(instance, gpu=name != "cpu", gpu_if="")
                    self.rebind_place(place_key(node.func.value), moved, frame)
                    return moved
                if name in ("eval", "train", "to", "float", "double", "half"):
                    return instance
                if name == "requires_grad_" and args.constant("requires_grad", 0) is False:
                    result = frozen(instance)
                    self.rebind_place(place_key(node.func.value), result, frame)
                    return result
                return self.module_method(as_module, name, args, node, frame)
            return UNKNOWN
        if method.is_static:
            return self.call_function(method, args.positional, args.keywords, node, frame)
        result, callee = self.call_function(method, [instance, *args.positional], args.keywords, node, frame,
                                            want_frame=True)
        if callee is not None:
            self.write_back_attributes(instance, method, callee, node.func.value, frame)
        if name == "forward" and info.is_module:
            return self.module_result(instance, result, node, frame)
        return result

    def write_back_attributes(self, instance: Value, method: FunctionInfo, callee: Frame, receiver_node, frame):
        """`self.history.append(loss)` inside a method changes the caller's object too."""
        changed = self.self_attributes(method, callee)
        key = place_key(receiver_node)
        if not changed or key is None:
            return
        attrs = dict(instance.attrs)
        for name, value in changed:
            attrs[name] = join(attrs[name], value) if name in attrs else value
            held = self.held_at(f"{key}.{name}", frame)
            if held is not None and held != value:  # `self.model = None`, then `self._load()` sets it
                self.rebind_place(f"{key}.{name}", join(held, value), frame)
        updated = self.make_instance(instance.target, attrs.items())
        if updated != instance:
            self.rebind_place(key, updated, frame)

    def instance_call(self, instance: Value, args: Args, node, frame) -> Value:
        info: ClassInfo = instance.target
        if info.is_module:
            forward = info.find_method("forward")
            if forward is None:
                return self.module_output(Value(Kind.MODULE, Grad.NO, has_params=instance.has_params,
                                                gpu=instance.gpu, gpu_if=instance.gpu_if), args, node, frame)
            result, callee = self.call_function(forward, [instance, *args.positional], args.keywords, node, frame,
                                                want_frame=True)
            if callee is not None:
                self.write_back_attributes(instance, forward, callee, node.func, frame)
            return self.module_result(instance, result, node, frame)
        method = info.find_method("__call__")
        if method is not None:
            return self.call_function(method, [instance, *args.positional], args.keywords, node, frame)
        return UNKNOWN

    def module_result(self, instance: Value, result: Value, node, frame) -> Value:
        """Name the module in the message; and trust its parameters when its forward was too opaque to follow."""
        if instance.gpu:
            result = on_gpu(result, instance.gpu_if)  # a model moved to a GPU computes there: its outputs live there
        if frame.state.mode is not Mode.ON:
            if result.kind is Kind.UNKNOWN and instance.has_params:  # opaque forward: a tensor, without grad
                return tensor(Grad.NO if frame.state.mode is Mode.OFF else Grad.UNKNOWN, gpu=instance.gpu,
                              gpu_if=instance.gpu_if)
            return result
        source = why(P.MODULE_OUTPUT, self.code(node.func))
        if result.grad is Grad.YES and result.kind is Kind.TENSOR:
            return grad_tensor(source, gpu=result.gpu)
        if result.grad is Grad.UNKNOWN and instance.has_params and result.kind in (Kind.UNKNOWN, Kind.TENSOR):
            return grad_tensor(source, gpu=result.gpu or instance.gpu)
        return result


def on_gpu(value: Value, flag: str = "", depth: int = 0) -> Value:
    """`value`, with every tensor in it on a GPU (numbers and other objects stay as they are); `flag`: only when
    that flag is true."""
    if value.kind is Kind.TENSOR:
        return replace(value, gpu=True, gpu_if=flag if not value.gpu or value.gpu_if == flag else "")
    if value.kind is Kind.CONTAINER and depth < 4:
        items = tuple(on_gpu(item, flag, depth + 1) for item in value.items) if value.items is not None else None
        elem = on_gpu(value.elem, flag, depth + 1) if value.elem is not None else None
        return replace(value, items=items, elem=elem, gpu=any(v.gpu for v in (items or ()) + ((elem,) if elem else ())))
    return value


def _label(value: Value, label: Optional[P.Site]) -> Value:
    """Name the call site in the reason: a finding inside a helper says which call gave it a grad tensor."""
    if label is not None and value.grad is Grad.YES and value.why is not None and not value.why.passed():
        return replace(value, why=value.why.through(label))
    return value
