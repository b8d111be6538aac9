"""The project's own code passes flake8 (its setup.cfg settings, detachify's plugin included); `examples/` holds
the bugs the README demonstrates, so it is left out."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_flake8_is_clean_on_the_project():
    proc = subprocess.run([sys.executable, "-m", "flake8", "src", "tests", "scripts", "bench"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
