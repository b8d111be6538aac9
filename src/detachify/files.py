"""Reading, checking, fixing and atomically writing one file; one handler per kind of file.

A ``Handler`` works on a file's raw bytes, so every kind keeps its own encoding rules:

* ``check(data, filename, settings) -> Checked`` (findings, and the parts of the file left out of the analysis)
* ``fix(data, filename, settings) -> bytes`` (the fixed file; ``data`` itself when nothing changed)
* ``text(data) -> str`` (what ``--diff`` shows)
* optionally ``fix_and_check(data, filename, settings) -> (fixed bytes, findings before, findings after)``: the
  fix loop in one pass, so a fixed file is analysed twice rather than four times (``fix`` then ``check``)

Handlers raise ``SourceError`` for input they cannot take. Source that does not parse is a finding, flake8's
``E999`` at CPython's position (it is an error: the file is never rewritten, the run exits 2); source CPython
compiles but libcst cannot read is not analysed, with a warning (``Checked.not_analysed``). Python sources are
handled here. Notebooks plug in from ``detachify.notebook`` (its ``HANDLER``) and Markdown notebooks from
``detachify.markdown_notebook``, each imported when a file of its kind is first read; walked directories yield
``.ipynb`` and ``.md`` files too (a ``.md`` that is no notebook is documentation: no findings, never rewritten).
``register_handler`` adds any other kind.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import hashlib
import io
import os
import threading
import signal
import stat
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple

from .findings import SYNTAX_ERROR_CODE, Finding
from .project import witness
from .settings import Settings

CHECK, FIX, DIFF = "check", "fix", "diff"


class SourceError(Exception):
    """A file that cannot be checked; printed as ``path: error: <message>``."""


@dataclass
class Checked:
    """What checking a file found; ``not_analysed`` says which parts were left out, and why (warnings)."""

    findings: List[Finding]
    not_analysed: List[str] = field(default_factory=list)


FixAndCheck = Callable[..., Tuple[bytes, Checked, Checked]]  # (the fixed file, before, after)


@dataclass(frozen=True)
class Handler:
    check: Callable[[bytes, str, Settings], Checked]
    fix: Callable[[bytes, str, Settings], bytes]
    text: Callable[[bytes], str]
    fix_and_check: Optional[FixAndCheck] = None


# ---------------------------------------------------------------------------------------------------------------
# Python sources


def decode_python(data: bytes) -> Tuple[str, str]:
    """The text and the codec to write it back with (PEP 263 cookie or BOM; 'utf-8-sig' keeps the BOM).

    ``bytes.decode`` never translates newlines, so CRLF files reach the engine, and go back, as CRLF.
    """
    if b"\0" in data:
        raise SourceError("cannot read: binary file (contains NUL bytes)")
    try:
        import tokenize

        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), encoding
    except SyntaxError as exc:  # unknown or contradictory coding cookie
        raise SourceError(f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode: {exc}") from None


def _python_check(data: bytes, filename: str, settings: Settings, project=None) -> Checked:
    from libcst import ParserSyntaxError

    from . import api
    from .syntax import UnsupportedSyntax, cpython_error, syntax_error_finding

    text = decode_python(data)[0]
    try:
        return Checked(api.check_source(text, filename, settings, project=project))
    except UnsupportedSyntax as exc:
        return Checked([], [f"not analysed: {exc.reason}"])
    except ParserSyntaxError as exc:
        error = cpython_error(text) or SyntaxError(exc.message, (filename, exc.raw_line, exc.raw_column + 1, None))
        return Checked([syntax_error_finding(text, error, filename)])


def _python_fix(data: bytes, filename: str, settings: Settings, project=None) -> bytes:
    return _python_fix_and_check(data, filename, settings, project)[0]


def _python_fix_and_check(data: bytes, filename: str, settings: Settings,
                          project=None) -> Tuple[bytes, Checked, Checked]:
    from libcst import ParserSyntaxError

    from . import api
    from .syntax import UnsupportedSyntax

    text, encoding = decode_python(data)
    try:
        outcome = api.fix_and_check(text, filename, settings, project=project)
    except (ParserSyntaxError, UnsupportedSyntax):  # never rewritten: what cannot be analysed exactly is not fixed
        checked = _python_check(data, filename, settings, project)
        return data, checked, checked
    if outcome.source == text:
        return data, Checked(outcome.before), Checked(outcome.after)
    try:
        return outcome.source.encode(encoding), Checked(outcome.before), Checked(outcome.after)
    except UnicodeEncodeError as exc:
        raise SourceError(f"cannot encode the fixed source as {encoding}: {exc}") from None


PYTHON = Handler(check=_python_check, fix=_python_fix, text=lambda data: decode_python(data)[0],
                 fix_and_check=_python_fix_and_check)

_HANDLERS: Dict[str, Handler] = {".py": PYTHON, ".pyi": PYTHON}
# Handlers of other kinds, each the `HANDLER` of a module imported when a file of its kind is first read (a run
# read back from the cache never loads the notebook reader, nor the parser it brings).
_PLUGINS: Dict[str, str] = {".ipynb": "detachify.notebook", ".md": "detachify.markdown_notebook"}
# What each plugin reads: a file of its kind is never read as Python, even where the plugin cannot be loaded.
_PLUGIN_KINDS: Dict[str, str] = {".ipynb": "notebooks", ".md": "Markdown notebooks"}


def register_handler(suffix: str, handler: Handler) -> None:
    _HANDLERS[suffix.lower()] = handler


def _load_plugin(suffix: str) -> None:
    module_name = _PLUGINS.pop(suffix, None)
    if module_name is None:
        return
    try:
        import importlib

        module = importlib.import_module(module_name)
    except ImportError:
        return
    handler = getattr(module, "HANDLER", None)
    if isinstance(handler, Handler):
        _HANDLERS.setdefault(suffix, handler)


def discoverable_suffixes() -> Set[str]:
    """Suffixes a directory walk collects."""
    return set(_HANDLERS) | set(_PLUGINS)


def handler_for(filename: str) -> Handler:
    """A named file of any other suffix is read as Python, as ruff does; a notebook needs its handler."""
    suffix = os.path.splitext(filename)[1].lower()
    _load_plugin(suffix)
    if suffix in _PLUGIN_KINDS and suffix not in _HANDLERS:
        raise SourceError(f"{_PLUGIN_KINDS[suffix]} are not supported by this installation")
    return _HANDLERS.get(suffix, PYTHON)


# ---------------------------------------------------------------------------------------------------------------
# One file, start to end


@dataclass
class FileResult:
    path: str
    display: str
    findings: List[Finding] = field(default_factory=list)  # what is left after fixing
    fixed: int = 0
    fixed_by_code: Dict[str, int] = field(default_factory=dict)  # for --show-fixes
    new_data: Optional[bytes] = None  # FIX: the bytes to write, when they differ
    digest: str = ""  # of the bytes the result was computed from, to refuse writing over a newer file
    diff: str = ""
    facts: Optional["ProjectFacts"] = None  # what a whole-project run's first pass learnt (see `FIRST_PASS`)
    error: Optional[str] = None  # the file could not be checked at all
    witnessed: Optional[list] = None  # what a worker process read of the file system for it (`project.witness`)
    warnings: List[str] = field(default_factory=list)  # parts of it were not analysed (not an error)

    @property
    def has_syntax_error(self) -> bool:
        """Code that does not parse (an E999 finding): the run exits 2, as for an unreadable file."""
        return any(f.code == SYNTAX_ERROR_CODE for f in self.findings)


@dataclass(frozen=True)
class ProjectFacts:
    """What one file tells a whole-project run about the others: its calls into them (None: not analysed, it
    cannot hold a finding), and, if it receives calls, that its check waits for them (`deferred`) and which
    names its callers must spell."""

    outgoing: Optional[tuple]
    deferred: bool = False
    names: frozenset = frozenset()


FIRST_PASS = "first-pass"  # `incoming` for process_file: learn the project facts, defer files that receive calls


def process_file(path: str, display: str, settings: Settings, mode: str = CHECK, incoming=None) -> FileResult:
    """Read and check (or fix) one file. Never raises for a bad file: the result carries the error.

    `incoming`: None, the calls other project files make into it are found here; a tuple, they were gathered
    by a whole-project run; `FIRST_PASS`, that run's first pass."""
    try:
        handler = handler_for(path)
        data = read_bytes(path)
    except SourceError as exc:
        return FileResult(path, display, error=str(exc))
    return process_source(data, path, display, settings, mode, handler, incoming=incoming)


