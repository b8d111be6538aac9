"""d2l's own code, executed without importing `d2l.torch`.

d2l ("Dive into Deep Learning"'s helper package) is installed with `--no-deps` (its metadata pins numpy 1.23,
matplotlib 3.7, pandas 2.0, scipy 1.10 and jupyter, which the rest of the suite cannot have), and `import d2l.torch`
imports torchvision at its top, which does not load beside the pinned CPU torch ("operator torchvision::nms does not
exist"). So `load(names)` reads the installed `d2l/torch.py` and executes, in one fresh module and in the file's own
order, its import statements (all but torchvision's, which d2l's plotting and device helpers do not use) and every
top-level statement that defines one of `names`: the real definitions, compiled from the file unchanged, over the
real torch, matplotlib, pandas, IPython.display and matplotlib_inline. Nothing of their behaviour is replaced. A name
the file defines twice (`show_images` is first a stub that raises, then the real one) ends as the module has it: the
later definition wins. `d2l = sys.modules[__name__]`, which the helpers use to reach each other (`d2l.plt`,
`d2l.set_axes`), is executed as written, with the fresh module registered under its own name.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import itertools
import sys
import types
from pathlib import Path
from typing import Iterable, List, Optional, Set

# The modules d2l.torch imports that cannot be imported here.
UNLOADABLE = ("torchvision",)
SKIP_REASON = ("d2l is not installed: `python -m pip install --no-deps d2l==1.0.3` (the README's test command "
               "installs it so)")
_counter = itertools.count()


def source_path() -> Optional[Path]:
    """The installed `d2l/torch.py`, or None where d2l is not installed."""
    spec = importlib.util.find_spec("d2l")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "torch.py"
    return path if path.is_file() else None


def version() -> str:
    init = source_path().parent / "__init__.py"
    for line in init.read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return ast.literal_eval(line.split("=", 1)[1].strip())
    return "unknown"


@functools.lru_cache(maxsize=None)
def statements() -> List[ast.stmt]:
    path = source_path()
    return ast.parse(path.read_text(encoding="utf-8"), str(path)).body


def defined_names(statement: ast.stmt) -> Set[str]:
    """The names a top-level definition binds (`def f`, `class C`, `x = ...`, `a, b = ...`)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, ast.Assign):
        return set().union(*(_target_names(target) for target in statement.targets))
    return set()


def _target_names(target: ast.expr) -> Set[str]:
    """`x` and `a, b` bind names; `d2l.DATA_HUB['k'] = ...` binds none (it stores into an object)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(element) for element in target.elts))
    return set()


def imported_modules(statement: ast.stmt) -> List[str]:
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    if isinstance(statement, ast.ImportFrom):
        return [statement.module or ""]
    return []


def is_unloadable_import(statement: ast.stmt) -> bool:
    return any(module.split(".")[0] in UNLOADABLE for module in imported_modules(statement))


def import_bindings() -> dict:
    """Every name the file's import statements bind, with the module or object it names (`plt` ->
    `matplotlib.pyplot`, `transforms` -> `torchvision.transforms`): read, not executed, so torchvision's are here."""
    bound = {}
    for statement in statements():
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0:
            for alias in statement.names:
                bound[alias.asname or alias.name] = f"{statement.module}.{alias.name}"
    return bound


def load(names: Iterable[str]) -> types.ModuleType:
    """A fresh module holding d2l.torch's imports (torchvision's left out) and its definitions of `names`."""
    wanted = set(names) | {"d2l"}
    path = source_path()
    name = f"d2l_torch_source_{next(_counter)}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    for statement in statements():
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            if is_unloadable_import(statement):
                continue
        elif not defined_names(statement) & wanted:
            continue
        code = compile(ast.Module(body=[statement], type_ignores=[]), str(path), "exec")
        exec(code, module.__dict__)
    missing = sorted(set(names) - set(vars(module)))
    assert not missing, f"d2l/torch.py defines no {missing}"
    return module
