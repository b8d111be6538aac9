"""One fix loop: `detachify fix` parses and analyses a file with fixes twice (the file, then its rewrite), as ruff's
`lint_fix` does, not once more per step (find fixes, check the rewrite parses, report what is left)."""
from __future__ import annotations

from fixture_files import single_file_fixtures
import collections
from pathlib import Path

import libcst
import pytest

import detachify.analysis.engine as engine
import detachify.api as api
import detachify.project.analysis as project_analysis
from cli_support import BAD, CLEAN, UNSAFE
from detachify import check_source, fix_source, parsing
from detachify.files import CHECK, DIFF, FIX, process_source
from detachify.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def passes(monkeypatch):
    """Counts every libcst parse (the analysis' fast one and the validating one) and every analysis, with the
    findings cache off (another test's run of the same source would otherwise answer from it)."""
    monkeypatch.setenv("DETACHIFY_NO_CACHE", "1")
    parsing.forget_parses()  # nor the trees this process parsed for another test
    counts = collections.Counter()
    real_parse, real_analyse, real_in_project = (libcst.parse_module, engine.analyse,
                                                 project_analysis.analyse_in_project)

    def parse_module(*args, **kwargs):
        counts["parse"] += 1
        return real_parse(*args, **kwargs)

    def analyse(*args, **kwargs):
        counts["analyse"] += 1
        return real_analyse(*args, **kwargs)

    def analyse_in_project(*args, **kwargs):  # a file on disk is analysed as part of its project
        counts["analyse"] += 1
        return real_in_project(*args, **kwargs)

    monkeypatch.setattr(libcst, "parse_module", parse_module)
    monkeypatch.setattr(engine, "analyse", analyse)  # the API imports both when it first analyses a file
    monkeypatch.setattr(project_analysis, "analyse_in_project", analyse_in_project)
    return counts


@pytest.mark.parametrize("mode", [FIX, DIFF])
def test_a_fixed_file_is_parsed_and_analysed_twice(passes, mode):
    result = process_source(BAD.encode(), "bad.py", "bad.py", Settings(), mode)
    assert dict(passes) == {"parse": 2, "analyse": 2}
    assert result.fixed == 1 and result.findings == []
    if mode == FIX:
        assert result.new_data.decode() == fix_source(BAD, "bad.py")
    else:
        assert "+print(out.detach().cpu().numpy())" in result.diff


@pytest.mark.parametrize("source", [CLEAN, UNSAFE])
@pytest.mark.parametrize("mode", [CHECK, FIX])
def test_a_file_without_applicable_fixes_is_parsed_and_analysed_once(passes, source, mode):
    result = process_source(source.encode(), "m.py", "m.py", Settings(), mode)
    assert dict(passes) == {"parse": 1, "analyse": 1}
    assert result.new_data is None and result.findings == check_source(source, "m.py")


def test_every_fixture_is_parsed_and_analysed_at_most_twice(passes):
    fixtures = single_file_fixtures(ROOT / "fixtures")
    assert len(fixtures) > 100
    for path in fixtures:
        passes.clear()
        result = process_source(path.read_bytes(), str(path), path.name, Settings(), FIX)
        assert passes["parse"] == passes["analyse"] <= (2 if result.fixed else 1), path


def test_outcome_matches_the_separate_steps():
    outcome = api.fix_and_check(BAD + UNSAFE, "m.py")
    assert outcome.before == check_source(BAD + UNSAFE, "m.py")
    assert outcome.source == fix_source(BAD + UNSAFE, "m.py")
    assert outcome.after == check_source(outcome.source, "m.py") != []
    unsafe = api.fix_and_check(BAD + UNSAFE, "m.py", unsafe=True)
    assert unsafe.source == fix_source(BAD + UNSAFE, "m.py", unsafe=True) and unsafe.after == []
