"""How to call a torch op with made-up arguments: probe inputs, the op's parameters, values for them, one call.

Used by scripts/derive_torch_ops.py (which decides what the calls mean) and, through it, by
tests/test_derived_knowledge.py. The only hand-written knowledge here is how to fill a parameter of a given type
or name; nothing is said about any one op.
"""
from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy
import torch

from derive_common import call_quietly, error_text

TENSOR = "torch.Tensor"
# ATen names of the ops a namespace exposes: torch.linalg.svd is aten::linalg_svd, torch.fft.fft aten::fft_fft.
ATEN_PREFIX = {"torch.linalg": "linalg_", "torch.fft": "fft_", "torch.special": "special_"}


# ---------------------------------------------------------------------------------------------------------------
# What is called
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    qualname: str
    namespace: str
    name: str
    kind: str  # "function", "class", "method", "attribute"

    @property
    def obj(self):
        return getattr(torch.Tensor if self.namespace == TENSOR else module_of(self.namespace), self.name)


def module_of(namespace: str):
    obj = torch
    for part in namespace.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------------------------------------------------
# Probe arguments
# ---------------------------------------------------------------------------------------------------------------

GRAD_KINDS = ("grad", "cgrad", "grad+backward")
_SPD = [[2.0, 0.5, 0.0], [0.5, 2.0, 0.5], [0.0, 0.5, 2.0]]


@dataclass(frozen=True)
class Profile:
    """The shapes of the tensors of one probe: the i-th tensor parameter gets `shapes[i]` (the last shape for the
    rest). Same-shaped tensors fit most ops, conv weights included; the mixed ones fit matrix-vector products,
    class-index targets, running statistics and transposed convolutions."""
    name: str
    shapes: Tuple[Tuple[int, ...], ...]

    def shape(self, slot: int) -> Tuple[int, ...]:
        return self.shapes[min(slot, len(self.shapes) - 1)]


def _profile(name: str) -> Profile:
    return Profile(name, tuple(tuple(int(n) for n in part.split("x")) if part != "0d" else ()
                               for part in name.split(",")))


PROFILES = tuple(_profile(name) for name in (
    "2x3", "3x3", "4", "0d", "2x3x3", "2x2x4x4", "2x2x4", "2x2x2x2x2",
    "2x3,2", "2x3,3", "3,3x3,3", "2x3,2,3", "3x3,2x3x3", "2x2x4x4,2x2x2x2", "2x3,2x3,2",
))


@dataclass(frozen=True)
class TensorArg:
    kind: str  # "grad" (float, requires grad), "cgrad" (complex, requires grad), "float" (no grad),
    #            "int" (0/1 indices), "bool", "grad+backward" (requires grad, .grad filled by a backward pass)
    shape: Tuple[int, ...]

    def build(self, leaf: bool) -> torch.Tensor:
        """A fresh tensor that is not a view (in-place ops and detach_ refuse views of leaves). Square matrices
        are symmetric positive definite, for the linear algebra that needs it; floats lie in (0, 1)."""
        if self.kind == "grad+backward":
            tensor = TensorArg("grad", self.shape).build(leaf=True)
            (tensor * tensor).sum().backward()
            return tensor
        shape, n = self.shape, max(1, _numel(self.shape))
        if self.kind == "int":
            return (torch.arange(n) % 2).reshape(shape).clone()
        if self.kind == "bool":
            return (torch.arange(n) % 2 == 0).reshape(shape).clone()
        if len(shape) >= 2 and shape[-2:] == (3, 3):
            values = torch.tensor(_SPD).expand(shape).clone()
        else:
            values = torch.linspace(0.1, 0.9, n).reshape(shape).clone()
        if self.kind == "cgrad":
            values = torch.complex(values, values.flip(-1) if values.dim() else values)
        if self.kind == "float":
            return values
        values.requires_grad_()
        return values if leaf else values.clone()

    def describe(self) -> str:
        return f"{self.kind}[{','.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class ListArg:
    items: Tuple[TensorArg, ...]

    def build(self, leaf: bool) -> list:
        return [item.build(leaf) for item in self.items]

    def describe(self) -> str:
        return "[" + ", ".join(item.describe() for item in self.items) + "]"


@dataclass(frozen=True)
class Literal:
    value: Any
    text: str

    def build(self, leaf: bool):
        if isinstance(self.value, numpy.ndarray):
            return self.value.copy()
        return list(self.value) if isinstance(self.value, list) else self.value

    def describe(self) -> str:
        return self.text


