"""One project, as this process sees it: module summaries and outgoing calls, computed on demand and memoised.

Everything a module's findings depend on is a function of file contents, so every door (a whole-project run,
one file from pre-commit, flake8, the editor) computes the same thing:

* its imports resolve to summaries; a module on an import cycle is summarised reading only the summaries of
  the members below it (cycles.py: a package's `__init__` above the rest, then the smaller cycles left), the
  others as unknown, so no summary ever depends on which module was asked for first;
* calls other modules make into it (`incoming`) are the outgoing calls of every project file whose imports
  reach it, each computed from that file alone (no incoming calls of its own).
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from ..analysis import knowledge as K
from ..analysis.summary import ModuleSummary, OutgoingCall
from . import cycles, layout, witness
from .imports import scan
from .universe import project_files
from .words import calling_words

# Top-level names that are never the project's: the libraries the knowledge tables describe by name.
KNOWN_LIBRARIES = frozenset({
    "torch", "numpy", "matplotlib", "pandas", "seaborn", "scipy", "sklearn", "lightning", "pytorch_lightning",
    "torchvision", "torchaudio", "torchtext", "timm", "pylab", "fastai", "d2l", *K.MODEL_LIBRARIES,
    *K.OTHER_TENSOR_LIBRARIES,
})

# (workspace, path, want_summary) → (summary, outgoing calls, the ImportContext it ran with)
Analyser = Callable[["Workspace", str, bool], tuple]
# (how imports resolved, the summaries read with their keys, the cycle members read as unknown with their contents)
Dependencies = Tuple[tuple, Tuple[Tuple[str, str], ...], Tuple[Tuple[str, Optional[str]], ...]]


class ImportContext:
    """What the engine asks while analysing one file (`importer`): how its imports resolve, and the summaries
    behind them. Modules in `cut` (the importer's own import cycle, for a summary) resolve but read as unknown."""

    def __init__(self, workspace: "Workspace", importer: str, cut: FrozenSet[str] = frozenset()):
        self.workspace = workspace
        self.importer = importer
        self.cut = cut
        self.used: Set[str] = set()  # the modules whose summaries this analysis read (cache dependencies)
        self.resolved: Dict[tuple, Optional[str]] = {}  # how its imports resolved (cache dependencies too)

    def resolve(self, name: str, level: int) -> Optional[layout.ModuleFile]:
        found = self.workspace.resolve(self.importer, name, level)
        self.resolved[("import", name, level)] = found.path if found is not None else None
        return found

    def submodule(self, root: str, name: str) -> Optional[layout.ModuleFile]:
        found = layout.module_under(root, name) if root else None
        self.resolved[("submodule", root, name)] = found.path if found is not None else None
        return found

    def defining_module(self, root: str, package: str, name: str) -> Optional[layout.ModuleFile]:
        """The module a namespace package's missing `__init__` would take `name` from (layout.defining_module)."""
        found = layout.defining_module(root, package, name)
        self.resolved[("defines", root, f"{package}:{name}")] = found.path if found is not None else None
        return found

    def dependencies(self) -> "Dependencies":
        """What this analysis read of the project, as a cache entry must record it to stay true."""
        # A member of the import cycle read as unknown is no summary read, but the cut holds only while the cycle
        # does: the members' imports decide it, so their contents are recorded.
        cut = tuple(sorted((path, self.workspace.content(path)) for path in self.cut if path != self.importer))
        return (tuple(sorted(self.resolved.items(), key=repr)),
                tuple(sorted((path, self.workspace.summary_key(path)) for path in self.used)), cut)

    def summary_at(self, path: str) -> Optional[ModuleSummary]:
        if path in self.cut or path == self.importer:
            return None
        self.used.add(path)
        return self.workspace.summary(path)

    def root_of(self, path: str, name: str) -> str:
        folder = os.path.dirname(path)
        levels = name.count(".") + (0 if os.path.basename(path).startswith("__init__.") else 1)
        for _ in range(levels):
            folder = os.path.dirname(folder)
        return folder

    def display(self, path: str) -> str:
        return self.workspace.display(path)


class Workspace:
    def __init__(self, root: str, analyser: Analyser):
        self.root = root
        self.analyser = analyser  # reads, parses and analyses one file (api.py): no engine code here
        self._summaries: Dict[str, Optional[ModuleSummary]] = {}
        self._outgoing: Dict[str, Tuple[OutgoingCall, ...]] = {}
        self._imports: Dict[str, Tuple[str, ...]] = {}
        self._cycles: Dict[str, FrozenSet[str]] = {}
        self._readable: Dict[FrozenSet[str], Dict[str, FrozenSet[str]]] = {}
        self._computing: Set[str] = set()
        self._universe: Optional[List[str]] = None
        self._callers: Optional[Dict[str, Set[str]]] = None
        self._keys: Dict[str, str] = {}
        self._contents: Dict[str, tuple] = {}
        self._words: Dict[str, Tuple[Optional[str], FrozenSet[str]]] = {}  # path -> (content hash, identifiers)
        self._summarised: Dict[str, Optional[str]] = {}  # path -> hash of the text its memoised summary is of
        # path -> its summary as the cache holds it (pickled), until something asks for more than its key: a
        # check whose findings the cache holds only compares the keys of the summaries it read, and summaries
        # read back whole were most of the objects a warm flake8 worker's garbage collector walked.
        self._packed: Dict[str, bytes] = {}
        self._spelled: Dict[str, FrozenSet[str]] = {}  # path -> names_callers_must_spell of its summary
        self._cache = False  # not looked up yet

    # resolution ---------------------------------------------------------------------------------------------
    def resolve(self, importer: str, name: str, level: int) -> Optional[layout.ModuleFile]:
        if level:
            return layout.resolve_relative(level, name, importer)
        return layout.resolve_absolute(name, importer, KNOWN_LIBRARIES)

    def display(self, path: str) -> str:
        relative = os.path.relpath(path, self.root)
        return path if relative.startswith("..") else relative.replace(os.sep, "/")

    def imports_of(self, path: str) -> Tuple[str, ...]:
        """The project files `path` may import (from its text)."""
        found = self._imports.get(path)
        if found is None:
            text = read_text(path)
            targets = []
            for level, base, names in scan(text) if text else ():
                # `from pkg import sub` imports the submodule, and the package only for names that are not
                # submodules: a package's modules importing their siblings is no import cycle.
                submodules = [self.resolve(path, f"{base}.{name}" if base else name, level) for name in names]
                targets.extend(module.path for module in submodules if module is not None)
                if not names or None in submodules:
                    module = self.resolve(path, base, level) if base or level else None
                    if module is not None:
                        targets.append(module.path)
                    if module is not None and not module.path:  # a namespace package: no file of its own
                        definers = (layout.defining_module(module.root, module.name, name)
                                    for name, sub in zip(names, submodules) if sub is None)
                        targets.extend(definer.path for definer in definers if definer is not None)
            targets = [target for target in targets if target and target != path]  # "": a namespace package
            found = self._imports[path] = tuple(dict.fromkeys(targets))
        return found

    def cycle_of(self, path: str) -> FrozenSet[str]:
        """The modules on an import cycle through `path` (its strongly connected component), itself included."""
        if path not in self._cycles:
            self._components_from(path)
        return self._cycles[path]

    def summary_cut(self, path: str) -> FrozenSet[str]:
        """The members of `path`'s import cycle (itself included) whose summaries its summary reads as unknown."""
        cycle = self.cycle_of(path)
        if len(cycle) == 1:
            return cycle
        order = self._readable.get(cycle)
        if order is None:
            order = self._readable[cycle] = cycles.readable(cycle, self.imports_of)
        return cycle - order[path]

    def _components_from(self, start: str) -> None:
        """The import cycles reachable from `start` (components found by an earlier walk are not walked again)."""
        def successors(node: str):
            return (target for target in self.imports_of(node) if target not in self._cycles)

        for component in cycles.components([start], successors):
            for member in component:
                self._cycles[member] = component

    # summaries and outgoing calls -----------------------------------------------------------------------
    def summary(self, path: str) -> Optional[ModuleSummary]:
        self._know_summary(path)
        packed = self._packed.pop(path, None)
        if packed is not None:
            self._summaries[path] = pickle.loads(packed)
        return self._summaries.get(path)

    def _know_summary(self, path: str) -> None:
        """The summary of `path` (its key at least) from the cache, or computed."""
        if path in self._summaries or path in self._packed:
            return
        if path in self._computing:
            return  # only through an import the scan missed (`__import__`, exec): unknown, as Python-free
        self._computing.add(path)
        try:
            if self._load_summary(path):
                return
            summary, _, context = self.analyser(self, path, True)
        finally:
            self._computing.discard(path)
        self.record_summary(path, summary, context)

    def _load_summary(self, path: str) -> bool:
        """The summary of `path` from the persistent cache, if it has one that still holds (kept pickled)."""
        entry = self._cached("summary", path)
        if entry is None:
            return False
        self._keys[path] = entry["key"]
        self._packed[path] = entry["value"]
        self._spelled[path] = entry["spelled"]
        self._summarised[path] = entry["content"]
        return True

    def summarised(self) -> FrozenSet[str]:
        """The files whose summaries this process has computed or read from the cache so far."""
        return frozenset(path for path, summary in self._summaries.items() if summary is not None) | set(self._packed)

    def names_callers_spell(self, path: str) -> FrozenSet[str]:
        """`names_callers_must_spell` of the summary of `path` (empty: it receives no calls that matter), without
        reading back the summary itself."""
        found = self._spelled.get(path)
        if found is None:
            self._know_summary(path)
            found = self._spelled.get(path)
            if found is None:
                summary = self._summaries.get(path)
                found = frozenset(names_callers_must_spell(summary)) if summary is not None else frozenset()
                if path not in self._computing:
                    self._spelled[path] = found
        return found

    def summary_key(self, path: str) -> str:
        """Names the summary of `path` as it is now: it changes when the file, or anything its summary read, does."""
        self._know_summary(path)
        return self._keys.get(path, "")

    def record_summary(self, path: str, summary: Optional[ModuleSummary], context: Optional[ImportContext] = None,
                       source: Optional[str] = None) -> None:
        """A summary just computed (by a check of that file too), so it need not be computed again."""
        if path in self._summaries or path in self._packed:
            return
        self._summaries[path] = summary
        self._keys[path] = self._store("summary", path, summary, context, source)
        self._summarised[path] = _digest(source) if source is not None else self.content(path)

    def summary_of_text(self, path: str, source: str) -> Tuple[bool, Optional[ModuleSummary]]:
        """(True, the summary) if this process already has the summary of `path` holding `source` (it summarised
        it for an importer, or in a first pass), or the cache has it; (False, None) if it must be computed."""
        digest = _digest(source)
        known = path in self._summaries or path in self._packed
        if not known and path not in self._computing and digest == self.content(path):
            self._computing.add(path)
            try:
                known = self._load_summary(path)
            finally:
                self._computing.discard(path)
        if known and self._summarised.get(path) == digest:
            return True, self.summary(path)
        return False, None

    def record_outgoing(self, path: str, outgoing: Iterable[OutgoingCall], context: Optional[ImportContext] = None,
                        source: Optional[str] = None) -> None:
        if path not in self._outgoing:
            self._outgoing[path] = tuple(outgoing)
            self._store("outgoing", path, self._outgoing[path], context, source)

    def outgoing(self, path: str) -> Tuple[OutgoingCall, ...]:
        found = self._outgoing.get(path)
        if found is None:
            entry = self._cached("outgoing", path)
            if entry is not None:
                found = self._outgoing[path] = entry["value"]
            else:
                _, outgoing, context = self.analyser(self, path, False)
                self.record_outgoing(path, outgoing, context)
                found = self._outgoing[path]
        return found

    # the persistent cache -------------------------------------------------------------------------------------
    @property
    def cache(self):
        if self._cache is False:
            from ..cache import cache_for_root

            self._cache = cache_for_root(self.root)
        return self._cache

    def content(self, path: str) -> Optional[str]:
        """The hash of a file's bytes (read again only when its size or modification time changed)."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = self._contents.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            with open(path, "rb") as f:
                found = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            witness.read(path, None)
            return None
        witness.read_digest(path, found)
        self._contents[path] = (stamp, found)
        return found

    def still_true(self, entry, content: Optional[str]) -> bool:
        """Whether an entry's dependencies hold now: the content it was computed from, how imports resolved,
        the summaries it read (their keys change with them)."""
        if entry is None or content is None or entry.get("content") != content:
            return False
        resolved, used, cut = entry["dependencies"]
        if any(self.content(member) != content for member, content in cut):
            return False
        for (kind, first, second), target in resolved:
            if kind == "import":
                found = self.resolve(entry["path"], first, second)
            elif kind == "defines":
                found = layout.defining_module(first, *second.split(":"))
            else:
                found = layout.module_under(first, second)
            if (found.path if found is not None else None) != target:
                return False
        return all(module not in self._computing and self.summary_key(module) == key for module, key in used)

    def _cached(self, kind: str, path: str):
        cache = self.cache
        if cache is None:
            return None
        from ..cache import digest

        entry = cache.load(kind, digest(kind, path))
        return entry if self.still_true(entry, self.content(path)) else None

    def _store(self, kind: str, path: str, value, context: Optional[ImportContext], source: Optional[str]) -> str:
        """Keep `value` in the cache; its key (for a summary: what dependants record)."""
        from ..cache import digest

        content = _digest(source) if source is not None else self.content(path)
        dependencies = context.dependencies() if context is not None else ((), (), ())
        key = digest(content, dependencies)
        cache = self.cache
        if cache is not None and context is not None and content is not None and (
                source is None or content == self.content(path)):  # never an editor's unsaved buffer
            entry = {"path": path, "content": content, "dependencies": dependencies, "key": key, "value": value}
            if kind == "summary":
                entry["value"] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)  # read back when needed
                entry["spelled"] = frozenset(names_callers_must_spell(value)) if value is not None else frozenset()
            cache.store(kind, digest(kind, path), entry)
        return key

    def incoming(self, path: str, spelled: FrozenSet[str]) -> Tuple[OutgoingCall, ...]:
        """Calls into `path` from every project file whose imports reach it and whose text spells a name of
        `spelled` (`names_callers_must_spell`), in a stable order."""
        if not spelled:
            return ()
        callers = self.callers_naming(path, spelled)
        return calls_into(path, {caller: self.outgoing(caller) for caller in callers})

    def callers_naming(self, path: str, names) -> List[str]:
        """The files whose imports reach `path` and whose text spells one of `names`: the only ones whose
        calls into `path` can matter."""
        names = set(names)
        return [caller for caller in sorted(self.callers_of(path)) if not names.isdisjoint(self._words_of(caller))]

    def _words_of(self, path: str) -> FrozenSet[str]:
        """The names through which a file's code may call into another module (`words.calling_words`), kept
        while its content stays the same: every module that receives calls asks them of the same callers."""
        content = self.content(path)
        known = self._words.get(path)
        if known is None or known[0] != content or content is None:
            words = self._words_from_cache(content)
            if words is None:
                read, words = _words_in(path)
                if read == content and content is not None and self.cache is not None:
                    self.cache.store("words", content, words)  # by the hash of the very bytes they came from
            known = self._words[path] = (content, words)
        return known[1]

    def _words_from_cache(self, content: Optional[str]) -> Optional[FrozenSet[str]]:
        """The words of a text by the hash of its bytes (all they depend on): every process checking a module
        that receives calls asks them of each caller, and a warm flake8 run has one such process per CPU."""
        if content is None or self.cache is None:
            return None
        return self.cache.load("words", content)

    def _importers(self) -> Dict[str, Set[str]]:
        """Which project files import each module: every file of the project read and its imports resolved
        (the costliest part of a warm check of one file), kept in the cache with everything it read."""
        layout.clear_caches()  # memoised probes would not be noted in the recording
        with witness.recording() as facts:
            direct: Dict[str, Set[str]] = {}
            for source in witness.listing(self.root, project_files):
                self._imports.pop(source, None)
                for target in self.imports_of(source):
                    direct.setdefault(target, set()).add(source)
        cache = self.cache
        if cache is not None:
            from ..cache import digest

            cache.store("importers", digest("importers", self.root),
                        {"facts": facts, "seals": witness.seal(facts), "direct": direct})
        return direct

    def _importers_from_cache(self) -> Optional[Dict[str, Set[str]]]:
        cache = self.cache
        if cache is None:
            return None
        from ..cache import digest

        entry = cache.load("importers", digest("importers", self.root))
        if entry is None or not witness.still_holds(entry["facts"], entry["seals"]):
            return None
        witness.adopt(entry["facts"])
        return entry["direct"]

    # the universe: every file of the project that may call into others --------------------------------
    def universe(self) -> List[str]:
        """Every file of the project that may call into its modules. A root the project marks (pyproject.toml,
        .git, ...) is walked whole (honouring .gitignore); a guessed one (the folder above a package, a script's
        folder: maybe /tmp or a home folder) only through its packages and two levels of plain folders."""
        if self._universe is None:
            self._universe = witness.listing(self.root, project_files)
        return self._universe

    def has_importers(self, path: str) -> bool:
        """Whether a file of the project imports `path`: a module nobody imports needs no summary (its functions
        receive no calls from elsewhere, and no importer reads it)."""
        return bool(self.callers_of(path))

    def callers_of(self, path: str) -> Set[str]:
        """Files whose imports reach `path`, directly or through other modules."""
        if self._callers is None:
            self._callers = self._importers_from_cache()
            if self._callers is None:
                self._callers = self._importers()
        seen, stack = set(), [path]
        while stack:
            for caller in self._callers.get(stack.pop(), ()):
                if caller not in seen and caller != path:
                    seen.add(caller)
                    stack.append(caller)
        return seen


def names_callers_must_spell(summary: ModuleSummary) -> Set[str]:
    """A caller of a converting function of this module spells its name in its code, as a name of its own or
    as an attribute of a module it imports (`words.calling_words`); a caller of a converting method, its
    class's name (method names are too common to tell, and `model(x)` never writes `forward`). An instance
    handed over from a third module is missed: the price of not analysing every file."""
    names = {name for name, function in summary.functions if function.has_conversions}
    names.update(class_name for class_name, cls in summary.classes
                 if any(method.has_conversions for _, method in cls.methods))
    return names


def calls_into(path: str, outgoing: Dict[str, Iterable[OutgoingCall]]) -> Tuple[OutgoingCall, ...]:
    """The calls into `path` among the callers' outgoing calls, in a stable order."""
    calls = {call for calls in outgoing.values() for call in calls if call.target == path}
    return tuple(sorted(calls, key=lambda c: (c.path, c.line, c.function, repr(c))))


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def _words_in(path: str) -> Tuple[Optional[str], FrozenSet[str]]:
    """(the hash of the bytes read, the words of their program)."""
    data = _read_bytes(path)
    text = program_of(path, data)[0] if data is not None else None
    return (hashlib.sha256(data).hexdigest() if data is not None else None,
            calling_words(text, KNOWN_LIBRARIES) if text is not None else frozenset())


def read_text(path: str) -> Optional[str]:
    """A file's text for scanning: Python decoded as Python does; a notebook's code cells joined."""
    return read_program(path)[0]


def read_program(path: str):
    """(text, locate): the program a file holds, and for a notebook how its lines map to cells (else None)."""
    data = _read_bytes(path)
    return program_of(path, data) if data is not None else (None, None)


def _read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        witness.read(path, None)
        return None
    witness.read(path, data)
    return data


def program_of(path: str, data: bytes):
    """`read_program` of bytes already read."""
    if path.endswith(".md"):
        from ..markdown_notebook import program_of as markdown_program  # lines are the .md's own: no `locate`

        return markdown_program(data), None
    if path.endswith(".ipynb"):
        from ..notebook import NotebookError, read_notebook

        try:
            notebook = read_notebook(data)
        except (NotebookError, ValueError):
            return None, None
        return notebook.program, notebook.locate
    from ..files import SourceError, decode_python

    try:
        return decode_python(data)[0], None
    except SourceError:
        return None, None


_WORKSPACES: Dict[Tuple[str, int], Workspace] = {}


def workspace_for(path: str, analyser: Analyser) -> Workspace:
    """The process-wide workspace of the project that holds `path`."""
    root = layout.project_root(os.path.abspath(path))
    key = (root, id(analyser))
    found = _WORKSPACES.get(key)
    if found is None:
        found = _WORKSPACES[key] = Workspace(root, analyser)
    return found


def forget_workspaces() -> None:
    """Drop everything this process learnt about projects (files may have changed: the language server)."""
    _WORKSPACES.clear()
    layout.clear_caches()
    witness.forget()


@dataclass
class InProject:
    """A file checked as part of its project, and what its check learnt for the rest of the project.

    `incoming` None: find the calls other files make into it (every door but a whole-project run, which
    gathers them from all files first and passes them in).
    """

    workspace: Workspace
    path: str
    incoming: Optional[Tuple[OutgoingCall, ...]] = None
    summary: Optional[ModuleSummary] = None
    outgoing: Tuple[OutgoingCall, ...] = ()
    receives_calls: bool = False
    spelled: FrozenSet[str] = frozenset()  # names_callers_must_spell of its summary
    analysed: bool = False
    defer: bool = False  # a whole-project run's first pass: stop early if calls from elsewhere must be gathered
    locate: Optional[Callable[[int, int], Tuple[int, int, int]]] = None  # a notebook: program line → cell, line
    context: Optional[ImportContext] = None  # what the check read of the project (for the cache)
    followed: Tuple[OutgoingCall, ...] = ()  # the calls from other files it followed
    deferred: bool = False

    @property
    def is_module(self) -> bool:
        return self.path.endswith((".py", ".pyi"))

    @property
    def summarised(self) -> bool:
        """Whether its check computes its summary: a module some project file imports (what a cache entry records
        must be decided the same way by a check and by the cache lookup)."""
        return self.is_module and self.workspace.has_importers(self.path)
