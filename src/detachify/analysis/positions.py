"""Source positions of a few nodes, without paying for the positions of all of them.

libcst's `PositionProvider` records a range for every node of the module while it generates the code: on a
large file that costs several times the parse. A finding needs the positions of its conversion and the nodes
inside it, a summary the lines of a few calls and definitions: this records ranges only inside the subtrees of
the nodes asked for, and otherwise only adds up how much text the codegen has produced. Ranges follow
`PositionProvider`'s rules (syntactic positions where a node records one, whitespace-inclusive otherwise).
"""
from __future__ import annotations

import bisect
import re
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterable, List, Optional, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata.position_provider import CodePosition, CodeRange

_NOT_RECORDING = nullcontext()
_NEWLINE = re.compile(r"\r\n?|\n")  # as libcst's codegen counts lines


class _TargetedState(CodegenState):
    __slots__ = ("targets", "inside", "offset", "ranges", "starts")

    def __init__(self, module: cst.Module, targets: Optional[frozenset]):  # None: every node
        CodegenState.__init__(self, default_indent=module.default_indent, default_newline=module.default_newline)
        self.targets = targets
        self.inside = 0
        self.offset = 0
        self.ranges: Dict[cst.CSTNode, Tuple[int, int]] = {}
        self.starts: List[int] = []

    def add_token(self, value: str) -> None:
        self.offset += len(value)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.offset += len(token)

    def pop_trailing_newline(self) -> None:
        pass  # after every node: no range changes

    def before_codegen(self, node) -> None:
        if self.inside or self.targets is None or node in self.targets:
            self.inside += 1
            self.starts.append(self.offset)

    def after_codegen(self, node) -> None:
        if self.inside:
            self.inside -= 1
            self.ranges.setdefault(node, (self.starts.pop(), self.offset))

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return self._record(node, start_node, end_node) if self.inside else _NOT_RECORDING

    @contextmanager
    def _record(self, node, start_node, end_node):
        start = self.offset
        try:
            yield
        finally:
            end = self.offset
            start = self.ranges[start_node][0] if start_node is not None else start
            end = self.ranges[end_node][1] if end_node is not None else end
            self.ranges[node] = (start, end)


def positions_of(module: cst.Module, code: str, targets: Iterable[cst.CSTNode]) -> Dict[cst.CSTNode, CodeRange]:
    """Ranges of `targets` and of every node inside them; `code` is the module's text (`module.code`)."""
    state = _TargetedState(module, frozenset(targets))
    module._codegen(state)
    line_starts = line_starts_of(code)

    def position(offset: int) -> CodePosition:
        line = bisect.bisect_right(line_starts, offset)
        return CodePosition(line, offset - line_starts[line - 1])

    return {node: CodeRange(position(start), position(end)) for node, (start, end) in state.ranges.items()}


def node_ranges(module: cst.Module, node: cst.CSTNode) -> Tuple[int, Dict[cst.CSTNode, Tuple[int, int]]]:
    """The length of a top-level node's code in `module`, and each node's (start, end) offset in that code."""
    state = _TargetedState(module, None)
    node._codegen(state)
    return state.offset, state.ranges


def line_starts_of(code: str) -> List[int]:
    """The offset of each line's first character (line 1 first)."""
    return [0] + [match.end() for match in _NEWLINE.finditer(code)]
