"""Which summaries a module on an import cycle may read while it is summarised.

A summary cannot read its own, nor one that reads it. Cutting the whole cycle (every member sees the others as
unknown) is safe but blind: one `import pkg` in a utility module (for `pkg.__version__`) puts the package's
`__init__` on a cycle with everything it re-exports, and every model class of the package goes unknown to every
other. So the members are ordered, from the import graph alone (never from who asked first), and a member reads
the summaries of those below it:

* a package's `__init__` is above every other member: it re-exports, the others import it mostly for a name or
  two of its own (a version, a registry), which then reads as unknown;
* the other members, the `__init__` files taken out, fall apart into smaller cycles (often none): a member reads
  the summaries of the members it imports, directly or not, outside its own smaller cycle (those cannot import
  it back without being on it);
* members of one smaller cycle, and `__init__` files among themselves, read each other as unknown, as before.

Every summary read is of a member strictly below, so summarising terminates and each summary is a function of
file contents.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, FrozenSet, Iterable, List, Set

Successors = Callable[[str], Iterable[str]]


def readable(cycle: FrozenSet[str], imports_of: Successors) -> Dict[str, FrozenSet[str]]:
    """For each member of `cycle` (a strongly connected component of the import graph), the members whose
    summaries its summary may read."""
    inits = frozenset(member for member in cycle if os.path.basename(member).startswith("__init__."))
    rest = cycle - inits
    edges = {member: [target for target in imports_of(member) if target in rest] for member in rest}
    found = components(sorted(rest), lambda member: edges[member])
    number = {member: index for index, members in enumerate(found) for member in members}
    # Tarjan's algorithm finds a component after every component it reaches: one pass, as bit sets of them.
    below = [0] * len(found)
    for index, members in enumerate(found):
        for member in members:
            for target in edges[member]:
                other = number[target]
                if other != index:
                    below[index] |= below[other] | (1 << other)
    result: Dict[str, FrozenSet[str]] = {}
    for index, members in enumerate(found):
        reached = frozenset(member for other, group in enumerate(found) if below[index] >> other & 1
                            for member in group)
        for member in members:
            result[member] = reached
    for member in inits:
        result[member] = rest
    return result


def components(nodes: List[str], successors: Successors) -> List[FrozenSet[str]]:
    """The strongly connected components of the graph over `nodes` (Tarjan's algorithm, iteratively)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[FrozenSet[str]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors(root)))]
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(successors(target))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.add(member)
                    if member == node:
                        break
                found.append(frozenset(members))
    return found