def process_source(data: bytes, path: str, display: str, settings: Settings, mode: str = CHECK,
                   handler: Optional[Handler] = None, project: Optional[bool] = True, incoming=None) -> FileResult:
    """Check (or fix) `data` as the file at `path`. `project`: analyse it as a file of the project around
    `path` (imports of project modules, calls from other files), read from disk; False: the file alone."""
    result = FileResult(path, display, digest=hashlib.sha256(data).hexdigest())
    try:
        handler = handler or handler_for(display)
        context = {}
        if project and os.path.basename(path) != "-":
            from . import api

            in_project = api.project_of(path)
            in_project.defer = incoming is FIRST_PASS
            in_project.incoming = incoming if isinstance(incoming, tuple) else None
            context = {"project": in_project}
        if mode != CHECK and handler.fix_and_check is not None and incoming is not FIRST_PASS:
            new_data, first, checked = handler.fix_and_check(data, display, settings, **context)
            before = first.findings
        else:
            checked = handler.check(data, display, settings, **context)
            before = checked.findings
            if context:
                result.facts = _facts(context["project"])
                if result.facts.deferred:
                    return result  # checked again once the calls into it are known
            if mode == CHECK or not any(_applicable(f, settings) for f in before):
                result.findings, result.warnings = before, checked.not_analysed
                return result
            if handler.fix_and_check is not None:
                new_data, _, checked = handler.fix_and_check(data, display, settings, **context)
            else:
                new_data = handler.fix(data, display, settings, **context)
                if new_data != data:
                    checked = handler.check(new_data, display, settings, **context)
        result.findings, result.warnings = checked.findings, checked.not_analysed
        result.fixed = max(0, len(before) - len(result.findings))
        result.fixed_by_code = dict(Counter(f.code for f in before) - Counter(f.code for f in result.findings))
        if new_data != data:
            if mode == FIX:
                result.new_data = new_data
            else:
                result.diff = unified_diff(handler.text(data), handler.text(new_data), display)
    except SourceError as exc:
        result.error = str(exc)
    except RecursionError:
        result.error = "cannot check: the source nests too deeply"
    except Exception as exc:  # one broken file (or engine bug) must not stop the run
        result.error = f"internal error: {type(exc).__name__}: {exc} (please report this)"
    if result.error:
        result.findings, result.fixed, result.new_data, result.diff, result.warnings = [], 0, None, "", []
        result.fixed_by_code = {}
    return result


