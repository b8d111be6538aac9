"""Shared by the CLI tests: sample sources and ways to run the real command."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from detachify.cli import main

BAD = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(4, 2)
    out = model(torch.randn(3, 4))
    print(out.numpy())
""")
# A two-module project's model (tests/test_cache.py, tests/test_replay.py): its output requires grad.
NET_MODULE = """import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)
"""
CLEAN = "import torch\nprint(torch.randn(3).numpy())\n"
# Both fixes are unsafe: the NumPy value flows back into torch.
UNSAFE = textwrap.dedent("""\
    import torch
    layer = torch.nn.Linear(3, 3)
    clipped = torch.from_numpy(layer.weight.numpy().clip(-0.3, 0.3))
""")


def write(directory: Path, name: str, text, mode: str = "w") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        with open(path, mode, newline="") as f:  # newline="": what the test writes is what lands on disk
            f.write(text)
    return path


def run_cli(*args, cwd, input=None, timeout=120, env=None) -> subprocess.CompletedProcess:
    """The command as a user runs it: a fresh interpreter, `python -m detachify`."""
    return subprocess.run([sys.executable, "-m", "detachify", *map(str, args)], cwd=cwd, input=input,
                          capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
                          text=not isinstance(input, bytes))


def run_main(capsys, *args):
    """The command in this process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err
