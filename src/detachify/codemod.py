"""libcst codemod front door: ``fix_source`` wrapped as a ``CodemodCommand``; no rewriting of its own.

    python -m libcst.tool codemod --no-format -x detachify.codemod.DetachNumpy PATH...

``-x`` makes libcst.tool import the dotted path as given (without it, it looks the name up under the
``modules:`` of a ``.libcst.codemod.yaml``); ``--no-format`` stops it piping every changed file through black,
which would reformat far more than the fix touched.
"""
from __future__ import annotations

import argparse
from typing import Optional

import libcst
from libcst.codemod import CodemodCommand, CodemodContext

from . import api
from .settings import FIX_STYLES, Settings


class DetachNumpy(CodemodCommand):
    DESCRIPTION = ("Rewrite `.numpy()` on tensors that require grad to `.detach().cpu().numpy()` "
                   "(detachify's fixes, honouring `# noqa`).")

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument("--unsafe-fixes", dest="unsafe_fixes", action="store_true",
                                help="Also apply fixes that may change what the program computes.")
        arg_parser.add_argument("--fix-style", dest="fix_style", choices=FIX_STYLES, default="detach-cpu",
                                help="detach-cpu: `.detach().cpu().numpy()`; force: `.numpy(force=True)`.")

    def __init__(self, context: CodemodContext, unsafe_fixes: bool = False,
                 fix_style: str = "detach-cpu", settings: Optional[Settings] = None) -> None:
        super().__init__(context)
        self.settings = settings or Settings(fix_style=fix_style, unsafe_fixes=unsafe_fixes)

    def transform_module_impl(self, tree: libcst.Module) -> libcst.Module:
        source = tree.code
        fixed = api.fix_source(source, self.context.filename or "<string>", self.settings)
        if fixed == source:
            return tree
        # Re-parse with the original module's encoding, newline and indent so `.bytes` round-trips exactly.
        return libcst.parse_module(fixed, config=tree.config_for_parsing)
