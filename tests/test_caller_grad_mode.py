"""Caller-set grad mode (issue 4.4): a helper's conversion depends on the grad mode of the calls that reach it.

A helper called only from `no_grad` blocks or `@torch.no_grad()` functions is not reported (fixtures/guards/); one
called both from such a caller and from a grad-enabled site is reported once, at the conversion inside the helper,
and the message names the grad-enabled call. The runs under torch are in tests/test_fixtures.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import detachify

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# fixture -> (text of the line where the helper converts, text of the grad-enabled call)
MIXED_CALLERS = {
    "tnp003/evaluate_helper_called_in_and_out_of_no_grad.py":
        ("return float(np.corrcoef(scores, targets)[0, 1])", 'print("final", round(evaluate(model, x, y), 4))'),
    "tnp003/plot_helper_called_from_decorated_and_plain_callers.py":
        ('return ax.imshow(image, cmap="gray")', "shown = plot_reconstruction(ax, autoencoder, sample)"),
}

NO_GRAD_CALLERS_ONLY = [
    "guards/helper_called_only_from_no_grad_blocks.py",
    "guards/helper_called_only_from_no_grad_decorated_callers.py",
]


def _line_of(source: str, text: str) -> int:
    lines = [i for i, line in enumerate(source.splitlines(), 1) if text in line]
    assert len(lines) == 1, f"{text!r} should occur on exactly one line, found {lines}"
    return lines[0]


@pytest.mark.parametrize("fixture", sorted(MIXED_CALLERS))
def test_helper_with_a_grad_enabled_caller_is_reported_once_naming_that_call(fixture):
    source = (FIXTURES / fixture).read_text(encoding="utf-8")
    conversion_text, call_text = MIXED_CALLERS[fixture]
    conversion_line, call_line = _line_of(source, conversion_text), _line_of(source, call_text)
    findings = detachify.check_source(source, fixture)
    assert [(f.line, f.code) for f in findings] == [(conversion_line, "TNP003")]
    assert f"line {call_line}" in findings[0].message, findings[0].message


@pytest.mark.parametrize("fixture", NO_GRAD_CALLERS_ONLY)
def test_helper_called_only_with_grad_off_is_not_reported(fixture):
    source = (FIXTURES / fixture).read_text(encoding="utf-8")
    assert detachify.check_source(source, fixture) == []
