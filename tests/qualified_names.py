"""What a fully qualified name in a knowledge table stands for, as the tests that prove the tables look it up."""
from __future__ import annotations

import importlib


def resolve(qname: str):
    """The object a fully qualified name stands for: import the longest importable module prefix, getattr the rest."""
    parts = qname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(qname)