def _numel(shape) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


def lit(value) -> Literal:
    if isinstance(value, numpy.ndarray):
        return Literal(value, f"numpy.{value.dtype}[{','.join(map(str, value.shape))}]")
    if isinstance(value, torch.dtype):
        return Literal(value, str(value))
    if isinstance(value, type):
        return Literal(value, f"torch.{value.__name__}")
    return Literal(value, repr(value))


def tensors_in(arg) -> List[TensorArg]:
    if isinstance(arg, TensorArg):
        return [arg]
    return list(arg.items) if isinstance(arg, ListArg) else []


# ---------------------------------------------------------------------------------------------------------------
# Signatures: what parameters an op takes
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "Tensor", "Tensor?", "Tensor[]", "Tensor*" (varargs), "int", "int[]", "float", "Scalar", "bool",
    #            "str", "dtype", "device", "generator", each optionally with "?" (None allowed); "any": unknown
    required: bool
    keyword_only: bool = False


_SCHEMA_TYPES = {
    "Tensor": "Tensor", "Optional[Tensor]": "Tensor?", "List[Tensor]": "Tensor[]",
    "List[Optional[Tensor]]": "Tensor[]", "int": "int", "Optional[int]": "int?", "List[int]": "int[]",
    "Optional[List[int]]": "int[]?", "number": "Scalar", "complex": "Scalar", "Optional[number]": "Scalar?",
    "float": "float", "Optional[float]": "float?", "bool": "bool", "Optional[bool]": "bool?", "str": "str",
    "Optional[str]": "str?", "Device": "device", "Optional[Device]": "device", "Generator": "generator",
    "Optional[Generator]": "generator", "List[float]": "float[]", "Optional[List[float]]": "float[]?",
}


def schema_specs(target: Target) -> List[List[Param]]:
    """The parameters of each ATen overload of the op (out= variants left out)."""
    aten = "aten::" + ATEN_PREFIX.get(target.namespace, "") + target.name
    specs = []
    for schema in torch._C._jit_get_schemas_for_operator(aten):
        params: Optional[List[Param]] = []
        for argument in schema.arguments:
            alias = argument.alias_info
            if alias is not None and alias.is_write and argument.name != "self":
                params = None  # writes into an `out` tensor
                break
            kind = _SCHEMA_TYPES.get(str(argument.type))
            if argument.name == "dtype" and kind in ("int", "int?"):
                kind = "dtype" if kind == "int" else "dtype?"
            if kind is None:
                if not argument.has_default_value():
                    params = None
                    break
                continue
            params.append(Param(argument.name, kind, not argument.has_default_value(), argument.kwarg_only))
        if params is not None and (target.kind != "method" or (params and params[0].name == "self")):
            specs.append(params)
    return specs


def _annotation_type(annotation, name: str) -> str:
    if annotation is inspect.Parameter.empty:
        return "any"
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    text = str(text)
    optional = "Optional" in text or "None" in text
    suffix = "?" if optional else ""
    if "Tensor" in text:
        if re.search(r"(List|Sequence|Tuple|tuple|list|Iterable)\[.*Tensor", text):
            return "Tensor[]"
        return "Tensor" + suffix
    for word, kind in (("bool", "bool"), ("float", "float"), ("int", "int"), ("str", "str")):
        if re.search(rf"\b_?{word}\b", text):
            return kind + suffix
    return "any"


def _python_callee(obj):
    """The function behind torch's `boolean_dispatch` wrappers (F.max_pool2d, torch.unique): its default branch."""
    for cell in getattr(obj, "__closure__", None) or ():
        content = cell.cell_contents
        if inspect.isfunction(content) and content.__name__ != obj.__name__:
            return content
    return obj


@functools.lru_cache(maxsize=1)
def _testing_overrides() -> Dict[Any, Any]:
    return torch.overrides.get_testing_overrides()


