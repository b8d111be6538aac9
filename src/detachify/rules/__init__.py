"""Rules turn the analysis' facts into findings; the registry documents them."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, List, Tuple

from ..findings import Finding
from ..settings import Settings
from .registry import RULES, Rule, all_rules

if TYPE_CHECKING:
    from ..analysis.engine import ModuleAnalysis

__all__ = ["RULES", "Rule", "all_rules", "evaluate", "enabled_codes"]


class Report:
    """What a rule needs to phrase a finding: source text, positions, settings."""

    def __init__(self, analysis: "ModuleAnalysis", settings: Settings, filename: str):
        self.analysis = analysis
        self.settings = settings
        self.filename = filename

    @property
    def positions(self):
        return self.analysis.positions()

    def code(self, node) -> str:
        return self.analysis.code(node)

    def line_of(self, node) -> int:
        return self.analysis.line_of(node)

    def finding(self, code: str, message: str, conversion, fix) -> Finding:
        """Method conversions are reported at the `.` of `.numpy` (so `# noqa` on that line works),
        implicit ones at the argument."""
        node = conversion.node
        if conversion.kind == "method":
            start = self.positions[node.func.dot].start
            end_line, end_column = start.line, start.column + len(".numpy")
        else:
            start = self.positions[node.lpar[0] if node.lpar else node].start
            end = self.positions[node.rpar[-1] if node.rpar else node].end
            end_line, end_column = end.line, end.column
        return Finding(code, message, start.line, start.column, fix, self.filename,
                       end_line, end_column)


@functools.lru_cache(maxsize=64)
def enabled_codes(settings: Settings) -> Tuple[str, ...]:
    # Every rule is a conversion check (tests/test_rules.py holds the registry to CONVERSION_CHECKS): asking the
    # registry keeps the engine unloaded when the findings come from the cache. Kept per settings: the flake8
    # plugin and a pool worker ask once per file, with the same settings every time.
    return tuple(code for code, rule in RULES.items() if settings.is_enabled(code, rule.default_on))


def evaluate(analysis: "ModuleAnalysis", settings: Settings, filename: str) -> List[Finding]:
    from ..analysis.engine import imports_other_tensor_library_only
    from .conversions import CONVERSION_CHECKS, LEAST_SEVERITY

    if imports_other_tensor_library_only(analysis):
        return []  # TensorFlow, JAX, Paddle... tensors also have `.numpy()`, with other rules
    report = Report(analysis, settings, filename)
    codes = enabled_codes(settings)
    checks = [CONVERSION_CHECKS[code] for code in codes]
    least = min((LEAST_SEVERITY[code] for code in codes), default=4)
    analysis.prepare_positions(analysis.nodes_findings_may_need(least))
    findings = []
    for conversion in analysis.conversions.values():
        for check in checks:
            finding = check(conversion, report)
            if finding is not None:
                findings.append(finding)
    return findings
