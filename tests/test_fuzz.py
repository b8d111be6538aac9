"""Unbreakable on bad input: property tests over generated programs and mutated fixtures.

For every program: ``check_source`` raises nothing but ``libcst.ParserSyntaxError``; with the default codes, with
all codes (``TNP9``) and with ``fix_style="force"``, every fix parses (libcst, and ``ast`` where the input did),
fixing again changes nothing, and the fix changes nothing but conversion chains (``chain_only_diff``: a precise
token-level checker, itself tested below). The machinery lives in ``fuzz_support.py``, shared with
``scripts/fuzz_long.py`` (10,000+ programs) and ``scripts/soak.py`` (the real corpus).

Quick by default; ``DETACHIFY_FUZZ_EXAMPLES=N`` sets the number of examples per property test (0 skips them;
the mutant test runs twice as many). Examples are random on every run: a new failure prints its input.
"""
from __future__ import annotations

import os
import subprocess
import sys

import libcst as cst
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

import detachify
import fuzz_support as fs
from fuzz_support import chain_only_diff, examine

EXAMPLES = int(os.environ.get("DETACHIFY_FUZZ_EXAMPLES", "12"))
needs_examples = pytest.mark.skipif(EXAMPLES < 1, reason="DETACHIFY_FUZZ_EXAMPLES=0")
FUZZ = settings(max_examples=max(1, EXAMPLES), deadline=None, database=None, derandomize=False,
                phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
                suppress_health_check=list(HealthCheck))


def _examine(source: str) -> None:
    assume(fs.known_bug(source) is None)  # each known bug has its own strict-xfail test below
    try:
        examine(source)
    except fs.PropertyFailure as failure:
        assume(fs.known_failure(failure) is None)
        pytest.fail(f"{failure}\n--- input ---\n{source!r}", pytrace=False)


# ---------------------------------------------------------------------------------------------------------------
# Property tests


@needs_examples
@FUZZ
@given(fs.hypothesmith_programs())
def test_hypothesmith_programs(source):
    _examine(source)


@needs_examples
@FUZZ
@given(fs.torch_programs())
def test_torch_programs(source):
    _examine(source)


@needs_examples
@settings(FUZZ, max_examples=max(1, EXAMPLES * 2))
@given(fs.fixture_mutants())
def test_fixture_mutants(source):
    _examine(source)


def test_fixtures_unmutated_are_fixed_chain_only():
    """The base case of the mutants: every fixture as it is, all codes, unsafe fixes too."""
    for path in fs.FIXTURE_FILES:
        source = path.read_text(encoding="utf-8")
        fixed = detachify.fix_source(source, path.name, fs.ALL_CODES, unsafe=True)
        assert fs._ast_parses(fixed), path.name
        assert chain_only_diff(source, fixed) is None, (path.name, chain_only_diff(source, fixed))
        assert detachify.fix_source(fixed, path.name, fs.ALL_CODES, unsafe=True) == fixed, path.name


def test_unparsable_input_raises_parser_syntax_error_only():
    # (sources the pre-filter lets through: without `torch` and `.numpy`/a converting library, check_source returns
    # [] without parsing — see test_prefilter.py)
    for source in ("import torch\nx = (y.numpy()\n", "import torch\nx.numpy(\n",
                   "import torch\n\tx = 1\n  y = x.numpy()\n", "import torch\ndef f(:\n    x.numpy()\n",
                   "import torch\nx = y.numpy() +\n", "import torch\nimport numpy as np\nnp.asarray(x\n"):
        with pytest.raises(cst.ParserSyntaxError):
            detachify.check_source(source, settings=fs.ALL_CODES)
        assert examine(source).rejected


# ---------------------------------------------------------------------------------------------------------------
# The checker itself: it must accept exactly the fixes' insertions


