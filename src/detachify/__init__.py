"""detachify: find and fix tensor-to-NumPy conversions that crash because the tensor requires grad."""
from .api import check_source, fix_source
from .findings import Edit, Finding, Fix
from .settings import Settings

__all__ = ["check_source", "fix_source", "Finding", "Fix", "Edit", "Settings"]
__version__ = "0.1.0"
