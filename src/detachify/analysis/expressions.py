"""Evaluating expressions to abstract values (calls live in calls.py)."""
from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Optional

import libcst as cst

from . import knowledge as K
from . import provenance as P
from .libraries import star_name
from .literals import evaluated_value
from .provenance import why
from .values import (
    OTHER, UNKNOWN, Grad, Kind, Value, constant, container, empty_container, grad_tensor, join, join_all, module,
    keep_grad, qualname, stored, tensor,
)

BUILTIN_NAMES = frozenset(dir(builtins))
_NAMED_CONSTANTS = {"True": True, "False": False, "None": None}
_KEEP_GRAD_ATTRIBUTES = frozenset({"T", "mT", "H", "mH", "real", "imag"})
# Kinds a `None` on another path never joins into (the join is unknown): a value of one is never None.
_NEVER_NONE = frozenset({Kind.CLASS, Kind.FUNCTION, Kind.PROJECT_MODULE})
_BIT_OPERATORS = frozenset({"BitAnd", "BitOr", "BitXor", "LeftShift", "RightShift"})


def place_key(node) -> Optional[str]:
    """`x`, `self.fc`, `a.b.c` → a key in the state; anything else (calls, subscripts) has none."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = place_key(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class Expressions:
    def eval(self, node, frame) -> Value:
        handler = self._expression_handlers.get(type(node))
        if handler is None:
            self.eval_children(node, frame)
            return UNKNOWN
        return handler(self, node, frame)

    def eval_children(self, node, frame):
        """Evaluate sub-expressions we have no rule for, so conversions inside them are still seen."""
        for child in self.children_of(node):
            if type(child) in self._expression_handlers or isinstance(child, cst.BaseExpression):
                self.eval(child, frame)
            elif isinstance(child, (cst.Arg, cst.SubscriptElement, cst.Index, cst.Slice, cst.Element,
                                    cst.FormattedStringExpression, cst.ComparisonTarget, cst.DictElement)):
                self.eval_children(child, frame)

    # names -----------------------------------------------------------------------------------------------
    def lookup(self, name: str, frame) -> Value:
        current = frame
        while current is not None:
            found = current.state.vars.get(name)
            if found is not None:
                return found
            if current.function is not None and name in current.function.local_names:
                return UNKNOWN  # a local not bound on this path
            current = current.parent
        if name in self.deferred_imports:
            return self.deferred_value(name)
        if self.star_modules:
            found = self.star_value(name)
            if found is not None:
                return found
        if self.star_libraries:
            found = star_name(self.star_libraries, name)
            if found is not None:
                return qualname(found)
        if name in BUILTIN_NAMES:
            return qualname(f"{K.BUILTINS}.{name}")
        return UNKNOWN

    def bind(self, name: str, value: Value, frame):
        if frame.function is not None and name in frame.function.global_names:
            frame = frame.module_frame()
        frame.state.vars[name] = value

    def rebind_place(self, key: Optional[str], value: Value, frame):
        """Update the frame that owns `key` (a closure's list, a global dict, `self.x`)."""
        if not key:
            return
        root = key.split(".", 1)[0]
        owner = frame
        while owner is not None and not owner.owns(root):
            owner = owner.parent
        (owner or frame).state.vars[key] = value

    def x_Name(self, node, frame):
        if node.value in _NAMED_CONSTANTS:
            return constant(_NAMED_CONSTANTS[node.value])
        return self.lookup(node.value, frame)

    def place_value(self, node, frame) -> Optional[Value]:
        """What this run last stored at `self.factory` (a place), if it stored anything there."""
        return self.held_at(place_key(node), frame)

    def held_at(self, key: Optional[str], frame) -> Optional[Value]:
        current = frame
        while key is not None and current is not None:
            found = current.state.vars.get(key)
            if found is not None:
                return found
            current = current.parent
        return None

    # attributes and subscripts ---------------------------------------------------------------------------
    def x_Attribute(self, node, frame):
        key = place_key(node)
        if key is not None:
            current = frame
            while current is not None:
                found = current.state.vars.get(key)
                if found is not None:
                    return found
                current = current.parent
        base = self.eval(node.value, frame)
        return self.get_attribute(base, node.attr.value, node, frame)

    def get_attribute(self, base: Value, name: str, node, frame) -> Value:
        kind = base.kind
        if kind is Kind.PROJECT_MODULE:
            return self.project_attribute(base, name)
        if kind is Kind.QUALNAME:
            if name == "flat" and base.qname == K.AXES:
                return base
            return qualname(f"{base.qname}.{name}")
        if base.names and name in base.names:
            return base.items[base.names.index(name)]
        if kind is Kind.INSTANCE:
            return self.instance_attribute(base, name, node, frame)
        if kind is Kind.CLASS:
            return self.class_attribute(base.target, name)
        if kind is Kind.MODULE:
            return self.module_attribute(base, name, node)
        if kind is Kind.NDARRAY:
            return base
        if base.qname == K.OPTIMIZER:
            return self.optimizer_attribute(base, name)
        if kind in (Kind.TENSOR, Kind.UNKNOWN):
            if name in K.DETACHING_ATTRIBUTES:
                if name == "grad" and self.graph_kept_by_backward:
                    return grad_tensor(why(P.BACKWARD_CREATE_GRAPH), gpu=base.gpu, gpu_if=base.gpu_if)
                return tensor(Grad.NO, gpu=base.gpu, gpu_if=base.gpu_if)
            if name == "device":
                # The device of a tensor of unknown origin (an argument, a batch) may be a GPU: code that puts
                # tensors "where x is" is written to run there.
                return Value(Kind.OTHER, Grad.NO, gpu=base.gpu or kind is Kind.UNKNOWN)
            if name in K.NON_TENSOR_ATTRIBUTES:
                return OTHER
            if kind is Kind.TENSOR or name in _KEEP_GRAD_ATTRIBUTES:
                return base  # views (`.T`) keep grad; so do fields of model outputs (`out.logits`)
            return UNKNOWN
        return UNKNOWN

    def optimizer_attribute(self, optimizer: Value, name: str) -> Value:
        """`optimizer.param_groups[0]["params"]` are the parameters; `optimizer.state[p]` holds plain tensors."""
        params = container(optimizer.elem or UNKNOWN)
        if name == "param_groups":
            return container(container(params, (params,), ("params",)))
        if name == "state":
            return container(container(tensor(Grad.NO)))
        return UNKNOWN

    def module_attribute(self, base: Value, name: str, node) -> Value:
        if name in K.PARAMETER_ATTRIBUTES:
            if base.has_params:
                return grad_tensor(why(P.PARAMETER_OF, self.code(node.value)), gpu=base.gpu, gpu_if=base.gpu_if)
            return UNKNOWN
        if name in K.BUFFER_ATTRIBUTES:
            return tensor(Grad.NO, gpu=base.gpu, gpu_if=base.gpu_if)
        if name == "device":
            return Value(Kind.OTHER, Grad.NO, gpu=True)  # wherever the model was moved: a GPU, maybe
        if name in K.NON_TENSOR_ATTRIBUTES or name in ("training", "config"):
            return OTHER
        # Most other attributes of a model are its submodules (`model.fc`, `model.encoder`).
        return replace(module(f"{base.qname}.{name}", base.has_params, base.gpu), gpu_if=base.gpu_if)

    def x_Subscript(self, node, frame):
        base = self.eval(node.value, frame)
        index = self.subscript_key(node, frame)
        return self.subscript(base, index, node, frame)

    def subscript_key(self, node: cst.Subscript, frame):
        """The constant index or key of `x[0]` / `d["logits"]` (None for anything else); evaluates the slice."""
        key = None
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                value = self.eval(element.slice.value, frame)
                if len(node.slice) == 1 and value.const and isinstance(value.const[0], (int, str)) \
                        and not isinstance(value.const[0], bool):
                    key = value.const[0]
            else:
                self.eval_children(element, frame)
        return key

    def subscript(self, base: Value, index, node, frame) -> Value:
        if isinstance(index, str):
            if base.names is not None and index in base.names:
                return base.items[base.names.index(index)]
            if base.names is not None and base.kind is Kind.CONTAINER:
                return UNKNOWN  # a key this dict is not known to hold (`group["lr"]` next to "params")
            index = None
        elif base.names is not None and base.kind is Kind.CONTAINER and all(isinstance(n, str) for n in base.names) \
                and base.names != ("values", "indices"):
            index = None  # a keyed dict: positions mean nothing
        if base.items is not None and index is not None and -len(base.items) <= index < len(base.items):
            self.note_elements_read(base)
            return base.items[index]
        kind = base.kind
        if kind is Kind.TENSOR:
            return keep_grad(base)  # indexing keeps grad
        if kind is Kind.CONTAINER:
            if _is_slice(node):
                return base
            self.note_elements_read(base)
            return base.elem if base.elem is not None else UNKNOWN
        if kind is Kind.MODULE:
            return module(base.qname, base.has_params, base.gpu)
        if kind is Kind.NDARRAY or (kind is Kind.QUALNAME and base.qname == K.AXES):
            return base  # arrays index to arrays, arrays of Axes to Axes
        if kind is Kind.INSTANCE:
            method = base.target.find_method("__getitem__")
            if method is not None:
                return self.call_function(method, [base, UNKNOWN], {}, node, frame)
        if kind is Kind.UNKNOWN and base.gpu and base.qname != K.LOAD:
            # A part of a batch moved `.to(device)`. (What `torch.load` gave is where it was saved from: its parts
            # are not guessed.)
            return replace(UNKNOWN, gpu=True, gpu_if=base.gpu_if)
        return UNKNOWN

    # operators -------------------------------------------------------------------------------------------
    def x_BinaryOperation(self, node, frame):
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        return self.binary(left, right, node.operator, frame)

    def binary(self, left: Value, right: Value, operator, frame) -> Value:
        kinds = (left.kind, right.kind)
        op = type(operator).__name__.replace("Assign", "")  # `+=` is AddAssign, `+` is Add
        if Kind.TENSOR in kinds:
            if op in _BIT_OPERATORS or (op == "FloorDivide" and "floor_divide" in K.NON_DIFFERENTIABLE_OPS):
                return tensor(Grad.NO, gpu=left.gpu or right.gpu)
            result = self.op_result((left, right), frame)
            if all(v.scalar or v.kind is Kind.OTHER for v in (left, right)):
                result = replace(result, scalar=True)
            return result
        if Kind.CONTAINER in kinds and op == "Add":
            return join(left, right)
        if Kind.NDARRAY in kinds and Kind.UNKNOWN not in kinds:
            return Value(Kind.NDARRAY, Grad.NO, origins=left.origins | right.origins)
        if kinds == (Kind.OTHER, Kind.OTHER):
            return OTHER
        grad = max(left.grad, right.grad)
        source = left if left.grad >= right.grad else right
        return Value(Kind.UNKNOWN, grad, source.why if grad is Grad.YES else None, True, left.gpu or right.gpu,
                     deps=left.deps | right.deps)

    def op_result(self, operands, frame, kind: Kind = Kind.TENSOR) -> Value:
        """The result of a differentiable op: grad if an operand requires grad and grad mode is on."""
        grad, source, gpu, deps, flags = Grad.NO, None, False, frozenset(), set()
        for operand in operands:
            gpu = gpu or operand.gpu
            deps |= operand.deps
            if operand.gpu:
                flags.add(operand.gpu_if)
            if operand.grad > grad:
                grad, source = operand.grad, operand.why
        mode = frame.state.mode.value
        if mode == "off":
            grad = Grad.NO
        elif mode == "unknown" and grad is Grad.YES:
            grad = Grad.UNKNOWN
        return Value(kind, grad, source if grad is Grad.YES else None, True, gpu, deps=deps if grad else frozenset(),
                     gpu_if=flags.pop() if len(flags) == 1 else "")

    def x_UnaryOperation(self, node, frame):
        operand = self.eval(node.expression, frame)
        if isinstance(node.operator, cst.Not):
            return constant(not operand.const[0]) if operand.const else OTHER
        if isinstance(node.operator, cst.Minus) and operand.const and isinstance(operand.const[0], (int, float)):
            return constant(-operand.const[0])
        if isinstance(node.operator, cst.BitInvert) and operand.kind is Kind.TENSOR:
            return tensor(Grad.NO, gpu=operand.gpu, gpu_if=operand.gpu_if)
        return operand

    def x_BooleanOperation(self, node, frame):
        return join(self.eval(node.left, frame), self.eval(node.right, frame))

    def x_Comparison(self, node, frame):
        values = [self.eval(node.left, frame)]
        values += [self.eval(target.comparator, frame) for target in node.comparisons]
        if any(value.kind is Kind.TENSOR or (value.kind is Kind.UNKNOWN and value.gpu) for value in values):
            # `labels != pad` with `labels` a batch moved `.to(device)`: a bool tensor where the batch is.
            return tensor(Grad.NO, gpu=any(value.gpu for value in values))
        if len(values) == 2 and values[0].const and values[1].const \
                and isinstance(node.comparisons[0].operator, (cst.Equal, cst.NotEqual)):
            equal = values[0].const[0] == values[1].const[0]
            return constant(equal if isinstance(node.comparisons[0].operator, cst.Equal) else not equal)
        if len(values) == 2 and values[0].kind in _NEVER_NONE and values[1].const == (None,) \
                and isinstance(node.comparisons[0].operator, (cst.Is, cst.IsNot)):
            # `if factory is not None:` with `factory` a class: no `None` placeholder joins into one (values.py)
            return constant(isinstance(node.comparisons[0].operator, cst.IsNot))
        return OTHER

    def x_IfExp(self, node, frame):
        test = self.eval(node.test, frame)
        if test.const:
            return self.eval(node.body if test.const[0] else node.orelse, frame)
        before = frame.state
        results = []
        for branch, outcome in ((node.body, True), (node.orelse, False)):
            frame.state = before.copy()
            self.refine(node.test, outcome, frame)
            results.append(self.eval(branch, frame))
        frame.state = before
        return join(*results)

    def x_NamedExpr(self, node, frame):
        value = self.eval(node.value, frame)
        self.assign(node.target, value, frame)
        return value

    # literals and displays -------------------------------------------------------------------------------
    def x_constant(self, node, frame):
        literal = _literal_value(node)
        return OTHER if literal is ... else constant(literal)

    def x_formatted(self, node, frame):
        self.eval_children(node, frame)
        return OTHER

    def x_sequence(self, node, frame):
        values, starred, sites = [], False, frozenset()
        for element in node.elements:
            value = self.eval(element.value, frame)
            sites |= stored(element.value, value)
            if isinstance(element, cst.StarredElement):
                starred = True
                value = self.element_of(value)
            values.append(value)
        if not values:
            return empty_container()
        items = None if starred or isinstance(node, cst.Set) else tuple(values)
        return container(join_all(values), items, stores=sites)

    def x_Dict(self, node, frame):
        values, keys, sites = [], [], frozenset()
        for element in node.elements:
            value = self.eval(element.value, frame)
            sites |= stored(element.value, value)
            if isinstance(element, cst.DictElement):
                key = self.eval(element.key, frame)
                keys.append(key.const[0] if key.const and isinstance(key.const[0], str) else None)
                values.append(value)
            else:
                keys.append(None)
                values.append(self.element_of(value))
        if not values:
            return empty_container(mapping=True)
        if None not in keys:  # {"logits": ..., "pred": ...}: keep each key's value apart
            return container(join_all(values), tuple(values), tuple(keys), stores=sites, mapping=True)
        return container(join_all(values), stores=sites, mapping=True)

    def x_comprehension(self, node, frame):
        saved = frame.state
        frame.state = saved.copy()
        try:
            self._bind_comprehension(node.for_in, frame)
            if isinstance(node, cst.DictComp):
                self.eval(node.key, frame)
                element_node = node.value
            else:
                element_node = node.elt
            elem = self.eval(element_node, frame)
        finally:
            frame.state = saved
        return container(elem, stores=stored(element_node, elem), mapping=isinstance(node, cst.DictComp))

    def _bind_comprehension(self, for_in: cst.CompFor, frame):
        while for_in is not None:
            iterable = self.consume(self.eval(for_in.iter, frame), frame)
            self.assign(for_in.target, self.element_of(iterable), frame)
            for condition in for_in.ifs:
                self.eval(condition.test, frame)
            for_in = for_in.inner_for_in

    def x_Lambda(self, node, frame):
        return self.function_value(self.function_info(node, "<lambda>"), frame)

    def x_passthrough(self, node, frame):
        inner = getattr(node, "value", None) or getattr(node, "expression", None)
        if inner is not None:
            self.eval(inner, frame)
        return UNKNOWN

    def x_Yield(self, node, frame):
        value = self.eval(node.value, frame) if node.value is not None else OTHER
        if isinstance(node.value, cst.From):
            value = self.element_of(self.eval(node.value.item, frame))
        frame.yielded = value if frame.yielded is None else join(frame.yielded, value)
        frame.yield_modes.append(frame.state.mode)
        return UNKNOWN

    # helpers ---------------------------------------------------------------------------------------------
    def note_elements_read(self, value: Value):
        """Code reads this container's elements: fixing where they were stored would change what it reads."""
        if value.stores:
            self.elements_read.update(site for site, _ in value.stores)

    def element_of(self, value: Value) -> Value:
        """What iterating over `value` yields."""
        kind = value.kind
        if kind is Kind.CONTAINER:
            self.note_elements_read(value)
            return value.elem if value.elem is not None else UNKNOWN
        if kind is Kind.TENSOR:
            return keep_grad(value)  # rows keep grad
        if kind is Kind.MODULE:
            return module(value.qname, value.has_params, value.gpu)
        if kind is Kind.NDARRAY or (kind is Kind.QUALNAME and value.qname == K.AXES):
            return value
        return UNKNOWN


def _literal_value(node):
    """The value of a number or string literal; ``...`` when unknown (f-strings, bytes, odd escapes)."""
    try:
        return evaluated_value(node)
    except Exception:  # noqa: BLE001 - a literal Python itself would reject: not ours to judge
        return ...


def _is_slice(node: cst.Subscript) -> bool:
    return any(isinstance(element.slice, cst.Slice) for element in node.slice)


EXPRESSION_HANDLERS = {
    cst.Name: Expressions.x_Name,
    cst.Attribute: Expressions.x_Attribute,
    cst.Subscript: Expressions.x_Subscript,
    cst.BinaryOperation: Expressions.x_BinaryOperation,
    cst.UnaryOperation: Expressions.x_UnaryOperation,
    cst.BooleanOperation: Expressions.x_BooleanOperation,
    cst.Comparison: Expressions.x_Comparison,
    cst.IfExp: Expressions.x_IfExp,
    cst.NamedExpr: Expressions.x_NamedExpr,
    cst.Integer: Expressions.x_constant,
    cst.Float: Expressions.x_constant,
    cst.Imaginary: Expressions.x_constant,
    cst.Ellipsis: Expressions.x_formatted,
    cst.SimpleString: Expressions.x_constant,
    cst.ConcatenatedString: Expressions.x_formatted,
    cst.FormattedString: Expressions.x_formatted,
    cst.List: Expressions.x_sequence,
    cst.Tuple: Expressions.x_sequence,
    cst.Set: Expressions.x_sequence,
    cst.Dict: Expressions.x_Dict,
    cst.ListComp: Expressions.x_comprehension,
    cst.SetComp: Expressions.x_comprehension,
    cst.GeneratorExp: Expressions.x_comprehension,
    cst.DictComp: Expressions.x_comprehension,
    cst.Lambda: Expressions.x_Lambda,
    cst.Await: Expressions.x_passthrough,
    cst.Yield: Expressions.x_Yield,
}
