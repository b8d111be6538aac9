"""`# noqa` comments, read the way flake8 reads them, plus the file-level `# detachify: noqa`."""
from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, FrozenSet, Optional

# flake8's own pattern: `# noqa` alone suppresses everything, `# noqa: A1,B2` only codes with those prefixes.
NOQA_INLINE = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z][0-9]+(?:[,\s]+[A-Z][0-9]+)*))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"#\s*detachify\s*:\s*noqa\b", re.IGNORECASE)
ALL = frozenset({""})  # the empty prefix matches every code


class Suppressions:
    """Which (line, code) pairs the source's comments switch off."""

    def __init__(self, source: str):
        self.whole_file = False
        self.by_line: Dict[int, FrozenSet[str]] = {}
        if "noqa" not in source.lower():
            return  # fast path: nearly every file
        for line, comment in _comments(source):
            if NOQA_FILE.search(comment):
                self.whole_file = True
            match = NOQA_INLINE.search(comment)
            if match:
                codes = match.group("codes")
                self.by_line[line] = ALL if not codes else frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c)

    def suppressed(self, line: int, code: str) -> bool:
        if self.whole_file:
            return True
        prefixes: Optional[FrozenSet[str]] = self.by_line.get(line)
        return prefixes is not None and any(code.startswith(p) for p in prefixes)


def _comments(source: str):
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Fall back to a line scan; a `#` inside a string may then count, which only ever suppresses more.
        for number, text in enumerate(source.splitlines(), 1):
            if "#" in text:
                yield number, text[text.index("#"):]
