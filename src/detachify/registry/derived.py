"""Library knowledge derived by calling the libraries themselves, read without importing them.

The files under `data/` are written by `scripts/derive_torch_ops.py` and `scripts/derive_numpy_converters.py` under
the pinned torch and NumPy, committed, and re-derived (a sample per run) by `tests/test_derived_knowledge.py`, which
fails on drift. Each file is read once, on first use; the standard library is all this needs.

torch entries are keyed by qualified name (`torch.argmax`, `torch.Tensor.argmax`, `torch.nn.functional.relu`,
`torch.linalg.svd`); their `effect` is one of `TORCH_EFFECTS`. NumPy entries (`numpy.mean`,
`numpy.random.Generator.choice`) say, per data argument, whether a requires-grad tensor there is converted.
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Dict, FrozenSet, Mapping, Optional

TORCH_OPS = "torch_ops.json"
NUMPY_CONVERTERS = "numpy_converters.json"

TORCH_EFFECTS = frozenset({
    "keeps-grad", "no-grad", "not-tensor", "values-indices", "named-tuple", "tuple", "factory", "raises-grad-error",
    "depends-on-arguments", "unknown",
})
NUMPY_EFFECTS = frozenset({"converts", "converts-lists", "no-conversion", "no-data-argument", "unknown"})


@functools.lru_cache(maxsize=None)
def load(name: str) -> Mapping[str, Any]:
    """The whole data file `name` (TORCH_OPS or NUMPY_CONVERTERS). Treat it as read-only: it is shared."""
    path = resources.files(__package__).joinpath("data").joinpath(name)
    with path.open("r", encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------------------------------------------

def torch_version() -> str:
    """The torch release the torch data was derived under."""
    return load(TORCH_OPS)["torch_version"]


def torch_op(qualname: str) -> Optional[Mapping[str, Any]]:
    """The whole entry of a torch callable (effect, deciding probe, dtype, fields, variants, ...), or None."""
    return load(TORCH_OPS)["ops"].get(qualname)


def torch_op_effect(qualname: str) -> Optional[str]:
    """`keeps-grad`, `no-grad`, `not-tensor`, ... (see TORCH_EFFECTS); None for a name that was not derived."""
    entry = torch_op(qualname)
    return None if entry is None else entry["effect"]


def torch_ops_with_effect(effect: str) -> FrozenSet[str]:
    if effect not in TORCH_EFFECTS:
        raise ValueError(f"unknown torch effect {effect!r}; expected one of {sorted(TORCH_EFFECTS)}")
    return frozenset(name for name, entry in load(TORCH_OPS)["ops"].items() if entry["effect"] == effect)


def torch_effect_with_dtype(qualname: str, dtype: str) -> Optional[str]:
    """The effect of the op called with `dtype` (`"torch.int64"`, `"torch.LongTensor"`) where that differs from
    its plain call (`x.to(torch.long)`, `x.type(torch.LongTensor)`: "no-grad"); None where no such call was seen
    to change it."""
    entry = torch_op(qualname) or {}
    found = entry.get("by_dtype", {}).get(dtype)
    if found is None:
        return None
    return found["effect"] if isinstance(found, dict) else found.split()[0]


def torch_never_requires_grad(qualname: str) -> bool:
    """Whether no probe of the op, with requires-grad inputs, returned anything that requires grad."""
    entry = torch_op(qualname)
    if entry is None or entry["effect"] in ("unknown", "raises-grad-error"):
        return False
    outcomes = entry.get("variants") or [entry]
    return all(_never_grad(outcome) for outcome in outcomes)


def _never_grad(outcome: Mapping[str, Any]) -> bool:
    effect = outcome["effect"]
    if effect in ("no-grad", "not-tensor", "factory"):
        return True
    if effect in ("values-indices", "named-tuple"):
        return all(field_effect != "keeps-grad" for _, field_effect in outcome["fields"])
    if effect == "tuple":
        items = outcome["items"]
        return (items if isinstance(items, list) else [items]).count("keeps-grad") == 0
    return False


# ---------------------------------------------------------------------------------------------------------------
# NumPy
# ---------------------------------------------------------------------------------------------------------------

def numpy_version() -> str:
    return load(NUMPY_CONVERTERS)["numpy_version"]


def numpy_function(qualname: str) -> Optional[Mapping[str, Any]]:
    """The whole entry of a NumPy callable (effect, base probe, per-argument outcomes), or None."""
    return load(NUMPY_CONVERTERS)["functions"].get(qualname)


def numpy_effect(qualname: str) -> Optional[str]:
    entry = numpy_function(qualname)
    return None if entry is None else entry["effect"]


def numpy_functions_with_effect(effect: str) -> FrozenSet[str]:
    if effect not in NUMPY_EFFECTS:
        raise ValueError(f"unknown NumPy effect {effect!r}; expected one of {sorted(NUMPY_EFFECTS)}")
    return frozenset(name for name, entry in load(NUMPY_CONVERTERS)["functions"].items() if entry["effect"] == effect)


def numpy_converting_arguments(qualname: str) -> Optional[Dict[str, Optional[int]]]:
    """Arguments that convert a requires-grad tensor, by name, with their position (None where the probe passed
    them by keyword); {} when none does; None when the function was not derived or is unknown."""
    return _arguments_where(qualname, "tensor")


def numpy_list_converting_arguments(qualname: str) -> Optional[Dict[str, Optional[int]]]:
    """The same for a list of two requires-grad tensors (`np.mean(losses)`)."""
    return _arguments_where(qualname, "list")


def _arguments_where(qualname: str, form: str) -> Optional[Dict[str, Optional[int]]]:
    entry = numpy_function(qualname)
    if entry is None or entry["effect"] == "unknown":
        return None
    return {name: argument.get("position") for name, argument in entry["arguments"].items()
            if argument.get(form, "").startswith("converts")}