def signature_specs(target: Target) -> List[List[Param]]:
    """Parameters from the Python signature, or from the stand-in torch.overrides keeps for the op."""
    obj = target.obj
    if target.kind == "class":
        obj = obj.__init__ if "__init__" in vars(obj) else obj
    candidates = [obj, _python_callee(obj)]
    try:
        candidates.append(_testing_overrides()[obj])
    except (KeyError, TypeError):  # not overridable, or not even hashable
        pass
    for candidate in candidates:
        try:
            signature = inspect.signature(candidate)
        except (TypeError, ValueError):
            continue
        params = []
        for p in signature.parameters.values():
            if p.kind is p.VAR_KEYWORD or (target.kind == "class" and p.name == "self"):
                continue
            if p.kind is p.VAR_POSITIONAL:
                params.append(Param(p.name, "Tensor*", True))
                continue
            kind = "Tensor" if p.name == "self" else _annotation_type(p.annotation, p.name)
            params.append(Param(p.name, kind, p.default is p.empty, p.kind is p.KEYWORD_ONLY))
        if params and [p.type for p in params] == ["Tensor*"] and candidate is not candidates[-1]:
            continue  # (*args, **kwargs): a wrapper; a later candidate may say more
        return [params]
    return []


GENERIC_SPECS = [
    [], ["Tensor"], ["Tensor", "Tensor"], ["Tensor", "dim"], ["Tensor", "int"], ["Tensor", "Tensor", "Tensor"],
    ["Tensor", "float"], ["Tensor[]"], ["Tensor[]", "dim"], ["equation", "Tensor"],
]
FACTORY_CALLS = [(2, 3), ([1.0, 2.0],), ([2, 3],), (4,), (1.5,), (0, 5, (3,)), (0.0, 1.0, 3),
                 (numpy.ones(2, numpy.float32),)]


def generic_specs(target: Target) -> List[List[Param]]:
    specs = []
    for names in GENERIC_SPECS:
        if target.kind == "method" and (not names or names[0] != "Tensor"):
            continue
        specs.append([Param(n if n in ("dim", "equation") else f"arg{i}", "any" if n in ("dim", "equation") else n,
                            True) for i, n in enumerate(names)])
    return specs


def specs_of(target: Target) -> List[List[Param]]:
    if target.kind == "attribute":
        return [[Param("self-attribute", "Tensor", True)]]
    specs = schema_specs(target) if target.kind in ("function", "method") else []
    obj = target.obj
    if not specs or inspect.isfunction(obj) or inspect.isfunction(_python_callee(obj)) or target.kind == "class":
        specs = signature_specs(target) or specs
    if target.kind == "method":
        specs = [s for s in specs if s and s[0].type == "Tensor"]
    return specs


# ---------------------------------------------------------------------------------------------------------------
# Values for parameters, by type and name
# ---------------------------------------------------------------------------------------------------------------

INT_TENSOR_NAMES = {"index", "indices", "idx", "offsets", "labels", "lengths", "input_lengths", "target_lengths",
                    "boundaries"}
BOOL_TENSOR_NAMES = {"mask", "condition"}
TENSOR_NAMES = {"input", "self", "x", "x1", "x2", "other", "tensor", "tensors", "a", "b", "A", "B", "mat", "mat1",
                "mat2", "vec", "vec1", "vec2", "weight", "bias", "target", "grid", "theta", "query", "key", "value",
                "anchor", "positive", "negative", "input1", "input2", "log_input", "var", "end", "src", "source",
                "elements", "test_elements", "sorted_sequence", "exponent", "y", "LU", "pivots", "tau", "batch1",
                "batch2", "mean", "std", "data", "obj", "tensor1", "tensor2", "values", "out_int32", "matrices",
                "operands", "arrays", "lu_data", "lu_pivots", "dense", "logits", "probs", "grad", "g", "v"}
