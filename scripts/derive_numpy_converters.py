"""Find which NumPy functions convert a tensor argument, by calling them; write
src/detachify/registry/data/numpy_converters.json.

Run by a developer (never at lint time):

    python scripts/derive_numpy_converters.py            # derive everything, write the data and the coverage report
    python scripts/derive_numpy_converters.py --only numpy.mean numpy.random.Generator.choice --no-write

Every public function of `numpy` (top level, `numpy.linalg`, `numpy.fft`, `numpy.random`, and the `assert_*`
functions of `numpy.testing`) and every public method of `numpy.random.Generator` and `numpy.random.RandomState`
is first called with NumPy arrays, to find a call that works (a base call). Then each data position of that call
(an argument holding a float array) gets, in turn, the same values as a torch tensor that requires grad, the same
tensor detached, and a list of two such tensors. Where the requires-grad call raises "Can't call numpy() on Tensor
that requires grad" and the detached call does not, the argument converts; where both behave alike, it does not
(NumPy handed the tensor to its own method, or never converted it).

tests/test_derived_knowledge.py re-derives a sample with these same functions and fails on drift.
"""
from __future__ import annotations

import argparse
import collections
import functools
import inspect
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from derive_common import (  # noqa: E402
    DATA_DIR, GRAD_ERROR, ROOT, WORKER_FLAG, call_quietly, derive_isolated, error_text, markdown_table,
    serve_worker, summary_line, update_coverage_section, write_json,
)

OUTPUT = DATA_DIR / "numpy_converters.json"

EFFECTS = {
    "converts": "a requires-grad tensor in at least one argument raises the numpy() error (see `arguments`)",
    "converts-lists": "only a list of requires-grad tensors raises it; a single tensor is handed to its own method",
    "no-conversion": "tensors in every data argument behave exactly as detached tensors do",
    "no-data-argument": "a base call works, but no argument takes float data",
    "unknown": "no base call worked with NumPy arrays, or the callable was not probed; `reason` says which",
}
# What one argument does with a tensor (`tensor`) and with a list of two tensors (`list`).
OUTCOMES = {
    "converts": "raises the numpy() error with grad, runs with the tensor detached",
    "converts-then-fails": "raises the numpy() error with grad; with the tensor detached it fails another way",
    "passes": "the same outcome with grad as detached (no conversion, or a conversion that never sees the grad)",
    "differs": "another outcome with grad than detached, without the numpy() error (see `note`)",
    "not-accepted": "the value was not accepted even as NumPy arrays",
}

SUBMODULES = ("numpy.linalg", "numpy.fft", "numpy.random")
CLASSES = ("numpy.random.Generator", "numpy.random.RandomState")
NOT_PROBED = {
    "numpy.seterr": "sets global state",
    "numpy.seterrcall": "sets global state", "numpy.setbufsize": "sets global state",
    "numpy.set_printoptions": "sets global state", "numpy.show_config": "prints the build configuration",
    "numpy.show_runtime": "prints the runtime configuration", "numpy.info": "prints documentation",
    "numpy.random.set_state": "sets global state", "numpy.random.set_bit_generator": "sets global state",
    "numpy.random.RandomState.set_state": "sets the generator's state",
}


# ---------------------------------------------------------------------------------------------------------------
# What is probed
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    qualname: str
    kind: str  # "function", "ufunc", "class", "method"

    @property
    def owner(self) -> str:
        return self.qualname.rsplit(".", 1)[0]

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[1]

    def resolve(self):
        """The callable; a method is bound to a fresh generator seeded with 0, so every run draws the same."""
        if self.owner in CLASSES:
            generator = numpy.random.default_rng(0) if self.owner.endswith("Generator") else \
                numpy.random.RandomState(0)
            return getattr(generator, self.name)
        module = numpy
        for part in self.owner.split(".")[1:]:
            module = getattr(module, part)
        return getattr(module, self.name)


