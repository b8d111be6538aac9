"""`# noqa` comments, read the way flake8 reads them, plus the file-level `# detachify: noqa`.

flake8 looks for `# noqa` in the text of the whole token range a line belongs to: the lines of a multi-line
string and of a backslash-continued line count as one (and the text of a string counts too). Reading it the
same way keeps `detachify check` and `flake8 --select TNP` in agreement.
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, FrozenSet, List, Optional, Tuple

# flake8's own pattern (flake8 7, `defaults.NOQA_INLINE_REGEXP`): `# noqa` alone suppresses everything,
# `# noqa: TNP001,E5` only codes starting with one of those. A list flake8 cannot read (`# noqa:TNP`, `# noqa:  X1`)
# leaves a bare `# noqa`, which suppresses everything; `#noqa` is no noqa at all. The codes are compared as written,
# as flake8 compares them: `# noqa: tnp001` suppresses nothing.
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
_CODE_SEPARATOR = re.compile(r"[,\s]")  # flake8's utils.COMMA_SEPARATED_LIST_RE
NOQA_FILE = re.compile(r"#\s*detachify\s*:\s*noqa\b", re.IGNORECASE)
ALL = frozenset({""})  # the empty prefix matches every code
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Suppressions:
    """Which (line, code) pairs the source's comments switch off."""

    def __init__(self, source: str):
        self.by_line: Dict[int, FrozenSet[str]] = {}
        # Tokenizing is the cost: only where the text can hold the comment at all.
        self.whole_file = NOQA_FILE.search(source) is not None and any(
            NOQA_FILE.search(comment) for comment in _comments(source))
        if self.whole_file or "noqa" not in source.lower():
            return
        lines = _LINE_BREAK.split(source)  # as tokenize counts lines (str.splitlines also splits at \x0c)
        for first, last in _line_ranges(source, len(lines)):
            match = NOQA_INLINE.search("\n".join(lines[first - 1:last]))
            if match:
                codes = match.group("codes")
                prefixes = ALL if codes is None else frozenset(c for c in _CODE_SEPARATOR.split(codes) if c)
                for line in range(first, last + 1):
                    self.by_line[line] = prefixes

    def suppressed(self, line: int, code: str) -> bool:
        if self.whole_file:
            return True
        prefixes: Optional[FrozenSet[str]] = self.by_line.get(line)
        return prefixes is not None and any(code.startswith(p) for p in prefixes)


def noqa_line_ranges(source: str) -> List[Tuple[int, int]]:
    """(first, last) physical lines that share one `# noqa`, as flake8 maps them: a comment added at the end of
    `last` covers every line of the range (where an editor's "silence this line" must put it)."""
    return list(_line_ranges(source, len(_LINE_BREAK.split(source))))


def _line_ranges(source: str, line_count: int):
    """flake8's noqa line mapping: runs of physical lines between NL/NEWLINE tokens."""
    try:
        first, last = line_count + 2, -1
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first, last = min(first, tok.start[0]), max(last, tok.end[0])
            if tok.type in (tokenize.NL, tokenize.NEWLINE):
                yield first, last
                first, last = line_count + 2, -1
        if last != -1:
            yield first, last
    except (tokenize.TokenError, IndentationError, SyntaxError):
        yield from ((number, number) for number in range(1, line_count + 1))


def _comments(source: str):
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Fall back to a line scan; a `#` inside a string may then count, which only ever suppresses more.
        for text in source.splitlines():
            if "#" in text:
                yield text[text.index("#"):]
