"""The abstract values of the grad-flow analysis: what a name may hold at a program point.

The lattice is tiny on purpose: a kind, whether the value may require grad (no < unknown < yes; joins take the
max, so "yes on any path" wins), whether it may live on a GPU, and for containers the join of their elements.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from typing import Optional, Tuple

from .libraries import canonical
from .provenance import Why


class Grad(enum.IntEnum):
    NO = 0
    UNKNOWN = 1
    YES = 2


class Mode(enum.Enum):
    """Grad mode at a program point."""

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"

    def join(self, other: "Mode") -> "Mode":
        return self if self is other else Mode.UNKNOWN


class Kind(enum.Enum):
    UNKNOWN = "unknown"
    TENSOR = "tensor"
    MODULE = "module"  # a torch.nn.Module of known provenance
    INSTANCE = "instance"  # an instance of a class of the analysed module
    CONTAINER = "container"  # list / tuple / dict / iterable of values
    NDARRAY = "ndarray"  # the result of a conversion
    OTHER = "other"  # provably not a tensor: numbers, strings, None, ...
    QUALNAME = "qualname"  # an imported name: torch.nn, numpy, matplotlib.pyplot.plot, ...
    FUNCTION = "function"  # a function or lambda of the analysed module
    CLASS = "class"  # a class of the analysed module
    GRAD_MODE = "grad_mode"  # torch.no_grad() & co., as values
    PROJECT_MODULE = "project_module"  # a module of the analysed project (target: foreign.ModuleTarget)


@dataclass(frozen=True)
class Value:
    kind: Kind = Kind.UNKNOWN
    grad: Grad = Grad.UNKNOWN
    why: Optional[Why] = None  # for grad YES: where the grad comes from
    derived: bool = False  # computed from the value `why` describes
    gpu: bool = False  # may live on a GPU (or, for a device value, may name one)
    qname: str = ""  # QUALNAME: the dotted name; MODULE: the constructor's name
    elem: Optional["Value"] = None  # CONTAINER: join of the elements
    items: Optional[Tuple["Value", ...]] = None  # CONTAINER: fixed items (tuples, literals), for unpacking
    names: Optional[Tuple[str, ...]] = None  # CONTAINER: field names of a named tuple (values, indices)
    target: object = None  # FUNCTION/CLASS/INSTANCE: the FunctionInfo / ClassInfo
    attrs: Tuple[Tuple[str, "Value"], ...] = ()  # INSTANCE: attributes set by this instance's __init__ and methods
    has_params: bool = False  # MODULE: calling it with grad on yields a grad tensor
    mode: Optional[Mode] = None  # GRAD_MODE: the mode it sets
    origins: frozenset = frozenset()  # NDARRAY: the conversion nodes it came from
    const: tuple = ()  # OTHER: (literal,) when the value is a known constant (`"train"`, `False`, `3`)
    scalar: bool = False  # TENSOR: a single number (a loss, a full reduction): `.item()` can stand for it
    stores: frozenset = frozenset()  # CONTAINER: the expressions whose values were put into it (fix sites)
    mapping: bool = False  # CONTAINER: a dict (iterating it yields keys; `.items()` yields pairs)
    deps: frozenset = frozenset()  # in a summary's run: the parameters whose grad flows into this value
    gpu_if: str = ""  # gpu only when this flag (a name) is true: `if on_gpu: x = x.cuda()`
    # INSTANCE/CLASS joined from values of different classes (`A() if c else B()`): those values, one per class;
    # a call on it calls each (calls.py), the other fields are their join.
    alternatives: Tuple["Value", ...] = ()

    def __hash__(self) -> int:
        # Values key the call memo and nest deeply (containers, instances' attributes, alternatives): hashed field
        # by field on every lookup, they cost more than the analysis on large projects. Frozen: computed once.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, name) for name in _VALUE_FIELDS))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def is_tensorish(self) -> bool:
        return self.kind in (Kind.TENSOR, Kind.UNKNOWN)

    def with_grad(self, grad: Grad, why: Optional[Why] = None, derived: bool = False) -> "Value":
        return replace(self, grad=grad, why=why if grad is Grad.YES else None, derived=derived)

    def attr(self, name: str) -> Optional["Value"]:
        for key, value in self.attrs:
            if key == name:
                return value
        return None


_VALUE_FIELDS = tuple(field.name for field in fields(Value))

UNKNOWN = Value()
OTHER = Value(Kind.OTHER, Grad.NO)
NDARRAY = Value(Kind.NDARRAY, Grad.NO)
PLAIN_TENSOR = Value(Kind.TENSOR, Grad.NO)
UNKNOWN_TENSOR = Value(Kind.TENSOR, Grad.UNKNOWN)


def tensor(grad: Grad, why: Optional[Why] = None, derived: bool = False, gpu: bool = False, gpu_if: str = "") -> Value:
    return Value(Kind.TENSOR, grad, why if grad is Grad.YES else None, derived, gpu, gpu_if=gpu_if if gpu else "")


def keep_grad(value: Value) -> Value:
    """A tensor computed from `value` by an op that keeps its grad (a view, an index, a row, a copy)."""
    return Value(Kind.TENSOR, value.grad, value.why, value.derived, value.gpu, deps=value.deps, gpu_if=value.gpu_if)


def grad_tensor(why: Why, derived: bool = False, gpu: bool = False, gpu_if: str = "") -> Value:
    return Value(Kind.TENSOR, Grad.YES, why, derived, gpu, gpu_if=gpu_if if gpu else "")


def empty_container(mapping: bool = False) -> Value:
    """`[]`, `{}`: no elements yet (bottom), so the first `append` decides what it holds."""
    return Value(Kind.CONTAINER, Grad.NO, items=(), mapping=mapping)


def container(elem: Value, items: Optional[Tuple[Value, ...]] = None, names=None, mode=None,
              stores: frozenset = frozenset(), mapping: bool = False) -> Value:
    return Value(Kind.CONTAINER, elem.grad, elem.why, elem.derived, elem.gpu, elem=elem, items=items, names=names,
                 mode=mode, stores=stores, mapping=mapping, deps=elem.deps, gpu_if=elem.gpu_if)


def stored(node, value: Value) -> frozenset:
    """The fix sites a value brings into a container: the expression itself if it is a tensor that may need
    detaching, plus whatever sites a container value already carries (`lists.extend(other)`)."""
    if value.kind is Kind.CONTAINER:
        return value.stores
    if value.grad is not Grad.NO or value.gpu:
        return frozenset({(node, value.scalar)})
    return frozenset()


def constant(literal) -> Value:
    return Value(Kind.OTHER, Grad.NO, gpu=isinstance(literal, str) and "cuda" in literal, const=(literal,))


def qualname(name: str) -> Value:
    return Value(Kind.QUALNAME, Grad.NO, qname=canonical(name))


def module(name: str, has_params: bool, gpu: bool = False) -> Value:
    return Value(Kind.MODULE, Grad.NO, qname=name, has_params=has_params, gpu=gpu)


def join_all(values) -> Value:
    result = None
    for value in values:
        result = value if result is None else join(result, value)
    return result if result is not None else UNKNOWN


# Kinds that a `None`/number placeholder may stand in front of (`best = None` ... `best = out`).
_RICH_KINDS = (Kind.TENSOR, Kind.CONTAINER, Kind.MODULE, Kind.INSTANCE, Kind.NDARRAY)


def join(a: Value, b: Value) -> Value:
    if a == b:
        return a
    if a.kind is b.kind:
        kind = a.kind
    elif a.kind is Kind.OTHER and b.kind in _RICH_KINDS:
        kind = b.kind
    elif b.kind is Kind.OTHER and a.kind in _RICH_KINDS:
        kind = a.kind
    else:
        kind = Kind.UNKNOWN
    grad = max(a.grad, b.grad)
    source = a if a.grad >= b.grad else b
    if kind is Kind.UNKNOWN:
        # Keep only what both sides agree on; an unknown value is never reported by default rules.
        return Value(Kind.UNKNOWN, grad, source.why if grad is Grad.YES else None, source.derived, a.gpu or b.gpu,
                     deps=a.deps | b.deps)
    elem = _join_optional(a.elem, b.elem)
    items = None
    if a.items is not None and b.items is not None and len(a.items) == len(b.items):
        items = tuple(join(x, y) for x, y in zip(a.items, b.items))
    return Value(
        kind,
        grad,
        source.why if grad is Grad.YES else None,
        source.derived,
        a.gpu or b.gpu,
        a.qname if a.qname == b.qname else (a.qname or b.qname),
        elem,
        items,
        a.names if a.names == b.names else None,
        a.target if a.target is b.target else (a.target or b.target),
        _join_attrs(a.attrs, b.attrs),
        a.has_params or b.has_params,
        a.mode.join(b.mode) if a.mode and b.mode else (a.mode or b.mode),
        a.origins | b.origins,
        a.const if a.const == b.const else (),
        a.scalar and b.scalar,
        a.stores | b.stores,
        a.mapping or b.mapping,
        a.deps | b.deps,
        _gpu_condition(a, b),
        _alternatives(a, b) if kind in (Kind.INSTANCE, Kind.CLASS) and (
            a.target is not b.target or a.alternatives or b.alternatives) else (),
    )


MAX_ALTERNATIVES = 16  # classes a value may be an instance of, followed apart; beyond, the first ones


def _alternatives(a: Value, b: Value) -> Tuple[Value, ...]:
    """The one-class values a join of `a` and `b` stands for (none when they share their class)."""
    # A `None` placeholder on one side (`self.model = None` ... `self.model = factory()`) is no alternative.
    members = [one for one in a.alternatives or (a,) if one.kind is not Kind.OTHER]
    for other in (one for one in b.alternatives or (b,) if one.kind is not Kind.OTHER):
        same = next((i for i, member in enumerate(members) if member.target is other.target), None)
        if same is None:
            members.append(other)
        else:
            members[same] = join(members[same], other)
    if len(members) < 2 or any(member.target is None for member in members):
        return ()
    return tuple(members[:MAX_ALTERNATIVES])


def gpu_condition(values) -> str:
    """The flag a GPU from these values depends on: the same for every one that may be on a GPU, else none."""
    flags = {v.gpu_if for v in values if v.gpu}
    return flags.pop() if len(flags) == 1 else ""


def _gpu_condition(a: Value, b: Value) -> str:
    return gpu_condition((a, b))


def _join_optional(a: Optional[Value], b: Optional[Value]) -> Optional[Value]:
    if a is None:
        return b
    if b is None:
        return a
    return join(a, b)


def _join_attrs(a, b):
    if a == b:
        return a
    names = dict(a)
    for key, value in b:
        names[key] = join(names[key], value) if key in names else value
    return tuple(sorted(names.items(), key=lambda kv: kv[0]))


def store_item(base: Value, index, value: Value, sites: frozenset = frozenset()) -> Value:
    """`d["k"] = v` replaces what a keyed dict held under "k"; any other store joins into the elements."""
    names = base.names
    if isinstance(index, str) and (names is not None or base.items == ()) and base.items is not None:
        names = names or ()
        items = list(base.items)
        if index in names:
            items[names.index(index)] = value
        else:
            names, items = names + (index,), items + [value]
        return container(join_all(items), tuple(items), tuple(names), stores=base.stores | sites, mapping=True)
    return container(join(base.elem, value) if base.elem else value, stores=base.stores | sites,
                     mapping=base.mapping)


def frozen(model: Value) -> Value:
    """A model whose parameters no longer require grad: its submodules and parameters are frozen too."""
    if model.kind is Kind.MODULE:
        return module(model.qname, False, model.gpu)
    if model.kind is Kind.INSTANCE:
        attrs = tuple((name, frozen(value)) for name, value in model.attrs)
        return replace(model, has_params=False, attrs=attrs)
    if model.kind is Kind.TENSOR and model.grad is Grad.YES and not model.derived:
        return tensor(Grad.NO, gpu=model.gpu)  # an nn.Parameter held by the model
    return model
