"""A file's findings, kept in the persistent cache with everything they were computed from.

An entry stands for one check of one file (path, the name shown in messages, settings, `# noqa` honoured or not,
which pass of a whole-project run): it is used again only if the text is the same, the file's imports resolve
the same way, the summaries it read have the same keys, and the calls other files make into it are the same
(or, for a first pass that deferred the file, that it still receives calls).
"""
from __future__ import annotations

import hashlib
from typing import List, Optional

from ..findings import Finding
from .workspace import InProject

_DEFERRED = ("deferred",)


def _key(project: InProject, filename: str, settings, respect_noqa: bool) -> str:
    from ..cache import digest

    return digest("check", project.path, filename, settings, respect_noqa, project.defer, project.incoming)


def _content(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def cached_findings(source: str, filename: str, settings, respect_noqa: bool,
                    project: InProject) -> Optional[List[Finding]]:
    workspace = project.workspace
    cache = workspace.cache
    if cache is None:
        return None
    entry = cache.load("check", _key(project, filename, settings, respect_noqa))
    if not workspace.still_true(entry, _content(source)):
        return None
    spelled = workspace.names_callers_spell(project.path) if project.summarised else frozenset()
    receives = bool(spelled)
    if receives != entry["receives"]:
        return None
    if project.incoming is not None:
        now = project.incoming
    elif receives and project.defer:
        now = _DEFERRED
    else:
        now = workspace.incoming(project.path, spelled)
    if now != entry["followed"]:
        return None
    project.spelled, project.receives_calls, project.analysed = spelled, receives, True
    project.deferred = now == _DEFERRED
    project.followed = () if project.deferred else now
    project.outgoing = entry["outgoing"]
    if entry["outgoing_valid"]:
        workspace.record_outgoing(project.path, entry["outgoing"])
    return list(entry["findings"])


def store_findings(source: str, filename: str, settings, respect_noqa: bool, project: InProject,
                   findings: List[Finding]) -> None:
    workspace = project.workspace
    cache = workspace.cache
    if cache is None or project.context is None or not project.analysed:
        return
    cache.store("check", _key(project, filename, settings, respect_noqa), {
        "path": project.path,
        "content": _content(source),
        "dependencies": project.context.dependencies(),
        "receives": project.receives_calls,
        "followed": _DEFERRED if project.deferred else project.followed,
        "outgoing": project.outgoing,
        "outgoing_valid": not project.followed,  # computed without calls from elsewhere: what others need
        "findings": tuple(findings),
    })
