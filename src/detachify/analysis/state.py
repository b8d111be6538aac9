"""Program state of the analysis: what each name holds, and the grad mode, at one point of one frame."""
from __future__ import annotations

from typing import Dict, Optional

from .values import Mode, Value, join


class State:
    __slots__ = ("vars", "mode")

    def __init__(self, vars: Optional[Dict[str, Value]] = None, mode: Mode = Mode.ON):
        self.vars = vars if vars is not None else {}
        self.mode = mode

    def copy(self) -> "State":
        return State(dict(self.vars), self.mode)

    def join(self, other: "State") -> "State":
        if other is self:
            return self.copy()
        merged = dict(self.vars)
        for name, value in other.vars.items():
            mine = merged.get(name)
            merged[name] = value if mine is None else join(mine, value)
        return State(merged, self.mode.join(other.mode))

    def __eq__(self, other):
        return isinstance(other, State) and self.mode is other.mode and self.vars == other.vars

    __hash__ = None


class Frame:
    """One activation: the module's top level, or one analysis of a function body."""

    def __init__(self, state: State, parent: Optional["Frame"] = None, function=None, depth: int = 0):
        self.state = state
        self.parent = parent  # the defining frame, for closures and globals (live: sees later assignments)
        self.function = function  # FunctionInfo, or None at module level
        self.returns: Optional[Value] = None
        self.depth = depth
        self.yield_modes = []  # grad mode at each `yield` (a @contextmanager that yields under no_grad)
        self.yielded: Optional[Value] = None  # join of the yielded values
        self.call_node = None  # the call this frame analyses the function for (None: standalone or module)

    def owns(self, name: str) -> bool:
        if self.function is None:
            return True
        return name in self.function.local_names or name in self.state.vars

    def module_frame(self) -> "Frame":
        frame = self
        while frame.parent is not None:
            frame = frame.parent
        return frame

    def add_return(self, value: Value):
        self.returns = value if self.returns is None else join(self.returns, value)
