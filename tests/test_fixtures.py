"""Every fixture program is run under torch: its `# expect:` labels are proven, and detachify is held to them.

A fixture is a small runnable program under ``fixtures/`` written the way users write PyTorch code. A line that
ends with ``# expect: TNP001`` is a line where torch raises "Can't call numpy() on Tensor that requires grad";
``# expect: TNP001 unsafe-fix`` also says the fix must be marked unsafe (the conversion sits inside ``forward`` or a
loss, or its NumPy value flows back into torch). Lines without a label must not raise and must not be reported.

A fixture that cannot run here (it needs a library the test environment lacks) says so in its first lines with
``# fixture: no-run``; its labels are then only checked against detachify.

Only TNP001 and TNP003 labels are proven by torch (``REQUIRES_GRAD_CODES``). A TNP002 label marks a tensor that may
live on a GPU: it raises only on a GPU, so on a CPU-only machine it is checked against detachify alone. A TNP901
label (strict, off by default) marks a conversion of a tensor of unknown provenance, which is a claim about what can
be known statically, not about this run. Fixtures under ``fixtures/tnp901/`` are checked with the strict rule
enabled (``SETTINGS_BY_DIRECTORY``).

``KNOWN_MISSES`` lists labelled lines (proven by torch) that the engine cannot be expected to see; the label stays
(it is the truth), the line is not required in detachify's report, and the test fails as soon as detachify does
report it, so the table cannot rot.
"""
from __future__ import annotations

from fixture_files import single_file_fixtures
import functools
import io
import re
import tokenize
from pathlib import Path
from typing import Dict, Optional, Set, Tuple

import pytest

import detachify
import torch_harness
from detachify.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FIXTURE_FILES = single_file_fixtures(FIXTURES)

# Codes whose label means "torch raises the requires-grad error here". TNP002 (needs a GPU to raise) and TNP901
# (strict: unknown provenance) labels are not proven by running the program.
REQUIRES_GRAD_CODES = frozenset({"TNP001", "TNP003"})

# Settings per top-level fixture directory (default settings elsewhere): the strict corpus enables TNP9xx.
SETTINGS_BY_DIRECTORY: Dict[str, Settings] = {
    "tnp901": Settings(extend_select=("TNP9",)),
}

# Labelled lines (proven by torch) that the engine cannot reasonably be expected to see: (fixture, line) -> why.
# A fixture with a known miss is not fix-and-run tested (its fixed program still raises there). Once detachify
# reports such a line, test_detachify_reports_exactly_the_annotated_lines fails: delete the entry.
KNOWN_MISSES: Dict[Tuple[str, int], str] = {
    ("tnp003/activation_looked_up_by_name_from_config.py", 14):
        "the activation is looked up by name at run time (`getattr(F, config[...])`); its result is opaque",
    ("tnp003/activation_looked_up_by_name_from_config.py", 17):
        "grad flows through `functools.reduce` applying a lambda over a list of layers",
}
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>TNP\d{3}(?:\s*,\s*TNP\d{3})*)(?P<fix>\s+(?:unsafe-fix|no-fix))?\s*$")
NO_RUN = re.compile(r"#\s*fixture:\s*no-run\b")


def _id(path: Path) -> str:
    return path.relative_to(FIXTURES).as_posix()


@functools.lru_cache(maxsize=None)
def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def expectations(path: Path) -> Dict[Tuple[int, str], str]:
    """{(line, code): "safe" | "unsafe" | "none"} from the ``# expect:`` comments, the fix they ask for (read with
    tokenize: strings don't count)."""
    found: Dict[Tuple[int, str], bool] = {}
    for tok in tokenize.generate_tokens(io.StringIO(read(path)).readline):
        if tok.type != tokenize.COMMENT:
            continue
        match = EXPECT.search(tok.string)
        if match is None:
            assert "expect:" not in tok.string, f"{_id(path)}:{tok.start[0]}: malformed label {tok.string!r}"
            continue
        for code in re.split(r"\s*,\s*", match["codes"]):
            found[(tok.start[0], code)] = (match["fix"] or " safe").strip().replace("-fix", "").replace("no", "none")
    return found


def settings_for(path: Path) -> Optional[Settings]:
    return SETTINGS_BY_DIRECTORY.get(path.relative_to(FIXTURES).parts[0])


def known_misses(path: Path) -> Dict[int, str]:
    name = _id(path)
    return {line: why for (fixture, line), why in KNOWN_MISSES.items() if fixture == name}


def raising_labels(path: Path) -> Set[int]:
    return {line for line, code in expectations(path) if code in REQUIRES_GRAD_CODES}


def runnable(path: Path) -> bool:
    return not any(NO_RUN.search(line) for line in read(path).splitlines()[:5])


@pytest.fixture(scope="session")
def run_cache_dir(tmp_path_factory, request):
    """One on-disk cache of torch runs, shared by all pytest-xdist workers of the session."""
    base = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker: basetemp is <session>/popen-gwN
        base = base.parent
    return str(base / "torch-runs")


