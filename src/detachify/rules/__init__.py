"""Rules turn the analysis' facts into findings; the registry documents them."""
from __future__ import annotations

from typing import List

from ..analysis.engine import ModuleAnalysis
from ..findings import Finding
from ..settings import Settings
from . import tnp001
from .registry import RULES, Rule, all_rules

__all__ = ["RULES", "Rule", "all_rules", "evaluate"]

# code → check(conversion, report) -> Finding | None
CONVERSION_CHECKS = {"TNP001": tnp001.check}


class Report:
    """What a rule needs to phrase a finding: source text, positions, settings."""

    def __init__(self, analysis: ModuleAnalysis, settings: Settings, filename: str):
        self.analysis = analysis
        self.settings = settings
        self.filename = filename

    @property
    def positions(self):
        return self.analysis.positions()

    def code(self, node) -> str:
        return self.analysis.code(node)

    def finding(self, code: str, message: str, conversion, fix) -> Finding:
        dot = self.positions[conversion.node.func.dot]
        return Finding(code, message, dot.start.line, dot.start.column, fix, self.filename,
                       dot.start.line, dot.start.column + 1 + len("numpy"))


def evaluate(analysis: ModuleAnalysis, settings: Settings, filename: str) -> List[Finding]:
    report = Report(analysis, settings, filename)
    enabled = [check for code, check in CONVERSION_CHECKS.items() if settings.is_enabled(code, RULES[code].default_on)]
    findings = []
    for conversion in analysis.conversions.values():
        for check in enabled:
            finding = check(conversion, report)
            if finding is not None:
                findings.append(finding)
    return findings
