"""What every front end receives: findings with positions and optional fixes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

SYNTAX_ERROR_CODE = "E999"  # flake8's code for a file that does not parse


@dataclass(frozen=True)
class Edit:
    """Replace the text between two positions (1-based lines, 0-based character columns)."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    text: str


@dataclass(frozen=True)
class Fix:
    """A rewrite that turns the crashing conversion into a working one.

    ``safe`` fixes are applied by ``detachify fix``; unsafe ones only with ``--unsafe-fixes``,
    because they may change what the program computes (``unsafe_reason`` says how).
    """

    description: str
    edits: Tuple[Edit, ...]
    safe: bool = True
    unsafe_reason: Optional[str] = None

    @property
    def applicability(self) -> str:
        return "safe" if self.safe else "unsafe"


@dataclass(frozen=True)
class Finding:
    """One report: ``line`` is 1-based, ``column`` 0-based (flake8's convention; the CLI prints column + 1)."""

    code: str
    message: str
    line: int
    column: int
    fix: Optional[Fix] = None
    filename: str = "<string>"
    end_line: int = 0
    end_column: int = 0

    def sort_key(self):
        return (self.filename, self.line, self.column, self.code)