def _kind(obj) -> str:
    if isinstance(obj, numpy.ufunc):
        return "ufunc"
    return "class" if isinstance(obj, type) else "function"


def public_targets() -> Dict[str, Target]:
    targets = {}
    for name in dir(numpy):
        obj = getattr(numpy, name, None)
        if not name.startswith("_") and callable(obj) and not inspect.ismodule(obj):
            targets[f"numpy.{name}"] = Target(f"numpy.{name}", _kind(obj))
    for module_name in SUBMODULES:
        module = getattr(numpy, module_name.split(".")[1])
        for name in dir(module):
            obj = getattr(module, name, None)
            if not name.startswith("_") and callable(obj) and not isinstance(obj, type) and not inspect.ismodule(obj):
                targets[f"{module_name}.{name}"] = Target(f"{module_name}.{name}", _kind(obj))
    for name in dir(numpy.testing):
        if name.startswith("assert_") and callable(getattr(numpy.testing, name)):
            targets[f"numpy.testing.{name}"] = Target(f"numpy.testing.{name}", "function")
    for owner in CLASSES:
        cls = getattr(numpy.random, owner.rsplit(".", 1)[1])
        for name in dir(cls):
            if not name.startswith("_") and callable(getattr(cls, name)):
                targets[f"{owner}.{name}"] = Target(f"{owner}.{name}", "method")
    return dict(sorted(targets.items()))


@functools.lru_cache(maxsize=1)
def _all_targets() -> Dict[str, Target]:
    return public_targets()


def target_for(qualname: str) -> Target:
    if qualname in _all_targets():
        return _all_targets()[qualname]
    raise KeyError(f"{qualname}: not a public NumPy callable in the probed namespaces")


# ---------------------------------------------------------------------------------------------------------------
# Values: NumPy arrays first, then the same values as tensors
# ---------------------------------------------------------------------------------------------------------------

SHAPES = ((4,), (2, 3), (3, 3), (), (2, 2, 2))
_SPD = [[2.0, 0.5, 0.0], [0.5, 2.0, 0.5], [0.0, 0.5, 2.0]]


@dataclass(frozen=True)
class Data:
    """A float array argument: its values as an ndarray, or as a tensor (requires grad, or not), or a list of two
    of them (`listed`: two arrays of the shape, or two 0-d ones where the shape is 0-d)."""
    shape: Tuple[int, ...]
    normalized: bool = False  # probabilities that sum to 1 (Generator.choice's `p`, multinomial's `pvals`)
    form: str = "array"  # "array", "grad", "detached"
    listed: bool = False

    def values(self) -> numpy.ndarray:
        n = max(1, _numel(self.shape))
        if self.shape[-2:] == (3, 3):
            return numpy.array(_SPD, dtype=numpy.float64)
        values = numpy.linspace(0.1, 0.9, n).reshape(self.shape)
        return values / values.sum() if self.normalized else values

    def one(self):
        values = self.values()
        if self.form == "array":
            return values
        tensor = torch.tensor(values, dtype=torch.float64)
        return tensor.requires_grad_() if self.form == "grad" else tensor

    def build(self):
        return [self.one(), self.one()] if self.listed else self.one()

    def describe(self) -> str:
        shape = ",".join(map(str, self.shape))
        text = f"{'tensor' if self.form != 'array' else 'array'}{'-grad' if self.form == 'grad' else ''}[{shape}]"
        return f"[{text}, {text}]" if self.listed else text

    def as_form(self, form: str, listed: bool = False) -> "Data":
        return Data(self.shape, self.normalized, form, listed)


@dataclass(frozen=True)
class Plain:
    """A non-data argument (an axis, a count, a string, a bool array, a file)."""
    value: Any
    text: str

    def build(self):
        if self.text == "io.BytesIO()":
            return io.BytesIO()
        if isinstance(self.value, numpy.ndarray):
            return self.value.copy()
        return self.value

    def describe(self) -> str:
        return self.text