INT_BY_NAME = {
    "dim": [0, -1], "dim0": [0], "dim1": [-1], "dim2": [-1], "axis": [0], "start_dim": [0], "end_dim": [-1],
    "k": [1], "n": [2], "diagonal": [0], "offset": [0], "chunks": [1], "sections": [1], "split_size": [1],
    "split_size_or_sections": [1], "num_samples": [2], "bins": [4], "minlength": [0], "steps": [3],
    "repeats": [2], "shifts": [1], "groups": [1], "num_classes": [2], "upscale_factor": [1],
    "downscale_factor": [1], "kernel_size": [2, 1], "stride": [1], "padding": [0], "dilation": [1],
    "output_size": [2, 1], "window_length": [4], "n_fft": [4], "hop_length": [1], "length": [1], "start": [0],
    "high": [5], "low": [0], "index": [0], "step": [1], "size": [2], "num_chunks": [1], "ndim": [2],
    "window_size": [2], "sizes": [1], "row": [3], "col": [3], "m": [3], "N": [4], "d": [1],
}
FLOAT_BY_NAME = {
    "p": [0.5, 2.0], "eps": [1e-5], "alpha": [1.0], "beta": [1.0], "lambd": [0.5], "negative_slope": [0.01],
    "threshold": [0.5], "value": [1.5], "min": [0.2], "max": [0.8], "min_val": [-1.0], "max_val": [1.0],
    "margin": [1.0], "q": [0.5], "exponent": [2.0], "base": [10.0], "tau": [1.0], "momentum": [0.1],
    "scale_factor": [2.0], "other": [2.0, 0.5], "start": [0.0], "end": [3.0], "step": [1.0], "weight": [0.5],
    "lower": [0.1], "upper": [0.3], "rcond": [1e-5], "atol": [1e-5], "rtol": [1e-5], "tol": [1e-5],
    "max_norm": [1.0], "norm_type": [2.0], "temperature": [1.0], "reference": [0.5], "ord": [2.0],
}
STR_BY_NAME = {
    "reduce": ["sum", "mean"], "reduction": ["mean"], "rounding_mode": ["floor"], "side": ["left"], "indexing": ["ij"],
    "padding_mode": ["zeros"], "approximate": ["none"], "norm": ["backward"], "UPLO": ["L"], "uplo": ["L"],
    "equation": ["ij,ij->ij", "ij->ji"], "mode": ["nearest", "reduced"], "dtype": ["torch.FloatTensor"],
    "interpolation": ["linear"], "pad_mode": ["reflect"],
}
# The integer and bool dtypes cut the graph; float ones keep it; the legacy tensor types stand for dtypes in
# `x.type(torch.LongTensor)`.
DTYPE_ARGUMENTS = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool, torch.float64,
                   torch.float16, torch.LongTensor, torch.IntTensor, torch.ShortTensor, torch.CharTensor,
                   torch.ByteTensor, torch.BoolTensor, torch.DoubleTensor, "torch.LongTensor", "torch.DoubleTensor")


def _tensor_choices(name: str, shape: Tuple[int, ...]) -> List[Any]:
    if name == "self-attribute":
        kinds = ("grad", "grad+backward", "cgrad")
    elif name in INT_TENSOR_NAMES:
        kinds = ("int", "grad", "bool")
    elif name in BOOL_TENSOR_NAMES:
        kinds = ("bool", "grad", "int")
    else:
        kinds = ("grad", "int", "bool", "cgrad", "float")
    return [TensorArg(kind, shape) for kind in kinds]


def _int_list_choices(name: str, shape: Tuple[int, ...]) -> List[Any]:
    ndim = len(shape)
    if name in ("size", "shape"):
        return [lit(list(shape) or [2, 3])]
    if name in ("dims", "perm", "permutation"):
        return [lit(list(reversed(range(ndim))))]
    if name in ("sizes", "repeats", "reps"):
        return [lit([1] * max(ndim, 1)), lit([2] * max(ndim, 1))]
    if name == "pad":
        return [lit([1, 1])]
    if name == "normalized_shape":
        return [lit(list(shape[-1:]))]
    return [lit([0] if "dim" in name else [1]), lit(list(shape))]


def choices(param: Param, profile: Profile, slot: int = 0) -> List[Any]:
    """Values to try for one parameter, the most plausible first; a tensor gets the profile's shape for its slot
    (its place among the tensor parameters), a size or shape the shape of the first tensor."""
    kind, name = param.type, param.name
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    if base == "any":
        base = guess_type(name)
    values: List[Any]
    if base == "Tensor":
        values = _tensor_choices(name, profile.shape(slot))
    elif base in ("Tensor[]", "Tensor*"):
        shape = profile.shape(slot)
        values = [ListArg((TensorArg(k, shape), TensorArg(k, shape))) for k in ("grad", "int", "bool")]
    elif base == "int":
        values = [lit(v) for v in INT_BY_NAME.get(name, [1, 0, 2])]
    elif base == "int[]":
        values = _int_list_choices(name, profile.shape(0))
    elif base in ("float", "Scalar"):
        values = [lit(v) for v in FLOAT_BY_NAME.get(name, [2, 0.5] if base == "Scalar" else [0.5, 2.0])]
    elif base in ("float[]", "Scalar[]"):
        values = [lit([2.0])]
    elif base == "bool":
        values = [lit(False), lit(True)]
    elif base == "str":
        values = [lit(v) for v in STR_BY_NAME.get(name, ["mean"])]
    elif base == "dtype":
        values = [lit(torch.float64)]
    elif base == "device":
        values = [lit("cpu")]
    else:  # generator
        values = [lit(None)]
    return ([lit(None)] + values) if optional and param.required else values


