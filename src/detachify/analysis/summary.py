"""What one module tells the modules that import it, as plain data: no libcst nodes, no English.

A summary is computed from a finished analysis of the module (`exports.py`), cached by content hash, and read
back into another module's analysis (`foreign.py`). Everything here is frozen dataclasses of strings, numbers,
tuples and other summaries, so it pickles, compares and hashes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .provenance import Why

# The summaries read back from the cache repeat themselves: of the 40,000 value summaries a warm flake8 worker held
# over the medium corpus, 4,000 differed. Read back, equal ones are one object per process: less memory, and above
# all fewer objects for the garbage collector of the process that hosts us to walk on every full collection (2.5 s
# of a 37 s flake8 run). The table is emptied when it grows large (a long-lived language server): that only
# loses some sharing.
_CANONICAL: Dict[object, object] = {}
_MOST_CANONICAL = 200_000


def _canonical(cls, fields: tuple):
    made = cls(*fields)
    found = _CANONICAL.get(made)
    if found is None:
        if len(_CANONICAL) >= _MOST_CANONICAL:
            _CANONICAL.clear()
        found = _CANONICAL[made] = made
    return found


class _ReadBackOnce:
    """Pickled as its fields, unpickled through `_canonical`."""

    __slots__ = ()

    def __reduce__(self):
        return _canonical, (type(self), tuple(getattr(self, name) for name in self.__dataclass_fields__))


@dataclass(frozen=True)
class Ref(_ReadBackOnce):
    """A class, function or module of the project: the file that defines it and its dotted name in there
    ("" for the module itself, "Net", "Net.forward")."""

    path: str
    name: str = ""


@dataclass(frozen=True)
class ValueSummary(_ReadBackOnce):
    kind: str  # values.Kind.value
    grad: int = 1  # values.Grad
    why: Optional[Why] = None
    derived: bool = False
    gpu: bool = False
    qname: str = ""
    elem: Optional["ValueSummary"] = None
    items: Optional[Tuple["ValueSummary", ...]] = None
    names: Optional[Tuple[str, ...]] = None
    attrs: Tuple[Tuple[str, "ValueSummary"], ...] = ()
    has_params: bool = False
    mode: Optional[str] = None
    const: tuple = ()
    scalar: bool = False
    mapping: bool = False
    ref: Optional[Ref] = None  # CLASS / FUNCTION / INSTANCE / project module
    deps: Tuple[str, ...] = ()  # function results: the parameters whose grad flows into this value
    alternatives: Tuple["ValueSummary", ...] = ()  # an instance or class of one of several classes: one each


UNKNOWN_SUMMARY = ValueSummary("unknown")
# The kind of a name the module imports from another project module and never read: `ref` names that module and
# the name there (`Ref(path, "Net")`); a reader follows it (deferred_imports.py).
IMPORTED = "imported"


@dataclass(frozen=True)
class ParamSummary(_ReadBackOnce):
    name: str
    kind: str  # "positional" (incl. positional-only), "keyword" (keyword-only), "star", "double-star"
    default: tuple = ()  # (literal,) for a literal default; ("?",) for any other default; () for none


@dataclass(frozen=True)
class FunctionSummary:
    name: str  # "f", or "Class.method"
    line: int
    params: Tuple[ParamSummary, ...]
    returns: ValueSummary  # with grad mode on; `deps` name the parameters whose grad it carries
    passes: Optional[str] = None  # it returns this argument itself (perhaps moved: `return x.cuda()`)
    converts: Tuple[str, ...] = ()  # parameters whose grad (or device) reaches a conversion
    has_conversions: bool = False  # it converts something (directly or through calls in its module)
    decorator_mode: Optional[str] = None  # values.Mode.value
    is_property: bool = False
    is_static: bool = False
    is_context_manager: bool = False


@dataclass(frozen=True)
class ClassSummary:
    name: str
    line: int
    bases: Tuple[ValueSummary, ...]
    is_module: bool
    torch_base: Optional[str]
    has_params: bool
    methods: Tuple[Tuple[str, FunctionSummary], ...]
    attrs: Tuple[Tuple[str, ValueSummary], ...]  # an instance's attributes, as `__init__` sets them
    class_attrs: Tuple[Tuple[str, ValueSummary], ...]
    grad_mode: Optional[str] = None  # a context manager class that sets grad mode on entry


@dataclass(frozen=True)
class OutgoingCall:
    """A call from this module into another project module's function with a value worth a second look there.

    The callee's module re-runs `function` with these arguments (`ctor`: the arguments its class was built with,
    for a method) and reports what its conversions then see, naming this module's `path` and `line`.
    """

    target: str  # the callee's file
    function: str  # "f" or "Class.method"
    positional: Tuple[ValueSummary, ...]
    keywords: Tuple[Tuple[str, ValueSummary], ...]
    mode: str
    path: str  # the caller's file, as shown in messages
    line: int
    cell: int = 0  # a notebook's cell (then `line` counts in the cell)
    ctor: Optional[Tuple[Tuple[ValueSummary, ...], Tuple[Tuple[str, ValueSummary], ...]]] = None


@dataclass(frozen=True)
class ModuleSummary:
    path: str
    name: str
    symbols: Tuple[Tuple[str, ValueSummary], ...]  # module-level names after the module ran
    functions: Tuple[Tuple[str, FunctionSummary], ...]
    classes: Tuple[Tuple[str, ClassSummary], ...]
    all_names: Optional[Tuple[str, ...]]  # __all__, when the module sets it to literal strings
    mode: str = "on"  # grad mode the module leaves set (`torch.set_grad_enabled(False)` at top level)
    imports_torch: bool = False
    other_tensor_library: bool = False  # imports TensorFlow/JAX/...: its `.numpy()` may not be torch's

    def symbol(self, name: str) -> Optional[ValueSummary]:
        return self._symbol_index.get(name)

    @functools.cached_property
    def _symbol_index(self) -> Dict[str, ValueSummary]:
        """A star import of a large package looks up thousands of names, each once per importing module."""
        index: Dict[str, ValueSummary] = {}
        for key, value in self.symbols:
            index.setdefault(key, value)
        return index

    @functools.cached_property
    def _star_set(self) -> frozenset:
        return frozenset(self.star_names())

    def binds_by_star(self, name: str) -> bool:
        """`from module import *` binds `name`."""
        return name in self._star_set

    def __getstate__(self):  # the indexes are rebuilt where they are needed, never stored in the cache
        state = dict(self.__dict__)
        state.pop("_symbol_index", None)
        state.pop("_star_set", None)
        return state

    def function(self, name: str) -> Optional[FunctionSummary]:
        if "." in name:
            owner, _, method = name.partition(".")
            found = self.cls(owner)
            return dict(found.methods).get(method) if found else None
        for key, value in self.functions:
            if key == name:
                return value
        return None

    def cls(self, name: str) -> Optional[ClassSummary]:
        for key, value in self.classes:
            if key == name:
                return value
        return None

    def star_names(self) -> Tuple[str, ...]:
        """What `from module import *` binds: `__all__`, or every public name."""
        if self.all_names is not None:
            return self.all_names
        return tuple(name for name, _ in self.symbols if not name.startswith("_"))
