"""Library names as Python resolves them: modules that re-export other libraries (`matplotlib.pylab`, `pylab`), modules
that bind other libraries' objects under names of their own (`d2l.plt` is matplotlib.pyplot) and star imports of known
libraries (`from matplotlib.pyplot import *`, `from torch import *`).

Both map a spelling to the qualified name the knowledge tables use (`matplotlib.pyplot.plot`, `numpy.mean`).
Only names the tables know are mapped: an unknown name stays unknown, so a star import can never invent a
conversion. tests/test_knowledge.py proves every mapping by importing the library.
"""
from __future__ import annotations

from typing import Iterable, Optional

from ..registry import derived
from . import knowledge as K
from .converters import (
    AXES_FACTORIES, CONVERTING_FUNCTIONS, CONVERTING_METHODS, DETACHING_CONVERTERS, LIST_CONVERTING_FUNCTIONS,
)

# Modules that re-export other modules' names under their own: a name is the first listed module's that knows it.
REEXPORTING_MODULES = {
    "matplotlib.pylab": ("matplotlib.pyplot", "numpy"),
    "pylab": ("matplotlib.pyplot", "numpy"),
}
# Names the re-exporting modules take from elsewhere than their sources' tables say: modules bound under their
# usual names (`np`, `plt`), builtins set back after NumPy's star import (`pylab.max` is `max`), NumPy submodules
# imported last (`pylab.cross` is `numpy.linalg.cross`).
_PYLAB_NAMES = {
    "np": "numpy", "plt": "matplotlib.pyplot",
    **{name: f"builtins.{name}" for name in ("abs", "bool", "bytes", "max", "min", "pow", "round")},
    **{name: f"numpy.linalg.{name}" for name in ("cross", "matmul", "outer", "trace")},
    "power": "numpy.random.power",
}
REEXPORTED_NAMES = {"matplotlib.pylab": _PYLAB_NAMES, "pylab": _PYLAB_NAMES}
# Modules that bind other libraries' modules and functions under names of their own, by their imports and aliases:
# `d2l.plt.imshow(t)` is `matplotlib.pyplot.imshow(t)`, `d2l.tensor` is `torch.tensor`. A name not listed is the
# module's own (`d2l.plot`). Proven by tests/test_d2l_facts.py, which runs d2l.torch's own import statements and
# aliases.
BOUND_NAMES = {"d2l.torch": {
    "np": "numpy", "torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "data": "torch.utils.data",
    "pd": "pandas", "plt": "matplotlib.pyplot", "torchvision": "torchvision", "transforms": "torchvision.transforms",
    **{name: f"torch.{name}" for name in (
        "ones_like", "ones", "zeros_like", "zeros", "tensor", "arange", "meshgrid", "sin", "sinh", "cos", "cosh",
        "tanh", "linspace", "exp", "log", "normal", "rand", "randn", "matmul", "int32", "int64", "float32", "stack",
        "abs", "eye", "sigmoid")},
    "concat": "torch.cat", "batch_matmul": "torch.bmm",
    "d2l": "d2l.torch",  # `d2l = sys.modules[__name__]`: the module itself
}}
# Names torch's tables know that `from torch import *` does not bind (torch's `__all__` leaves them out).
NOT_STAR_EXPORTED = {"torch": frozenset({
    "BFloat16Storage", "BFloat16Tensor", "ComplexDoubleStorage", "ComplexFloatStorage", "HalfStorage", "HalfTensor",
    "LoggerBase", "QInt32Storage", "QInt8Storage", "QUInt2x4Storage", "QUInt4x2Storage", "QUInt8Storage",
    "Storage", "StorageBase", "broadcast_shapes", "classproperty", "compiled_with_cxx11_abi", "eig", "from_dlpack",
    "get_file_path", "lstsq", "lu", "matrix_rank", "pca_lowrank", "prepare_multiprocessing_environment",
    "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12", "quantized_gru", "quantized_lstm", "segment_reduce",
    "set_default_dtype", "set_grad_enabled", "solve", "svd_lowrank", "symeig", "to_dlpack", "unique", "while_loop",
})}
# Python 2/3 compatibility modules whose names are, on Python 3, the builtins themselves
# (`from six.moves import map, zip` in older research code): they resolve to `builtins.NAME`.
BUILTIN_ALIASES = {"six.moves": frozenset({"map", "zip", "filter", "range", "input"})}
# Libraries whose star import the analysis follows (the re-exporting ones too).
STAR_IMPORTABLE = frozenset({"matplotlib.pyplot", "numpy", "torch", *REEXPORTING_MODULES, *BOUND_NAMES})


def knows(module: str, name: str) -> bool:
    """Whether the tables say anything of `module.name`."""
    if module == "torch":
        return (name in K.TENSOR_FACTORIES or name in K.NON_DIFFERENTIABLE_OPS or f"torch.{name}" in
                K.GRAD_MODE_SETTERS or derived.torch_op(f"torch.{name}") is not None)
    return (name in CONVERTING_FUNCTIONS.get(module, ()) or name in LIST_CONVERTING_FUNCTIONS.get(module, ())
            or name in DETACHING_CONVERTERS.get(module, ()) or f"{module}.{name}" in AXES_FACTORIES
            or f"{module}.{name}" in CONVERTING_METHODS or f"{module}.{name}" in K.DEVICE_FUNCTIONS)


def canonical(qname: str) -> str:
    """`matplotlib.pylab.plot` -> `matplotlib.pyplot.plot`, `pylab.mean` -> `numpy.mean`, `six.moves.zip` ->
    `builtins.zip`; other names as given."""
    module, _, name = qname.rpartition(".")
    if name in BUILTIN_ALIASES.get(module, ()):
        return f"builtins.{name}"
    for module, sources in REEXPORTING_MODULES.items():
        if qname.startswith(module + "."):
            rest = qname[len(module) + 1:]
            first = rest.split(".", 1)[0]
            bound = REEXPORTED_NAMES.get(module, {}).get(first)
            if bound is not None:
                return bound + rest[len(first):]
            for source in sources:
                if knows(source, first):
                    return f"{source}.{rest}"
            return f"{sources[0]}.{rest}"
    for module, names in BOUND_NAMES.items():
        if qname.startswith(module + "."):
            rest = qname[len(module) + 1:]
            first = rest.split(".", 1)[0]
            if first in names:
                return canonical(names[first] + rest[len(first):])
    return qname


def star_name(modules: Iterable[str], name: str) -> Optional[str]:
    """The qualified name `name` has after `from M import *` for each M of `modules` (in import order), if the
    tables know it under one of them; the last import wins, as in Python."""
    for module in reversed(tuple(modules)):
        bound = REEXPORTED_NAMES.get(module, {}).get(name) or BOUND_NAMES.get(module, {}).get(name)
        if bound is not None:
            return bound
        if name in NOT_STAR_EXPORTED.get(module, ()):
            continue
        for source in REEXPORTING_MODULES.get(module, (module,)):
            if knows(source, name):
                return f"{source}.{name}"
    return None
