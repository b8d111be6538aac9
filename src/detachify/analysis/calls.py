"""Evaluating calls: dispatch by what is called, conversions, builtins and containers."""
from __future__ import annotations

from dataclasses import replace


import libcst as cst

from . import converters as C
from . import knowledge as K
from . import provenance as P
from .arguments import Args
from .program import ClassInfo, param_list
from .expressions import place_key
from .values import (
    OTHER, UNKNOWN, Grad, Kind, Value, container, empty_container, join, join_all, module,
    store_item, stored,
)
from .torch_calls import AXES_METHODS_ON_UNKNOWN


class Calls:
    def x_Call(self, node: cst.Call, frame) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute):
            if _is_super_call(func.value) and frame.function is not None and frame.function.owner is not None:
                return self.call_super(func.attr.value, self.eval_args(node, frame), node, frame)
            receiver = self.eval(func.value, frame)
            args = self.eval_args(node, frame)
            held = self.place_value(func, frame) if receiver.kind is Kind.INSTANCE else None
            if held is not None:  # `self.build = Net` earlier in this run: an instance's own attribute, called
                return self.call_value(held, args, node, frame)
            return self.call_method(receiver, func.attr.value, args, node, frame)
        callee = self.eval(func, frame)
        args = self.eval_args(node, frame)
        return self.call_value(callee, args, node, frame)

    def eval_args(self, node: cst.Call, frame) -> Args:
        positional, keywords, partial = [], {}, False
        values = []
        for arg in node.args:
            value = self.eval(arg.value, frame)
            values.append(value)
            if arg.star == "*" and value.kind is Kind.CONTAINER and value.items is not None:
                positional.extend(value.items)  # `f(*args)` with args a known tuple: exactly its items
            elif arg.star == "*":
                partial = True
                positional.append(self.element_of(value))
            elif arg.star == "**":
                partial = True
            elif arg.keyword is not None:
                keywords[arg.keyword.value] = value
            else:
                positional.append(value)
        result = Args(positional, keywords, partial, node.args)
        result.values = values
        return result

    # dispatch --------------------------------------------------------------------------------------------
    def call_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        kind = receiver.kind
        if receiver.alternatives:
            return self.call_each(receiver, lambda one: self.call_method(one, name, args, node, frame),
                                  node.func.value, frame)
        if kind is Kind.QUALNAME:
            return self.call_qualname(f"{receiver.qname}.{name}", args, node, frame)
        if kind is Kind.PROJECT_MODULE:
            return self.call_value(self.project_attribute(receiver, name), args, node, frame)
        if kind is Kind.INSTANCE:
            return self.instance_method(receiver, name, args, node, frame)
        if kind is Kind.UNKNOWN and name in AXES_METHODS_ON_UNKNOWN and self.imports & K.AXES_LIBRARIES:
            # `def show(ax, w): ax.imshow(w)`: an unknown receiver of a plotting method is almost surely Axes.
            return self.convert_arguments(args, node, frame)
        if name == "numpy" and kind in (Kind.TENSOR, Kind.UNKNOWN):
            return self.convert_by_method(receiver, args, node, frame)
        if kind is Kind.MODULE:
            return self.module_method(receiver, name, args, node, frame)
        if kind is Kind.CONTAINER:
            return self.container_method(receiver, name, args, node, frame)
        if kind is Kind.CLASS:
            method = receiver.target.find_method(name)
            if method is not None:
                return self.call_function(method, args.positional, args.keywords, node, frame)
            return UNKNOWN
        if kind is Kind.NDARRAY:
            return receiver if name not in ("tolist", "item") else OTHER
        if kind in (Kind.TENSOR, Kind.UNKNOWN):
            return self.tensor_method(receiver, name, args, node, frame)
        return UNKNOWN

    def call_value(self, callee: Value, args: Args, node, frame) -> Value:
        kind = callee.kind
        if callee.alternatives:
            return self.call_each(callee, lambda one: self.call_value(one, args, node, frame), node.func, frame)
        if kind is Kind.QUALNAME:
            return self.call_qualname(callee.qname, args, node, frame)
        if kind is Kind.FUNCTION:
            positional = args.positional if callee.elem is None else [callee.elem, *args.positional]
            return self.call_function(callee.target, positional, args.keywords, node, frame)
        if kind is Kind.CLASS:
            return self.instantiate(callee.target, args, node, frame)
        if kind is Kind.MODULE:
            return self.module_output(callee, args, node, frame)
        if kind is Kind.INSTANCE:
            return self.instance_call(callee, args, node, frame)
        if kind is Kind.UNKNOWN and (callee.qname == K.LOAD or self.used_as_module(node, frame)):
            # `model = torch.load(path); model(x)`, or `model.eval()` somewhere: a module with parameters.
            return self.module_output(module(callee.qname, True, callee.gpu), args, node, frame)
        return UNKNOWN

    def call_each(self, value: Value, call, receiver_node, frame) -> Value:
        """A call on a value of one of several classes: each class's method may run; the result is their join,
        and what each call writes back to the receiver's attributes is kept for that class."""
        key = place_key(receiver_node) if isinstance(receiver_node, (cst.Name, cst.Attribute)) else None
        results, members, changed = [], [], False
        for one in value.alternatives:
            results.append(call(one))
            now = self.eval(receiver_node, frame) if key is not None else value
            changed = changed or now is not value
            members.append(now if now is not value else one)
        if changed:
            self.rebind_place(key, join_all(members), frame)
        return join_all(results)

    def call_super(self, name: str, args: Args, node, frame) -> Value:
        """`super().__init__(...)`, `super(Net, self).forward(x)`: the method of a base class, on this `self`."""
        function = frame.function
        params = param_list(function.node.params) if function.node is not None else []
        if not params:
            return UNKNOWN
        self_name = params[0].name.value
        instance = self.lookup(self_name, frame)
        for base in function.owner.bases:
            owner = base.target if base.kind is Kind.CLASS else None
            method = owner.find_method(name) if isinstance(owner, ClassInfo) else None
            if method is None:
                continue
            if getattr(owner, "summary", None) is not None and name == "__init__":
                # A base from another module: what its `__init__` sets, as its summary has it.
                for attribute, value in owner.summary.attrs:
                    key = f"{self_name}.{attribute}"
                    if key not in frame.state.vars:
                        self.rebind_place(key, self.materialise(value), frame)
            result, callee = self.call_function(method, [instance, *args.positional], args.keywords, node, frame,
                                                want_frame=True)
            if callee is not None:  # what the base's method set on `self` is set on this one
                for attribute, value in self.self_attributes(method, callee):
                    self.rebind_place(f"{self_name}.{attribute}", value, frame)
            return result
        return UNKNOWN

    # conversions -----------------------------------------------------------------------------------------
    def convert_by_method(self, receiver: Value, args: Args, node, frame) -> Value:
        force = args.constant("force", 0) is True
        self.record_conversion(node, node.func.value, receiver, frame, force)
        return Value(Kind.NDARRAY, Grad.NO, origins=frozenset({node}))

    def convert_arguments(self, args: Args, node, frame, containers_only: bool = False,
                          shallow: bool = False, detached: bool = False) -> Value:
        """`np.asarray(t)`, `plt.plot(x, losses)`: each data argument goes through `Tensor.__array__`
        (`detached`: through `x.detach().numpy()`, which only a tensor off the CPU makes fail)."""
        callee = self.code(node.func)
        origins = set()
        kinds = (Kind.CONTAINER,) if containers_only else (Kind.TENSOR, Kind.UNKNOWN, Kind.CONTAINER)
        for arg, value in zip(args.nodes, args.values):
            if arg.star or (arg.keyword is not None and arg.keyword.value in C.NON_DATA_KEYWORDS):
                continue
            origins |= value.origins
            if shallow and value.kind is Kind.CONTAINER and not _holds_arrays(value):
                continue  # pandas keeps lists of single numbers as objects: nothing is converted
            if value.kind not in kinds:
                self.passed_other.setdefault(arg.value, set()).add(value.kind)  # an array here, a tensor there
            if value.kind in kinds:
                if detached:
                    value = replace(value, grad=Grad.NO, why=None, derived=False)
                self.record_conversion(arg.value, arg.value, value, frame, False, "implicit", callee, detached)
                origins.add(arg.value)
        return Value(Kind.NDARRAY, Grad.NO, origins=frozenset(origins))

    def mark_flowing_back(self, args: Args):
        """A NumPy value passed back into torch: a fix of its conversion would change what torch computes."""
        for value in args.all():
            self.flows_back.update(value.origins)
            self.flows_back.update(site for site, _ in value.stores)

    def call_builtin(self, name: str, args: Args, node, frame) -> Value:
        if args.positional and name in ("list", "tuple", "sorted", "next", "sum", "max", "min", "enumerate", "zip"):
            args.positional = [self.consume(value, frame) for value in args.positional]
        first = args.first()
        key = args.keywords.get("key")
        if key is not None and name in ("sorted", "min", "max"):
            self.call_value(key, Args([self.element_of(first)], {}, False, ()), node, frame)
        if name == "filter" and len(args.positional) == 2:
            self.call_value(first, Args([self.element_of(args.positional[1])], {}, False, ()), node, frame)
            return container(self.element_of(args.positional[1]))
        if name in ("list", "tuple", "sorted", "reversed", "iter", "set", "frozenset"):
            return container(self.element_of(first)) if args.positional else empty_container()
        if name == "next":
            return self.element_of(first)
        if name in ("enumerate",):
            return container(container(join(OTHER, self.element_of(first)), (OTHER, self.element_of(first))))
        if name == "zip":
            elements = tuple(self.element_of(v) for v in args.positional)
            return container(container(join_all(elements), elements))
        if name in ("sum", "max", "min"):
            values = [self.element_of(first)] if len(args.positional) == 1 else args.positional
            if any(v.kind is Kind.TENSOR for v in values):
                return self.op_result(values, frame)
            return UNKNOWN
        if name in ("abs", "round"):
            return first if first.kind is Kind.TENSOR else UNKNOWN
        if name == "map" and args.positional:
            function = args.positional[0]
            elements = [self.element_of(v) for v in args.positional[1:]]
            mapped = self.call_value(function, Args(elements, {}, False, ()), node, frame)
            source = mapped.why
            if mapped.grad is Grad.YES and source.key == P.MODULE_OUTPUT and source.subject == "map":
                # Name the mapped module, not `map`.
                mapped = replace(mapped, why=replace(source, subject=self.code(args.nodes[0].value)))
            return container(mapped)
        if name == "dict" and len(args.positional) == 1 and first.mapping and not args.keywords:
            return first  # a copy of a dict
        if name == "dict":
            # dict(pairs) holds the pairs' second items (`dict(model.named_parameters())`).
            values = [_second(self.element_of(v)) for v in args.positional] + list(args.keywords.values())
            return container(join_all(values), mapping=True) if values else empty_container(mapping=True)
        if name in ("float", "int", "bool", "str", "len", "print", "isinstance", "hasattr", "range", "repr",
                    "format", "id", "type", "callable", "issubclass"):
            return OTHER
        return UNKNOWN

    # containers ------------------------------------------------------------------------------------------
    def container_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        if name in ("append", "add", "insert", "appendleft"):
            if not args.nodes or args.nodes[-1].keyword is not None:
                return OTHER
            last, value = args.nodes[-1], args.values[-1]
            if last.star:  # `ls.append(*items)`: whatever the starred container holds
                added, sites = self.element_of(value), value.stores
            else:
                added, sites = value, stored(last.value, value)
            self.store_into(node.func.value, receiver, added, frame, sites)
            return OTHER
        if name in ("extend", "update"):
            added = self.element_of(args.first()) if args.positional else join_all(args.keywords.values())
            sites = args.first().stores if args.positional else frozenset()
            self.store_into(node.func.value, receiver, added, frame, sites)
            return OTHER
        if name in ("values", "copy"):
            return container(receiver.elem or UNKNOWN)
        if name == "items":
            elem = receiver.elem or UNKNOWN
            return container(container(join(OTHER, elem), (OTHER, elem)))
        if name == "setdefault" and len(args.positional) == 2:
            # `d.setdefault(k, []).append(v)` stores into d: hand back a view that writes through.
            return receiver.elem if receiver.elem is not None and receiver.elem.kind is Kind.CONTAINER \
                else args.positional[1]
        if name in ("get", "pop", "setdefault", "popleft"):
            return receiver.elem or UNKNOWN
        if name == "keys":
            return container(OTHER)
        if name in ("index", "count"):
            return OTHER
        return UNKNOWN

    def store_into(self, target, current: Value, added: Value, frame, sites: frozenset = frozenset()):
        """`lst.append(v)`, `d["k"].append(v)`, `d.setdefault(k, []).append(v)`: the container now may hold v."""
        grown = container(join(current.elem, added) if current.elem is not None else added,
                          stores=current.stores | sites)
        key = place_key(target)
        if key is not None:
            self.rebind_place(key, grown, frame)
            return
        if isinstance(target, cst.Subscript):
            outer = self.eval(target.value, frame)
            if outer.kind is Kind.CONTAINER:
                updated = store_item(outer, self.subscript_key(target, frame), grown, grown.stores)
                self.rebind_place(place_key(target.value), updated, frame)
        elif isinstance(target, cst.Call) and isinstance(target.func, cst.Attribute) \
                and target.func.attr.value == "setdefault":
            outer = self.eval(target.func.value, frame)
            if outer.kind is Kind.CONTAINER:
                self.store_into(target.func.value, outer, grown, frame)


def _holds_arrays(value: Value) -> bool:
    """A container whose elements are tensors with at least one dimension (not numbers, not lists)."""
    elem = value.elem
    return elem is not None and elem.kind is Kind.TENSOR and not elem.scalar


def _second(pair: Value) -> Value:
    if pair.items is not None and len(pair.items) == 2:
        return pair.items[1]
    return pair.elem if pair.kind is Kind.CONTAINER and pair.elem is not None else UNKNOWN


def _is_super_call(node) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "super"
