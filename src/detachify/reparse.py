"""Reading an edited text again without reading all of it: the editor's case, one small change at a time.

An edit changes one place of a file; the module's other top-level statements are the same text as before. The
:class:`Reparser` keeps the last few texts it parsed and, for a new text, finds the one it shares most with
(common prefix and suffix). The top-level statements wholly inside the shared prefix and suffix are kept, the
same node objects, and only the text between them is parsed, as a module of its own. That is exact:

- the kept statements end (prefix) and start (suffix) at a line start, at column 0, where Python's tokenizer
  starts afresh;
- the text between them parses alone, so it opens no bracket or string, ends no backslash continuation, and
  starts no line that would continue the statement before it (an indented line, `else:`, `except:`), since
  each of those fails to parse alone; anything that does not parse alone is parsed whole, as before, and a
  syntax error is reported by the whole parse;
- only the owner of comment and blank lines at the seams can differ from a whole parse (a module header becomes
  a statement's leading lines), and the text generated from the module is the new text exactly.

Node positions follow from the same split: each top-level statement's code is generated once (its length and
every node's range in it) and kept while the statement lives, so an edit pays for the statements it changed.
The CLI never turns this on: it reads each text once.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst
from libcst.metadata.position_provider import CodePosition, CodeRange

from .analysis.positions import line_starts_of, node_ranges

KEEP = 4  # texts remembered: the document being edited and the modules its check reads
# A text shares too little with any remembered one below this: it is parsed whole.
LEAST_SHARED = 0.5


@dataclass
class _Layout:
    """One top-level statement's generated code: its length and each node's (start, end) offset in it."""

    length: int
    ranges: Dict[cst.CSTNode, Tuple[int, int]]


@dataclass(eq=False)  # one parse, compared by identity
class _Parsed:
    source: str
    module: cst.Module
    starts: Optional[List[int]] = None  # offset of each top-level statement, then of the footer
    line_starts: Optional[List[int]] = None  # offset of each line of the source


class Reparser:
    def __init__(self, parser, keep: int = KEEP):
        self.parser = parser  # text -> module, raising libcst's ParserSyntaxError
        self.keep = keep
        self.recent: List[_Parsed] = []  # most recent last
        self.layouts: Dict[cst.CSTNode, _Layout] = {}  # top-level statement -> its code's layout
        self.statements_reused = 0  # counters, for tests and benchmarks
        self.statements_parsed = 0

    # parsing ---------------------------------------------------------------------------------------------
    def parse(self, source: str) -> cst.Module:
        for entry in reversed(self.recent):
            if entry.source == source:
                self._remember(entry)
                return entry.module
        base = self._closest(source)
        module = self._splice(base, source) if base is not None else None
        if module is None:
            module = self.parser(source)
            self.statements_parsed += len(module.body)
        self._remember(_Parsed(source, module))
        return module

    def _closest(self, source: str) -> Optional[_Parsed]:
        best, best_shared = None, LEAST_SHARED * len(source)
        for entry in self.recent:
            if not entry.module.has_trailing_newline:
                continue  # its last statement's code is one newline longer than its text
            prefix = _common_prefix(entry.source, source)
            shared = prefix + _common_suffix(entry.source, source, prefix)
            if shared > best_shared:
                best, best_shared = entry, shared
        return best

    def _splice(self, base: _Parsed, source: str) -> Optional[cst.Module]:
        old, text = base.module, base.source
        starts = self._starts(base)
        prefix = _common_prefix(text, source)
        suffix = _common_suffix(text, source, prefix)
        count = len(old.body)
        # Statements wholly inside the shared prefix / suffix (`starts[i + 1]` is where statement i ends).
        kept_before = max(0, min(bisect.bisect_right(starts, prefix) - 1, count))
        first_after = bisect.bisect_left(starts, len(text) - suffix, lo=kept_before)
        kept_after = count - min(first_after, count)
        if kept_before == 0 and kept_after == 0:
            return None  # nothing to keep
        begin = starts[kept_before] if kept_before else 0
        end = (starts[count - kept_after] if kept_after else len(text)) + len(source) - len(text)
        if end < begin or (kept_after and end > begin and source[end - 1] != "\n"):
            return None  # the seam is not a line start of the new text
        try:
            middle = self.parser(source[begin:end])
        except (cst.ParserSyntaxError, RecursionError):
            return None  # the whole parse decides, and reports the error where it is
        if middle.default_newline != old.default_newline or (
                middle.default_indent != old.default_indent and not _no_blocks(middle)):
            return None  # its code would be generated with the module's other newline or indentation
        body = list(middle.body)
        after = list(old.body[count - kept_after:])
        header, footer = old.header, old.footer
        trailing_newline, encoding = old.has_trailing_newline, old.encoding
        if kept_after:
            after = _led(after, middle.footer)
        else:
            footer = middle.footer
            trailing_newline = middle.has_trailing_newline or begin == end  # empty: the kept text's newline
        if kept_before:
            if body:
                body = _led(body, middle.header)
            elif after:
                after = _led(after, middle.header)
            else:
                footer = (*middle.header, *footer)
        else:
            header, encoding = middle.header, middle.encoding
        self.statements_parsed += len(middle.body)
        self.statements_reused += kept_before + kept_after
        return old.with_changes(header=tuple(header), body=(*old.body[:kept_before], *body, *after),
                                footer=tuple(footer), has_trailing_newline=trailing_newline, encoding=encoding)

    def _starts(self, entry: _Parsed) -> List[int]:
        if entry.starts is None:
            offset = _header_length(entry.module)
            starts = [offset]
            for statement in entry.module.body:
                offset += self.layout(entry.module, statement).length
                starts.append(offset)
            entry.starts = starts
        return entry.starts

    def _remember(self, entry: _Parsed) -> None:
        if entry in self.recent:
            self.recent.remove(entry)
        self.recent.append(entry)
        if len(self.recent) > self.keep:
            del self.recent[0]
            live = {statement for kept in self.recent for statement in kept.module.body}
            self.layouts = {node: layout for node, layout in self.layouts.items() if node in live}

    # positions -------------------------------------------------------------------------------------------
    def knows(self, module: cst.Module) -> bool:
        return self._entry_of(module) is not None

    def _entry_of(self, module: cst.Module) -> Optional[_Parsed]:
        return next((entry for entry in reversed(self.recent) if entry.module is module), None)

    def layout(self, module: cst.Module, statement: cst.CSTNode) -> _Layout:
        layout = self.layouts.get(statement)
        if layout is None:
            length, ranges = node_ranges(module, statement)
            layout = self.layouts[statement] = _Layout(length, ranges)
        return layout

    def positions_of(self, module: cst.Module, code: str, targets: Sequence[cst.CSTNode]
                     ) -> Tuple[Dict[cst.CSTNode, CodeRange], List[cst.CSTNode]]:
        """Ranges of the targets found in the module's top-level statements, and the targets found in none
        (the module node itself, header and footer lines): the caller generates those the usual way."""
        entry = self._entry_of(module)
        if entry is None or entry.source != code:
            return {}, list(targets)
        if entry.line_starts is None:
            entry.line_starts = line_starts_of(code)
        line_starts = entry.line_starts
        wanted = set(targets)
        found: Dict[cst.CSTNode, CodeRange] = {}

        def position(offset: int) -> CodePosition:
            line = bisect.bisect_right(line_starts, offset)
            return CodePosition(line, offset - line_starts[line - 1])

        for statement, offset in zip(module.body, self._starts(entry)):
            if not wanted:
                break
            ranges = self.layout(module, statement).ranges
            inside = [node for node in wanted if node in ranges]
            for node in inside:
                start, end = ranges[node]
                found[node] = CodeRange(position(offset + start), position(offset + end))
            wanted.difference_update(inside)
        return found, [node for node in targets if node in wanted]


def _led(statements: List[cst.CSTNode], lines: Sequence[cst.EmptyLine]) -> List[cst.CSTNode]:
    """Comment and blank lines left at a seam become leading lines of the statement after them."""
    if not lines:
        return statements
    first = statements[0]
    return [first.with_changes(leading_lines=(*lines, *first.leading_lines)), *statements[1:]]


def _no_blocks(module: cst.Module) -> bool:
    """No indented block: the module's indentation is never used to generate its code."""
    return all(isinstance(statement, cst.SimpleStatementLine) for statement in module.body)


def _header_length(module: cst.Module) -> int:
    return sum(node_ranges(module, line)[0] for line in module.header)


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, by halving (string comparison runs in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, prefix: int) -> int:
    """Length of the longest common suffix that does not overlap the common prefix in either text."""
    low, high = 0, min(len(a), len(b)) - prefix
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle:] == b[len(b) - middle:]:
            low = middle
        else:
            high = middle - 1
    return low