def _numel(shape) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


def plain(value, text: Optional[str] = None) -> Plain:
    return Plain(value, text or repr(value))


# Parameter names that take a float array (the data positions) and names that never do.
DATA_NAMES = {
    "a", "x", "x1", "x2", "y", "arr", "ary", "array", "m", "v", "b", "ar", "ar1", "ar2", "xp", "fp", "q", "c",
    "data", "values", "weights", "w", "object", "obj", "A", "B", "u", "u1", "u2", "p", "pvals", "loc", "scale",
    "mean", "cov", "alpha", "x0", "xi", "val", "vals", "value", "actual", "desired", "prototype", "f", "lam",
    "df", "dfnum", "dfden", "nonc", "shape", "kappa", "mu", "sigma", "left", "mode", "right", "low", "high",
    "a_min", "a_max", "min", "max", "condlist", "choicelist", "tup", "arrays", "arys", "seq", "xs", "coeffs",
    "z", "fill_value", "t", "beta", "tol", "rcond", "atol", "rtol", "r", "a1", "a2", "aa", "bb", "period",
    "initial", "start", "stop", "step", "start_or_stop", "base", "bins", "range", "constant_values",
    "end_values", "x3", "X", "Y", "signal", "window", "xy", "y1", "y2", "weight", "other",
}
LIST_NAMES = {"tup", "arrays", "arys", "seq", "condlist", "choicelist", "xi", "xs"}
INT_NAMES = {"axis": 0, "k": 1, "n": 2, "N": 4, "M": 3, "deg": 1, "kth": 1, "shift": 1, "repeats": 2,
             "reps": 2, "axis1": 0, "axis2": 1, "decimals": 2, "num": 3, "ngood": 3, "nbad": 2, "nsample": 2,
             "size": 2, "indices_or_sections": 2, "ndim": 2, "start": 0, "dims": (2, 3), "shape": (2, 3),
             "newshape": (-1,), "source": 0, "destination": -1, "pad_width": 1, "bins": 4, "high": 5, "low": 5,
             "nbins": 4, "order": 1, "ddof": 0, "periods": 2, "offset": 0, "ind": (0, 1), "indices": (0, 1),
             "ord": 2}
STR_NAMES = {"subscripts": "ij,ij->ij", "equation": "ij,ij->ij", "mode": "valid", "method": "linear",
             "side": "left", "kind": "quicksort", "norm": "backward", "UPLO": "L", "fmt": "%.4f"}
BOOL_ARRAY_NAMES = {"condition", "mask", "where", "condlist"}
FILE_NAMES = {"file", "fname", "f"}
NON_DATA_NAMES = {"axis", "axes", "dtype", "out", "keepdims", "casting", "order", "subok", "signature", "copy",
                  "like", "device", "kind", "side", "mode", "method", "interpolation", "size", "ddof",
                  "endpoint", "retstep", "sparse", "indexing", "return_index", "return_inverse", "return_counts",
                  "equal_nan", "assume_unique", "invert", "density", "normed", "full_matrices", "compute_uv",
                  "hermitian", "UPLO", "norm", "overwrite_input", "overwrite_a", "check_finite", "replace",
                  "shuffle", "err_msg", "verbose", "header", "footer", "comments", "delimiter", "newline",
                  "encoding", "fmt", "allow_pickle", "fix_imports", "optimize", "return_complex", "strict",
                  "nan", "posinf", "neginf", "minlength", "indices_or_sections", "method", "weights_only",
                  "endpoint", "rowvar", "bias", "fweights", "aweights", "sorter", "stable", "descending",
                  "random_state", "ndmin", "ndmax", "lower", "upper"}


def data_value(name: str, shape: Tuple[int, ...]) -> Data:
    return Data(shape, normalized=name in ("p", "pvals"))


