"""An analysis runs with fewer garbage collections and a deeper recursion limit, then gives the host its own back."""
from __future__ import annotations

import gc
import subprocess
import sys

from detachify.interpreter import GC_THRESHOLDS, RECURSION_LIMIT, headroom


def test_headroom_raises_the_collector_thresholds_and_gives_them_back():
    before_thresholds, before_limit = gc.get_threshold(), sys.getrecursionlimit()
    try:
        gc.set_threshold(700, 10, 10)
        sys.setrecursionlimit(1000)
        with headroom():
            assert gc.get_threshold() == GC_THRESHOLDS
            assert sys.getrecursionlimit() == RECURSION_LIMIT
            with headroom():  # nested (the CLI holds it, each check enters it again): no change, and none after
                assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_threshold() == (700, 10, 10) and sys.getrecursionlimit() == 1000
    finally:
        gc.set_threshold(*before_thresholds)
        sys.setrecursionlimit(before_limit)


def test_headroom_never_lowers_what_the_host_set():
    before = gc.get_threshold()
    try:
        gc.set_threshold(100_000, 100, 100)
        with headroom():
            assert gc.get_threshold() == (100_000, 100, 100)
    finally:
        gc.set_threshold(*before)


def test_the_program_reports_its_status_after_freezing(tmp_path):
    """`detachify` (cli.command) exits with main's status; objects frozen before exit are no concern of the exit."""
    (tmp_path / "bad.py").write_text("import torch\nw = torch.ones(2, requires_grad=True)\nw.numpy()\n")
    code = "import sys; sys.argv = ['detachify', 'check', '--isolated', '--no-cache', 'bad.py']; " \
           "from detachify.cli import command; command()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "TNP001" in proc.stdout
