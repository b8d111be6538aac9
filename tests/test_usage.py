"""Evidence from use is read with a fast search (the method call, then the name before it); it finds exactly what
the plain pattern (the name, then the call) finds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from detachify.analysis import usage

ROOT = Path(__file__).resolve().parent.parent
TEXTS = sorted([*(ROOT / "fixtures").glob("**/*.py"), *(ROOT / "src" / "detachify").glob("**/*.py"),
                *(ROOT / "tests").glob("*.py")])
CALLS = {
    "module methods": (usage._MODULE_CALL, r"(?:" + "|".join(usage.MODULE_METHODS) + r")"),
    "backward": (usage._BACKWARD_CALL, r"backward"),
}
EDGES = ("a.b.parameters()", "a . b .eval()", "x.eval().train()", "f(x).zero_grad()", "self.model.train(True)",
         "loss.backward(); other.backward()", "obj.parameters.parameters()", ".train()", "_x.eval ( )",
         "x.y\n.eval()", "a.backward()b.backward()")


def plain_pattern(method: str):
    return re.compile(usage._NAME + r"[ \t]*\.[ \t]*" + method + r"[ \t]*\(")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_receivers_are_what_the_plain_pattern_finds(name):
    fast, method = CALLS[name]
    plain = plain_pattern(method)
    texts = [*EDGES, *(path.read_text(encoding="utf-8") for path in TEXTS)]
    found = 0
    for text in texts:
        expected = [re.sub(r"[ \t]+", "", match.group(1)) for match in plain.finditer(text)]
        assert list(usage._receivers(fast, text)) == expected, text[:200]
        found += len(expected)
    assert found > 50