def guess_type(name: str) -> str:
    """The type of a parameter known only by name (torch.overrides stand-ins, unannotated Python)."""
    if name in TENSOR_NAMES or name in INT_TENSOR_NAMES or name in BOOL_TENSOR_NAMES or name.startswith("arg"):
        return "Tensor"
    if name.startswith("return_") or name in ("keepdim", "inplace", "training", "largest", "sorted", "unbiased"):
        return "bool"
    if name in ("dims", "perm", "normalized_shape", "pad", "shape", "sizes", "repeats", "reps"):
        return "int[]"
    if name in STR_BY_NAME:
        return "str"
    if name in FLOAT_BY_NAME:
        return "float"
    if name in INT_BY_NAME:
        return "int"
    if name == "dtype":
        return "dtype"
    return "Tensor"


# ---------------------------------------------------------------------------------------------------------------
# Probes: one call of the op
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    args: Tuple[Any, ...]
    kwargs: Tuple[Tuple[str, Any], ...] = ()

    def tensors(self) -> List[TensorArg]:
        found = []
        for arg in list(self.args) + [value for _, value in self.kwargs]:
            found += tensors_in(arg)
        return found

    @property
    def tier(self) -> int:
        """1: every tensor argument requires grad; 2: some do; 3: none does (or there are no tensors)."""
        kinds = [t.kind in GRAD_KINDS for t in self.tensors()]
        return 3 if not any(kinds) else (1 if all(kinds) else 2)

    def with_kwargs(self, **extra) -> "Probe":
        kwargs = dict(self.kwargs)
        kwargs.update({k: lit(v) if not isinstance(v, (TensorArg, ListArg, Literal)) else v for k, v in extra.items()})
        return Probe(self.args, tuple(kwargs.items()))

    def describe(self, target: Target) -> str:
        args = [a.describe() for a in self.args] + [f"{k}={v.describe()}" for k, v in self.kwargs]
        if target.kind == "attribute":
            return f"{args[0]}.{target.name}"
        if target.kind == "method":
            return f"{args[0]}.{target.name}({', '.join(args[1:])})"
        return f"{target.qualname}({', '.join(args)})"


@dataclass
class Ran:
    probe: Probe
    ok: bool
    value: Any = None
    inputs: Tuple[torch.Tensor, ...] = ()
    error: str = ""
    warnings: Tuple[str, ...] = ()
    drew_random_numbers: bool = False  # the call advanced torch's default generator


def run(target: Target, probe: Probe, leaf: bool = True, seed: int = 0) -> Ran:
    """Call the op once, on freshly built arguments, with grad mode on and a fixed seed."""
    built_args = [a.build(leaf) for a in probe.args]
    built_kwargs = {k: v.build(leaf) for k, v in probe.kwargs}
    inputs = []
    for value in built_args + list(built_kwargs.values()):
        inputs += value if isinstance(value, list) and value and isinstance(value[0], torch.Tensor) else [value]
    inputs = tuple(v for v in inputs if isinstance(v, torch.Tensor))
    if target.kind == "attribute":
        def thunk():
            return getattr(built_args[0], target.name)
    elif target.kind == "method":
        def thunk():
            return getattr(built_args[0], target.name)(*built_args[1:], **built_kwargs)
    else:
        function = target.obj

        def thunk():
            return function(*built_args, **built_kwargs)
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    generator_state = torch.get_rng_state()
    result = call_quietly(thunk)
    if not result.ok:
        message = error_text(result.error)
        if leaf and "leaf Variable" in message:  # in place on a leaf: retry on a non-leaf that requires grad
            return run(target, probe, leaf=False, seed=seed)
        return Ran(probe, False, error=message)
    drew = not torch.equal(generator_state, torch.get_rng_state())
    return Ran(probe, True, result.value, inputs, warnings=tuple(result.warnings), drew_random_numbers=drew)


def _effect_of(value) -> str:
    if isinstance(value, torch.Tensor):
        return "keeps-grad" if value.requires_grad else "no-grad"
    return "not-tensor"


