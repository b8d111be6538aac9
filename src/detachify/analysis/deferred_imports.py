"""Which `from module import name` statements may be read lazily: the summary behind a name is read when the
analysis first looks the name up, not when the import runs.

A project module's summary is the costliest thing an analysis asks for (the module is parsed and all its
functions run), and most imported names are never looked up on any path the analysis follows: a package's
`__init__` re-exports hundreds of names, a module imports helpers for code no conversion depends on. Read
lazily, a module that imports another without using the name costs nothing, and a re-export is passed on as a
reference (`summary.IMPORTED`) for the module that finally reads it.

Deferring is exact only where the import is the one binding of the name at module level: the binding then holds
wherever the name is looked up, in any order. So an import is deferred only at the top of the module (not under
`if`, `try` or `with`, whose paths join), for names nothing else at module level binds, that no function declares
`global`, in a module without `match` or `:=` (whose bindings are not worth tracking here).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Dict, FrozenSet, Iterator

import libcst as cst
from libcst.helpers import get_full_name_for_node

from .scopes import nested_statements


def deferrable_imports(module: cst.Module, source: str) -> Dict[int, FrozenSet[str]]:
    """id of a top-level `ImportFrom` node → the names it binds that may be read lazily (as bound there)."""
    if ":=" in source or _MATCH_STATEMENT.search(source):
        return {}
    counts: Counter = Counter()
    for name in _bound_at_module_level(module.body):
        counts[name] += 1
    declared_global = frozenset(name.strip() for names in _GLOBAL_STATEMENT.findall(source)
                                for name in names.split(","))
    found: Dict[int, FrozenSet[str]] = {}
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for small in line.body:
            if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                names = frozenset(name for name in _import_from_names(small)
                                  if counts[name] == 1 and name not in declared_global)
                if names:
                    found[id(small)] = names
    return found


def bound_name(alias: cst.ImportAlias) -> str:
    """The name `from module import name [as alias]` binds."""
    return alias.asname.name.value if alias.asname is not None else get_full_name_for_node(alias.name)


def _import_from_names(statement: cst.ImportFrom) -> Iterator[str]:
    return (bound_name(alias) for alias in statement.names)


def _bound_at_module_level(statements) -> Iterator[str]:
    """Every name each statement binds in the module's namespace, once per binding (function and class bodies
    bind in their own)."""
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                yield from _bound_by_small(small)
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            yield statement.name.value
        else:
            if isinstance(statement, cst.For):
                yield from _target_names(statement.target)
            if isinstance(statement, cst.With):
                for item in statement.items:
                    if item.asname is not None:
                        yield from _target_names(item.asname.name)
            for handler in getattr(statement, "handlers", ()) or ():
                if handler.name is not None:
                    yield from _target_names(handler.name.name)
            yield from _bound_at_module_level(nested_statements(statement))


def _bound_by_small(small) -> Iterator[str]:
    if isinstance(small, cst.Assign):
        for target in small.targets:
            yield from _target_names(target.target)
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        yield from _target_names(small.target)
    elif isinstance(small, cst.Import):
        for alias in small.names:
            if alias.asname is not None:
                yield from _target_names(alias.asname.name)
            else:
                yield get_full_name_for_node(alias.name).split(".", 1)[0]
    elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
        yield from _import_from_names(small)
    elif isinstance(small, cst.Del):
        yield from _target_names(small.target)  # unbinding counts: the name no longer holds the import after it


def _target_names(target) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


# Read off the text, not the tree (a walk of a large module costs more than deferring saves); a match in a string
# or a comment only makes the answer more cautious.
_GLOBAL_STATEMENT = re.compile(r"\bglobal[ \t]+([A-Za-z_][\w \t,]*)")
_MATCH_STATEMENT = re.compile(r"(?m)^[ \t]*match\b.*:[ \t]*(?:#.*)?$")
