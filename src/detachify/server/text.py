"""Positions between the engine and the editor, and the two edits the server makes up itself.

The engine counts 1-based lines (split at ``\\r\\n``, ``\\r`` and ``\\n``, as Python's tokenizer does) and 0-based
columns in characters, without a byte-order mark. LSP counts 0-based lines and columns in the code units the
client and server agreed on: UTF-16 unless the client offered UTF-8 or UTF-32. Everything here is plain Python, so
it is tested without a client.
"""
from __future__ import annotations

import bisect
import re
from typing import List, Optional, Sequence, Tuple

from ..findings import Edit
from ..noqa import NOQA_INLINE

LINE_BREAK = re.compile(r"\r\n|\r|\n")
BOM = "\ufeff"
UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str) -> int:
    """How many code units of ``encoding`` the text takes."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)  # astral characters are surrogate pairs


def characters(text: str, count: int, encoding: str) -> int:
    """How many characters of ``text`` the first ``count`` code units cover (a unit inside a character counts it)."""
    if encoding == UTF32:
        return min(count, len(text))
    used = 0
    for index, char in enumerate(text):
        if used >= count:
            return index
        used += units(char, encoding)
    return len(text)


class Lines:
    """A document's text with its line starts: the bridge between engine and client positions."""

    def __init__(self, text: str):
        # libcst drops a leading BOM and counts columns without it; the editor's buffer may still hold one.
        self.bom = text.startswith(BOM)
        self.text = text[1:] if self.bom else text
        self.starts = [0] + [match.end() for match in LINE_BREAK.finditer(self.text)]

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) without its line break; '' past the end."""
        if not 1 <= number <= len(self.starts):
            return ""
        start = self.starts[number - 1]
        end = self.starts[number] if number < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def to_client(self, line: int, column: int, encoding: str) -> Tuple[int, int]:
        """(line, character) for the client from an engine position, clamped into the document."""
        line = min(max(line, 1), len(self.starts))
        text = self.line(line)
        prefix = text[:max(column, 0)]
        extra = units(BOM, encoding) if self.bom and line == 1 else 0
        return line - 1, units(prefix, encoding) + extra

    def from_client(self, line: int, character: int, encoding: str) -> Tuple[int, int]:
        """The engine position (1-based line, character column) of a client position."""
        number = min(max(line + 1, 1), len(self.starts))
        if self.bom and number == 1:
            character = max(character - units(BOM, encoding), 0)
        return number, characters(self.line(number), character, encoding)

    def position_of(self, offset: int) -> Tuple[int, int]:
        """The engine position of a character offset into ``text``."""
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index]


def replacement(old: str, new: str) -> Optional[Edit]:
    """One edit that turns ``old`` into ``new``, spanning whole lines from the first changed line to the last
    (as ruff's fix-all does): small enough to keep the editor's cursor and folds, simple to get right."""
    if old == new:
        return None
    old_kept, new_kept = _with_breaks(old), _with_breaks(new)
    prefix = 0
    while prefix < min(len(old_kept), len(new_kept)) and old_kept[prefix] == new_kept[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(old_kept), len(new_kept)) - prefix
           and old_kept[-1 - suffix] == new_kept[-1 - suffix]):
        suffix += 1
    start = sum(map(len, old_kept[:prefix]))
    old_end = len(old) - sum(map(len, old_kept[len(old_kept) - suffix:]))
    new_end = len(new) - sum(map(len, new_kept[len(new_kept) - suffix:]))
    lines = Lines(old)
    (start_line, start_column), (end_line, end_column) = lines.position_of(start), lines.position_of(old_end)
    return Edit(start_line, start_column, end_line, end_column, new[start:new_end])


def _with_breaks(text: str) -> List[str]:
    """The lines of ``text``, each with its own line break."""
    pieces, cursor = [], 0
    for match in LINE_BREAK.finditer(text):
        pieces.append(text[cursor:match.end()])
        cursor = match.end()
    if cursor < len(text):
        pieces.append(text[cursor:])
    return pieces


def silence_edit(lines: Lines, ranges: Sequence[Tuple[int, int]], line: int, code: str) -> Optional[Edit]:
    """The edit that adds ``code`` to the `# noqa` covering ``line``: into an existing `# noqa: A1, B2` list, or
    as `  # noqa: CODE` at the end of the last line sharing the comment (flake8's mapping, from
    :func:`detachify.noqa.noqa_line_ranges`: after a backslash-continued line, not inside it). None when a
    comment there already silences the code."""
    first, last = next(((a, b) for a, b in ranges if a <= line <= b), (line, line))
    numbers = list(range(first, last + 1))
    joined = "\n".join(lines.line(number) for number in numbers)
    # The same search as Suppressions: the first match in the text of the whole range decides.
    match = NOQA_INLINE.search(joined)
    if match is not None:
        codes = match.group("codes")
        if not codes or any(code.startswith(c.upper()) for c in re.split(r"[,\s]+", codes) if c):
            return None
        # flake8's pattern takes the separator after the last code too: append right after that code.
        number, column = _locate(joined, match.start("codes") + len(codes.rstrip(", \t")), first)
        return Edit(number, column, number, column, f", {code}")
    text = lines.line(last)
    kept = len(text.rstrip())
    return Edit(last, kept, last, len(text), f"  # noqa: {code}")


def _locate(joined: str, offset: int, first: int) -> Tuple[int, int]:
    before = joined[:offset]
    newlines = before.count("\n")
    return first + newlines, offset - (before.rfind("\n") + 1)


def noqa_codes_at(text: str, column: int) -> List[str]:
    """The code of a `# noqa: A1, B2` comment under ``column`` of the line ``text`` (what hover explains)."""
    for match in NOQA_INLINE.finditer(text):
        codes = match.group("codes")
        if not codes:
            continue
        for code in re.finditer(r"[A-Za-z]+[0-9]+", codes):
            start = match.start("codes") + code.start()
            if start <= column <= start + len(code.group()):
                return [code.group().upper()]
    return []
