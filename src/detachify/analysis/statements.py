"""Executing statements over abstract state: assignment, branches joined, loops to a fixed point, grad mode."""
from __future__ import annotations

from dataclasses import replace

import libcst as cst
from libcst.helpers import get_full_name_for_node

from . import knowledge as K
from . import provenance as P
from .provenance import why
from .torch_calls import grad_mode_set_by
from .deferred_imports import bound_name
from .expressions import place_key
from .libraries import STAR_IMPORTABLE
from .literals import evaluated_value
from .program import ClassInfo, FunctionInfo
from .state import Frame, State
from .summary import Ref
from .values import (
    NDARRAY, OTHER, UNKNOWN, Grad, Kind, Mode, Value, container, frozen, grad_tensor, join, keep_grad, qualname,
    store_item, stored, tensor,
)

MAX_LOOP_ROUNDS = 3


MAX_SPLITS = 2  # flags a function's analysis follows apart (each doubles the statements after its test)


class Statements:
    def exec_block(self, block, frame: Frame):
        # Exact type tests: isinstance against libcst's abstract base classes is slow on this hot path.
        body = block.body if type(block) in _BLOCKS else block
        for index, statement in enumerate(body):
            if frame.state.ended:
                break  # after `return` or `raise`: unreachable
            if type(statement) is cst.If and frame.splits < MAX_SPLITS:
                flag = self.flag_tested_again(statement, body[index + 1:], frame)
                if flag is not None:
                    self.exec_split(flag, body[index:], frame)
                    return
            self.exec_statement(statement, frame)

    def flag_tested_again(self, statement: cst.If, rest, frame: Frame):
        """`if is_array: x = torch.from_numpy(x)` … `if is_array: out = out.numpy()`: a flag (a value that is no
        tensor, of unknown truth) that later statements test again."""
        flag = flag_of(statement.test)[0]
        if flag is None or not rest:
            return None
        value = frame.state.vars.get(flag)
        if value is None or value.kind is not Kind.OTHER or value.const:
            return None
        return flag if any(flag in self.flags_tested_in(later) for later in rest) else None

    def exec_split(self, flag: str, statements, frame: Frame):
        """The statements from the first test of `flag` on, once with the flag true and once false, joined: what
        its first test did is still known at the next (joining after the first would forget it)."""
        before, value = frame.state, frame.state.vars[flag]
        frame.splits += 1
        ends = []
        try:
            for outcome in (True, False):
                frame.state = before.copy()
                frame.state.vars[flag] = replace(value, const=(outcome,))
                self.exec_block(statements, frame)
                ends.append(frame.state)
        finally:
            frame.splits -= 1
        frame.state = ends[0].join(ends[1])

    def exec_statement(self, statement, frame: Frame):
        self.statements_run += 1
        handler = self._statement_handlers.get(type(statement))
        if handler is not None:
            handler(self, statement, frame)
        elif isinstance(statement, cst.BaseExpression):
            self.eval(statement, frame)

    def s_line(self, statement, frame):
        for small in statement.body:
            self.exec_statement(small, frame)

    # simple statements -----------------------------------------------------------------------------------
    def s_Assign(self, statement: cst.Assign, frame):
        value = self.eval(statement.value, frame)
        for target in statement.targets:
            self.assign(target.target, value, frame, statement.value)
        if len(statement.targets) == 1 and type(statement.targets[0].target) is cst.Name:
            self.remember_type_test(statement.targets[0].target.value, statement.value, frame)

    def remember_type_test(self, flag: str, test, frame):
        subject = _type_test_subject(test)
        if subject is not None and frame.state.vars.get(flag) is not None:
            frame.state.tests[flag] = (frame.state.vars[flag], test, self.eval(subject, frame))
        else:
            frame.state.tests.pop(flag, None)

    def replay_type_test(self, flag: str, outcome: bool, frame):
        """`if is_array:` with `is_array = isinstance(x, np.ndarray)`: what the test says of x, if neither the
        flag nor x changed since."""
        fact = frame.state.tests.get(flag)
        current = frame.state.vars.get(flag)
        if fact is None or current is None or replace(current, const=()) != fact[0]:
            return
        flag_value, test, subject_value = fact
        if self.eval(_type_test_subject(test), frame) == subject_value:
            self.refine(test, outcome, frame)

    def s_AnnAssign(self, statement: cst.AnnAssign, frame):
        if statement.value is not None:
            self.assign(statement.target, self.eval(statement.value, frame), frame)

    def s_AugAssign(self, statement: cst.AugAssign, frame):
        current = self.eval(statement.target, frame)
        value = self.binary(current, self.eval(statement.value, frame), statement.operator, frame)
        if current.kind is Kind.CONTAINER:
            value = current if value.kind is not Kind.CONTAINER else value
        elif current.kind is Kind.TENSOR and current.grad > value.grad:
            # `w -= lr * w.grad` under no_grad updates w in place: a leaf that required grad still does.
            value = current
        self.assign(statement.target, value, frame)

    def s_Expr(self, statement: cst.Expr, frame):
        if isinstance(statement.value, cst.SimpleString):
            return  # a docstring
        value = self.eval(statement.value, frame)
        # `torch.set_grad_enabled(False)` as a statement switches grad mode from here on.
        if value.kind is Kind.GRAD_MODE and value.qname.endswith("set_grad_enabled"):
            frame.state.mode = value.mode

    def s_Return(self, statement: cst.Return, frame):
        if frame.function is None:
            # `return` outside a function: CPython refuses to compile it (Jupyter then skips that one cell), so
            # it ends nothing; the code after it is what runs in the next cells.
            self.eval_children(statement, frame)
            return
        frame.add_return(self.eval(statement.value, frame) if statement.value is not None else OTHER)
        frame.state.ended = True

    def s_Raise(self, statement: cst.Raise, frame):
        self.eval_children(statement, frame)
        frame.state.ended = True

    def s_Import(self, statement: cst.Import, frame):
        for alias in statement.names:
            dotted = get_full_name_for_node(alias.name)
            top = dotted.split(".", 1)[0]
            own = self.project.resolve(dotted, 0) if self.project is not None else None
            if alias.asname is not None:
                value = self.project_module_value(own) if own is not None else qualname(dotted)
                self.bind(alias.asname.name.value, value, frame)
            else:
                package = self.project.resolve(top, 0) if own is not None else None
                if own is not None and package is None:  # `import a.b` with `a` a namespace package
                    package = replace(own, name=top, path="")
                self.bind(top, self.project_module_value(package) if package is not None else qualname(top), frame)
            if own is None:
                self.imports.add(top)

    def s_ImportFrom(self, statement: cst.ImportFrom, frame):
        base = get_full_name_for_node(statement.module) if statement.module is not None else ""
        level = len(statement.relative)
        own = self.project.resolve(base, level) if self.project is not None and (base or level) else None
        if own is not None or level:
            self.import_from_project(statement, own, frame)
            return
        if isinstance(statement.names, cst.ImportStar):
            if base in STAR_IMPORTABLE:  # `from matplotlib.pyplot import *`: its names resolve on lookup
                self.star_libraries.append(base)
                self.imports.add(base.split(".", 1)[0])
            return
        if base:
            self.imports.add(base.split(".", 1)[0])
        for alias in statement.names:
            name = get_full_name_for_node(alias.name)
            bound = alias.asname.name.value if alias.asname is not None else name.split(".", 1)[0]
            self.bind(bound, UNKNOWN if not base else qualname(f"{base}.{name}"), frame)

    def import_from_project(self, statement: cst.ImportFrom, module, frame):
        """`from .model import Net`, `from pkg import *`: names as the module's summary has them."""
        star = isinstance(statement.names, cst.ImportStar)
        names = () if star else [get_full_name_for_node(alias.name) for alias in statement.names]
        deferred = self.deferrable_names(statement, frame) if module is not None and module.path else frozenset()
        # Read the package's summary only if a name is not one of its submodules (`from . import sibling`), nor
        # one read when first looked up.
        needed = star or any(self.project.submodule(module.root, f"{module.name}.{name}") is None
                             and bound_name(alias) not in deferred
                             for name, alias in zip(names, statement.names)) if module is not None else False
        summary = self.module_summary(Ref(module.path)) if needed and module.path else None
        if star:
            if summary is not None:
                self.import_star_from_project(summary, frame)
            return
        for alias in statement.names:
            name = get_full_name_for_node(alias.name)
            bound = bound_name(alias)
            value = UNKNOWN
            # A submodule first (what the import graph assumes too); else a name the package defines.
            sub = self.project.submodule(module.root, f"{module.name}.{name}") if module is not None else None
            if sub is not None:
                value = self.project_module_value(sub)
            elif bound in deferred:
                self.defer_import(bound, Ref(module.path, name))
                continue
            elif summary is not None and summary.symbol(name) is not None:
                value = self.materialise(summary.symbol(name))
            elif module is not None and not module.path:
                value = self.defined_in_namespace(module.root, module.name, name)
            self.bind(bound, value, frame)

    def s_Del(self, statement: cst.Del, frame):
        for name in _names(statement.target):
            frame.state.vars.pop(name, None)

    def s_evaluate_children(self, statement, frame):
        self.eval_children(statement, frame)

    # assignment ------------------------------------------------------------------------------------------
    def assign(self, target, value: Value, frame: Frame, value_node=None):
        if isinstance(target, cst.Name):
            self.bind(target.value, self.backpropagated(target.value, value, frame), frame)
        elif isinstance(target, (cst.Tuple, cst.List)):
            self.unpack(target, value, frame)
        elif isinstance(target, cst.Attribute):
            self.assign_attribute(target, value, frame, value_node)
        elif isinstance(target, cst.Subscript):
            self.assign_item(target, value, frame, value_node)
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, self.container_of(value), frame)

    def unpack(self, target, value: Value, frame):
        elements = target.elements
        starred = any(isinstance(e, cst.StarredElement) for e in elements)
        items = value.items if value.items is not None and len(value.items) == len(elements) and not starred \
            else None
        for index, element in enumerate(elements):
            part = items[index] if items is not None else self.element_of(value)
            self.assign(element.value if not isinstance(element, cst.StarredElement) else element, part, frame)

    def container_of(self, elem: Value) -> Value:
        return container(elem)

    def assign_attribute(self, target: cst.Attribute, value: Value, frame, value_node=None):
        key = place_key(target)
        base_key = place_key(target.value)
        if target.attr.value == "requires_grad" and base_key:
            current = self.eval(target.value, frame)
            flag = _literal_bool(value_node)
            if current.kind is Kind.MODULE or flag is None:
                return
            new = grad_tensor(why(P.REQUIRES_GRAD_SET), gpu=current.gpu, gpu_if=current.gpu_if) if flag \
                else tensor(Grad.NO, gpu=current.gpu, gpu_if=current.gpu_if)
            self.rebind_place(base_key, new, frame)
            return
        if key is not None:
            self.rebind_place(key, self.backpropagated(key, value, frame), frame)
        else:
            self.eval(target.value, frame)

    def assign_item(self, target: cst.Subscript, value: Value, frame, value_node=None):
        base = self.eval(target.value, frame)
        if base.kind is Kind.NDARRAY and value_node is not None and _stored_as_array(value, value_node):
            # `preds[i:j] = out`: NumPy converts what it stores in an array's slots (a single number it reads
            # with float(), which never raises).
            self.record_conversion(value_node, value_node, value, frame, False, "implicit",
                                   f"{self.code(target)} = ...")
        index = self.subscript_key(target, frame)
        key = place_key(target.value)
        if key is None:
            return
        if base.kind is Kind.CONTAINER:
            sites = stored(value_node, value) if value_node is not None else frozenset()
            self.rebind_place(key, store_item(base, index, value, sites), frame)
        elif base.kind is Kind.TENSOR and value.grad > base.grad and frame.state.mode is Mode.ON:
            self.rebind_place(key, replace(keep_grad(value), derived=True, gpu=base.gpu), frame)

    # compound statements ---------------------------------------------------------------------------------
    def s_If(self, statement: cst.If, frame):
        test = self.eval(statement.test, frame)
        if test.const:  # `if DEBUG:` with DEBUG a known constant: only one branch runs
            self.refine(statement.test, bool(test.const[0]), frame)
            if test.const[0]:
                self.exec_block(statement.body, frame)
            elif isinstance(statement.orelse, cst.If):
                self.s_If(statement.orelse, frame)
            elif isinstance(statement.orelse, cst.Else):
                self.exec_block(statement.orelse.body, frame)
            return
        before = frame.state
        frame.state = before.copy()
        self.refine(statement.test, True, frame)
        self.exec_block(statement.body, frame)
        after_body = frame.state
        frame.state = before.copy()
        self.refine(statement.test, False, frame)
        if isinstance(statement.orelse, cst.If):
            self.s_If(statement.orelse, frame)
        elif isinstance(statement.orelse, cst.Else):
            self.exec_block(statement.orelse.body, frame)
        after_else = frame.state
        frame.state = after_body.join(after_else)
        self.remember_condition(statement.test, after_body, after_else, frame)

    def remember_condition(self, test, when_true: State, when_false: State, frame):
        """`if on_gpu: x = x.cuda()` … `if not on_gpu: x.numpy()`: the second test of the same unchanged flag
        sees what the branch it implies left, not both branches joined."""
        flag, outcome = flag_of(test)
        if flag is None:
            return
        if outcome is False:
            when_true, when_false = when_false, when_true
        differing = {name: (when_true.vars[name], when_false.vars[name]) for name in when_true.vars
                     if name in when_false.vars and name != flag and when_true.vars[name] != when_false.vars[name]}
        for name, (if_true, if_false) in differing.items():
            joined = frame.state.vars.get(name)
            if joined is not None and if_true.gpu and not if_false.gpu:
                frame.state.vars[name] = _on_gpu_only_if(joined, flag)
        if differing and flag in frame.state.vars:
            frame.state.conditions[flag] = (frame.state.vars[flag], differing)

    def narrow_by_type(self, test: cst.Call, outcome: bool, frame):
        subject = test.args[0].value
        key = place_key(subject)
        if not key:
            return
        callee = self.eval(test.func, frame).qname
        if callee in K.INSTANCE_TESTS and len(test.args) == 2:
            kinds = _type_kinds(self.eval(test.args[1].value, frame))
        elif callee in K.TENSOR_PREDICATES and len(test.args) == 1:
            kinds = frozenset({"tensor"})
        elif callee in K.ATTRIBUTE_TESTS and len(test.args) == 2 and \
                _literal_string(test.args[1].value) in K.TENSOR_ONLY_ATTRIBUTES:
            kinds = frozenset({"tensor"})
        else:
            return
        current = self.eval(subject, frame)
        narrowed = _narrowed(current, kinds, outcome)
        if narrowed is not current:
            self.rebind_place(key, narrowed, frame)

    def narrow_by_exact_type(self, test: cst.Comparison, outcome: bool, frame):
        """`type(x) == np.ndarray` / `type(x) is torch.Tensor` true: x is one. False says nothing (an
        `nn.Parameter` is a tensor whose type is not `torch.Tensor`)."""
        operator = test.comparisons[0].operator
        if isinstance(operator, (cst.Equal, cst.Is)):
            equal = outcome
        elif isinstance(operator, (cst.NotEqual, cst.IsNot)):
            equal = not outcome
        else:
            return
        call = test.left
        if not equal or not isinstance(call, cst.Call) or len(call.args) != 1 or call.args[0].star \
                or self.eval(call.func, frame).qname not in K.TYPE_QUERIES:
            return
        key = place_key(call.args[0].value)
        if not key:
            return
        kinds = _type_kinds(self.eval(test.comparisons[0].comparator, frame))
        current = self.eval(call.args[0].value, frame)
        narrowed = _narrowed(current, kinds, True)
        if narrowed is not current:
            self.rebind_place(key, narrowed, frame)

    def narrow_by_flag(self, flag: str, outcome: bool, frame):
        if not outcome:  # the flag is false here: what is on a GPU only when it is true is not
            for name, value in list(frame.state.vars.items()):
                if value.gpu and value.gpu_if == flag:
                    frame.state.vars[name] = replace(value, gpu=False, gpu_if="")
        fact = frame.state.conditions.get(flag)
        if fact is None or frame.state.vars.get(flag) != fact[0]:
            return  # the flag changed since: what it said no longer holds
        for name, (if_true, if_false) in fact[1].items():
            if frame.state.vars.get(name) == join(if_true, if_false):  # unchanged since the first test
                frame.state.vars[name] = if_true if outcome else if_false

    def refine(self, test, outcome: bool, frame):
        """What a branch learns from its test: `if t.requires_grad:` … else: t does not require grad;
        `isinstance(x, np.ndarray)`, `torch.is_tensor(x)`, `hasattr(x, "detach")` say what x is."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            self.refine(test.expression, not outcome, frame)
        elif isinstance(test, cst.BooleanOperation):
            # `a and b` true: both hold; `a or b` false: neither holds.
            if outcome == isinstance(test.operator, cst.And):
                self.refine(test.left, outcome, frame)
                self.refine(test.right, outcome, frame)
        elif isinstance(test, cst.Name):
            self.narrow_by_flag(test.value, outcome, frame)
            self.replay_type_test(test.value, outcome, frame)
        elif isinstance(test, cst.Call) and not test.args and not outcome and \
                self.eval(test.func, frame).qname in K.CUDA_AVAILABILITY:
            # `if torch.cuda.is_available(): ... else:` — without CUDA nothing here is on a GPU.
            for name, value in list(frame.state.vars.items()):
                if value.gpu:
                    frame.state.vars[name] = replace(value, gpu=False, gpu_if="")
        elif isinstance(test, cst.Call) and test.args and not any(arg.star for arg in test.args):
            self.narrow_by_type(test, outcome, frame)
        elif isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            self.narrow_by_exact_type(test, outcome, frame)
        elif isinstance(test, cst.Attribute) and test.attr.value == "requires_grad" and not outcome:
            key = place_key(test.value)
            current = self.eval(test.value, frame)
            if key and current.kind in (Kind.TENSOR, Kind.UNKNOWN):
                self.rebind_place(key, tensor(Grad.NO, gpu=current.gpu, gpu_if=current.gpu_if), frame)
        elif isinstance(test, cst.Call) and place_key(test.func) in K.GRAD_MODE_QUERIES \
                and self.eval(test.func, frame).qname in K.GRAD_MODE_QUERIES:
            frame.state.mode = Mode.ON if outcome else Mode.OFF

    def s_For(self, statement: cst.For, frame):
        iterable = self.consume(self.eval(statement.iter, frame), frame)
        element = self.element_of(iterable)
        saved_mode = frame.state.mode

        def body():
            self.assign(statement.target, element, frame)
            if iterable.kind is Kind.CONTAINER and iterable.mode is not None:
                frame.state.mode = iterable.mode  # a generator that yields inside `no_grad`
            self.exec_block(statement.body, frame)

        if _is_literal_sequence(iterable):
            self.unrolled_loop(statement, iterable.items, frame)
        else:
            self.loop(body, frame)
        if iterable.kind is Kind.CONTAINER and iterable.mode is not None:
            frame.state.mode = saved_mode
        if statement.orelse is not None:
            self.exec_block(statement.orelse.body, frame)
        self.freeze_if_disabling_grad(statement, frame)

    def freeze_if_disabling_grad(self, statement: cst.For, frame):
        """`for p in model.parameters(): p.requires_grad = False` freezes the model: its outputs stop needing grad."""
        call = statement.iter
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "parameters" and isinstance(statement.target, cst.Name)):
            return
        if not _disables_grad_of(statement.body, statement.target.value):
            return
        key = place_key(call.func.value)
        owner = self.eval(call.func.value, frame)
        if key and owner.kind in (Kind.MODULE, Kind.INSTANCE):
            self.rebind_place(key, frozen(owner), frame)

    def s_While(self, statement: cst.While, frame):
        def body():
            self.eval(statement.test, frame)
            self.exec_block(statement.body, frame)

        self.eval(statement.test, frame)
        self.loop(body, frame)
        if statement.orelse is not None:
            self.exec_block(statement.orelse.body, frame)

    def unrolled_loop(self, statement: cst.For, items, frame):
        """`for phase in ["train", "val"]:` runs once per constant, in order, so `phase == "train"` is known."""
        ends = []
        for item in items:
            self.assign(statement.target, item, frame)
            self.exec_block(statement.body, frame)
            ends.append(frame.state)
            frame.state = frame.state.copy()
        for end in ends[:-1]:
            frame.state = frame.state.join(end)

    def loop(self, run_body, frame):
        """Iterate the body until the state at its head stops growing (a few rounds: the lattice is shallow)."""
        head = frame.state
        for _ in range(MAX_LOOP_ROUNDS):
            frame.state = head.copy()
            run_body()
            joined = head.join(frame.state)
            if joined == head:
                break
            head = joined
        frame.state = head

    def s_Try(self, statement, frame):
        before = frame.state
        frame.state = before.copy()
        self.exec_block(statement.body, frame)
        after_body = frame.state
        ends = []
        for handler in statement.handlers:
            frame.state = before.join(after_body)
            if handler.type is not None:
                self.eval(handler.type, frame)
            if handler.name is not None:
                self.assign(handler.name.name, OTHER, frame)
            self.exec_block(handler.body, frame)
            ends.append(frame.state)
        frame.state = after_body
        if statement.orelse is not None:
            self.exec_block(statement.orelse.body, frame)
        for end in ends:
            frame.state = frame.state.join(end)
        if statement.finalbody is not None:
            ended, frame.state.ended = frame.state.ended, False  # `finally` runs after a `return` too
            self.exec_block(statement.finalbody.body, frame)
            frame.state.ended = frame.state.ended or ended

    def s_With(self, statement: cst.With, frame):
        saved_mode = frame.state.mode
        for item in statement.items:
            manager = self.eval(item.item, frame)
            entered = self.enter(manager, item.item, frame)
            if manager.kind in (Kind.GRAD_MODE, Kind.CONTAINER) and manager.mode is not None:
                frame.state.mode = manager.mode
            elif manager.kind is Kind.INSTANCE and _grad_mode_of(manager) is not None:
                frame.state.mode = _grad_mode_of(manager)
            if item.asname is not None:
                self.assign(item.asname.name, entered, frame)
        self.exec_block(statement.body, frame)
        frame.state.mode = saved_mode

    def enter(self, manager: Value, node, frame) -> Value:
        """The value `with manager as x` binds to x."""
        if manager.kind is Kind.INSTANCE:
            method = manager.target.find_method("__enter__")
            if method is not None:
                return self.call_function(method, [manager], {}, node, frame)
            return UNKNOWN
        if manager.kind in (Kind.GRAD_MODE, Kind.OTHER):
            return OTHER
        if manager.kind is Kind.CONTAINER and manager.mode is not None:  # a @contextmanager: what it yields
            return manager.elem or UNKNOWN
        return UNKNOWN

    def s_FunctionDef(self, statement: cst.FunctionDef, frame):
        info = self.functions.get(statement)
        if info is None:
            owner = getattr(frame, "class_info", None)
            info = self.functions[statement] = FunctionInfo(statement, statement.name.value, owner)
            if owner is not None:
                owner.methods[info.name] = info
        info.closure = frame.parent if getattr(frame, "is_class_body", False) else frame
        for decorator in statement.decorators:
            value = self.eval(decorator.decorator, frame)
            dotted = get_full_name_for_node(decorator.decorator) or ""
            if value.kind is Kind.GRAD_MODE and value.mode is not None:
                info.decorator_mode = value.mode
            elif value.kind is Kind.QUALNAME and value.qname in K.GRAD_MODE_SETTERS:
                info.decorator_mode = grad_mode_set_by(value.qname, None)
            elif value.kind is Kind.QUALNAME and value.qname in K.ONCE_DIFFERENTIABLE:
                info.once_differentiable = True
            elif dotted.endswith("contextmanager"):
                info.is_context_manager = True
            elif dotted in K.PROPERTY_DECORATORS:
                info.is_property = True
            elif dotted == "staticmethod":
                info.is_static = True
        if frame is self.module_frame:
            self.top_level_functions.add(statement)
        self.bind(statement.name.value, self.function_value(info, frame), frame)

    def s_ClassDef(self, statement: cst.ClassDef, frame):
        info = self.classes.get(statement)
        if info is None:
            info = self.classes[statement] = ClassInfo(statement)
        info.bases = [self.eval(base.value, frame) for base in statement.bases]
        for base in info.bases:
            if base.kind is Kind.QUALNAME and base.qname in K.MODULE_BASES:
                info.is_module = True
            elif base.kind is Kind.QUALNAME and _is_torch_nn_class(base.qname):
                info.is_module = True
                name = base.qname.rsplit(".", 1)[-1]
                info.torch_base = name if name not in K.PARAMETER_FREE_MODULES else None
            elif base.kind is Kind.CLASS and base.target.is_module:
                info.is_module = True
                info.torch_base = info.torch_base or base.target.torch_base
            if base.kind is Kind.QUALNAME and base.qname in K.AUTOGRAD_FUNCTION_BASES \
                    or base.kind is Kind.CLASS and getattr(base.target, "is_autograd_function", False):
                info.is_autograd_function = True
        body = Frame(State(mode=frame.state.mode), parent=frame, depth=frame.depth)
        body.is_class_body = True
        body.class_info = info
        self.exec_block(statement.body, body)
        info.class_attrs = dict(body.state.vars)
        if frame is self.module_frame:
            self.top_level_classes.add(statement)
        self.bind(statement.name.value, Value(Kind.CLASS, Grad.NO, qname=info.name, target=info), frame)

    def s_Match(self, statement, frame):
        self.eval(statement.subject, frame)
        before = frame.state
        result = before.copy()
        for case in statement.cases:
            frame.state = before.copy()
            self.exec_block(case.body, frame)
            result = result.join(frame.state)
        frame.state = result


def _on_gpu_only_if(value: Value, flag: str, depth: int = 0) -> Value:
    """`value` (and what it holds), on a GPU only when `flag` is true: the branch where it was false put nothing
    there."""
    if depth > 4:
        return value
    items = tuple(_on_gpu_only_if(item, flag, depth + 1) for item in value.items) if value.items else value.items
    elem = _on_gpu_only_if(value.elem, flag, depth + 1) if value.elem is not None else None
    return replace(value, items=items, elem=elem, gpu_if=flag if value.gpu and not value.gpu_if else value.gpu_if)


def flag_of(test):
    """`flag` / `not flag` (any depth of `not`) → (name, True / False); anything else (None, None)."""
    outcome = True
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, outcome = test.expression, not outcome
    return (test.value, outcome) if isinstance(test, cst.Name) else (None, None)


def _type_test_subject(test):
    """`x` in `isinstance(x, T)`, `torch.is_tensor(x)`, `hasattr(x, "a")`, `type(x) == T` (which of these the
    callee really is, `refine` decides); None for anything else."""
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        test = test.left
    if type(test) is cst.Call and test.args and not test.args[0].star:
        return test.args[0].value if type(test.args[0].value) in (cst.Name, cst.Attribute) else None
    return None


def _is_torch_nn_class(qname: str) -> bool:
    """`torch.nn.Linear`: a capitalised name right under torch.nn (`torch.nn.functional.relu` is none)."""
    prefix = K.TORCH_NN + "."
    return qname.startswith(prefix) and qname[len(prefix):len(prefix) + 1].isupper()


def _type_kinds(value: Value) -> frozenset:
    """What an `isinstance` type argument admits: "tensor", "ndarray", "other" (lists, numbers...), "unknown"."""
    if value.kind is Kind.CONTAINER and value.items is not None:
        return frozenset().union(*(_type_kinds(item) for item in value.items))
    if value.kind is not Kind.QUALNAME:
        return frozenset({"unknown"})
    if value.qname in K.TENSOR_TYPES:
        return frozenset({"tensor"})
    if value.qname in K.ARRAY_TYPES:
        return frozenset({"ndarray"})
    if value.qname.startswith(K.BUILTINS + ".") and value.qname not in K.UNIVERSAL_TYPES:
        return frozenset({"other"})
    return frozenset({"unknown"})


def _narrowed(current: Value, kinds: frozenset, outcome: bool) -> Value:
    """`current` where `isinstance(x, <types admitting kinds>)` is `outcome`."""
    if current.kind not in (Kind.TENSOR, Kind.UNKNOWN):
        return current  # a list or a model stays what it is
    if outcome and kinds == {"tensor"}:
        return current if current.kind is Kind.TENSOR else replace(current, kind=Kind.TENSOR)
    if outcome and kinds == {"ndarray"}:
        return NDARRAY
    if not outcome and "tensor" in kinds:
        return OTHER  # whatever it is, not a tensor: nothing torch refuses to convert
    if outcome and current.kind is Kind.TENSOR and not kinds & {"tensor", "unknown"}:
        return OTHER  # `isinstance(t, (list, tuple))` true: not the tensor (it cannot take this branch)
    return current


def _is_literal_sequence(value: Value) -> bool:
    return (value.kind is Kind.CONTAINER and value.items is not None and 0 < len(value.items) <= 8
            and value.names is None and all(item.const for item in value.items))


def _grad_mode_of(instance: Value):
    """A context-manager object of the module that holds a grad-mode manager (`self._ctx = torch.no_grad()`)."""
    for _, value in instance.attrs:
        if value.kind is Kind.GRAD_MODE and value.mode is not None:
            return value.mode
    return None


def _disables_grad_of(body, name: str) -> bool:
    for line in body.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for small in line.body:
            if isinstance(small, cst.Assign) and _literal_bool(small.value) is False and any(
                    place_key(t.target) == f"{name}.requires_grad" for t in small.targets):
                return True
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
                    and place_key(small.value.func) == f"{name}.requires_grad_" and small.value.args \
                    and _literal_bool(small.value.args[0].value) is False:
                return True
    return False


def _names(target):
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names(element.value)


def _literal_string(node):
    return evaluated_value(node) if isinstance(node, cst.SimpleString) else None


def _literal_bool(node):
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


_BLOCKS = frozenset({cst.IndentedBlock, cst.SimpleStatementSuite, cst.Module})

STATEMENT_HANDLERS = {
    cst.SimpleStatementLine: Statements.s_line,
    cst.Assign: Statements.s_Assign,
    cst.AnnAssign: Statements.s_AnnAssign,
    cst.AugAssign: Statements.s_AugAssign,
    cst.Expr: Statements.s_Expr,
    cst.Return: Statements.s_Return,
    cst.Import: Statements.s_Import,
    cst.ImportFrom: Statements.s_ImportFrom,
    cst.Del: Statements.s_Del,
    cst.Raise: Statements.s_Raise,
    cst.Assert: Statements.s_evaluate_children,
    cst.If: Statements.s_If,
    cst.For: Statements.s_For,
    cst.While: Statements.s_While,
    cst.Try: Statements.s_Try,
    cst.TryStar: Statements.s_Try,
    cst.With: Statements.s_With,
    cst.FunctionDef: Statements.s_FunctionDef,
    cst.ClassDef: Statements.s_ClassDef,
    cst.Match: Statements.s_Match,
}


def _stored_as_array(value: Value, node) -> bool:
    """Whether storing `value` into ndarray slots converts it: a tensor not known to be a single number (an index
    expression may well be one, so it is left out), or a list of tensors."""
    if value.kind is Kind.CONTAINER:
        return value.elem is not None and value.elem.kind is Kind.TENSOR
    return value.kind is Kind.TENSOR and not value.scalar and not isinstance(node, cst.Subscript)