def required_value(name: str, shape: Tuple[int, ...], first_data: bool) -> List[Any]:
    """Values to try for a required parameter, the most plausible first."""
    if name in FILE_NAMES and name != "f":
        return [Plain(None, "io.BytesIO()")]
    if name in BOOL_ARRAY_NAMES:
        mask = numpy.arange(max(1, _numel(shape))).reshape(shape) % 2 == 0
        return [plain(mask, f"bool-array[{','.join(map(str, shape))}]")]
    if name in STR_NAMES:
        return ([data_value(name, shape)] if name in DATA_NAMES else []) + [plain(STR_NAMES[name])]
    if name in LIST_NAMES:
        return [Data(shape, listed=True)]
    if name in INT_NAMES and name not in DATA_NAMES:
        return [plain(INT_NAMES[name])]
    indices = numpy.arange(max(1, _numel(shape))).reshape(shape) % 2
    if name in DATA_NAMES or first_data:
        values: List[Any] = [data_value(name, shape), plain(indices, f"int-array[{','.join(map(str, shape))}]")]
        if name in INT_NAMES:
            values.append(plain(INT_NAMES[name]))
        return values
    return [data_value(name, shape), plain(1), plain(0.5)]


# ---------------------------------------------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    args: Tuple[Any, ...]
    kwargs: Tuple[Tuple[str, Any], ...] = ()

    def replaced(self, slot, value) -> "Call":
        """The call with the argument at `slot` (an index or a keyword) set to `value`."""
        if isinstance(slot, int):
            args = list(self.args)
            args[slot] = value
            return Call(tuple(args), self.kwargs)
        return Call(self.args, tuple((k, value if k == slot else v) for k, v in self.kwargs)
                    + (() if slot in dict(self.kwargs) else ((slot, value),)))

    def key(self) -> Tuple[str, ...]:
        """What tells two calls apart (their values may be arrays, which do not compare with ==)."""
        return tuple(a.describe() for a in self.args) + tuple(f"{k}={v.describe()}" for k, v in self.kwargs)

    def get(self, slot):
        return self.args[slot] if isinstance(slot, int) else dict(self.kwargs)[slot]

    def describe(self, target: Target) -> str:
        parts = [a.describe() for a in self.args] + [f"{k}={v.describe()}" for k, v in self.kwargs]
        return f"{target.qualname}({', '.join(parts)})"


def run(target: Target, call: Call):
    """One call on freshly built arguments, with grad mode on and NumPy's global generator seeded."""
    args = [a.build() for a in call.args]
    kwargs = {k: v.build() for k, v in call.kwargs}
    function = target.resolve()
    torch.set_grad_enabled(True)
    numpy.random.seed(0)
    with numpy.errstate(all="ignore"):
        return call_quietly(lambda: function(*args, **kwargs))


def outcome(result) -> Tuple[str, str]:
    """("ok", result type) or ("raises", exception type): what the converter test compares, grad vs detached."""
    if result.ok:
        return ("ok", type(result.value).__name__)
    return ("raises", type(result.error).__name__)


# ---------------------------------------------------------------------------------------------------------------
# Parameters, base calls and data positions
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    required: bool
    keyword_only: bool
    varargs: bool
    default: Any
    positional_only: bool = False


def params_of(target: Target) -> Optional[List[Param]]:
    try:
        signature = inspect.signature(target.resolve())
    except (TypeError, ValueError):
        return None
    params = []
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            continue
        params.append(Param(p.name, p.default is p.empty and p.kind is not p.VAR_POSITIONAL,
                            p.kind is p.KEYWORD_ONLY, p.kind is p.VAR_POSITIONAL, p.default,
                            p.kind is p.POSITIONAL_ONLY))
    return params


GENERIC_CALLS = (("a",), ("a", "b"), ("a", 1), ("tup",), ("subscripts", "a", "b"), ())


def base_calls(target: Target) -> List[Tuple[Call, Dict[Any, str]]]:
    """Candidate base calls, each with its slots (argument index or keyword) and their parameter names."""
    params = params_of(target)
    candidates = []
    for shape in SHAPES:
        if params is not None:
            candidates += _calls_from_params(params, shape)
        else:
            candidates += _generic_calls(shape)
    return candidates


