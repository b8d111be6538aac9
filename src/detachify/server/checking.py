"""What the server hands the engine: editor buffers as the bytes of the files they stand for, and the settings
`detachify check` would use for those files.

:func:`check_buffer` is the server's only way into the engine. It goes through ``files.process_source`` with the
document's real path, as the CLI does for a file on disk, so whatever that function learns about the project
(summaries of imported modules, the cache) the editor gets too. The server calls it through a :class:`Checker`,
in a child process.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import subprocess
import sys
import threading
import tokenize
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..config import Overrides, Resolver
from ..project.workspace import forget_workspaces
from ..files import CHECK, PYTHON, FileResult, SourceError, decode_python, process_source
from ..settings import Settings

CONFIG_FILE = "pyproject.toml"


def check_buffer(data: bytes, path: str, settings: Settings, mode: str = CHECK, python: bool = False) -> FileResult:
    """Check (or fix, with ``mode``) this buffer as the file at ``path``: what `detachify check path` would
    report if the file held ``data``. The path is the file name the engine sees and picks the handler (``.ipynb``
    or Python), unless ``python`` says the buffer is Python source whatever its name (JupyterLab's view of a
    notebook is one Python document named like the notebook)."""
    # Files change between checks: forget this process's view of the project (the persistent cache keeps what
    # is still true, so the other modules' summaries are read back, not recomputed).
    forget_workspaces()
    return process_source(data, path, path, settings, mode, PYTHON if python else None)


class Checker:
    """Runs :func:`check_buffer` in a child process (:mod:`detachify.server.worker`), one request at a time.

    A check that crashes the child or runs past ``timeout`` seconds comes back as a result with an error; the next
    check starts a new child. The child stays up between checks, so what the engine keeps in memory (imports,
    caches) is kept too.
    """

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process: Optional[subprocess.Popen] = None
        self._timed_out = False

    def check(self, data: bytes, path: str, settings: Settings, mode: str = CHECK, python: bool = False) -> FileResult:
        with self._lock:
            process = self._started()
            self._timed_out = False
            timer = threading.Timer(self.timeout, self._time_out, args=(process,))
            timer.daemon = True
            timer.start()
            try:
                pickle.dump((data, path, settings, mode, python), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                process.stdin.flush()
                return pickle.load(process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                return FileResult(path, path, error=self._failure(process, exc))
            finally:
                timer.cancel()

    def start(self) -> None:
        """Start the child now, so the first check does not wait for its imports."""
        with self._lock:
            self._started()

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()

    def _started(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen([sys.executable, "-m", "detachify.server.worker"],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self._process

    def _time_out(self, process: subprocess.Popen) -> None:
        self._timed_out = True
        process.kill()

    def _failure(self, process: subprocess.Popen, exc: BaseException) -> str:
        self._process = None
        if process.poll() is None:
            process.kill()
        code = process.wait()
        if self._timed_out:
            return f"cannot check: stopped after {self.timeout:g} s (the checker was restarted)"
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return f"cannot check: the checker process died ({how}; it was restarted)"


# ---------------------------------------------------------------------------------------------------------------
# Buffers


@dataclass(frozen=True)
class Cell:
    uri: str
    code: bool  # a code cell; markup cells only count, as in Jupyter's numbering
    text: str
    version: Optional[int] = None


@dataclass(frozen=True)
class Snapshot:
    """One document as it was when a check was asked for: the worker never reads the live workspace."""

    key: str  # the document's URI; a notebook's own URI for a notebook
    path: str
    version: Optional[int]
    text: str = ""  # a Python document
    cells: Tuple[Cell, ...] = ()  # a notebook
    notebook: bool = False
    language: Optional[str] = None  # the notebook's kernel language, when the client says
    markdown: bool = False  # a Markdown document, read as the CLI reads a `.md` (a notebook, or documentation)

    @property
    def python(self) -> bool:
        """Whether the buffer is Python source whatever its name (else its path picks the handler)."""
        return not (self.notebook or self.markdown)

    def data(self) -> bytes:
        if self.markdown:
            return self.text.encode("utf-8", "surrogatepass")
        return notebook_bytes(self.cells, self.language) if self.notebook else python_bytes(self.text)


def python_bytes(text: str) -> bytes:
    """The buffer as its file's bytes: in the codec its coding cookie names (as the CLI would decode it)."""
    data = text.encode("utf-8", "surrogatepass")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return data  # an unknown cookie: the engine says so, as `detachify check` does
    if encoding in ("utf-8", "utf-8-sig"):
        return data
    try:
        return text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return data  # the engine reports the undecodable file


