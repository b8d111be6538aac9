"""A text test that skips files which cannot hold a finding, before anything is parsed.

Conservative by construction: every finding needs a `.numpy(` call (TNP001) and torch evidence in the same
module, so a file without both words cannot produce one.
"""
from __future__ import annotations

from .settings import Settings


def may_contain_findings(source: str, settings: Settings) -> bool:
    return "numpy" in source and "torch" in source
