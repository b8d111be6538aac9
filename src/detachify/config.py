"""`[tool.detachify]` in pyproject.toml, merged with the command line into per-file Settings.

Like ruff, each file uses the closest pyproject.toml above it that has a `[tool.detachify]` table (a
pyproject.toml without one is passed over); command-line flags override it. Relative globs in a config are
anchored at that config's directory, those given on the command line at the working directory.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .discovery import DEFAULT_EXCLUDE, PathMatcher
from .rules.registry import RULES
from .settings import FIX_STYLES, Settings

Codes = Tuple[str, ...]
SELECTOR = re.compile(r"TNP[0-9]{0,3}")


class ConfigError(Exception):
    """A configuration the run cannot go on with; the message names the file and key."""


@dataclass(frozen=True)
class FileConfig:
    """One `[tool.detachify]` table, validated. ``None`` means "not set here"."""

    path: Optional[str] = None  # the pyproject.toml it came from
    root: str = "."  # where its relative globs are anchored
    select: Optional[Codes] = None
    ignore: Codes = ()
    extend_select: Codes = ()
    exclude: Optional[Tuple[str, ...]] = None
    extend_exclude: Tuple[str, ...] = ()
    per_file_ignores: Tuple[Tuple[str, Codes], ...] = ()
    fix_style: Optional[str] = None
    unsafe_fixes: Optional[bool] = None


@dataclass(frozen=True)
class Overrides:
    """What the command line says; it wins over any config."""

    select: Optional[Codes] = None
    ignore: Codes = ()
    extend_select: Codes = ()
    exclude: Tuple[str, ...] = ()  # added to the config's list, never replacing the defaults
    per_file_ignores: Tuple[Tuple[str, Codes], ...] = ()
    fix_style: Optional[str] = None
    unsafe_fixes: Optional[bool] = None


def parse_selectors(values, where: str, warnings: Optional[List[str]] = None) -> Codes:
    """Rule selectors (TNP001, or a prefix such as TNP0) from a list, or a comma-separated string.

    A selector that no rule starts with is an error, as in ruff. (``warnings`` is kept for callers that collect
    them; selectors no longer add any.)
    """
    if isinstance(values, str):
        values = [values]
    codes = []
    for value in values:
        for code in str(value).split(","):
            code = code.strip().upper()
            if not code:
                continue
            if not SELECTOR.fullmatch(code):
                raise ConfigError(f"{where}: unknown rule selector {code!r} "
                                  f"(codes look like TNP001; a prefix such as TNP or TNP0 selects several)")
            if not any(known.startswith(code) for known in RULES):
                # As in ruff: a selector that selects nothing is a typo until proven otherwise (`TNP01`).
                raise ConfigError(f"{where}: unknown rule selector {code!r}: no rule starts with it "
                                  f"(rules: {', '.join(sorted(RULES))})")
            codes.append(code)
    return tuple(codes)


# ---------------------------------------------------------------------------------------------------------------
# Reading a table


def _type_error(where: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{where}: '{key}' must be {expected}, not {type(value).__name__} ({value!r})")


def _string_list(where: str, key: str, value: Any) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _type_error(where, key, "a list of strings", value)
    return tuple(value)


def _codes(where: str, key: str, value: Any, warnings: List[str]) -> Codes:
    return parse_selectors(_string_list(where, key, value), f"{where}: '{key}'", warnings)


def _per_file_ignores(where: str, key: str, value: Any, warnings: List[str]) -> Tuple[Tuple[str, Codes], ...]:
    if not isinstance(value, dict):
        raise _type_error(where, key, "a table of glob = [codes]", value)
    return tuple((glob, _codes(where, f"{key}.{glob}", codes, warnings)) for glob, codes in value.items())


def _fix_style(where: str, key: str, value: Any, warnings: List[str]) -> str:
    if value not in FIX_STYLES:
        raise ConfigError(f"{where}: '{key}' must be one of {', '.join(map(repr, FIX_STYLES))}, not {value!r}")
    return value


def _bool(where: str, key: str, value: Any, warnings: List[str]) -> bool:
    if not isinstance(value, bool):
        raise _type_error(where, key, "true or false", value)
    return value


# key -> (FileConfig field, validator)
KEYS = {
    "select": ("select", _codes),
    "ignore": ("ignore", _codes),
    "extend-select": ("extend_select", _codes),
    "exclude": ("exclude", lambda where, key, value, warnings: _string_list(where, key, value)),
    "extend-exclude": ("extend_exclude", lambda where, key, value, warnings: _string_list(where, key, value)),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "fix-style": ("fix_style", _fix_style),
    "unsafe-fixes": ("unsafe_fixes", _bool),
}


def parse_table(table: Dict[str, Any], path: str, warnings: Optional[List[str]] = None) -> FileConfig:
    where = f"{path}: [tool.detachify]"
    values: Dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            import difflib

            close = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(sorted(KEYS))})"
            raise ConfigError(f"{where}: unknown key '{key}'{hint}")
        field_name, validate = KEYS[key]
        values[field_name] = validate(where, key, value, warnings if warnings is not None else [])
    return FileConfig(path=path, root=os.path.dirname(os.path.abspath(path)), **values)


def load_pyproject(path: str, warnings: Optional[List[str]] = None) -> Optional[FileConfig]:
    """The file's `[tool.detachify]` table, or None when it has none."""
    try:  # imported here: `--isolated` runs, and projects without a pyproject.toml, never need it
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict) or "detachify" not in tool:
        return None
    table = tool["detachify"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.detachify] must be a table, not {type(table).__name__}")
    return parse_table(table, path, warnings)