def _facts(project) -> ProjectFacts:
    if not project.analysed:
        return ProjectFacts(None)
    names = project.spelled if project.deferred else frozenset()
    return ProjectFacts(tuple(project.outgoing), project.deferred, names)


def _applicable(finding: Finding, settings: Settings) -> bool:
    return finding.fix is not None and (finding.fix.safe or settings.unsafe_fixes)


def unified_diff(old: str, new: str, display: str) -> str:
    # StringIO(newline="") splits on any newline but keeps it, so CRLF lines show as they are.
    old_lines = io.StringIO(old, newline="").readlines()
    new_lines = io.StringIO(new, newline="").readlines()
    out = []
    import difflib

    for line in difflib.unified_diff(old_lines, new_lines, fromfile=display, tofile=display):
        out.append(line)
        if not line.endswith(("\n", "\r")):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# Bytes in, bytes out


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        witness.read(path, None)
        raise SourceError("cannot read: is a directory") from None
    except OSError as exc:
        witness.read(path, None)
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    witness.read(path, data)
    return data


def write_fixed(path: str, data: bytes, digest: str) -> None:
    """Replace the file with ``data`` unless it changed since it was read (an editor saved meanwhile)."""
    if hashlib.sha256(read_bytes(path)).hexdigest() != digest:
        raise SourceError("changed on disk while being fixed; left as it is")
    write_atomic(path, data)


def write_atomic(path: str, data: bytes) -> None:
    """Readers, and an interrupted run, see the old file or the new one, never a mix.

    The new content goes to a temporary file in the same directory (same filesystem, so ``os.replace`` is
    atomic), carrying the old mode. A symlink is written through, not replaced by a regular file.
    """
    # SIGINT/SIGTERM wait until the file is replaced (or given up): no stray temporary file, whatever the signal does.
    with _signals_deferred():
        _write_atomic(path, data)


@contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends, then deliver them. Python-level handlers are swapped, not the
    signal mask: with a pool, the kernel hands a process-directed signal to any thread that does not block it
    (a pool helper thread), and Python then runs the handler in the main thread anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread; signals are handled there too
        return
    pending = []
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)


def _write_atomic(path: str, data: bytes) -> None:
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    try:
        old = os.stat(target)
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".detachify-tmp", dir=directory)
    except OSError as exc:
        raise SourceError(f"cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(old.st_mode))
        if hasattr(os, "chown") and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            try:
                os.chown(tmp, old.st_uid, old.st_gid)
            except OSError:
                pass  # only root may give a file away; the content matters more than the owner
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise SourceError(f"cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:  # also on KeyboardInterrupt: no stray temporary files
            try:
                os.unlink(tmp)
            except OSError:
                pass
