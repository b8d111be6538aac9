"""Calls into torch and other libraries, by qualified name: tensor and module methods, torch functions."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import libcst as cst

from . import converters as C
from . import knowledge as K
from . import provenance as P
from ..registry import derived
from .libraries import canonical
from .provenance import why
from .arguments import Args
from .expressions import place_key
from .values import (
    OTHER, UNKNOWN, Grad, Kind, Mode, Value, container, gpu_condition, grad_tensor, join, join_all,
    frozen, module, qualname, tensor,
)


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


# `step` is left out: `scheduler.step(val_loss)` is far more common than `ax.step(...)` on an unknown receiver.
AXES_METHODS_ON_UNKNOWN = C.AXES_METHODS - {"step"}


def is_converter(qname: str, table=C.CONVERTING_FUNCTIONS) -> bool:
    module, _, name = qname.rpartition(".")
    if module == K.AXES:
        return name in C.AXES_METHODS and table is C.CONVERTING_FUNCTIONS
    for library, names in table.items():
        if qname.startswith(library + ".") and qname[len(library) + 1:] in names:
            return True
    return False


def _never_grad(qname: str) -> bool:
    """A torch op whose outputs are tensors that never require grad, as calling it under torch showed."""
    return derived.torch_op_effect(qname) == "no-grad" and derived.torch_never_requires_grad(qname)


class TorchCalls:
    # tensors ---------------------------------------------------------------------------------------------
    def tensor_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        key = place_key(node.func.value)
        if name in K.DETACHING_METHODS:
            result = tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
            if name == "detach_":
                self.rebind_place(key, result, frame)
            return result
        if name == "requires_grad_":
            wanted = args.constant("requires_grad", 0)
            given = bool(args.positional or "requires_grad" in args.keywords or args.partial)
            if wanted is not ... and not wanted:
                result = tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
            elif wanted is not ... or not given:
                result = grad_tensor(why(P.REQUIRES_GRAD_CALL), gpu=receiver.gpu)
            else:  # `requires_grad_(flag)`: grad as the flag says, known only at run time
                result = tensor(Grad.UNKNOWN, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
            self.rebind_place(key, result, frame)
            return result
        if name.startswith("new_") and args.constant("requires_grad") is True:
            return grad_tensor(why(P.REQUIRES_GRAD_FACTORY), gpu=receiver.gpu, gpu_if=receiver.gpu_if)
        if name in K.SAME_DEVICE_FACTORY_METHODS and receiver.kind is Kind.UNKNOWN:
            # `x.new_zeros(n)` is `torch.zeros(n, device=x.device)`: where an argument or a batch lives, which,
            # like its `.device`, may be a GPU.
            return tensor(Grad.NO, gpu=True, gpu_if=receiver.gpu_if)
        if name in K.NON_DIFFERENTIABLE_OPS or name in K.NON_DIFFERENTIABLE_METHODS:
            return tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
        if name in K.NON_TENSOR_METHODS:
            if name == "backward" and args.constant("create_graph") is True:
                self.graph_kept_by_backward = True
            if name == "backward" and receiver.kind is Kind.TENSOR and receiver.grad is Grad.NO:
                # `torch.from_numpy(a).sum().backward()`: a graph that can only have come through NumPy.
                self.backward_without_grad.add(frame.function.node if frame.function is not None else self.module)
            return OTHER
        if name in K.DISTRIBUTION_SAMPLERS and receiver.qname == K.DISTRIBUTIONS:
            return tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
        if _never_grad(f"{K.TENSOR_CLASS}.{name}"):  # `p.multinomial(2)`, as torch says
            return tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
        if name in K.VALUES_INDICES_OPS and (K.VALUES_INDICES_OPS[name] or args.positional or "dim" in args.keywords):
            values = self.op_result([receiver], frame)
            indices = tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
            return container(values, (values, indices), ("values", "indices"))
        if name in ("to", "type") and any(v.qname in K.INTEGER_DTYPES or v.qname and derived.torch_effect_with_dtype(
                f"{K.TENSOR_CLASS}.{name}", v.qname) == "no-grad" for v in args.all()):
            if name == "to" and _names_cpu(args):  # `.to(dtype=torch.uint8, device="cpu")`
                return tensor(Grad.NO)
            if name == "to" and any(v.gpu for v in args.all()):
                return tensor(Grad.NO, gpu=True, gpu_if=gpu_condition(args.all()))
            return tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if)
        if name in K.FULL_REDUCTIONS and not args.positional and "dim" not in args.keywords \
                and receiver.kind is Kind.TENSOR:
            return replace(self.op_result([receiver, *args.all()], frame), scalar=True)
        if receiver.kind is Kind.UNKNOWN and receiver.grad is not Grad.YES:
            # Not known to be a tensor: `.cpu()` of anything tells us nothing, but `.cuda()` moves it to a GPU.
            if name == "cuda" or (name == "to" and any(v.gpu for v in args.all())):
                return replace(receiver, gpu=True, qname="")
            return UNKNOWN
        result = self.op_result([receiver, *args.all()], frame)
        if name in ("cpu", "cuda", "to") and result.grad is receiver.grad:
            # A copy to another device is the same tensor as far as the user is concerned.
            result = Value(result.kind, result.grad, receiver.why, receiver.derived, result.gpu, deps=result.deps,
                           gpu_if=result.gpu_if)
        if name == "cpu" or (name == "to" and _names_cpu(args)):
            return replace(result, gpu=False, gpu_if="")
        if name == "cuda":
            return replace(result, gpu=True, gpu_if="")
        if name == "to" and any(v.gpu for v in args.all()):
            return replace(result, gpu=True, gpu_if=gpu_condition(args.all()))
        if name.endswith("_"):
            # In place: the tensor keeps requiring grad (a leaf under no_grad), and gains it from a grad operand.
            result = join(receiver, result) if receiver.kind is Kind.TENSOR else result
            if result.grad is Grad.YES and key:
                self.rebind_place(key, result, frame)
        return result

    # torch and other libraries, by qualified name ---------------------------------------------------------
    def call_qualname(self, qname: str, args: Args, node, frame) -> Value:
        qname = canonical(qname)  # `plt.plot` with `import matplotlib.pylab as plt`
        if qname.startswith(K.BUILTINS + "."):
            return self.call_builtin(qname[len(K.BUILTINS) + 1:], args, node, frame)
        if is_converter(qname):
            return self.convert_arguments(args, node, frame, shallow=qname in C.SHALLOW_CONVERTERS)
        if is_converter(qname, C.LAZY_CONVERTERS):
            self.convert_arguments(args, node, frame)
            return OTHER
        if is_converter(qname, C.LIST_CONVERTING_FUNCTIONS):
            return self.convert_arguments(args, node, frame, containers_only=True)
        if is_converter(qname, C.DETACHING_CONVERTERS):
            return self.convert_arguments(args, node, frame, detached=True)
        if qname in C.AXES_FACTORIES or qname.rpartition(".")[0] in (K.FIGURE, K.AXES) and (
                qname.rpartition(".")[2] in C.FIGURE_AXES_METHODS or qname.rpartition(".")[2] in K.AXES_ARRAY_METHODS):
            axes = qualname(K.AXES)
            return container(join(qualname(K.FIGURE), axes), (qualname(K.FIGURE), axes)) \
                if qname in C.FIGURE_AND_AXES_FACTORIES else axes
        if qname in K.FIGURE_FACTORIES:
            return qualname(K.FIGURE)
        head, _, last = qname.rpartition(".")
        if qname.startswith(C.ESTIMATOR_MODULES) and last[:1].isupper():
            return qualname(K.ESTIMATOR)
        if head == K.ESTIMATOR:
            if last in C.ESTIMATOR_METHODS:
                self.convert_arguments(args, node, frame)
            return qualname(K.ESTIMATOR) if last in K.ESTIMATOR_METHODS_RETURNING_SELF else OTHER
        if qname in C.CONVERTING_METHODS:
            return qualname(qname)  # an instance, tracked by its class's name
        if head in C.CONVERTING_METHODS:
            if last in C.CONVERTING_METHODS[head]:
                self.convert_arguments(args, node, frame)
                return OTHER
            return UNKNOWN
        if qname in K.DEVICE_FUNCTIONS:
            names = K.DEVICE_FUNCTIONS[qname]
            device = Value(Kind.OTHER, Grad.NO, gpu=names != "cpu", qname=K.DEVICE)
            return container(device) if names == "gpus" else device
        if qname in K.GRAD_MODE_SETTERS:
            return Value(Kind.GRAD_MODE, Grad.NO, qname=qname, mode=grad_mode_set_by(qname, args))
        for prefix in K.MODEL_CONSTRUCTOR_PREFIXES:
            if qname.startswith(prefix):
                return module(qname, True)
        if last in K.MODEL_FACTORY_METHODS and _is_model_class(head):
            return module(head, True)
        if head in K.TORCH_FUNCTION_NAMESPACES:
            return self.torch_function(last, args, node, frame, head)
        if qname in K.PARAMETER_CLASSES:
            if args.constant("requires_grad", 1) is False:
                return tensor(Grad.NO)
            return grad_tensor(why(P.NN_PARAMETER))
        if head == K.NN_UTILS:
            if last in K.NON_DIFFERENTIABLE_NN_UTILS:
                return tensor(Grad.NO)
            return self.op_result(args.all(), frame)
        if qname.startswith(K.DISTRIBUTIONS + ".") and last[:1].isupper():
            distribution = self.op_result(args.all(), frame)
            return replace(distribution, qname=K.DISTRIBUTIONS)
        if qname in K.GRADIENT_FUNCTIONS:
            if args.constant("create_graph") is True:
                return container(grad_tensor(why(P.CREATE_GRAPH_GRAD)))
            return container(tensor(Grad.NO))
        if qname in K.CHECKPOINTS:
            inputs = Args(args.positional[K.CHECKPOINTS[qname]:], {}, args.partial, ())
            return self.call_value(args.first(), inputs, node, frame)
        if qname in K.PARTIAL_APPLICATIONS and args.positional and args.positional[0].kind is Kind.FUNCTION:
            return self.partial_function(args)
        if qname in K.COPIES:
            return args.first()
        if qname in K.PASS_THROUGH_ITERABLES:
            # `for batch in tqdm(loader)`: what the loop sees is what the loader yields.
            iterable = args.positional[0] if args.positional else args.keywords.get("iterable")
            return container(self.element_of(self.consume(iterable, frame))) if iterable is not None else UNKNOWN
        if head in K.MODULE_NAMESPACES and last[:1].isupper():
            return self.torch_module(last, args)
        if qname in K.TENSOR_DATASETS:
            return container(container(join_all(args.positional), tuple(args.positional)))
        if qname in K.DATA_LOADERS:
            return container(self.element_of(args.first()))
        if qname in K.MODEL_WRAPPERS:
            return module(qname, True, gpu=args.first().gpu)
        if qname.startswith(K.OPTIMIZERS + ".") and last[:1].isupper() and not qname.startswith(K.SCHEDULERS + "."):
            return Value(Kind.OTHER, Grad.NO, qname=K.OPTIMIZER, elem=self.element_of(args.first()))
        if head == K.CUDA and last.endswith("Tensor") and last[:1].isupper():
            return tensor(Grad.NO, gpu=True)  # legacy `torch.cuda.FloatTensor(...)`: a tensor on the GPU
        if qname.startswith(K.UNFOLLOWED_CALL_PREFIXES):
            return OTHER
        if qname == K.NUMPY or qname.startswith(K.NUMPY + "."):
            origins = frozenset().union(*(v.origins for v in args.all())) if args.all() else frozenset()
            return Value(Kind.NDARRAY, Grad.NO, origins=origins)
        return UNKNOWN

    def partial_function(self, args: Args) -> Value:
        """`partial(f, **options)` calls `f`; `partial(f, a)` calls it with `a` first (as a bound method calls
        its function with `self`). The keywords it fixes are not kept: calls then see `f`'s defaults."""
        function, bound = args.positional[0], args.positional[1:]
        if any(arg.star == "*" for arg in args.nodes):
            return UNKNOWN  # which positions it fixes is not known
        if not bound:
            return function
        if len(bound) == 1 and function.elem is None:
            return replace(function, elem=bound[0])
        return UNKNOWN

    def torch_function(self, name: str, args: Args, node, frame, namespace: str) -> Value:
        gpu = any(v.gpu for v in args.keywords.values())
        self.mark_flowing_back(args)
        if namespace == K.TORCH and name in K.TENSOR_FACTORIES:
            if args.constant("requires_grad") is True:
                return grad_tensor(why(P.REQUIRES_GRAD_FACTORY), gpu=gpu)
            first = args.first()
            if name in K.FACTORIES_PASSING_TENSORS and first.kind is Kind.TENSOR \
                    and args.constant("requires_grad") is not False:
                return first
            return tensor(Grad.NO, gpu=gpu)
        if name in K.NON_DIFFERENTIABLE_OPS or name == "one_hot" or \
                _never_grad(f"{namespace}.{name}"):
            return tensor(Grad.NO, gpu=any(v.gpu for v in args.all()))
        if name in K.VALUES_INDICES_OPS and (K.VALUES_INDICES_OPS[name] or len(args.positional) > 1
                                             or "dim" in args.keywords):
            second = args.positional[1] if len(args.positional) > 1 else OTHER
            if second.kind is not Kind.TENSOR:  # torch.max(a, b) is elementwise, not a (values, indices) pair
                values = self.op_result([args.first()], frame)
                indices = tensor(Grad.NO, gpu=args.first().gpu, gpu_if=args.first().gpu_if)
                return container(values, (values, indices), ("values", "indices"))
        if (name in K.FULL_REDUCTIONS and len(args.positional) == 1 and "dim" not in args.keywords) or (
                name in K.FUNCTIONAL_LOSSES and args.constant("reduction") != "none"):
            return replace(self.op_result(args.all(), frame), scalar=True)
        if name == "device":
            known = all(v.const for v in args.all())  # `torch.device("cpu")`, not `torch.device(name)`
            return Value(Kind.OTHER, Grad.NO, gpu=any(v.gpu for v in args.all()), qname=K.DEVICE if known else "")
        if name in ("is_tensor", "is_grad_enabled", "manual_seed", "save", "numel", "get_default_dtype",
                    "set_default_dtype", "set_printoptions", "is_floating_point"):
            return OTHER
        if name == "load":
            # Anything pickled: a module when it is called; tensors land where they were saved (a GPU too)
            # unless `map_location` says otherwise.
            location = args.keywords.get("map_location") or (args.positional[1] if len(args.positional) > 1
                                                             else None)
            return Value(Kind.UNKNOWN, Grad.UNKNOWN, qname=K.LOAD, gpu=location is None or location.gpu)
        return self.op_result(args.all(), frame)

    def torch_module(self, name: str, args: Args) -> Value:
        if name in K.PARAMETER_FREE_MODULES:
            return module(f"{K.TORCH_NN}.{name}", False)
        if name in K.MODULE_CONTAINERS:
            children = args.positional
            if len(children) == 1 and children[0].kind is Kind.CONTAINER:
                children = list(children[0].items or [children[0].elem or UNKNOWN])
            has_params = any(c.has_params or c.kind not in (Kind.MODULE, Kind.INSTANCE) for c in children)
            items = tuple(children) if name == "Sequential" and not args.partial else None
            return Value(Kind.MODULE, Grad.NO, qname=f"{K.TORCH_NN}.{name}", items=items, has_params=has_params,
                         elem=join_all(children) if children else None)
        return module(f"{K.TORCH_NN}.{name}", True)

    # modules ---------------------------------------------------------------------------------------------
    def module_output(self, callee: Value, args: Args, node, frame) -> Value:
        if not callee.has_params:
            result = self.op_result(args.all(), frame)
            return replace(result, scalar=True) if callee.qname.endswith("Loss") else result
        mode = frame.state.mode
        gpu = callee.gpu or any(v.gpu for v in args.all())
        flag = gpu_condition([callee, *args.all()])
        if mode is Mode.ON:
            return grad_tensor(why(P.MODULE_OUTPUT, self.code(_callee(node))), gpu=gpu, gpu_if=flag)
        return tensor(Grad.NO if mode is Mode.OFF else Grad.UNKNOWN, gpu=gpu, gpu_if=flag)

    def module_method(self, receiver: Value, name: str, args: Args, node, frame) -> Value:
        owner = self.code(node.func.value)
        if name in ("parameters", "named_parameters"):
            param = tensor(Grad.NO)
            if receiver.has_params:
                param = grad_tensor(why(P.PARAMETER_OF, owner), gpu=receiver.gpu, gpu_if=receiver.gpu_if)
            return container(param if name == "parameters" else container(join(OTHER, param), (OTHER, param)))
        if name in ("state_dict", "buffers"):
            return container(tensor(Grad.NO, gpu=receiver.gpu, gpu_if=receiver.gpu_if))
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
        if name in ("cuda", "to", "cpu"):
            # A module moves in place: `model.cuda()` as a statement moves `model`.
            gpu = name == "cuda" or (name == "to" and any(v.gpu for v in args.all()))
            moved = Value(Kind.MODULE, Grad.NO, qname=receiver.qname, has_params=receiver.has_params, gpu=gpu,
                          items=receiver.items)
            if name != "to" or gpu or _names_cpu(args):
                self.rebind_place(place_key(node.func.value), moved, frame)
            return moved
        if name in ("eval", "train", "float", "double", "half", "bfloat16", "share_memory"):
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


def _names_cpu(args: Args) -> bool:
    """`.to("cpu")` / `.to(torch.device("cpu"))`: a device known not to be a GPU."""
    first = args.keywords.get("device") or args.first()
    return first.kind is Kind.OTHER and not first.gpu and (bool(first.const) or first.qname == K.DEVICE)


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
