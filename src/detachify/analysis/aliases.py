"""Whether a list handed to a converter may also be reached under another name.

A list of tensors is fixed where it is filled (`losses.append(loss.item())`); that fix is complete only if the
analysis saw every fill. Fills through an alias (`history = losses; history.append(loss)`, a helper
`fill(losses)`, `{"a": losses}`) are not seen, so when the list's name is used in any way but the ones below, the
fix is marked unsafe. Syntactic on purpose: a name reused elsewhere can only make it unsafe. The one scope rule
kept is Python's own: a function's local variable can be named only inside that function (and the functions and
classes nested in it), so only that subtree is searched for it; anything else is searched for in the whole module.
"""
from __future__ import annotations

from typing import Collection, Dict, Mapping, Optional, Set

import libcst as cst

from .literals import evaluated_value

# Methods that fill a list in place; the analysis records what they put in.
FILLING_METHODS = frozenset({"append", "extend", "insert"})
# Builtins that read a list without keeping it.
READING_BUILTINS = frozenset({"len"})


def aliased_containers(module: cst.Module, containers: Collection[cst.BaseExpression],
                       conversion_sites: Collection,
                       scopes: Mapping[cst.BaseExpression, cst.CSTNode] = {}) -> Set[cst.BaseExpression]:
    """The expressions naming a list (`losses`, `self.losses`, `history["train"]`) that are used other than:
    filled in place, indexed, iterated, (re)assigned, bound as a parameter, measured with len(), or handed to a
    converter (`conversion_sites`). Only the full expression is checked, not its prefixes (`history`, `self`).
    `scopes` maps a container that is a local variable to the function it is local to: only that function is
    searched for its uses. One walk per scope answers for all the containers of that scope."""
    aliased, targets_by_scope = set(), {}
    for container in containers:
        if isinstance(container, (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp,
                                  cst.GeneratorExp)):
            continue  # built right there: `np.stack((a, b))`, `np.array([p.norm() for p in ps])`
        target = _dotted(container)
        if target is None:
            aliased.add(container)  # `np.stack(history())`: filled who knows where
        else:
            scope = scopes.get(container, module)
            targets_by_scope.setdefault(scope, {}).setdefault(target, []).append(container)
    for scope, targets in targets_by_scope.items():
        finder = _Uses(frozenset(targets))
        finder.walk(scope)
        for use in finder.uses:
            if not _harmless(use, finder.parents, conversion_sites):
                aliased.update(targets[_dotted(use)])
    return aliased


def _harmless(use: cst.CSTNode, parents: Dict[cst.CSTNode, cst.CSTNode], conversion_sites) -> bool:
    if use in conversion_sites:
        return True
    parent = parents.get(use)
    if isinstance(parent, cst.Attribute) and parent.value is use:
        call = parents.get(parent)
        return parent.attr.value in FILLING_METHODS and isinstance(call, cst.Call) and call.func is parent
    if isinstance(parent, cst.Subscript) and parent.value is use:
        return True
    if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is use:
        return True
    if isinstance(parent, cst.Param) and parent.name is use:
        return True  # `def plot(values)`: the parameter itself; what the callee does with it is analysed
    if isinstance(parent, cst.AssignTarget):
        return True
    if isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is use:
        return True
    if isinstance(parent, cst.Arg):
        call = parents.get(parent)
        return isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and \
            call.func.value in READING_BUILTINS
    return False


def _dotted(node: cst.BaseExpression) -> Optional[str]:
    """`losses`, `self.losses`, `history["train"]` as one comparable string; None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        base, key = _dotted(node.value), node.slice[0].slice.value
        if base is not None and isinstance(key, (cst.SimpleString, cst.Integer)):
            return f"{base}[{evaluated_value(key)!r}]"
    return None


class _Uses:
    """Every Name/Attribute spelling `target`, with its parent and grandparent (all `_harmless` reads). A plain
    walk over `children`: libcst's visitor rebuilds every node it leaves, which costs more than the analysis."""

    def __init__(self, targets):
        self.targets = targets
        self.parents: Dict[cst.CSTNode, cst.CSTNode] = {}
        self.uses = []

    def walk(self, scope: cst.CSTNode) -> None:
        roots = [(child, (scope,)) for child in _children(scope)]
        while roots:
            node, above = roots.pop()
            parent = above[-1]
            if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)) and not _is_attribute_name(node, parent) \
                    and _dotted(node) in self.targets:
                self.uses.append(node)
                self.parents[node] = parent
                if len(above) > 1:
                    self.parents[parent] = above[-2]
            path = (above[-1], node)
            roots.extend((child, path) for child in _children(node))


_SKIPPED_FIELDS = ("whitespace", "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after", "header",
                   "footer", "newline", "colon", "equal", "dot", "star", "operator", "prefix", "quote")
_FIELDS: Dict[type, tuple] = {}


def _children(node: cst.CSTNode):
    """The child nodes that can hold an expression, read from the dataclass fields (formatting fields skipped)."""
    fields = _FIELDS.get(type(node))
    if fields is None:
        fields = _FIELDS[type(node)] = tuple(name for name in node.__dataclass_fields__
                                             if not name.startswith(_SKIPPED_FIELDS))
    for name in fields:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (item for item in value if isinstance(item, cst.CSTNode))


def _is_attribute_name(node, parent) -> bool:
    """The `ls` of `h.ls` or of `f(ls=1)` is not the variable `ls`."""
    return (isinstance(parent, cst.Attribute) and parent.attr is node) or (
        isinstance(parent, cst.Arg) and parent.keyword is node)
