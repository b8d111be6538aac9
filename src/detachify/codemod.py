"""libcst codemod front door: ``fix_source`` wrapped as a ``CodemodCommand``; no rewriting of its own.

    python -m libcst.tool codemod -x detachify.codemod.DetachNumpy --no-format PATH...

``-x`` makes libcst.tool import the dotted path as given (without it, it looks the name up under the
``modules:`` of a ``.libcst.codemod.yaml``); ``--no-format`` stops it piping every changed file through black,
which would reformat far more than the fix touched.

Each file gets the settings ``detachify fix`` would give it (the nearest pyproject.toml's ``[tool.detachify]``,
per-file-ignores, then these options), and files that config excludes are skipped, as with ``--force-exclude``:
libcst's runner walks every ``.py`` under PATH, virtualenvs included.
"""
from __future__ import annotations

import argparse
import functools
import os
from typing import Callable, Optional

import libcst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile

from . import api
from .config import Codes, ConfigError, Overrides, Resolver, parse_selectors
from .discovery import excluded_with_parents
from .settings import FIX_STYLES


def _selectors(flag: str) -> Callable[[str], Codes]:
    def parse(value: str) -> Codes:
        try:
            return parse_selectors(value, flag)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


@functools.lru_cache(maxsize=None)
def _resolver(overrides: Overrides, isolated: bool, cwd: str) -> Resolver:
    # The runner builds one command per file; the pyproject.toml lookups are shared through this cache.
    return Resolver(overrides, isolated=isolated, cwd=cwd)


class DetachNumpy(CodemodCommand):
    DESCRIPTION = ("Rewrite `.numpy()` on tensors that require grad to `.detach().cpu().numpy()`: "
                   "detachify's fixes, honouring `# noqa` and [tool.detachify] in pyproject.toml.")

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        # The same spellings and meanings as `detachify fix`; they win over pyproject.toml.
        arg_parser.add_argument("--select", type=_selectors("--select"), default=None, metavar="CODES",
                                help="comma-separated codes or prefixes to fix, replacing the configured selection")
        arg_parser.add_argument("--extend-select", type=_selectors("--extend-select"), default=(), metavar="CODES",
                                help="comma-separated codes or prefixes to fix on top of the selection")
        arg_parser.add_argument("--ignore", type=_selectors("--ignore"), default=(), metavar="CODES",
                                help="comma-separated codes or prefixes to leave alone")
        arg_parser.add_argument("--unsafe-fixes", action=argparse.BooleanOptionalAction, default=None,
                                help="also apply fixes that may change what the program computes")
        arg_parser.add_argument("--fix-style", choices=FIX_STYLES, default=None,
                                help="detach-cpu: `.detach().cpu().numpy()`; force: `.numpy(force=True)`")
        arg_parser.add_argument("--isolated", action="store_true", help="ignore every pyproject.toml")

    def __init__(self, context: CodemodContext, select: Optional[Codes] = None, extend_select: Codes = (),
                 ignore: Codes = (), unsafe_fixes: Optional[bool] = None, fix_style: Optional[str] = None,
                 isolated: bool = False) -> None:
        super().__init__(context)
        self.overrides = Overrides(select=select, ignore=ignore, extend_select=extend_select,
                                   fix_style=fix_style, unsafe_fixes=unsafe_fixes)
        self.isolated = isolated

    def transform_module_impl(self, tree: libcst.Module) -> libcst.Module:
        resolver = _resolver(self.overrides, self.isolated, os.getcwd())
        filename = self.context.filename
        if filename is not None and excluded_with_parents(filename, False, resolver.excluded):
            raise SkipFile("excluded by detachify's configuration")
        path = filename or os.path.join(os.getcwd(), "<stdin>")
        settings = resolver.project_for(path).settings_for(path)
        source = tree.code
        project = api.project_of(filename) if filename is not None and os.path.isfile(filename) else None
        fixed = api.fix_source(source, filename or "<stdin>", settings, project=project)
        if fixed == source:
            return tree
        # Re-parse with the original module's encoding, newline and indent so `.bytes` round-trips exactly.
        return libcst.parse_module(fixed, config=tree.config_for_parsing)
