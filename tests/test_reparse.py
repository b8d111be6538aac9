"""Re-reading an edited text where it changed (the server's checker): the same module text, the same statements
and positions as a whole parse, the same findings; what cannot be spliced exactly is parsed whole."""
from __future__ import annotations

import random
from contextlib import contextmanager

import libcst as cst
import pytest

import detachify
from detachify import parsing
from detachify.analysis.positions import positions_of
from fixture_files import single_file_fixtures

BASE = '''\
"""A module header."""
import numpy as np
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, x):
        return self.fc(x)


# a comment before a function
def train(model):
    out = model(torch.ones(3, 2))
    return out.numpy()


def plot(model):
    losses = []
    for _ in range(2):
        losses.append(model(torch.ones(1, 2)).sum())
    return np.array(losses)


print(train(Net()))
'''


def fixture_sources():
    return [(str(path), path.read_text(encoding="utf-8")) for path in single_file_fixtures()]


def _edit(text: str, anchor: str, replacement: str) -> str:
    assert text.count(anchor) == 1, anchor
    return text.replace(anchor, replacement)


# name -> (edit of BASE, whether top-level statements are kept from the last parse)
EDITS = {
    "inside a function": (lambda t: _edit(t, "    return out.numpy()", "    return out.numpy()  # x"), True),
    "a statement added between two": (lambda t: _edit(t, "\n\ndef plot", "\nlimit = 3\n\ndef plot"), True),
    "a statement removed": (lambda t: _edit(t, "print(train(Net()))\n", ""), True),
    "the header": (lambda t: _edit(t, '"""A module header."""', '"""Another header."""'), True),
    "the comment at a seam": (lambda t: _edit(t, "# a comment before a function\n", "# other\n# lines\n"), True),
    "appended at the end": (lambda t: t + "print(plot(Net()))\n# the end\n", True),
    "a blank line at the end": (lambda t: t + "\n", True),
    "indented into the block above": (lambda t: _edit(t, "\nprint(train", "\n    print(train"), False),
    "an else joined to the statement above": (
        lambda t: _edit(t, "print(train(Net()))\n", "if True:\n    pass\nprint(train(Net()))\n") + "else:\n    pass\n",
        True),
    "a bracket left open": (lambda t: _edit(t, "limit" if "limit" in t else "out = model(", "out = model(("), False),
    "a function split in two": (lambda t: _edit(t, "    return out.numpy()", "def more():\n    return 1"), True),
}


@contextmanager
def reusing(keep=4):
    reparser = parsing.reuse_recent_parses(keep)
    try:
        yield reparser
    finally:
        parsing.reuse_recent_parses(0)


def _bare(module: cst.Module, statement: cst.CSTNode) -> str:
    """A statement's code without the comment and blank lines before it (their owner may differ at a seam)."""
    if hasattr(statement, "leading_lines"):
        statement = statement.with_changes(leading_lines=())
    return module.code_for_node(statement)


def _assert_same_as_whole_parse(text: str, module: cst.Module) -> None:
    whole = cst.parse_module(text)
    assert module.code == text
    assert [type(s) for s in module.body] == [type(s) for s in whole.body]
    assert [_bare(module, s) for s in module.body] == [_bare(whole, s) for s in whole.body]


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edit_parses_as_a_whole_parse_would(name):
    edit, keeps = EDITS[name]
    new = edit(BASE)
    with reusing() as reparser:
        before = parsing.parse_for_analysis(BASE)
        try:
            whole = cst.parse_module(new)
        except cst.ParserSyntaxError:
            with pytest.raises(cst.ParserSyntaxError):
                parsing.parse_for_analysis(new)
            return
        module = parsing.parse_for_analysis(new)
        _assert_same_as_whole_parse(new, module)
        kept = [s for s in module.body if any(s is old for old in before.body)]
        assert bool(kept) is keeps, [module.code_for_node(s)[:30] for s in kept]
        assert reparser.statements_reused == len(kept)
        # Every node's position, from the kept statements' layouts and the new ones', as a whole codegen says.
        everything = positions_of(module, new, [module])
        found, missing = reparser.positions_of(module, new, list(everything))
        outside_statements = {module, *positions_of(module, new, [*module.header, *module.footer])}
        assert not [node for node in missing if node not in outside_statements]
        assert found == {node: everything[node] for node in found}
        assert whole.code == new


def test_random_edits_of_the_fixtures_parse_and_position_as_whole_parses():
    rng = random.Random(20261201)
    pieces = ["x = 1\n", "    y = 2\n", "else:\n", "# c\n", "\n", "def g():\n    return 1\n", "(", ")", "'",
              "\\\n", "@dec\n", "  ", "if a:\n", "pass\n", ""]
    sources = [source for _, source in fixture_sources()]
    spliced = round_trips = 0
    for source in rng.sample(sources, min(60, len(sources))):
        with reusing() as reparser:
            text = source
            parsing.parse_for_analysis(text)
            for _ in range(6):
                at = rng.randrange(len(text) + 1)
                if rng.random() < 0.6:
                    at = text.rfind("\n", 0, at) + 1
                upto = min(len(text), at + rng.choice([0, 0, 1, 3, 20]))
                new = text[:at] + rng.choice(pieces) + text[upto:]
                try:
                    whole = cst.parse_module(new)
                except cst.ParserSyntaxError:
                    with pytest.raises(cst.ParserSyntaxError):
                        parsing.parse_for_analysis(new)
                    continue
                reused = reparser.statements_reused
                module = parsing.parse_for_analysis(new)
                if whole.code == new:  # libcst round-trips it (a few odd backslash lines it does not)
                    round_trips += 1
                    _assert_same_as_whole_parse(new, module)
                    if reparser.statements_reused > reused:
                        spliced += 1
                        everything = positions_of(module, new, [module])
                        found, _ = reparser.positions_of(module, new, list(everything))
                        assert found == {node: everything[node] for node in found}
                text = new
    # The edits did exercise the splice, not only whole parses (whatever fixtures the sample drew).
    assert spliced > 50 and 2 * spliced > round_trips, (spliced, round_trips)


def test_findings_after_an_edit_are_those_of_a_fresh_check():
    """For every fixture: check it, insert a line in the middle, and check again reusing the first parse."""
    checked = spliced = 0
    for name, source in fixture_sources():
        lines = source.splitlines(keepends=True)
        edited = next((text for text in ("".join(lines[:i] + ["_edited = 1\n"] + lines[i:])
                                         for i in range(len(lines) // 2, len(lines)) if lines[i][:1].isalpha())
                       if _compiles(text)), None)
        if edited is None:
            continue
        checked += 1
        expected = detachify.check_source(edited, name)
        with reusing() as reparser:
            detachify.check_source(source, name)
            assert detachify.check_source(edited, name) == expected, name
            spliced += reparser.statements_reused > 0
    assert checked > 100 and spliced > checked // 2


def _compiles(text: str) -> bool:
    try:
        compile(text, "<edited>", "exec", dont_inherit=True, flags=0x400)  # PyCF_ONLY_AST
    except SyntaxError:
        return False
    return True