@pytest.mark.parametrize("before, after", [
    ("y = out.numpy()\n", "y = out.detach().cpu().numpy()\n"),
    ("y = out.cpu().numpy()\n", "y = out.detach().cpu().numpy()\n"),
    ("y = out.numpy()\n", "y = out.numpy(force=True)\n"),
    ("y = out.numpy(  # c\n)\n", "y = out.numpy(  # c\nforce=True)\n"),
    ("y = (out.numpy)()\n", "y = (out.numpy)(force=True)\n"),
    ("y = out.numpy  ()\n", "y = out.numpy  (force=True)\n"),
    ("y = out.numpy(  # c\n)\n", "y = out.numpy(force=True  # c\n)\n"),
    ("y = out.numpy(\n  # c\n  )\n", "y = out.numpy(force=True\n  # c\n  )\n"),
    ("y = out.numpy \\\n  ( )\n", "y = out.numpy \\\n  ( force=True)\n"),
    ("plt.plot(x, -y)\n", "plt.plot(x, (-y).detach().cpu().numpy())\n"),
    ("plt.plot(a +\n    b)\n", "plt.plot((a +\n    b).detach().cpu().numpy())\n"),
    ("np.asarray(y)\n", "np.asarray(y.numpy(force=True))\n"),
    ("ls.append(loss)\n", "ls.append(loss.item())\n"),
    ("ls.append(a * b)\n", "ls.append((a * b).detach().cpu())\n"),
    ("print(f'{out.numpy()}')\n", "print(f'{out.detach().cpu().numpy()}')\n"),
    ("x = out \\\n    .numpy()\r\n", "x = out \\\n    .detach().cpu().numpy()\r\n"),
    ("#c\rprint(out.numpy())\r", "#c\rprint(out.detach().cpu().numpy())\r"),  # \r ends the comment
    ("if t:\n\tprint(t.numpy())  # .numpy()\n", "if t:\n\tprint(t.detach().cpu().numpy())  # .numpy()\n"),
    ("plt.plot(ls)\n", "plt.plot([t.detach().cpu().numpy() for t in ls])\n"),
    ("np.mean(self.ls[0])\n", "np.mean([t.numpy(force=True) for t in self.ls[0]])\n"),
    ("pd.DataFrame(d)\n", "pd.DataFrame({k: v.detach().cpu().numpy() for k, v in d.items()})\n"),
    ("plt.plot(ls, (a\n  + b))\n", "plt.plot([t.cpu().numpy() for t in ls], (a\n  + b).detach().cpu().numpy())\n"),
])
def test_checker_accepts_conversion_chain_insertions(before, after):
    assert chain_only_diff(before, after) is None


def test_checker_is_quick_on_big_files():
    body = "".join(f"v{i} = model(x{i})  # line {i}\n" for i in range(4000))
    before = body + "print(v1.numpy())\n" + body
    after = body + "print(v1.detach().cpu().numpy())\n" + body
    assert chain_only_diff(before, after) is None
    assert chain_only_diff(before, after.replace("# line 7\n", "# line 7 \n")) is not None