# ---------------------------------------------------------------------------------------------------------------
# Per-file resolution


class Project:
    """One config merged with the command line: what a file under it is checked with."""

    def __init__(self, config: FileConfig, overrides: Overrides, cwd: str):
        self.config = config
        if overrides.select is not None:
            # A command-line --select starts the selection afresh; ignores keep adding up.
            select, extend = overrides.select, overrides.extend_select
        else:
            select, extend = config.select or (), config.extend_select + overrides.extend_select
        fix_style = overrides.fix_style or config.fix_style or "detach-cpu"
        unsafe = overrides.unsafe_fixes if overrides.unsafe_fixes is not None else bool(config.unsafe_fixes)
        self.settings = Settings(select=select, ignore=config.ignore + overrides.ignore, extend_select=extend,
                                 fix_style=fix_style, unsafe_fixes=unsafe)
        base = config.exclude if config.exclude is not None else DEFAULT_EXCLUDE
        self.exclude = PathMatcher([(p, config.root) for p in base + config.extend_exclude]
                                   + [(p, cwd) for p in overrides.exclude])
        self.per_file_ignores = tuple(
            (PathMatcher([(glob, root)]), codes)
            for root, table in ((config.root, config.per_file_ignores), (cwd, overrides.per_file_ignores))
            for glob, codes in table)

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        return self.exclude.matches(path)

    def settings_for(self, path: str) -> Settings:
        extra: Codes = ()
        if self.per_file_ignores:
            candidates = _self_and_parents(path, self.config.root)
            for pattern, codes in self.per_file_ignores:
                if any(pattern.matches(candidate) for candidate in candidates):
                    extra += codes
        return dataclasses.replace(self.settings, per_file_ignores=extra) if extra else self.settings


def _self_and_parents(path: str, root: str) -> List[str]:
    """The file and the directories between it and ``root``: `tests/` in per-file-ignores covers tests/a/b.py."""
    path = os.path.abspath(path)
    out, current = [path], os.path.dirname(path)
    root = os.path.abspath(root)
    while current.startswith(root + os.sep):
        out.append(current)
        current = os.path.dirname(current)
    return out


class Resolver:
    """Finds and caches the Project for each path."""

    def __init__(self, overrides: Overrides = Overrides(), config_file: Optional[str] = None,
                 isolated: bool = False, cwd: Optional[str] = None):
        self.overrides = overrides
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self.warnings: List[str] = []
        self._by_dir: Dict[str, Project] = {}
        self._by_config: Dict[Optional[str], Project] = {}
        self._tables: Dict[str, Optional[FileConfig]] = {}
        self._fixed: Optional[Project] = None
        if config_file is not None:
            config = load_pyproject(config_file, self.warnings)
            if config is None:
                raise ConfigError(f"{config_file}: has no [tool.detachify] table")
            self._fixed = Project(config, overrides, self.cwd)
        elif isolated:
            self._fixed = Project(FileConfig(root=self.cwd), overrides, self.cwd)

    def project_for(self, path: str, is_dir: bool = False) -> Project:
        if self._fixed is not None:
            return self._fixed
        path = os.path.abspath(path)
        return self._for_dir(path if is_dir else os.path.dirname(path))

    def _for_dir(self, directory: str) -> Project:
        project = self._by_dir.get(directory)
        if project is None:
            config = self._table(os.path.join(directory, "pyproject.toml"))
            if config is not None:
                project = self._project(config)
            else:
                parent = os.path.dirname(directory)
                project = self._for_dir(parent) if parent != directory else self._project(FileConfig(root=self.cwd))
            self._by_dir[directory] = project
        return project

    def _table(self, candidate: str) -> Optional[FileConfig]:
        if candidate not in self._tables:
            self._tables[candidate] = load_pyproject(candidate, self.warnings) if os.path.isfile(candidate) else None
        return self._tables[candidate]

    def _project(self, config: FileConfig) -> Project:
        if config.path not in self._by_config:
            self._by_config[config.path] = Project(config, self.overrides, self.cwd)
        return self._by_config[config.path]

    def excluded(self, path: str, is_dir: bool) -> bool:
        return self.project_for(path, is_dir=False).excluded(path, is_dir)