def wrapped_run(path: Path, cache_dir: str) -> torch_harness.RunResult:
    return torch_harness.cached_run(read(path), path.name, True, cache_dir)


def _api(call):
    try:
        return call()
    except NotImplementedError:
        pytest.skip("detachify's analysis is not implemented yet")


def _describe(result: torch_harness.RunResult) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-1500:]}\n--- stderr ---\n{result.stderr[-3000:]}"


def test_fixture_corpus_is_discovered():
    assert FIXTURE_FILES, f"no fixtures under {FIXTURES}"


def test_settings_directories_exist():
    for directory in SETTINGS_BY_DIRECTORY:
        assert (FIXTURES / directory).is_dir(), f"SETTINGS_BY_DIRECTORY names a missing directory {directory!r}"


@pytest.mark.parametrize("fixture, line", sorted(KNOWN_MISSES), ids=lambda v: str(v))
def test_known_misses_are_labelled_lines(fixture, line):
    path = FIXTURES / fixture
    assert path.is_file(), f"KNOWN_MISSES names a missing fixture {fixture}"
    assert any(label_line == line for label_line, _ in expectations(path)), (
        f"KNOWN_MISSES names {fixture}:{line}, which carries no `# expect:` label"
    )


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_labels_are_proven_by_torch(path, run_cache_dir):
    if not runnable(path):
        pytest.skip("fixture marked no-run")
    result = wrapped_run(path, run_cache_dir)
    assert result.returncode == 0, f"{_id(path)} did not run to the end under the harness: {_describe(result)}"
    labelled = raising_labels(path)
    raised = set(result.raising_lines)
    assert raised == labelled, (
        f"{_id(path)}: torch raised on lines {sorted(raised)}, labels say {sorted(labelled)}; "
        f"raised but unlabelled: {sorted(raised - labelled)}, labelled but did not raise: {sorted(labelled - raised)}"
    )


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_detachify_reports_exactly_the_annotated_lines(path):
    source = read(path)
    findings = _api(lambda: detachify.check_source(source, str(path), settings_for(path)))
    expected = expectations(path)
    misses = known_misses(path)
    reported = {(f.line, f.code) for f in findings}
    now_seen = sorted(key for key in reported if key[0] in misses)
    assert not now_seen, (
        f"{_id(path)}: detachify now reports {now_seen}, listed in KNOWN_MISSES: delete the entries "
        f"({'; '.join(misses[line] for line, _ in now_seen)})"
    )
    required = {key for key in expected if key[0] not in misses}
    assert reported == required, (
        f"{_id(path)}: missing {sorted(required - reported)}, unexpected {sorted(reported - required)}"
    )
    for finding in findings:
        key = (finding.line, finding.code)
        if finding.code in REQUIRES_GRAD_CODES:
            if expected[key] == "none":
                assert finding.fix is None, f"{_id(path)}:{finding.line}: a fix, where the label says none"
                continue
            assert finding.fix is not None, f"{_id(path)}:{finding.line}: {finding.code} without a fix"
            assert finding.fix.applicability == expected[key], (
                f"{_id(path)}:{finding.line}: fix is {finding.fix.applicability}, label says {expected[key]}"
            )


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_fixed_program_runs_and_prints_the_same(path, run_cache_dir):
    source = read(path)
    settings = settings_for(path)
    fixed = _api(lambda: detachify.fix_source(source, str(path), settings, unsafe=True))
    compile(fixed, str(path), "exec")  # the fix always yields code that parses
    assert detachify.fix_source(fixed, str(path), settings, unsafe=True) == fixed, (
        f"{_id(path)}: fixing twice changed the code"
    )
    if not runnable(path):
        return
    misses = known_misses(path)
    if misses:
        pytest.skip("known miss (the fixed program still raises): "
                    + "; ".join(f"line {line}: {why}" for line, why in sorted(misses.items())))
    original = wrapped_run(path, run_cache_dir)
    assert original.returncode == 0, f"{_id(path)} does not run under the harness: {_describe(original)}"
    if fixed == source and not original.raising_lines:
        return  # nothing raised, so the wrapper never intervened: the plain run is the run we already have
    unfixable = {line for (line, code), fix in expectations(path).items() if fix == "none"}
    after = torch_harness.cached_run(fixed, path.name, bool(unfixable), run_cache_dir)
    if unfixable:  # only the lines offered no fix may still raise, and nothing else may change
        assert after.raising_lines == unfixable, f"{_id(path)}: still raising {sorted(after.raising_lines)}"
    assert not after.requires_grad_error, f"{_id(path)}: the fixed program still raises: {_describe(after)}"
    assert after.returncode == 0, f"{_id(path)}: the fixed program fails: {_describe(after)}"
    assert after.stdout == original.stdout, f"{_id(path)}: the fixed program prints something else"
