"""The Python API: every front end (CLI, flake8, codemod, notebooks) goes through these two functions."""
from __future__ import annotations

from typing import List, Optional

from .findings import Finding
from .settings import DEFAULT_SETTINGS, Settings


def check_source(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
                 *, respect_noqa: bool = True) -> List[Finding]:
    """Findings for one module's source, sorted by position. Raises ``SyntaxError``-like ``ParseError`` if it does not parse."""
    raise NotImplementedError


def fix_source(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
               *, unsafe: Optional[bool] = None) -> str:
    """The source with every enabled fix applied (safe ones only unless ``unsafe`` or ``settings.unsafe_fixes``)."""
    raise NotImplementedError
