"""detachify: find and fix tensor-to-NumPy conversions that crash because the tensor requires grad."""
from .findings import Edit, Finding, Fix
from .settings import Settings

__all__ = ["check_source", "fix_source", "Finding", "Fix", "Edit", "Settings"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The analysis (and libcst) load on first use: a warm run read back from the cache never needs them.
    if name in ("check_source", "fix_source"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