@pytest.mark.parametrize("before, after", [
    ("y = out.numpy()\n", "y = out.detach().numpy ()\n"),  # whitespace added
    ("y = out.numpy()\n", "y = out.numpy()\n\n"),  # a line added
    ("y = out.numpy()  # c\n", "y = out.detach().cpu().numpy()\n"),  # comment lost
    ("y = out.numpy()\n", "y = out.numpy().detach()\n"),  # a chain after `.numpy()` is still a chain...
    ("y = out.numpy()\n", "y = out.clone().numpy()\n"),  # ...but not any method
    ("y = out.numpy()\n", "y = (out).numpy()\n"),  # parentheses without a chain after them
    ("plt.plot(a + b)\n", "plt.plot(a + (b.detach())\n"),  # unbalanced
    ("y = out.numpy(1)\n", "y = out.numpy(1force=True)\n"),  # force=True only into an empty call
    ("y = out.numpy(1)\n", "y = out.numpy(force=True1)\n"),
    ("y = out.cpu()\n", "y = out.cpu(force=True)\n"),
    ("s = 'out.numpy()'\n", "s = 'out.detach().numpy()'\n"),  # plain strings are never touched
    ("y = f(out)\n", "y = g(out)\n"),
    ("plt.plot(ls)\n", "plt.plot([t.detach() for t in ls])\n"),  # not an argument chain
    ("plt.plot(ls)\n", "plt.plot([x.detach().cpu().numpy() for t in ls])\n"),
    ("plt.plot(ls)\n", "plt.plot([t.detach().cpu().numpy()  for t in ls])\n"),  # a space more
    ("plt.plot(ls)\n", "plt.plot([t.detach().cpu().numpy() for t in ls)\n"),  # unclosed
    ("plt.plot(d)\n", "plt.plot({k: v.detach().cpu().numpy() for k, v in d})\n"),  # no .items()
    ("plt.plot(ls)\n", "plt.plot([t.detach().cpu().numpy() for t in ls]).item()\n".replace(".item()", "")
     .replace("ls]", "ls]]")),
    ("#c\rprint(out.numpy())\r", "#c\rprint(out.numpy()\r)\r"),
    ("y = out.numpy()\n", "y = out.numpy(); out.detach()\n"),
])
def test_checker_rejects_everything_else(before, after):
    if after == "y = out.numpy().detach()\n":
        assert chain_only_diff(before, after) is None  # `.detach()` is a chain unit wherever it goes
        return
    assert chain_only_diff(before, after) is not None


# ---------------------------------------------------------------------------------------------------------------
# Regressions: engine bugs this fuzzing found (fixed in 00dc9b5)

FORM_FEED = ("import torch\nmodel = torch.nn.Linear(2, 2)\nout = model(torch.randn(1, 2))\n\x0c\n"
             "x = torch.zeros(2)\nprint(out.numpy())\nprint(x.numpy())\n")