def _fields_of(value) -> Optional[Tuple[str, ...]]:
    names = getattr(type(value), "_fields", None) or getattr(type(value), "__match_args__", None)
    return tuple(names) if names and isinstance(value, tuple) else None


def summarize(ran: Ran) -> Dict[str, Any]:
    """What one successful call returned, as the entry records it."""
    value = ran.value
    if isinstance(value, torch.Tensor):
        summary = {"effect": _effect_of(value), "dtype": str(value.dtype).replace("torch.", "")}
        if ran.inputs and value is ran.inputs[0]:
            summary["returns_input"] = True
        return summary
    fields = _fields_of(value)
    if fields and any(isinstance(v, torch.Tensor) for v in value):
        effect = "values-indices" if fields[:2] == ("values", "indices") and len(value) == 2 else "named-tuple"
        return {"effect": effect, "fields": [[f, _effect_of(v)] for f, v in zip(fields, value)]}
    if isinstance(value, (tuple, list)) and value and any(isinstance(v, torch.Tensor) for v in value):
        items = [_effect_of(v) for v in value]
        return {"effect": "tuple", "items": items[0] if len(set(items)) == 1 else items}
    return {"effect": "not-tensor", "type": type(value).__name__}


def summary_key(summary: Dict[str, Any]) -> str:
    return repr((summary["effect"], summary.get("fields"), summary.get("items")))


# ---------------------------------------------------------------------------------------------------------------
# Probe generation
# ---------------------------------------------------------------------------------------------------------------

def profiles_for(spec: List[Param]) -> Sequence[Profile]:
    uses_tensors = any(p.required and p.type.rstrip("?") in ("Tensor", "Tensor[]", "Tensor*", "any") for p in spec)
    return PROFILES if uses_tensors else PROFILES[:1]


def as_probe(spec: List[Param], values: Dict[str, Any]) -> Probe:
    """Arguments by position while no parameter before them was left out (names in schemas and stand-ins need
    not be the names Python binds), by keyword after that."""
    args, kwargs = [], []
    positional = True
    for param in spec:
        if param.name not in values:
            positional = positional and param.keyword_only
            continue
        value = values[param.name]
        if param.type == "Tensor*":
            args.extend(value.items)
        elif positional and not param.keyword_only:
            args.append(value)
        else:
            positional = False
            kwargs.append((param.name, value))
    return Probe(tuple(args), tuple(kwargs))


def candidate_probes(spec: List[Param], profile: Profile) -> Iterator[Probe]:
    """The first choice for every required parameter, then each alternative of one parameter at a time, then all
    tensors integer / bool, then each optional tensor filled with a requires-grad tensor."""
    required = [p for p in spec if p.required]
    slots = tensor_slots(spec)
    options = {p.name: choices(p, profile, slots.get(p.name, 0)) for p in required}
    base = {name: values[0] for name, values in options.items()}
    yield as_probe(spec, base)
    for name, values in options.items():
        for alternative in values[1:5]:
            yield as_probe(spec, {**base, name: alternative})
    for kind in ("grad", "float"):  # every tensor that may be None given at once (batch_norm's running stats)
        filled = {n: (_retyped(values[1], kind) if _is_none(values[0]) and len(values) > 1 else values[0])
                  for n, values in options.items()}
        if filled != base:
            yield as_probe(spec, filled)
    for kind in ("int", "bool"):
        swapped = {n: _retyped(v, kind) for n, v in base.items()}
        if swapped != base:
            yield as_probe(spec, swapped)
    for param in spec:
        if not param.required and param.type.rstrip("?") == "Tensor" and param.name not in ("out",):
            yield as_probe(spec, {**base, param.name: TensorArg("grad", profile.shape(slots[param.name]))})


def _is_none(value) -> bool:
    return isinstance(value, Literal) and value.value is None


def tensor_slots(spec: List[Param]) -> Dict[str, int]:
    """Each tensor parameter's place among the tensor parameters of the spec."""
    slots: Dict[str, int] = {}
    for param in spec:
        base = param.type.rstrip("?")
        if base in ("Tensor", "Tensor[]", "Tensor*") or (base == "any" and guess_type(param.name) == "Tensor"):
            slots[param.name] = len(slots)
    return slots


def _retyped(value, kind: str):
    if isinstance(value, TensorArg):
        return TensorArg(kind, value.shape)
    if isinstance(value, ListArg):
        return ListArg(tuple(TensorArg(kind, t.shape) for t in value.items))
    return value
