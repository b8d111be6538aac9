"""What an analysis needs of the interpreter while it runs, and gives back after (the host process's settings).

Recursion: a 400-term `a + b + ...` nests 400 deep, in libcst and in the analysis; Python-to-Python calls do not
grow the C stack on 3.11+, so a higher limit is safe there.

Fewer garbage collections: an analysis allocates millions of objects, most of them alive to its end (trees,
values, summaries), and the collector's default of a pass per 700 allocations made it walk them again and
again: full collections were a quarter of a cold check of a real package (kornia: 5.2 of 22.3 s of CPU). A young
pass per 50,000 allocations leaves one full pass, and no more memory in use (164 MB either way). The CLI holds this
for its whole run (its pool's workers inherit it): entered and left around each file, the default thresholds
between two files would still start a pass at every file.
"""
from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Iterator

RECURSION_LIMIT = 20_000
GC_THRESHOLDS = (50_000, 50, 50)


@contextmanager
def headroom() -> Iterator[None]:
    previous_limit, previous_thresholds = sys.getrecursionlimit(), gc.get_threshold()
    sys.setrecursionlimit(max(previous_limit, RECURSION_LIMIT if sys.version_info >= (3, 11) else 4_000))
    gc.set_threshold(*(max(before, wanted) for before, wanted in zip(previous_thresholds, GC_THRESHOLDS)))
    try:
        yield
    finally:
        gc.set_threshold(*previous_thresholds)
        sys.setrecursionlimit(previous_limit)
