"""Evaluating calls: torch functions, tensor and module methods, and functions/classes of the module itself."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional

import libcst as cst

from . import converters as C
from . import knowledge as K
from .expressions import place_key
from .program import ClassInfo, FunctionInfo, param_list
from .state import Frame, State
from .values import (
    OTHER, UNKNOWN, Grad, Kind, Mode, Value, constant, container, empty_container, grad_tensor, join, join_all,
    frozen, module, qualname, store_item, stored, tensor,
)

MAX_CALL_DEPTH = 6


def grad_mode_set_by(qname: str, args: Optional["Args"]) -> Mode:
    """The grad mode a setter from the knowledge table sets (args None: used bare, as `@torch.no_grad`)."""
    kind = K.GRAD_MODE_SETTERS[qname]
    if kind in ("on", "off"):
        return Mode.ON if kind == "on" else Mode.OFF
    flag = True if args is None else args.constant("mode", 0)
    if flag is ... and args is not None and not args.nodes and kind == "not-flag":
        flag = True  # inference_mode() defaults to mode=True
    if not isinstance(flag, (bool, int)) or flag is None:
        return Mode.UNKNOWN
    return Mode.ON if bool(flag) == (kind == "flag") else Mode.OFF


AXES = "matplotlib.axes.Axes"
OPTIMIZER = "torch.optim.Optimizer"
FIGURE = "matplotlib.figure.Figure"
AXES_REORDERING = frozenset({"flatten", "ravel", "reshape", "squeeze", "transpose"})
# `step` is left out: `scheduler.step(val_loss)` is far more common than `ax.step(...)` on an unknown receiver.
AXES_METHODS_ON_UNKNOWN = C.AXES_METHODS - {"step"}


def is_converter(qname: str, table=C.CONVERTING_FUNCTIONS) -> bool:
    module, _, name = qname.rpartition(".")
    if module == AXES:
        return name in C.AXES_METHODS and table is C.CONVERTING_FUNCTIONS
    for library, names in table.items():
        if qname.startswith(library + ".") and qname[len(library) + 1:] in names:
            return True
    return False


@dataclass(frozen=True)
class GeneratorRun:
    """How a generator object was made, so iterating it elsewhere can rerun its body in that grad mode."""

    info: FunctionInfo
    bound: tuple
    mode: Mode
    node: object


class Args:
    """Evaluated call arguments: positional values, keyword values, and whether `*`/`**` made them partial."""

    def __init__(self, positional: List[Value], keywords: Dict[str, Value], partial: bool, nodes):
        self.positional = positional
        self.keywords = keywords
        self.partial = partial
        self.nodes = nodes
        self.values: List[Value] = []  # one per node, as evaluated (star args unexpanded)

    @property
    def positional_nodes(self):
        return [arg.value for arg in self.nodes if arg.keyword is None and not arg.star]

    def all(self):
        return [*self.positional, *self.keywords.values()]

    def first(self) -> Value:
        return self.positional[0] if self.positional else UNKNOWN

    def constant(self, keyword: str, position: Optional[int] = None):
        """The constant passed as `keyword` (or at `position`): a literal, or a name known to hold one; else ``...``."""
        value = self.keywords.get(keyword)
        if value is None and position is not None and position < len(self.positional) and not self.partial:
            value = self.positional[position]
        if value is not None and value.const:
            return value.const[0]
        return ...


def _literal(node):
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return node.evaluated_value
    return ...


class Calls:
    def x_Call(self, node: cst.Call, frame) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute):
            receiver = self.eval(func.value, frame)
            args = self.eval_args(node, frame)
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
            if arg.star == "*":
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
        if kind is Kind.QUALNAME:
            return self.call_qualname(f"{receiver.qname}.{name}", args, node, frame)
        if kind is Kind.INSTANCE:
            return self.instance_method(receiver, name, args, node, frame)
        if kind is Kind.UNKNOWN and name in AXES_METHODS_ON_UNKNOWN and "matplotlib" in self.imports:
            # `def show(ax, w): ax.imshow(w)`: an unknown receiver of a plotting method is almost surely Axes.
            return self.convert_arguments(args, node, frame)
        if name == "numpy":
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
        return UNKNOWN

    # conversions -----------------------------------------------------------------------------------------
    def convert_by_method(self, receiver: Value, args: Args, node, frame) -> Value:
        force = args.constant("force", 0) is True
        self.record_conversion(node, node.func.value, receiver, frame, force)
        return Value(Kind.NDARRAY, Grad.NO, origins=frozenset({node}))

    def convert_arguments(self, args: Args, node, frame, containers_only: bool = False,
                          shallow: bool = False) -> Value:
        """`np.asarray(t)`, `plt.plot(x, losses)`: each data argument goes through `Tensor.__array__`."""
        callee = self.code(node.func)
        origins = set()
        kinds = (Kind.CONTAINER,) if containers_only else (Kind.TENSOR, Kind.UNKNOWN, Kind.CONTAINER)
        for arg, value in zip(args.nodes, args.values):
            if arg.star or (arg.keyword is not None and arg.keyword.value in C.NON_DATA_KEYWORDS):
                continue
            origins |= value.origins
            if shallow and value.kind is Kind.CONTAINER and not _holds_arrays(value):
                continue  # pandas keeps lists of single numbers as objects: nothing is converted
            if value.kind in kinds:
                self.record_conversion(arg.value, arg.value, value, frame, False, "implicit", callee)
                origins.add(arg.value)
        return Value(Kind.NDARRAY, Grad.NO, origins=frozenset(origins))

    # tensors ---------------------------------------------------------------------------------------------
    def tensor_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        key = place_key(node.func.value)
        if name in K.DETACHING_METHODS:
            result = tensor(Grad.NO, gpu=receiver.gpu)
            if name == "detach_":
                self.rebind_place(key, result, frame)
            return result
        if name == "requires_grad_":
            wanted = args.constant("requires_grad", 0)
            result = tensor(Grad.NO, gpu=receiver.gpu) if wanted is False else grad_tensor(
                "a tensor with `requires_grad_()` called on it", gpu=receiver.gpu)
            self.rebind_place(key, result, frame)
            return result
        if name in K.NON_DIFFERENTIABLE_OPS or name in K.NON_DIFFERENTIABLE_METHODS:
            return tensor(Grad.NO, gpu=receiver.gpu)
        if name in K.NON_TENSOR_METHODS:
            if name == "backward" and args.constant("create_graph") is True:
                self.graph_kept_by_backward = True
            return OTHER
        if name in K.DISTRIBUTION_SAMPLERS and receiver.qname == "torch.distributions":
            return tensor(Grad.NO, gpu=receiver.gpu)
        if name in K.VALUES_INDICES_OPS and (K.VALUES_INDICES_OPS[name] or args.positional or "dim" in args.keywords):
            values = self.op_result([receiver], frame)
            return container(values, (values, tensor(Grad.NO, gpu=receiver.gpu)), ("values", "indices"))
        if name in ("to", "type") and any(v.qname in K.INTEGER_DTYPES for v in args.all()):
            return tensor(Grad.NO, gpu=receiver.gpu)
        if name in K.FULL_REDUCTIONS and not args.positional and "dim" not in args.keywords \
                and receiver.kind is Kind.TENSOR:
            return replace(self.op_result([receiver, *args.all()], frame), scalar=True)
        if receiver.kind is Kind.UNKNOWN and receiver.grad is not Grad.YES:
            return UNKNOWN  # not known to be a tensor: `.cpu()` of anything tells us nothing
        result = self.op_result([receiver, *args.all()], frame)
        if name in ("cpu", "cuda", "to") and result.grad is receiver.grad:
            # A copy to another device is the same tensor as far as the user is concerned.
            result = Value(result.kind, result.grad, receiver.why, receiver.derived, result.gpu)
        if name == "cpu" or (name == "to" and _names_cpu(args)):
            return Value(result.kind, result.grad, result.why, result.derived, False)
        if name == "cuda" or (name == "to" and any(v.gpu for v in args.all())):
            return Value(result.kind, result.grad, result.why, result.derived, True)
        if name.endswith("_"):
            # In place: the tensor keeps requiring grad (a leaf under no_grad), and gains it from a grad operand.
            result = join(receiver, result) if receiver.kind is Kind.TENSOR else result
            if result.grad is Grad.YES and key:
                self.rebind_place(key, result, frame)
        return result

    # torch and other libraries, by qualified name ---------------------------------------------------------
    def call_qualname(self, qname: str, args: Args, node, frame) -> Value:
        if qname.startswith("builtins."):
            return self.call_builtin(qname[9:], args, node, frame)
        if is_converter(qname):
            return self.convert_arguments(args, node, frame, shallow=qname in C.SHALLOW_CONVERTERS)
        if is_converter(qname, C.LIST_CONVERTING_FUNCTIONS):
            return self.convert_arguments(args, node, frame, containers_only=True)
        if qname in C.AXES_FACTORIES or qname.rpartition(".")[0] in (FIGURE, AXES) and (
                qname.rpartition(".")[2] in C.FIGURE_AXES_METHODS or qname.rpartition(".")[2] in AXES_REORDERING):
            axes = qualname(AXES)
            return container(join(qualname(FIGURE), axes), (qualname(FIGURE), axes)) \
                if qname.endswith("subplots") else axes
        if qname == "matplotlib.pyplot.figure":
            return qualname(FIGURE)
        if qname in K.GRAD_MODE_SETTERS:
            return Value(Kind.GRAD_MODE, Grad.NO, qname=qname, mode=grad_mode_set_by(qname, args))
        for prefix in K.MODEL_CONSTRUCTOR_PREFIXES:
            if qname.startswith(prefix):
                return module(qname, True)
        head, _, last = qname.rpartition(".")
        if last in K.MODEL_FACTORY_METHODS and _is_model_class(head):
            return module(head, True)
        if head in ("torch", "torch.nn.functional", "torch.special", "torch.linalg", "torch.fft", "torch.func"):
            return self.torch_function(last, args, node, frame, head)
        if qname in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            if args.constant("requires_grad", 1) is False:
                return tensor(Grad.NO)
            return grad_tensor("an `nn.Parameter`")
        if head == "torch.nn.utils":
            if last in K.NON_DIFFERENTIABLE_NN_UTILS:
                return tensor(Grad.NO)
            return self.op_result(args.all(), frame)
        if qname.startswith("torch.distributions.") and last[:1].isupper():
            # A distribution carries the grad of its parameters into rsample/log_prob/entropy.
            distribution = self.op_result(args.all(), frame)
            return replace(distribution, qname="torch.distributions")
        if qname in ("torch.autograd.grad", "torch.autograd.functional.jacobian", "torch.autograd.functional.hessian"):
            if args.constant("create_graph") is True:
                return container(grad_tensor("a gradient computed with `create_graph=True`"))
            return container(tensor(Grad.NO))
        if qname in ("copy.deepcopy", "copy.copy"):
            return args.first()
        if head in ("torch.nn", "torch.nn.modules") and last[:1].isupper():
            return self.torch_module(last, args)
        if qname in ("torch.utils.data.TensorDataset", "torch.utils.data.dataset.TensorDataset"):
            return container(container(join_all(args.positional), tuple(args.positional)))
        if qname in ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"):
            return container(self.element_of(args.first()))
        if qname == "torch.device":
            return Value(Kind.OTHER, Grad.NO, gpu=any(v.gpu for v in args.all()))
        if qname.startswith("torch.optim.") and last[:1].isupper() and "lr_scheduler" not in qname:
            return Value(Kind.OTHER, Grad.NO, qname=OPTIMIZER, elem=self.element_of(args.first()))
        if qname.startswith(("torch.optim.", "torch.cuda.", "torch.backends.", "torch.nn.init.")):
            return OTHER
        if qname.startswith("numpy.") or qname == "numpy":
            origins = frozenset().union(*(v.origins for v in args.all())) if args.all() else frozenset()
            return Value(Kind.NDARRAY, Grad.NO, origins=origins)
        return UNKNOWN

    def torch_function(self, name: str, args: Args, node, frame, namespace: str) -> Value:
        gpu = any(v.gpu for v in args.keywords.values())
        self.mark_flowing_back(args)
        if namespace == "torch" and name in K.TENSOR_FACTORIES:
            if args.constant("requires_grad") is True:
                return grad_tensor("a tensor created with `requires_grad=True`", gpu=gpu)
            first = args.first()
            if name in K.FACTORIES_PASSING_TENSORS and first.kind is Kind.TENSOR:
                return first
            return tensor(Grad.NO, gpu=gpu)
        if name in K.NON_DIFFERENTIABLE_OPS or name == "one_hot":
            return tensor(Grad.NO, gpu=any(v.gpu for v in args.all()))
        if name in K.VALUES_INDICES_OPS and (K.VALUES_INDICES_OPS[name] or len(args.positional) > 1
                                             or "dim" in args.keywords):
            second = args.positional[1] if len(args.positional) > 1 else OTHER
            if second.kind is not Kind.TENSOR:  # torch.max(a, b) is elementwise, not a (values, indices) pair
                values = self.op_result([args.first()], frame)
                return container(values, (values, tensor(Grad.NO)), ("values", "indices"))
        if (name in K.FULL_REDUCTIONS and len(args.positional) == 1 and "dim" not in args.keywords) or (
                name in K.FUNCTIONAL_LOSSES and args.constant("reduction") != "none"):
            return replace(self.op_result(args.all(), frame), scalar=True)
        if name == "device":
            known = all(v.const for v in args.all())  # `torch.device("cpu")`, not `torch.device(name)`
            return Value(Kind.OTHER, Grad.NO, gpu=any(v.gpu for v in args.all()), qname="torch.device" if known else "")
        if name in ("is_tensor", "is_grad_enabled", "manual_seed", "save", "numel", "get_default_dtype",
                    "set_default_dtype", "set_printoptions", "is_floating_point"):
            return OTHER
        if name == "load":
            return UNKNOWN
        return self.op_result(args.all(), frame)

    def torch_module(self, name: str, args: Args) -> Value:
        if name in K.PARAMETER_FREE_MODULES:
            return module(f"torch.nn.{name}", False)
        if name in K.MODULE_CONTAINERS:
            children = args.positional
            if len(children) == 1 and children[0].kind is Kind.CONTAINER:
                children = list(children[0].items or [children[0].elem or UNKNOWN])
            has_params = any(c.has_params or c.kind not in (Kind.MODULE, Kind.INSTANCE) for c in children)
            items = tuple(children) if name == "Sequential" and not args.partial else None
            return Value(Kind.MODULE, Grad.NO, qname=f"torch.nn.{name}", items=items, has_params=has_params,
                         elem=join_all(children) if children else None)
        return module(f"torch.nn.{name}", True)

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
            return container(self.call_value(function, Args(elements, {}, False, ()), node, frame))
        if name == "dict":
            # dict(pairs) holds the pairs' second items (`dict(model.named_parameters())`).
            values = [_second(self.element_of(v)) for v in args.positional] + list(args.keywords.values())
            return container(join_all(values)) if values else empty_container()
        if name in ("float", "int", "bool", "str", "len", "print", "isinstance", "hasattr", "range", "repr",
                    "format", "id", "type", "callable", "issubclass"):
            return OTHER
        return UNKNOWN

    # modules ---------------------------------------------------------------------------------------------
    def module_output(self, callee: Value, args: Args, node, frame) -> Value:
        if not callee.has_params:
            result = self.op_result(args.all(), frame)
            return replace(result, scalar=True) if callee.qname.endswith("Loss") else result
        mode = frame.state.mode
        gpu = callee.gpu or any(v.gpu for v in args.all())
        if mode is Mode.ON:
            return grad_tensor(f"the output of module `{self.code(_callee(node))}`", gpu=gpu)
        return tensor(Grad.NO if mode is Mode.OFF else Grad.UNKNOWN, gpu=gpu)

    def module_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        owner = self.code(node.func.value)
        if name in ("parameters", "named_parameters"):
            param = grad_tensor(f"a parameter of `{owner}`", gpu=receiver.gpu) if receiver.has_params \
                else tensor(Grad.NO)
            return container(param if name == "parameters" else container(join(OTHER, param), (OTHER, param)))
        if name in ("state_dict", "buffers"):
            return container(tensor(Grad.NO, gpu=receiver.gpu))
        if name == "named_buffers":
            return container(container(OTHER, (OTHER, tensor(Grad.NO))))
        if name in ("children", "modules"):
            return container(module(receiver.qname, receiver.has_params, receiver.gpu))
        if name == "forward":
            return self.module_output(receiver, args, node, frame)
        if name == "requires_grad_":
            if args.constant("requires_grad", 0) is not False:
                return receiver
            result = frozen(receiver)
            self.rebind_place(place_key(node.func.value), result, frame)
            return result
        if name in ("cuda", "to"):
            gpu = name == "cuda" or any(v.gpu for v in args.all())
            return Value(Kind.MODULE, Grad.NO, qname=receiver.qname, has_params=receiver.has_params, gpu=gpu,
                         items=receiver.items)
        if name in ("eval", "train", "cpu", "float", "double", "half", "bfloat16", "share_memory"):
            return receiver
        if name == "register_forward_hook" and args.positional:
            # The hook sees the layer's output during a forward pass of the whole model: it requires grad
            # when the model has parameters (earlier layers feed it) and grad mode is on.
            model = self.eval(_root_of(node.func.value), frame)
            output = UNKNOWN
            if receiver.has_params or model.has_params:
                output = self.module_output(module(receiver.qname, True), Args([], {}, False, ()), node, frame)
            self.call_value(args.positional[0], Args([receiver, UNKNOWN, output], {}, False, ()), node, frame)
            return OTHER
        return UNKNOWN

    # containers ------------------------------------------------------------------------------------------
    def container_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        if name in ("append", "add", "insert", "appendleft"):
            added = args.positional[-1] if args.positional else UNKNOWN
            sites = stored(args.positional_nodes[-1], added) if args.positional else frozenset()
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

    # functions and classes of the module -----------------------------------------------------------------
    def call_function(self, info: FunctionInfo, positional, keywords, node, frame,
                      self_value: Optional[Value] = None, want_frame: bool = False):
        mode = info.decorator_mode or frame.state.mode
        bound = tuple(self.bind_parameters(info, positional, keywords, node).items())
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

    def bind_parameters(self, info: FunctionInfo, positional, keywords, call_node) -> Dict[str, Value]:
        params = info.node.params
        bound: Dict[str, Value] = {}
        ordered = list(params.posonly_params) + list(params.params)
        # Positions cost a pass over the module: the line is a marker resolved only if a message needs it.
        label = f"passed to `{info.name}` at line {self.line_marker(call_node)}" if call_node is not None else ""
        for index, param in enumerate(ordered):
            name = param.name.value
            if index < len(positional):
                value = positional[index]
            elif name in keywords:
                value = keywords[name]
            else:
                value = self.default_value(param, call_node)
            bound[name] = _label(value, label) if not (index == 0 and info.owner) else value
        for param in params.kwonly_params:
            name = param.name.value
            bound[name] = _label(keywords[name], label) if name in keywords else self.default_value(param, call_node)
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
        literal = _literal(param.default)
        return constant(literal) if literal is not ... else UNKNOWN

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
        prefix = params[0].name.value + "."
        return [(key[len(prefix):], value) for key, value in frame.state.vars.items()
                if key.startswith(prefix) and "." not in key[len(prefix):]]

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
            return self.module_attribute(Value(Kind.MODULE, Grad.NO, qname=info.name,
                                               has_params=instance.has_params, gpu=instance.gpu), name, node)
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
        if stored is not None:  # `self.fc(x)`: an attribute holding a module or a function
            return self.call_value(stored, args, node, frame)
        method = info.find_method(name)
        if method is None:
            if info.is_module:
                as_module = Value(Kind.MODULE, Grad.NO, qname=info.name, has_params=instance.has_params,
                                  gpu=instance.gpu)
                if name in ("eval", "train", "to", "cuda", "cpu", "float", "double", "half"):
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
        updated = self.make_instance(instance.target, attrs.items())
        if updated != instance:
            self.rebind_place(key, updated, frame)

    def instance_call(self, instance: Value, args: Args, node, frame) -> Value:
        info: ClassInfo = instance.target
        if info.is_module:
            forward = info.find_method("forward")
            if forward is None:
                return self.module_output(Value(Kind.MODULE, Grad.NO, has_params=instance.has_params,
                                                gpu=instance.gpu), args, node, frame)
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
        if frame.state.mode is not Mode.ON:
            return result
        why = f"the output of module `{self.code(node.func)}`"
        if result.grad is Grad.YES and result.kind is Kind.TENSOR:
            return grad_tensor(why, gpu=result.gpu)
        if result.grad is Grad.UNKNOWN and instance.has_params and result.kind in (Kind.UNKNOWN, Kind.TENSOR):
            return grad_tensor(why, gpu=result.gpu or instance.gpu)
        return result


def _label(value: Value, label: str) -> Value:
    """Name the call site in the reason: a finding inside a helper says which call gave it a grad tensor."""
    if label and value.grad is Grad.YES and value.why and "passed to" not in value.why:
        return replace(value, why=f"{value.why} ({label})")
    return value


def _holds_arrays(value: Value) -> bool:
    """A container whose elements are tensors with at least one dimension (not numbers, not lists)."""
    elem = value.elem
    return elem is not None and elem.kind is Kind.TENSOR and not elem.scalar


def _second(pair: Value) -> Value:
    if pair.items is not None and len(pair.items) == 2:
        return pair.items[1]
    return pair.elem if pair.kind is Kind.CONTAINER and pair.elem is not None else UNKNOWN


def _names_cpu(args: Args) -> bool:
    """`.to("cpu")` / `.to(torch.device("cpu"))`: a device known not to be a GPU."""
    first = args.keywords.get("device") or args.first()
    return first.kind is Kind.OTHER and not first.gpu and (bool(first.const) or first.qname == "torch.device")


def _callee(node):
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("forward", "register_forward_hook"):
        return func.value
    return func


def _root_of(node):
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
    return node


def _is_model_class(dotted: str) -> bool:
    library = dotted.split(".", 1)[0]
    if library not in K.MODEL_LIBRARIES:
        return False
    name = dotted.rsplit(".", 1)[-1]
    return "Model" in name or "For" in name