def _calls_from_params(params: List[Param], shape) -> List[Tuple[Call, Dict[Any, str]]]:
    """Calls filling the required parameters: first choices, each alternative of one parameter at a time, and
    every parameter's last choice at once; `*args` as two arrays, then as two ints, then as nothing."""
    calls = []
    for varargs in ("arrays", "ints", "none"):
        calls += _calls_with_varargs(params, shape, varargs)
    return calls


def _calls_with_varargs(params: List[Param], shape, varargs: str) -> List[Tuple[Call, Dict[Any, str]]]:
    positional, names, options = [], {}, []
    if varargs != "arrays" and not any(p.varargs for p in params):
        return []
    for param in params:
        if param.varargs:
            values = {"arrays": [Data(shape), Data(shape)], "ints": [plain(2), plain(3)], "none": []}[varargs]
            if param.name == "operands":
                positional.append([plain("ij,ij->ij" if len(shape) == 2 else "i,i->i")])
                names[len(positional) - 1] = "subscripts"
            for value in values:
                positional.append([value])
                names[len(positional) - 1] = param.name
            continue
        if not param.required:
            continue
        if param.keyword_only:
            return []  # a required keyword-only parameter: rare in NumPy, left to the generic calls
        positional.append(required_value(param.name, shape, first_data=not positional))
        names[len(positional) - 1] = param.name
    base = [values[0] for values in positional]
    options.append(Call(tuple(base)))
    for i, values in enumerate(positional):
        for alternative in values[1:3]:
            options.append(Call(tuple(base[:i] + [alternative] + base[i + 1:])))
    last = Call(tuple(values[-1] for values in positional))
    if all(last.key() != option.key() for option in options):
        options.append(last)
    return [(call, dict(names)) for call in options]


def _generic_calls(shape) -> List[Tuple[Call, Dict[Any, str]]]:
    calls = []
    for names in GENERIC_CALLS:
        args = []
        for name in names:
            args += required_value(name, shape, first_data=True)[:1] if isinstance(name, str) else [plain(name)]
        calls.append((Call(tuple(args)), {i: str(n) for i, n in enumerate(names) if isinstance(n, str)}))
    return calls


def optional_data_params(target: Target) -> List[Param]:
    """Optional parameters that may take float data: a default of None or a number, a name that is not a flag,
    an axis, a dtype or a file."""
    params = params_of(target) or []
    found = []
    for param in params:
        if param.required or param.varargs or param.name in NON_DATA_NAMES or param.name in FILE_NAMES:
            continue
        default = param.default
        if default is None or (isinstance(default, (int, float)) and not isinstance(default, bool)):
            found.append(param)
    return found


# ---------------------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------------------

def classify(qualname: str) -> Dict[str, Any]:
    target = target_for(qualname)
    entry: Dict[str, Any] = {"kind": target.kind}
    reason = NOT_PROBED.get(qualname)
    if target.name == "test":
        reason = "runs NumPy's test suite"
    elif target.owner == "numpy.random" and target.name.startswith("set_"):
        reason = "sets global state"
    if reason:
        return {**entry, "effect": "unknown", "reason": f"not probed: {reason}"}
    base, errors = _find_base_call(target)
    if base is None:
        entry.update({"effect": "unknown", "reason": _reason_for(errors), "errors": errors[:3]})
        return entry
    call, names = base
    slots = {slot: name for slot, name in names.items() if isinstance(call.get(slot), Data)}
    call = _with_optional_data(target, call, slots)
    arguments = {}
    for slot, name in slots.items():
        arguments[name] = _probe_argument(target, call, slot)
        arguments[name]["position" if isinstance(slot, int) else "keyword"] = slot if isinstance(slot, int) else name
    entry["probe"] = call.describe(target)
    entry["arguments"] = arguments
    entry["effect"] = _effect(arguments)
    return entry


