"""Where a project's own modules are: its root, the source roots imports are resolved against, module files.

Resolution follows Python's rules as far as the files can tell, without importing anything: a name resolves to
`root/a/b.py` or `root/a/b/__init__.py` under the first source root that has it; relative imports climb from
the importing module's package. Names of the standard library and of the libraries detachify knows (torch,
numpy, ...) are never the project's, even if a file of that name exists: a project's `torch.py` would shadow
torch for Python too, but trusting it would turn every conversion into a guess.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Tuple

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
    for root in source_roots(importer):
        found = module_under(root, name)
        if found is not None:
            return found
    return _package_above(name, importer)


def _package_above(name: str, importer: str, levels: int = 2) -> Optional[ModuleFile]:
    """A package a folder or two above the importer's source roots: scripts kept in a sub-folder
    (`demo/`, `tools/`) run from the repository root, or add it to sys.path, to import the project's package."""
    folder = package_top(os.path.dirname(os.path.abspath(importer)))
    top = name.split(".", 1)[0]
    for _ in range(levels):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
        if _is_package_dir(os.path.join(folder, top)):
            return module_under(folder, name)
    return None


def resolve_relative(level: int, name: str, importer: str) -> Optional[ModuleFile]:
    """`from ..pkg.mod import x` in `importer`: `level` dots, then `name` (may be empty: the package itself)."""
    package = os.path.dirname(os.path.abspath(importer))
    for _ in range(level - 1):
        package = os.path.dirname(package)
    base = package_name(package)
    if base is None:
        return None  # climbing out of the top package: Python raises ImportError
    parts = [part for part in (base, name) if part]
    root = package
    for _ in range(base.count(".") + 1):
        root = os.path.dirname(root)
    return module_under(root, ".".join(parts)) if parts else None


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
    base = os.path.join(root, *name.split("."))
    for suffix in SOURCE_SUFFIXES:
        init = os.path.join(base, "__init__" + suffix)
        if witness.is_file(init):
            return ModuleFile(name, init, True, root)
    for suffix in SOURCE_SUFFIXES:
        if witness.is_file(base + suffix):
            return ModuleFile(name, base + suffix, False, root)
    return None


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
    for cached in (project_root, _project_root_of_folder, package_top, source_roots, package_name, module_under):
        cached.cache_clear()
