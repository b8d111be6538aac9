"""A text test that skips files which cannot hold a finding, before anything is parsed.

Conservative by construction: a TNP001 finding needs a `.numpy` attribute (possibly split over lines) and torch
evidence, which needs the word `torch` somewhere in the module (an import of torch or of something from it).
"""
from __future__ import annotations

import re

from .settings import Settings

# `.numpy`, also as `.\n    numpy` or `. \\\n numpy`; the word boundary keeps `.numpy_array` out.
NUMPY_ATTRIBUTE = re.compile(r"\.[\s\\]*numpy\b")


def may_contain_findings(source: str, settings: Settings) -> bool:
    return "torch" in source and NUMPY_ATTRIBUTE.search(source) is not None
