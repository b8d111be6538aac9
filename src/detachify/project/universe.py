"""The files of a project: where callers of a module may be. A run notes the walk (`witness.listing`) and a
later run walks again to compare, so this module is light: reading a run back imports it, not the analysis."""
from __future__ import annotations

import os
from typing import List

from . import layout, witness

UNIVERSE_SUFFIXES = {".py", ".ipynb", ".md"}  # a .md that is no notebook holds no program
MAX_UNIVERSE = 50_000  # files walked for callers; beyond it a project is too big to scan on every run


@witness.walker
def project_files(root: str) -> List[str]:
    if layout.has_root_marker(root):
        from ..discovery import discover

        found = discover([root], UNIVERSE_SUFFIXES, lambda path, is_dir: False)
        return sorted(os.path.abspath(p) for p in found.files)[:MAX_UNIVERSE]
    return sorted(_walk_guessed_root(root))


def _walk_guessed_root(root: str, plain_depth: int = 2, limit: int = 5_000) -> List[str]:
    from ..discovery import DEFAULT_EXCLUDE

    found: List[str] = []
    stack = [(root, 0)]
    while stack and len(found) < limit:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name.startswith(".") or name in DEFAULT_EXCLUDE:
                    continue
                package = any(os.path.isfile(os.path.join(entry.path, "__init__" + s)) for s in (".py", ".pyi"))
                if package or depth < plain_depth:
                    stack.append((entry.path, depth if package else depth + 1))
            elif os.path.splitext(name)[1] in UNIVERSE_SUFFIXES:
                found.append(os.path.abspath(entry.path))
    return found[:limit]
