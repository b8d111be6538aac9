"""Analysing a file as part of its project: the bridge between a workspace and the engine.

`analyse_in_project` is what a check of one file runs; `analyse_file` is what a workspace runs when it needs a
file it was not asked to check (a module someone imports, a caller of a checked module). Both summarise a
module right after its top level ran (what an importer sees), and take a file's outgoing calls from a run that
follows no incoming calls, so what one file tells the others never depends on who asked first.
"""
from __future__ import annotations

from typing import Optional, Tuple

import libcst as cst

from ..analysis.engine import ModuleAnalysis
from ..analysis.exports import Exporter
from ..analysis.summary import ModuleSummary, OutgoingCall
from ..parsing import parse_for_analysis
from . import layout
from .workspace import ImportContext, InProject, Workspace, names_callers_must_spell, read_program


def analyse_in_project(module: cst.Module, source: str, project: InProject) -> ModuleAnalysis:
    workspace, path = project.workspace, project.path
    context = project.context = ImportContext(workspace, path)
    analysis = ModuleAnalysis(module, source, project=context)
    analysis.execute()
    summary = None
    if project.summarised:  # else nobody can call into it, nor read it
        if len(workspace.cycle_of(path)) == 1:
            known, summary = workspace.summary_of_text(path, source)
            if not known:  # summaries run every function again: one per text and process is enough
                summary = _summarise(analysis, workspace, path)
                workspace.record_summary(path, summary, context, source)
        else:
            summary = workspace.summary(path)  # on an import cycle: summarised with part of the cycle cut
    project.summary = summary
    project.spelled = frozenset(names_callers_must_spell(summary)) if summary is not None else frozenset()
    project.receives_calls = bool(project.spelled)
    incoming = project.incoming
    if incoming is None and project.receives_calls and project.defer:
        project.deferred = True  # the run gathers the calls from every file, then checks this one again
        incoming = ()
    if incoming is None:
        incoming = workspace.incoming(path, project.spelled)
    analysis.analyse_functions(incoming)
    analysis.finish()
    if not incoming:  # what it calls elsewhere, seen without calls from elsewhere: the same as analyse_file
        exporter = Exporter(analysis, path, workspace.display(path))
        # One codegen pass for the positions of both the outgoing calls and the findings of the default rules
        # (a strict rule's findings, when it is on, cost one more).
        analysis.prepare_positions([*exporter.nodes_to_position(), *analysis.nodes_findings_may_need(2)])
        project.outgoing = exporter.outgoing(project.locate)
        workspace.record_outgoing(path, project.outgoing, context, source)
    project.followed = tuple(incoming)
    project.analysed = True
    return analysis


def analyse_file(workspace: Workspace, path: str, want_summary: bool
                 ) -> Tuple[Optional[ModuleSummary], Tuple[OutgoingCall, ...], Optional[ImportContext]]:
    """A project file read from disk: its summary (for importers; with its import cycle cut, as cycles.py says)
    or its outgoing calls (for callees; with every import seen). Unreadable or unparsable files give nothing."""
    source, locate = read_program(path)
    if source is None:
        return None, (), None
    source = source[1:] if source.startswith("\ufeff") else source
    cut = workspace.summary_cut(path) if want_summary else frozenset()
    context = ImportContext(workspace, path, cut)
    try:
        module = parse_for_analysis(source)
        analysis = ModuleAnalysis(module, source, project=context)
        analysis.execute()
        if want_summary:
            return (_summarise(analysis, workspace, path) if path.endswith((".py", ".pyi")) else None), (), context
        analysis.analyse_functions()
    except (cst.ParserSyntaxError, RecursionError):
        return None, (), context
    return None, Exporter(analysis, path, workspace.display(path)).outgoing(locate), context


def _summarise(analysis: ModuleAnalysis, workspace: Workspace, path: str) -> ModuleSummary:
    return analysis.summarise(path, workspace.display(path), layout.module_name_of(path))