# What the errors of a callable that no base call could run say it takes, checked in this order.
UNKNOWN_REASONS = (
    (r"cannot create '.*' instances", "an abstract type: it has no instances"),
    (r"not callable|has no attribute '__name__'|must be an exception type|compiled pattern",
     "takes a callable or an exception type, not data"),
    (r"datetime|timedelta|M8", "takes dates or times"),
    (r"dtype|data type", "takes a dtype, not data"),
    (r"fileno|no data left in file|path", "reads a file"),
)


def _reason_for(errors: List[str]) -> str:
    import re

    joined = " ".join(errors)
    for pattern, reason in UNKNOWN_REASONS:
        if re.search(pattern, joined):
            return reason
    return "no base call worked with NumPy arrays"


def _find_base_call(target: Target):
    errors = collections.Counter()
    for call, names in base_calls(target):
        result = run(target, call)
        if result.ok:
            return (call, names), []
        errors[error_text(result.error)] += 1
    return None, [text for text, _ in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))]


def _shape_of(call: Call) -> Tuple[int, ...]:
    for value in list(call.args) + [v for _, v in call.kwargs]:
        if isinstance(value, Data):
            return value.shape
    return (4,)


def _with_optional_data(target: Target, call: Call, slots: Dict[Any, str]) -> Call:
    """The base call with arrays in as many optional data parameters as keep it working: one at a time, then the
    refused ones together (`numpy.where` takes x and y both or neither). `slots` gains each one taken."""
    refused = []
    for param in optional_data_params(target):
        extended = _accepted_optional(target, call, [param])
        if extended is None:
            refused.append(param)
            continue
        call, new_slots = extended
        slots.update(zip(new_slots, [param.name]))
    if len(refused) > 1:
        extended = _accepted_optional(target, call, refused)
        if extended is not None:
            call, new_slots = extended
            slots.update(zip(new_slots, [p.name for p in refused]))
    return call


def _accepted_optional(target: Target, call: Call, params: List[Param]):
    """(call, slots) with arrays for the optional `params` (of the call's shape, else 0-d: a `loc` given as one
    number), if the call still works; appended by position where they are positional-only."""
    for shape in dict.fromkeys((_shape_of(call), ())):
        extended, slots = call, []
        for param in params:
            value = data_value(param.name, shape)
            if param.positional_only:
                slots.append(len(extended.args))
                extended = Call(extended.args + (value,), extended.kwargs)
            else:
                slots.append(param.name)
                extended = extended.replaced(param.name, value)
        if run(target, extended).ok:
            return extended, slots
    return None


def _probe_argument(target: Target, call: Call, slot) -> Dict[str, Any]:
    """The argument at `slot` as a requires-grad tensor, as the same tensor detached, and both as lists of two."""
    data = call.get(slot)
    result: Dict[str, Any] = {}
    result["tensor"], note = _compare(target, call, slot, data, listed=data.listed)
    if not data.listed:
        lists = call.replaced(slot, data.as_form("array", listed=True))
        result["list"], list_note = _compare(target, lists, slot, data, listed=True) if run(target, lists).ok \
            else ("not-accepted", None)
        note = note or list_note
    if note:
        result["note"] = note
    return result


def _compare(target: Target, call: Call, slot, data: Data, listed: bool) -> Tuple[str, Optional[str]]:
    """The outcome, and for "differs" what each call did."""
    grad = run(target, call.replaced(slot, data.as_form("grad", listed)))
    detached = run(target, call.replaced(slot, data.as_form("detached", listed)))
    if not grad.ok and GRAD_ERROR in str(grad.error):
        return ("converts", None) if detached.ok else ("converts-then-fails", None)
    if outcome(grad) == outcome(detached):
        return "passes", None
    return "differs", f"with grad: {_what(grad)}; detached: {_what(detached)}"


