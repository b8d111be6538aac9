"""Program state of the analysis: what each name holds, and the grad mode, at one point of one frame."""
from __future__ import annotations

from typing import Dict, Optional

from .values import Mode, Value, join


class State:
    """`conditions`: what an `if flag:` left behind, for a later test of the same unchanged flag:
    flag → (the flag's value after the join, {name: (value if the flag held, value if it did not)}).
    `tests`: flags that hold a type test (`is_array = isinstance(x, np.ndarray)`): flag → (the flag's value,
    the test expression, the value its subject had), so that `if is_array:` says what the test would."""

    __slots__ = ("vars", "mode", "conditions", "ended", "tests")

    def __init__(self, vars: Optional[Dict[str, Value]] = None, mode: Mode = Mode.ON, conditions=None, tests=None):
        self.vars = vars if vars is not None else {}
        self.mode = mode
        self.conditions = conditions if conditions is not None else {}
        self.tests = tests if tests is not None else {}
        self.ended = False  # the path returned or raised: nothing after it runs, it joins nothing

    def copy(self) -> "State":
        copied = State(dict(self.vars), self.mode, dict(self.conditions), dict(self.tests))
        copied.ended = self.ended
        return copied

    def join(self, other: "State") -> "State":
        if other is self:
            return self.copy()
        if self.ended != other.ended:  # a path that returned leaves nothing to the code after the branch
            return (other if self.ended else self).copy()
        merged = dict(self.vars)
        for name, value in other.vars.items():
            mine = merged.get(name)
            merged[name] = value if mine is None else join(mine, value)
        kept = {flag: fact for flag, fact in self.conditions.items() if other.conditions.get(flag) == fact}
        tests = {flag: fact for flag, fact in self.tests.items() if other.tests.get(flag) is fact}
        return State(merged, self.mode.join(other.mode), kept, tests)

    def __eq__(self, other):
        return isinstance(other, State) and self.mode is other.mode and self.vars == other.vars \
            and self.ended == other.ended

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
        self.splits = 0  # flags whose tests are being followed apart (`Statements.exec_split`)

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
