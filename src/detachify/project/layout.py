"""Where a project's own modules are: its root, the source roots imports are resolved against, module files.

Resolution follows Python's rules as far as the files can tell, without importing anything: a name resolves to
`root/a/b.py` or `root/a/b/__init__.py` under the first source root that has it, and failing that to a folder
without `__init__.py` that holds Python modules (a PEP 420 namespace package, which Python 3 imports too, but
only when no root has a module or regular package of that name); relative imports climb from the importing
module's package, a namespace one included. Names of the standard library and of the libraries detachify knows (torch,
numpy, ...) are never the project's, even if a file of that name exists: a project's `torch.py` would shadow
torch for Python too, but trusting it would turn every conversion into a guess.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Tuple

from . import witness

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
SOURCE_SUFFIXES = (".py", ".pyi")
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


@dataclass(frozen=True)
class ModuleFile:
    """A module of the project: its dotted name (relative to the source root it was found under) and file."""

    name: str
    path: str  # absolute; a package's `__init__.py`
    is_package: bool
    root: str  # the source root it was found under


def has_root_marker(folder: str) -> bool:
    return any(witness.exists(os.path.join(folder, marker)) for marker in ROOT_MARKERS)


@lru_cache(maxsize=4096)
def project_root(path: str) -> str:
    """The folder that holds the project of `path` (a file or a directory).

    The nearest folder above it with a pyproject.toml, setup.cfg, setup.py or .git; failing that, the folder
    above the outermost package that holds the file (or the file's own folder for a script).
    """
    start = path if witness.is_dir(path) else os.path.dirname(path)
    return _project_root_of_folder(os.path.abspath(start))


@lru_cache(maxsize=4096)
def _project_root_of_folder(start: str) -> str:
    folder = start
    while True:
        if has_root_marker(folder):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return package_top(start)


@lru_cache(maxsize=4096)
def package_top(folder: str) -> str:
    """The folder above the outermost package containing `folder` (`folder` itself when it is no package)."""
    while _is_package_dir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _is_package_dir(folder: str) -> bool:
    return any(witness.is_file(os.path.join(folder, "__init__" + suffix)) for suffix in SOURCE_SUFFIXES)


@lru_cache(maxsize=4096)
def source_roots(importer: str) -> Tuple[str, ...]:
    """Folders an absolute import in file `importer` is resolved against, in order.

    The importer's own folder (Python puts a script's folder first on sys.path; notebooks run beside their
    modules), the folder above its outermost package, the project root and its `src/`.
    """
    folder = os.path.dirname(os.path.abspath(importer))
    root = project_root(importer)
    candidates = [folder, package_top(folder), root, os.path.join(root, "src")]
    seen, roots = set(), []
    for candidate in candidates:
        if candidate not in seen and witness.is_dir(candidate):
            seen.add(candidate)
            roots.append(candidate)
    return tuple(roots)


def is_foreign(name: str, known_libraries) -> bool:
    """A top-level name that is never resolved inside the project."""
    top = name.split(".", 1)[0]
    return top in _STDLIB or top in known_libraries or top == "__future__"


def resolve_absolute(name: str, importer: str, known_libraries=frozenset()) -> Optional[ModuleFile]:
    if not name or is_foreign(name, known_libraries):
        return None
    roots = source_roots(importer)
    for root in roots:
        found = module_under(root, name)
        if found is not None and found.path:
            return found
    found = _package_above(name, importer)
    if found is not None and found.path:
        return found
    # Python takes a namespace package only when no entry of sys.path has a module or package of that name.
    for root in roots:
        found = module_under(root, name)
        if found is not None:
            return found
    return _package_above(name, importer, namespace=True)


def _package_above(name: str, importer: str, levels: int = 2, namespace: bool = False) -> Optional[ModuleFile]:
    """A package a folder or two above the importer's source roots: scripts kept in a sub-folder
    (`demo/`, `tools/`) run from the repository root, or add it to sys.path, to import the project's package.
    `namespace`: a namespace package there too (only if the whole dotted name is found under it)."""
    folder = package_top(os.path.dirname(os.path.abspath(importer)))
    top = name.split(".", 1)[0]
    for _ in range(levels):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
        candidate = os.path.join(folder, top)
        if _is_package_dir(candidate):
            return module_under(folder, name)
        if namespace and is_namespace_dir(candidate):
            found = module_under(folder, name)
            if found is not None:
                return found
    return None


def resolve_relative(level: int, name: str, importer: str) -> Optional[ModuleFile]:
    """`from ..pkg.mod import x` in `importer`: `level` dots, then `name` (may be empty: the package itself)."""
    package = os.path.dirname(os.path.abspath(importer))
    for _ in range(level - 1):
        package = os.path.dirname(package)
    base = package_name(package)
    if base is None:
        # A module of a namespace package imports its siblings relatively too (Python knows its package from
        # how it was imported; the folder is all that name can mean). Out of a plain folder: ImportError.
        base = _namespace_name(package)
        if base is None:
            return None
    parts = [part for part in (base, name) if part]
    root = package
    for _ in range(base.count(".") + 1):
        root = os.path.dirname(root)
    return module_under(root, ".".join(parts)) if parts else None


def _namespace_name(folder: str) -> Optional[str]:
    """The dotted name of a namespace package at `folder`: its own name, under the regular package above it if
    there is one (a namespace package's own parents cannot be told from the files; it is named from its folder)."""
    if not is_namespace_dir(folder):
        return None
    above = package_name(os.path.dirname(folder))
    return f"{above}.{os.path.basename(folder)}" if above else os.path.basename(folder)


@lru_cache(maxsize=8192)
def package_name(folder: str) -> Optional[str]:
    """The dotted name of the package at `folder` (None if it is not a package)."""
    if not _is_package_dir(folder):
        return None
    parts = []
    while _is_package_dir(folder):
        parts.append(os.path.basename(folder))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return ".".join(reversed(parts))


@lru_cache(maxsize=16384)
def module_under(root: str, name: str) -> Optional[ModuleFile]:
    """Module `name` under source root `root`: a regular package, a module file, or a namespace package (a
    ModuleFile whose path is "": it has no file, only submodules)."""
    base = os.path.join(root, *name.split("."))
    for suffix in SOURCE_SUFFIXES:
        init = os.path.join(base, "__init__" + suffix)
        if witness.is_file(init):
            return ModuleFile(name, init, True, root)
    for suffix in SOURCE_SUFFIXES:
        if witness.is_file(base + suffix):
            return ModuleFile(name, base + suffix, False, root)
    if is_namespace_dir(base):
        return ModuleFile(name, "", True, root)
    return None


MAX_PACKAGE_ENTRIES = 2_000  # a folder holding more is data (images, a dataset's classes), never read as code


@witness.walker
def python_entries(folder: str) -> List[str]:
    """The names in `folder` that may be modules: Python files, and folders (none in a folder of data)."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_PACKAGE_ENTRIES:
                    return []
                if not entry.name.startswith(".") and (entry.name.endswith(SOURCE_SUFFIXES) or entry.is_dir()):
                    found.append(entry.name)
    except OSError:
        return []
    return sorted(found)


@lru_cache(maxsize=8192)
def is_namespace_dir(folder: str, depth: int = 2) -> bool:
    """A folder without `__init__.py` that Python 3 imports as a namespace package (PEP 420), taken as one only
    when it holds Python modules, itself or a folder or two down: a folder of data or documents that happens to
    share a library's name is never read as the project's code."""
    if not witness.is_dir(folder) or _is_package_dir(folder):
        return False
    for entry in witness.listing(folder, python_entries):
        path = os.path.join(folder, entry)
        if entry.endswith(SOURCE_SUFFIXES):
            return True
        if depth > 0 and (_is_package_dir(path) or is_namespace_dir(path, depth - 1)):
            return True
    return False


@lru_cache(maxsize=8192)
def defining_module(root: str, package: str, name: str) -> Optional[ModuleFile]:
    """`from ns import Name` with `ns` a namespace package and `Name` none of its submodules: Python raises
    ImportError, so the folder is a partial copy of a package whose `__init__.py` is missing (a sparse checkout,
    a subset vendored or copied). Its `__init__` would take `Name` from one of its modules: the one module of
    the folder that defines `Name` at its top level (a class, a function, an assignment) stands for it; none
    or several, and `Name` stays unknown."""
    if not name.isidentifier():
        return None
    folder = os.path.join(root, *package.split("."))
    definition = re.compile(rf"^(?:class|def|async[ \t]+def)[ \t]+{name}\b|^{name}[ \t]*(?::[^=\n]*)?=(?!=)",
                            re.MULTILINE)
    found = []
    for entry in witness.listing(folder, python_entries):
        if not entry.endswith(SOURCE_SUFFIXES) or entry.startswith("__init__."):
            continue
        path = os.path.join(folder, entry)
        text = _read_source(path)
        if text is not None and definition.search(text):
            found.append(ModuleFile(f"{package}.{os.path.splitext(entry)[0]}", path, False, root))
    paths = {module.path[:-len(os.path.splitext(module.path)[1])] for module in found}
    return found[0] if len(paths) == 1 else None  # `m.py` beside its stub `m.pyi`: one module


def _read_source(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        witness.read(path, None)
        return None
    witness.read(path, data)
    return data.decode("utf-8", "replace")


def module_name_of(path: str) -> str:
    """The dotted name a file is imported as from the folder above its outermost package."""
    path = os.path.abspath(path)
    folder, file = os.path.split(path)
    stem = os.path.splitext(file)[0]
    package = package_name(folder)
    if stem == "__init__":
        return package or os.path.basename(folder)
    return f"{package}.{stem}" if package else stem


def clear_caches() -> None:
    """Forget what the file system looked like (a long-lived process: the language server, tests)."""
    for cached in (project_root, _project_root_of_folder, package_top, source_roots, package_name, module_under,
                   is_namespace_dir, defining_module):
        cached.cache_clear()
