"""Which rules run and how fixes are written: the one settings object every front end builds."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

FIX_STYLES = ("detach-cpu", "force")


@dataclass(frozen=True)
class Settings:
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()
    fix_style: str = "detach-cpu"
    unsafe_fixes: bool = False
    # Applied after the selection, as ruff applies per-file-ignores: a code starting with one of these is off
    # for the file, however specifically `select` names it.
    per_file_ignores: Tuple[str, ...] = ()

    def __post_init__(self):
        if self.fix_style not in FIX_STYLES:
            raise ValueError(f"fix style must be one of {', '.join(FIX_STYLES)}, not {self.fix_style!r}")

    def is_enabled(self, code: str, default_on: bool) -> bool:
        """ruff/flake8 semantics: the longest matching prefix decides; an exact select beats an ignore prefix."""
        if any(code.startswith(p) for p in self.per_file_ignores):
            return False
        votes = [(len(p), True) for p in self.select + self.extend_select if code.startswith(p)]
        votes += [(len(p), False) for p in self.ignore if code.startswith(p)]
        if not self.select:
            votes.append((0, default_on))
        if not votes:
            return False
        # On equal length an ignore wins over a select (max of (len, False) < (len, True), so sort explicitly).
        longest = max(length for length, _ in votes)
        return all(enabled for length, enabled in votes if length == longest)


DEFAULT_SETTINGS = Settings()