def notebook_bytes(cells: Tuple[Cell, ...], language: Optional[str] = None) -> bytes:
    """An nbformat-4 notebook holding the cells in order: the CLI's notebook handler reads it as it reads a file,
    so cell numbers (1-based among all cells) index ``cells``."""
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": cell.text}
                  if cell.code else {"cell_type": "markdown", "metadata": {}, "source": ""} for cell in cells],
        "metadata": {"language_info": {"name": language or "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, ensure_ascii=False).encode("utf-8")


def notebook_sources(data: bytes) -> List[str]:
    """Each cell's source from a notebook's bytes (what a fix made of :func:`notebook_bytes`)."""
    cells = json.loads(data.decode("utf-8"))["cells"]
    return [source if isinstance(source, str) else "".join(source) for source in (c.get("source", "") for c in cells)]


def python_text(data: bytes) -> str:
    """The text of fixed Python bytes, as the editor's buffer holds it (without a BOM; the editor keeps its own)."""
    try:
        return decode_python(data)[0]
    except SourceError:
        return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------------------------
# Settings


class Configuration:
    """Per-file settings resolved as `detachify check` resolves them (closest pyproject.toml with a
    ``[tool.detachify]`` table, per-file-ignores; the editor's settings act as command-line flags), re-read when a
    pyproject.toml on the way up from a file changes, even when the editor does not report the change.

    Used from the worker thread and the event loop: one lock around the resolver.
    """

    def __init__(self, overrides: Overrides = Overrides(), folders: Tuple[str, ...] = ()):
        self.overrides = overrides
        self.folders = tuple(os.path.abspath(folder) for folder in folders)
        self._lock = threading.Lock()
        self._resolver: Optional[Resolver] = None
        self._stamps: Dict[str, Optional[tuple]] = {}  # each pyproject.toml read so far -> its stat
        self._warned: set = set()

    def invalidate(self) -> None:
        with self._lock:
            self._resolver, self._stamps = None, {}

    def settings_for(self, path: str) -> Tuple[Settings, List[str]]:
        """The file's settings and the new warnings about the configuration; raises ConfigError."""
        with self._lock:
            resolver = self._current(path)
            settings = resolver.project_for(path).settings_for(path)
            warnings = [w for w in dict.fromkeys(resolver.warnings) if w not in self._warned]
            self._warned.update(warnings)
            return settings, warnings

    def excluded(self, path: str) -> bool:
        """Whether the configuration's ``exclude`` leaves the file out, as `--force-exclude` would: the file or a
        directory between it and its project root (ruff's server skips excluded documents too)."""
        with self._lock:
            project = self._current(path).project_for(path)
            root = project.config.root if project.config.path else self._folder_of(path)
            candidates = [path]
            current = os.path.dirname(path)
            while root is not None and current.startswith(root + os.sep):
                candidates.append(current)
                current = os.path.dirname(current)
            return any(project.excluded(candidate) for candidate in candidates)

    def _current(self, path: str) -> Resolver:
        stamps = _config_stamps(os.path.dirname(os.path.abspath(path)))
        if self._resolver is None or any(self._stamps.get(config, stamp) != stamp for config, stamp in stamps):
            folder = self._folder_of(path) or os.path.dirname(os.path.abspath(path))
            self._resolver, self._stamps = Resolver(self.overrides, cwd=folder), {}
        self._stamps.update(stamps)
        return self._resolver

    def _folder_of(self, path: str) -> Optional[str]:
        inside = [folder for folder in self.folders if path.startswith(folder.rstrip(os.sep) + os.sep)]
        return max(inside, key=len) if inside else None


def _config_stamps(directory: str) -> List[Tuple[str, Optional[tuple]]]:
    """Each pyproject.toml the resolver may read for a file in ``directory`` (every one up to the filesystem
    root), with what identifies its content: a few stat calls, cheap next to a check. A file that appears,
    changes or goes away changes its stamp."""
    stamps = []
    while True:
        candidate = os.path.join(directory, CONFIG_FILE)
        try:
            info = os.stat(candidate)
            stamps.append((candidate, (info.st_mtime_ns, info.st_size, info.st_ino)))
        except OSError:
            stamps.append((candidate, None))
        parent = os.path.dirname(directory)
        if parent == directory:
            return stamps
        directory = parent


def with_safe_fixes_only(settings: Settings) -> Settings:
    """Fix-all applies safe fixes only: unsafe ones are offered one at a time, where the user reads the reason."""
    return dataclasses.replace(settings, unsafe_fixes=False) if settings.unsafe_fixes else settings
