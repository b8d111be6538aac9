"""`project.witness` seals: a stat stands for a fact only when no later write could leave that stat unchanged.

The seals are what make a warm run cheap (one `stat` per file instead of reading and hashing it, one per folder
instead of one probe per missing path), so each test shows both sides: the seal is used, and a change is seen.
"""
from __future__ import annotations

import os
import time

import pytest

from detachify.project import witness

STEP_NS = 20_000_000  # a clock step for these tests: files settle after 20 ms, not FAT's 2 s


@pytest.fixture
def facts_of(monkeypatch):
    """What a run that read and probed `paths` noted, with the file system as it is now."""
    monkeypatch.setattr(witness, "CLOCK_STEP_NS", STEP_NS)

    def record(files=(), probes=()):
        witness.forget()
        with witness.recording() as facts:
            for path in files:
                with open(path, "rb") as f:
                    witness.read(str(path), f.read())
            for path in probes:
                witness.kind(str(path))
        return facts

    yield record
    witness.forget()


@pytest.fixture
def hashes(monkeypatch):
    """How many files `still_holds` read and hashed."""
    counted = []
    hash_of_file = witness._hash_of_file

    def counting(path):
        counted.append(path)
        return hash_of_file(path)

    monkeypatch.setattr(witness, "_hash_of_file", counting)
    return counted


def missing_modules(tmp_path):
    """Where imports of `pkg.nets` and `pkg.nets.deep.model` were looked for, in a settled `pkg` holding neither."""
    (tmp_path / "pkg").mkdir()
    settle()
    return [tmp_path / "pkg" / "nets.py", tmp_path / "pkg" / "nets" / "__init__.py",
            tmp_path / "pkg" / "nets" / "deep" / "model.py"]


def settle():
    time.sleep(3 * STEP_NS / 1e9)


def test_a_settled_file_is_confirmed_by_its_stat_alone(tmp_path, facts_of, hashes):
    module = tmp_path / "model.py"
    module.write_text("import torch\n")
    settle()
    facts = facts_of(files=[module])
    seals = witness.seal(facts)
    assert str(module) in seals[0]
    del hashes[:]
    assert witness.still_holds(facts, seals)
    assert hashes == []
    assert witness.still_holds(facts)  # without seals the file is hashed
    assert hashes == [str(module)]


def test_a_file_given_back_its_size_and_modification_time_is_read_again(tmp_path, facts_of):
    module = tmp_path / "model.py"
    module.write_text("x = 1\n")
    settle()
    facts = facts_of(files=[module])
    seals = witness.seal(facts)
    assert str(module) in seals[0]
    stamp = os.stat(module)
    settle()
    module.write_text("x = 2\n")
    os.utime(module, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # the ctime moves on: it cannot be set back
    assert witness.still_holds(facts, seals) is False


def test_a_file_written_just_before_the_seal_is_not_sealed(tmp_path, facts_of, hashes, monkeypatch):
    module = tmp_path / "model.py"
    module.write_text("x = 1\n")
    facts = facts_of(files=[module])
    monkeypatch.setattr(witness, "CLOCK_STEP_NS", 3600 * 10**9)  # an hour's clock step: nothing is settled yet
    seals = witness.seal(facts)
    assert seals[0] == {}
    assert witness.still_holds(facts, seals) and hashes == [str(module)]


def test_a_file_changed_since_it_was_read_is_not_sealed(tmp_path, facts_of):
    module = tmp_path / "model.py"
    module.write_text("x = 1\n")
    facts = facts_of(files=[module])
    module.write_text("x = 22\n")
    settle()
    seals = witness.seal(facts)
    assert seals[0] == {}
    assert witness.still_holds(facts, seals) is False


def test_missing_paths_are_confirmed_by_the_folder_that_would_hold_them(tmp_path, facts_of, monkeypatch):
    facts = facts_of(probes=missing_modules(tmp_path))
    seals = witness.seal(facts)
    assert set(seals[1]) == {str(tmp_path / "pkg")}
    probed = []
    monkeypatch.setattr(witness.os, "access", lambda path, mode: probed.append(path) or os.path.exists(path))
    assert witness.still_holds(facts, seals)
    assert probed == []


@pytest.mark.parametrize("created", ["pkg/nets.py", "pkg/nets/__init__.py", "pkg/nets/deep/model.py"])
def test_a_missing_path_that_appears_is_seen(tmp_path, facts_of, created):
    facts = facts_of(probes=missing_modules(tmp_path))
    seals = witness.seal(facts)
    settle()
    (tmp_path / created).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / created).write_text("")
    assert witness.still_holds(facts, seals) is False


def test_a_path_that_appeared_before_the_seal_is_not_sealed_as_missing(tmp_path, facts_of):
    (tmp_path / "pkg").mkdir()
    facts = facts_of(probes=[tmp_path / "pkg" / "nets.py"])
    (tmp_path / "pkg" / "nets.py").write_text("")
    settle()
    seals = witness.seal(facts)
    assert seals[1] == {}
    assert witness.still_holds(facts, seals) is False
