"""The single-file fixtures: every `.py` under fixtures/ except the multi-module projects of fixtures/projects/
(those run as projects, see test_projects.py)."""
from __future__ import annotations

from pathlib import Path
from typing import List

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def single_file_fixtures(root: Path = FIXTURES) -> List[Path]:
    return sorted(p for p in root.glob("**/*.py") if p.is_file() and p.relative_to(root).parts[0] != "projects")
