"""The import statements of a file, read from its text: a superset of what the analysis will resolve.

A regular expression, not a parser: it runs over every file of a project to draw its import graph (cycles,
who may call whom), so it must cost next to nothing. Imports inside functions, `try` blocks and `if` branches
count; an `import` in a string may add an edge, which only makes the graph larger (safe: more modules are
looked at, never fewer).
"""
from __future__ import annotations

import re
from typing import Iterator, List, Tuple

IMPORT_STATEMENT = re.compile(
    r"^[ \t]*(?:"
    r"from[ \t]+(?P<dots>\.*)[ \t]*(?P<base>[\w.]*)[ \t]+import[ \t]*"
    r"(?P<names>\([^)]*\)|[^\r\n#;]*(?:\\\r?\n[^\r\n#;]*)*)"
    r"|import[ \t]+(?P<modules>[^\r\n#;]*(?:\\\r?\n[^\r\n#;]*)*)"
    r")",
    re.MULTILINE,
)
_NAME = re.compile(r"[A-Za-z_][\w.]*")

# (level, module, names): `import a.b` → (0, "a.b", ()); `from ..x import y, z` → (2, "x", ("y", "z")).
Imported = Tuple[int, str, Tuple[str, ...]]


def scan(source: str) -> List[Imported]:
    found: List[Imported] = []
    for match in IMPORT_STATEMENT.finditer(source):
        modules = match.group("modules")
        if modules is not None:
            for part in modules.replace("\\", " ").split(","):
                words = part.split()
                if words and _NAME.fullmatch(words[0]):
                    found.append((0, words[0], ()))
            continue
        level = len(match.group("dots"))
        base = match.group("base")
        if level or base:
            found.append((level, base, tuple(_names(match.group("names")))))
    return found


def _names(text: str) -> Iterator[str]:
    text = text.strip().strip("()").replace("\\", " ")
    for part in text.split(","):
        words = part.split()
        if words and words[0] != "*" and _NAME.fullmatch(words[0]) and "." not in words[0]:
            yield words[0]
