"""Parsing for analysis: libcst's parser, minus the re-validation of the nodes it builds.

libcst validates every node it constructs (`CSTNode.__post_init__` calls `_validate`): that guards trees which code
builds by hand, but a tree the parser built from source is valid by construction, and validating it costs about a
third of the parse (libcst's own comment on `__post_init__` says so). Trees parsed here are only read by the
analysis; a rewritten file is still checked by the full, validating parser.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Optional

import libcst as cst
from libcst._nodes.base import CSTNode

_validating_post_init = CSTNode.__post_init__
_lock = threading.Lock()  # parses are serialised: the GIL serialises them anyway
_memo_lock = threading.Lock()


def _node_classes(cls=CSTNode):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _node_classes(subclass)


# Only when validation is all that `__post_init__` does: no node class hooks its own (true of libcst 1.x).
SKIPS_VALIDATION = all("__post_init__" not in vars(cls) for cls in _node_classes())


def _no_validation(self) -> None:
    pass


_reparser = None  # set by `reuse_recent_parses`: the server's checker reads edited texts again and again
_reparse_lock = threading.Lock()


def reuse_recent_parses(keep: Optional[int] = None):
    """From now on, a text that shares most of itself with one of the last ``keep`` texts parsed is parsed only
    where it differs (:mod:`detachify.reparse`); ``keep=0`` turns that off again. For a process that checks edits
    of the same files, as the server's checker does; the CLI reads each text once and never needs it."""
    global _reparser
    from .reparse import KEEP, Reparser
    keep = KEEP if keep is None else keep
    _reparser = Reparser(_parse_whole, keep) if keep else None
    return _reparser


def reparser():
    """The process's :class:`detachify.reparse.Reparser`, None unless `reuse_recent_parses` was called."""
    return _reparser


# A run reads many modules twice (what an importer sees of a module, then the module's own check, or its calls
# into others): the last texts parsed are kept, up to about this many characters (a tree takes ~25 bytes a
# character, so ~50 MB).
MEMO_CHARACTERS = 2_000_000
_memo: "OrderedDict[str, cst.Module]" = OrderedDict()
_memo_size = 0


def parse_for_analysis(source: str) -> cst.Module:
    """``libcst.parse_module(source)``, without re-validating what the parser built; same errors. The analysis
    only reads trees, so a text parsed a moment ago gives the same tree again."""
    if _reparser is not None:
        with _reparse_lock:
            return _reparser.parse(source)
    global _memo_size
    with _memo_lock:
        module = _memo.get(source)
        if module is not None:
            _memo.move_to_end(source)
            return module
    module = _parse_whole(source)
    if len(source) <= MEMO_CHARACTERS // 4:
        with _memo_lock:
            if source not in _memo:
                _memo[source] = module
                _memo_size += len(source)
                while _memo_size > MEMO_CHARACTERS:
                    _memo_size -= len(_memo.popitem(last=False)[0])
    return module


def forget_parses() -> None:
    global _memo_size
    with _memo_lock:
        _memo.clear()
        _memo_size = 0


def _parse_whole(source: str) -> cst.Module:
    if not SKIPS_VALIDATION:
        return cst.parse_module(source)
    with _lock:
        CSTNode.__post_init__ = _no_validation
        try:
            return cst.parse_module(source)
        finally:
            CSTNode.__post_init__ = _validating_post_init
