"""The README's rule table is generated from the registry; this fails when the copy drifts."""
from __future__ import annotations

import re
from pathlib import Path

from detachify.rules.registry import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE = re.compile(r"<!-- rules-table:start -->\n(?P<table>.*?)\n<!-- rules-table:end -->", re.S)


def test_rule_table_matches_the_registry():
    match = TABLE.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lost its rules-table markers"
    assert match["table"] == markdown_table(), (
        "README rule table is stale; regenerate it from `python -m detachify.rules.registry`")