def _what(result) -> str:
    return error_text(result.error) if not result.ok else f"returns {type(result.value).__name__}"


def _effect(arguments: Dict[str, Dict[str, Any]]) -> str:
    if not arguments:
        return "no-data-argument"
    if any(a["tensor"].startswith("converts") for a in arguments.values()):
        return "converts"
    if any(a.get("list", "").startswith("converts") for a in arguments.values()):
        return "converts-lists"
    return "no-conversion"


# ---------------------------------------------------------------------------------------------------------------
# The data file and the coverage report
# ---------------------------------------------------------------------------------------------------------------

def derive(qualnames: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    names = list(qualnames) if qualnames else list(_all_targets())
    entries = derive_isolated(Path(__file__).resolve(), names)
    for name, entry in entries.items():
        entry.setdefault("kind", target_for(name).kind)
    return entries


def document(entries: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "generated_by": "scripts/derive_numpy_converters.py",
        "numpy_version": numpy.__version__,
        "torch_version": torch.__version__,
        "effects": EFFECTS,
        "outcomes": OUTCOMES,
        "probe_inputs": "array[...]: float64 values 0.1..0.9 (3x3: symmetric positive definite; p/pvals: "
                        "normalised); tensor-grad: the same values as a float64 tensor requiring grad",
        "functions": entries,
    }


NAMESPACE_ORDER = ("numpy", "numpy.linalg", "numpy.fft", "numpy.random", "numpy.testing") + CLASSES


def coverage(entries: Dict[str, Dict[str, Any]]) -> str:
    effects = list(EFFECTS)
    rows = []
    for namespace in NAMESPACE_ORDER:
        mine = [e for q, e in entries.items() if q.rsplit(".", 1)[0] == namespace]
        counts = collections.Counter(e["effect"] for e in mine)
        rows.append([f"`{namespace}`", len(mine), len(mine) - counts["unknown"]] + [counts[e] for e in effects])
    total = collections.Counter(e["effect"] for e in entries.values())
    rows.append(["**all**", len(entries), len(entries) - total["unknown"]] + [total[e] for e in effects])
    reasons = collections.Counter(e["reason"] for e in entries.values() if e["effect"] == "unknown")
    argument_outcomes = collections.Counter()
    for e in entries.values():
        for argument in e.get("arguments", {}).values():
            argument_outcomes[f"tensor: {argument['tensor']}"] += 1
            if "list" in argument:
                argument_outcomes[f"list of two: {argument['list']}"] += 1
    lines = [
        f"## NumPy {numpy.__version__} with torch {torch.__version__} (`scripts/derive_numpy_converters.py`)", "",
        summary_line(entries), "",
        "Public callables per namespace, and how many each effect classifies (`classified` = not `unknown`):", "",
        markdown_table(["namespace", "public", "classified"] + effects, rows), "",
        "Data arguments probed, by what a requires-grad tensor (or a list of two) did there:", "",
        markdown_table(["outcome", "arguments"], [[k, v] for k, v in sorted(argument_outcomes.items())]), "",
        "Unknown, by reason:", "",
        markdown_table(["reason", "entries"], [[k, v] for k, v in reasons.most_common()]),
    ]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    if argv is None and sys.argv[1:] == [WORKER_FLAG]:
        return serve_worker(classify)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="QUALNAME", help="derive only these entries and print them")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the data or the report")
    parser.add_argument("--report", action="store_true",
                        help="derive nothing: rewrite the coverage report from the committed data")
    options = parser.parse_args(argv)
    if options.only:
        print(json.dumps(derive(options.only), indent=1, sort_keys=True))
        return 0
    entries = json.loads(OUTPUT.read_text(encoding="utf-8"))["functions"] if options.report else derive()
    report = coverage(entries)
    print(report)
    if options.no_write:
        return 0
    if not options.report:
        write_json(OUTPUT, document(entries))
        print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    update_coverage_section("numpy", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
