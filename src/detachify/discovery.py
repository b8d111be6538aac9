"""Which files a run checks: walk directories, honour .gitignore and the exclude globs.

Inside a git work tree git itself lists the files (`git ls-files --cached --others --exclude-standard`), so
its ignore rules, global excludes included, are exactly git's; elsewhere a small .gitignore matcher does it.
Directory symlinks are never followed (no loops, no escaping the tree); file symlinks are kept, so a broken
or looping one is reported when it is read instead of vanishing silently.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, List, Optional, Sequence, Set, Tuple

DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pants.d", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", "__pycache__",
    "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages", "venv",
)

# (path, is_dir) -> should this entry be left out
Excluded = Callable[[str, bool], bool]


# ---------------------------------------------------------------------------------------------------------------
# Globs


@lru_cache(maxsize=None)
def glob_regex(pattern: str) -> "re.Pattern[str]":
    """A gitignore-style glob as a regex over '/'-separated paths: `*` and `?` stay inside one component,
    `**` crosses components."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


class PathMatcher:
    """Exclude or per-file-ignores globs, ruff's way: a glob without '/' matches an entry's name anywhere;
    one with '/' matches the path relative to its root (the directory of the config that wrote it, or the
    working directory for the command line), or the absolute path if it is absolute.

    Name globs are joined into one regex: every walked entry is tested against all of them.
    """

    def __init__(self, patterns: Iterable[Tuple[str, str]]):  # (glob, root)
        names, self._anchored = [], []
        for pattern, root in patterns:
            pattern = pattern.replace(os.sep, "/")
            if pattern.startswith("./"):
                pattern = pattern[2:]
            pattern = pattern.rstrip("/") or pattern
            if "/" not in pattern:
                names.append(f"(?:{glob_regex(pattern).pattern})")
            else:
                self._anchored.append((None if os.path.isabs(pattern) else os.path.abspath(root),
                                       glob_regex(pattern)))
        self._names = re.compile("|".join(names), re.DOTALL) if names else None

    def __bool__(self) -> bool:
        return bool(self._names or self._anchored)

    def matches(self, path: str) -> bool:
        if self._names is not None and self._names.match(os.path.basename(path)):
            return True
        if self._anchored:
            absolute = os.path.abspath(path)
            for root, regex in self._anchored:
                target = absolute.replace(os.sep, "/") if root is None else _relative(absolute, root)
                if target is not None and regex.match(target):
                    return True
        return False


def _relative(absolute: str, root: str) -> Optional[str]:
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # another drive on Windows
        return None
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return relative.replace(os.sep, "/")


# ---------------------------------------------------------------------------------------------------------------
# .gitignore, for trees git does not manage


@dataclass(frozen=True)
class _IgnoreRule:
    base: str  # the directory holding the .gitignore
    regex: "re.Pattern[str]"
    negate: bool
    dir_only: bool
    anchored: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        relative = _relative(path, self.base)
        if relative is None or relative == ".":
            return False
        target = relative if self.anchored else relative.rsplit("/", 1)[-1]
        return bool(self.regex.match(target))


def parse_gitignore(text: str, base: str) -> List[_IgnoreRule]:
    rules = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        elif line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        # A slash anywhere but the end anchors the pattern to the .gitignore's directory.
        anchored = "/" in line
        rules.append(_IgnoreRule(base, glob_regex(line.lstrip("/")), negate, dir_only, anchored))
    return rules


def _read_gitignore(directory: str) -> List[_IgnoreRule]:
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as f:
            return parse_gitignore(f.read(), directory)
    except OSError:
        return []


def _ignored(rules: Sequence[_IgnoreRule], path: str, is_dir: bool) -> bool:
    for rule in reversed(rules):  # the last matching rule decides
        if rule.matches(path, is_dir):
            return not rule.negate
    return False


def _inherited_rules(directory: str) -> List[_IgnoreRule]:
    """.gitignore files above a walk's start, up to the project's top (a directory with .git or pyproject.toml).

    Without such a top only the walked tree's own files count: a home directory's .gitignore (dotfile
    repositories often say `*`) must not hide a project that is not under version control.
    """
    def is_top(d: str) -> bool:
        return any(os.path.exists(os.path.join(d, marker)) for marker in (".git", "pyproject.toml"))

    current, ancestors = os.path.abspath(directory), []
    if is_top(current):
        return []  # the walk reads the top's own .gitignore itself
    while True:
        parent = os.path.dirname(current)
        if parent == current:
            return []
        current = parent
        ancestors.append(current)
        if is_top(current):
            break
    rules: List[_IgnoreRule] = []
    for ancestor in reversed(ancestors):
        rules += _read_gitignore(ancestor)
    return rules


# ---------------------------------------------------------------------------------------------------------------
# Walking


@dataclass
class Discovery:
    files: List[str] = field(default_factory=list)
    errors: List[Tuple[str, str]] = field(default_factory=list)  # (path, message)
    empty_dirs: List[str] = field(default_factory=list)  # directories given on the command line that held nothing


