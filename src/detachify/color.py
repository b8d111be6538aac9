"""ANSI colour for the text output, switched on and off the way ruff does it.

`--color always` / `never` decide; with `auto` (the default), `FORCE_COLOR` (any non-empty value) or
`CLICOLOR_FORCE` (anything but 0) switch colour on, `NO_COLOR` (set at all) or `CLICOLOR=0` switch it off, and
otherwise colour goes only to a terminal. A file named by `--output-file` never gets colour.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, TextIO

CHOICES = ("auto", "always", "never")
BOLD, RED, GREEN, CYAN = "1", "31", "32", "36"


def wants_color(choice: str, stream: TextIO, environ: Optional[Mapping[str, str]] = None) -> bool:
    if choice != "auto":
        return choice == "always"
    env = os.environ if environ is None else environ
    if env.get("FORCE_COLOR") or env.get("CLICOLOR_FORCE", "0") != "0":
        return True
    if "NO_COLOR" in env or env.get("CLICOLOR") == "0":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Style:
    """Wraps text in ANSI codes, or returns it as it is when colour is off."""

    def __init__(self, enabled: bool = False):
        self.enabled = enabled

    def __call__(self, text: str, *codes: str) -> str:
        if not self.enabled or not codes:
            return text
        return f"\033[{';'.join(codes)}m{text}\033[0m"


PLAIN = Style(False)