@pytest.mark.parametrize("separator", ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_line_separators_other_than_newlines_do_not_move_the_fix(separator):
    """str.splitlines() also breaks lines at these; libcst does not (the fix used to land lines too early)."""
    source = FORM_FEED.replace("\x0c\n", f"# page{separator}break\ns = 'a{separator}b'\n")
    fixed = detachify.fix_source(source)
    assert fixed == source.replace("print(out.numpy())", "print(out.detach().cpu().numpy())")


def test_star_argument_to_append_does_not_crash():
    detachify.check_source("import torch, numpy\nls = []\nls.append(*ls)\n")


def test_numpy_on_module_moved_to_gpu_fix_converges():
    source = "import torch\nmodel = torch.nn.Linear(3, 3).cuda()\nprint(model.numpy())\n"
    fixed = detachify.fix_source(source)
    assert detachify.fix_source(fixed) == fixed


def test_star_argument_to_insert_is_fixed_in_place_or_not_at_all():
    source = ("import torch\nimport numpy as np\nloss = torch.ones(1, requires_grad=True).sum()\nls = []\ni = 0\n"
              "ls.insert(i, *[loss])\nnp.mean(ls)\n")
    fixed = detachify.fix_source(source)
    assert "i.item()" not in fixed
    assert detachify.fix_source(fixed) == fixed


# ---------------------------------------------------------------------------------------------------------------
# Open: long flat constructs that Python compiles happily exhaust the engine's recursion (the CLI reports
# "cannot check: the source nests too deeply", or an internal error, and exits 2). One cheap representative here,
# run in a child process (the escaping exception can carry a chain of a thousand contexts); the whole set
# (sums, string concatenations, method chains, elif ladders; RecursionError and KeyError) is in
# scripts/fuzz_long.py --long-constructs. Strict: once fixed this XPASSes.

_GRAD = "import torch\nout = torch.ones(2, requires_grad=True)\n"
LONG_SUM = _GRAD + "y = " + " + ".join(["out"] * 400) + "\nprint(y.numpy())\n"


def test_long_sum_is_checked():
    compile(LONG_SUM, "long_sum", "exec")  # Python has no trouble with it
    code = ("import sys, detachify\n"
            "try:\n    detachify.check_source(sys.stdin.read())\n"
            "except BaseException as exc:\n    print(type(exc).__name__)\n    sys.exit(1)\n")
    done = subprocess.run([sys.executable, "-c", code], input=LONG_SUM, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout.strip() or done.stderr[-300:]


# ---------------------------------------------------------------------------------------------------------------
# A list filled through an alias (found by the fuzzer): the store fix would rewrite the fills the analysis saw
# (`ls = [loss]`) while another name still puts grad tensors into the same list, so the crash would stay.

_LIST = "import torch, numpy as np\nloss = torch.ones((), requires_grad=True) * 2\nls = [loss]\n"
ALIASED_LISTS = {
    "assigned": _LIST + "ls2 = ls\nls2.append(loss)\nprint(np.mean(ls))\n",
    "passed-to-a-filler": _LIST + "def fill(xs, v):\n    xs.append(v)\nfill(ls, loss * 3)\nprint(np.mean(ls))\n",
    "stored-on-an-object": _LIST + "class H:\n    pass\nh = H()\nh.l = ls\nh.l.append(loss)\nprint(np.mean(ls))\n",
    "stored-in-a-dict": _LIST + "d = {'a': ls}\nd['a'].append(loss)\nprint(np.mean(ls))\n",
    # A function's own list: its aliases can only be inside it, nested functions included.
    "assigned-in-its-function": _LIST + "def run():\n    ls = [loss]\n    ls2 = ls\n    ls2.append(loss)\n"
                                        "    print(np.mean(ls))\nrun()\n",
    "filled-by-a-nested-function": _LIST + "def run():\n    ls = [loss]\n    def more(xs=ls):\n"
                                           "        xs.append(loss)\n    more()\n    print(np.mean(ls))\nrun()\n",
}


@pytest.mark.parametrize("name", sorted(ALIASED_LISTS))
def test_aliased_list_fix_is_unsafe(name):
    """Fills through an alias are not seen: that fix is unsafe, `fix` leaves the file alone, the finding stays,
    and the unsafe fix really would not have been enough (torch still raises after it)."""
    pytest.importorskip("torch")
    source = ALIASED_LISTS[name]
    findings = detachify.check_source(source)
    assert [(f.code, f.fix.safe) for f in findings] == [("TNP003", False)]
    assert "another name" in findings[0].fix.unsafe_reason
    assert detachify.fix_source(source) == source
    forced = detachify.fix_source(source, unsafe=True)
    done = subprocess.run([sys.executable, "-c", forced], capture_output=True, text=True, timeout=300)
    assert "requires grad" in done.stderr


def test_list_filled_only_under_its_own_name_keeps_a_safe_fix():
    pytest.importorskip("torch")
    source = _LIST + "ls.append(loss * 3)\nprint(len(ls), np.mean(ls))\n"
    fixed = detachify.fix_source(source)
    assert "ls = [loss.detach()]" in fixed and "ls.append((loss * 3).detach())" in fixed
    done = subprocess.run([sys.executable, "-c", fixed], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_local_list_is_not_aliased_by_the_same_name_in_another_function():
    """Python's scopes: `ls` in `other` is another variable, so it cannot fill `run`'s list."""
    pytest.importorskip("torch")
    source = (_LIST + "def other(ls):\n    keep = ls\n    return keep\n"
              "def run():\n    ls = [loss]\n    ls.append(loss * 3)\n    print(np.mean(ls))\nrun()\n")
    findings = detachify.check_source(source)
    assert [(f.code, f.fix.safe) for f in findings] == [("TNP003", True)]
    fixed = detachify.fix_source(source)
    done = subprocess.run([sys.executable, "-c", fixed], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("call", ["np.stack((loss, loss * 3))", "np.array([t * 2 for t in (loss, loss)])"])
def test_list_built_in_the_call_keeps_a_safe_fix(call):
    source = "import torch, numpy as np\nloss = torch.ones((), requires_grad=True) * 2\nprint(" + call + ")\n"
    assert [f.fix.safe for f in detachify.check_source(source)] == [True]