def discover(paths: Iterable[str], suffixes: Set[str], excluded: Excluded, force_exclude: bool = False,
             respect_gitignore: bool = True) -> Discovery:
    """Files to check under ``paths``, each once, in a stable order.

    Files named explicitly are always checked (whatever their suffix), unless ``force_exclude`` and an
    exclude pattern matches them or a directory above them: pre-commit passes every staged file by name.
    """
    result, seen = Discovery(), set()

    def add(path: str, absolute: Optional[str] = None) -> None:
        key = os.path.normcase(absolute or os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            result.files.append(path)

    for path in paths:
        path = os.path.normpath(path)
        if not os.path.lexists(path):
            result.errors.append((path, "No such file or directory"))
        elif os.path.isdir(path):
            if force_exclude and excluded_with_parents(path, True, excluded):
                continue
            before = len(result.files)
            _walk(path, suffixes, excluded, respect_gitignore, add, result.errors)
            if len(result.files) == before:
                result.empty_dirs.append(path)
        elif not (force_exclude and excluded_with_parents(path, False, excluded)):
            add(path)
    return result


def excluded_with_parents(path: str, is_dir: bool, excluded: Excluded) -> bool:
    """For --force-exclude: the entry or any directory above it, up to the working directory."""
    absolute = os.path.abspath(path)
    if excluded(absolute, is_dir):
        return True
    relative = _relative(absolute, os.getcwd())
    if relative is None or relative == ".":
        return False
    parts = relative.split("/")[:-1]
    current = os.getcwd()
    for part in parts:
        current = os.path.join(current, part)
        if excluded(current, True):
            return True
    return False


def _wanted(name: str, suffixes: Set[str]) -> bool:
    return os.path.splitext(name)[1].lower() in suffixes


def _walk(root: str, suffixes: Set[str], excluded: Excluded, respect_gitignore: bool,
          add: Callable[..., None], errors: List[Tuple[str, str]]) -> None:
    listed = _git_files(root) if respect_gitignore else None
    inherited = respect_gitignore
    if listed is not None:
        if listed or not _git_ignores(root):
            _filter_git_listing(root, listed, suffixes, excluded, respect_gitignore, add, errors)
            return
        # A directory named on the command line is checked even when git ignores it (as ruff does): walk
        # it, honouring only the .gitignore files inside it.
        inherited = False
    stack = [(root, _inherited_rules(root) if inherited else [])]
    while stack:
        directory, rules = stack.pop()
        if respect_gitignore:
            rules = rules + _read_gitignore(directory)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            errors.append((directory, f"cannot read directory: {exc.strerror or exc}"))
            continue
        subdirs = []
        folder = os.path.abspath(directory)  # once per folder: an entry's absolute path is a join away
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir and entry.is_symlink() and os.path.isdir(entry.path):
                continue  # a symlink to a directory: never followed
            absolute = os.path.join(folder, entry.name)
            if excluded(absolute, is_dir) or (rules and _ignored(rules, entry.path, is_dir)):
                continue
            if is_dir:
                subdirs.append((entry.path, rules))
            elif _wanted(entry.name, suffixes):
                add(entry.path, absolute)
        stack.extend(reversed(subdirs))  # depth first, in name order


def _filter_git_listing(root: str, listed: List[str], suffixes: Set[str], excluded: Excluded,
                        respect_gitignore: bool, add: Callable[[str], None], errors: List[Tuple[str, str]]) -> None:
    verdicts = {}  # directory -> excluded, so each directory is judged once

    def dir_excluded(relative_dir: str) -> bool:
        if not relative_dir:
            return False
        if relative_dir not in verdicts:
            parent = relative_dir.rsplit("/", 1)[0] if "/" in relative_dir else ""
            verdicts[relative_dir] = dir_excluded(parent) or excluded(
                os.path.abspath(os.path.join(root, relative_dir)), True)
        return verdicts[relative_dir]

    for relative in sorted({entry.rstrip("/") for entry in listed}):
        path = os.path.join(root, *relative.split("/"))
        if not os.path.lexists(path):  # deleted in the work tree, still in the index
            continue
        parent = relative.rsplit("/", 1)[0] if "/" in relative else ""
        if dir_excluded(parent):
            continue
        if os.path.isdir(path):
            # git lists a submodule as one entry; walk it (as its own work tree). Symlinks to directories: never.
            if not os.path.islink(path) and not excluded(os.path.abspath(path), True):
                _walk(path, suffixes, excluded, respect_gitignore, add, errors)
            continue
        if _wanted(relative, suffixes) and not excluded(os.path.abspath(path), False):
            add(path)


def _git(directory: str, *args: str) -> Optional[subprocess.CompletedProcess]:
    # A hook or `git commit` may have set these for another repository or a temporary index.
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX")}
    try:
        return subprocess.run(["git", "-C", directory, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, env=env, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or it hung: the fallback walker still gives an answer


def _git_files(directory: str) -> Optional[List[str]]:
    """Paths under ``directory`` (relative, '/'-separated) that git does not ignore; None outside a work tree."""
    proc = _git(directory, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
    if proc is None or proc.returncode != 0:
        return None  # not a work tree (or one git refuses to read, e.g. "dubious ownership")
    return [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _git_ignores(directory: str) -> bool:
    proc = _git(directory, "check-ignore", "-q", ".")
    return proc is not None and proc.returncode == 0
