"""Real-corpus soak: the `detachify` command over a copy of a corpus of PyTorch library sources.

    .venv/bin/python scripts/soak.py [/work/corpus/full] [--jobs 1] [--keep]

Copies the corpus to a temporary directory and runs, through the CLI (``python -m detachify``, ``--isolated``):
``check`` (default codes), ``check --extend-select TNP9``, then on fresh copies ``fix``, ``fix --unsafe-fixes``,
``fix --extend-select TNP9`` and ``fix --extend-select TNP9 --unsafe-fixes``, each followed by a second ``fix`` with
the same flags. Holds it to:

* no crash: exit status 2 only with ``E999`` findings (files that do not parse), and each such file really does not
  parse (``ast``); a file reported as not analysed (a warning) really does;
* every file a fix changed still parses (``ast.parse``, where the original did);
* the second ``fix`` changes no byte;
* every change is a conversion-chain insertion (``tests/fuzz_support.chain_only_diff``, token by token).

Prints files, findings per code, files changed, fixes applied, wall time per command; exits 1 on any violation.
"""
from __future__ import annotations

import argparse
import ast
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz_support import chain_only_diff  # noqa: E402

from detachify.files import SourceError, decode_python  # noqa: E402

FIX_RUNS = (
    ("fix", []),
    ("fix --unsafe-fixes", ["--unsafe-fixes"]),
    ("fix --extend-select TNP9", ["--extend-select", "TNP9"]),
    ("fix --extend-select TNP9 --unsafe-fixes", ["--extend-select", "TNP9", "--unsafe-fixes"]),
)
CHECK_RUNS = (("check", []), ("check --extend-select TNP9", ["--extend-select", "TNP9"]))


def cli(args: List[str], cwd: Path, jobs: int) -> Tuple[int, str, str, float]:
    command = [sys.executable, "-m", "detachify", *args, ".", "--isolated", "--no-respect-gitignore", "-q",
               "--jobs", str(jobs)]
    start = time.time()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    return done.returncode, done.stdout, done.stderr, time.time() - start


def errors_of(stderr: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    """The `path: error: ...` lines (and any other stray line), and the paths of `path: warning: not analysed`."""
    errors, not_analysed = [], []
    for line in stderr.splitlines():
        if ": warning: not analysed: " in line:
            not_analysed.append(line.split(": warning: ", 1)[0])
        elif ": error: " in line:
            path, message = line.split(": error: ", 1)
            errors.append((path, message))
        elif line.strip():
            errors.append(("<stderr>", line))
    return errors, not_analysed


def snapshot(root: Path) -> Dict[str, bytes]:
    files = {}
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".py", ".pyi")):
                path = Path(directory, name)
                files[str(path.relative_to(root))] = path.read_bytes()
    return files


def parses(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            return False
    return True


def text_of(data: bytes) -> str:
    try:
        return decode_python(data)[0]
    except SourceError:
        return data.decode("utf-8", errors="surrogateescape")


class Soak:
    def __init__(self, corpus: Path, work: Path, jobs: int):
        self.corpus, self.work, self.jobs = corpus, work, jobs
        self.problems: List[str] = []
        self.lines: List[str] = []

    def say(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        print("  PROBLEM " + text, flush=True)

    def judge_errors(self, label: str, status: int, stderr: str, findings: List[dict],
                     original: Dict[str, bytes]) -> List[str]:
        """Exit 2 only for files that do not parse (E999 findings), each truly unparsable; returns them."""
        errors, not_analysed = errors_of(stderr)
        unparsable = sorted({f["filename"] for f in findings if f["code"] == "E999"})
        for path in unparsable:
            data = original.get(os.path.normpath(path))
            if data is None:
                self.problem(f"{label}: E999 for a file that is not in the corpus: {path}")
            elif parses(text_of(data)):
                self.problem(f"{label}: {path}: E999 for a file `ast` parses")
        for path in not_analysed:
            data = original.get(os.path.normpath(path))
            if data is None or not parses(text_of(data)):
                self.problem(f"{label}: {path}: `not analysed` for a file `ast` does not parse")
        for path, message in errors:
            self.problem(f"{label}: {path}: {message}")
        if status not in (0, 1) and not (status == 2 and unparsable and not errors):
            self.problem(f"{label}: exit status {status}" + (f" ({stderr[-500:]!r})" if not errors else ""))
        if not_analysed and label == "check":
            self.say(f"    not analysed (CPython compiles them, libcst cannot read them): {len(not_analysed)}")
        return unparsable

    def run(self) -> int:
        start = time.time()
        pristine = self.work / "pristine"
        # Links are followed: the fix runs write into copies of this one, never through a link into the corpus.
        shutil.copytree(self.corpus, pristine, symlinks=False)
        original = snapshot(pristine)
        status, shown, _, _ = cli(["check", "--show-files"], pristine, 1)
        discovered = len(shown.splitlines())
        self.say(f"corpus:        {self.corpus}")
        self.say(f"files:         {len(original)} Python files ({discovered} discovered by the CLI; "
                 f"{sum(len(v) for v in original.values()) / 1e6:.1f} MB)")

        for label, flags in CHECK_RUNS:
            status, out, err, seconds = cli(["check", "--output-format", "json", *flags], pristine, self.jobs)
            findings = json.loads(out) if out.strip() else []
            unparsable = self.judge_errors(label, status, err, findings, original)
            per_code = collections.Counter(f["code"] for f in findings)
            safe = sum(1 for f in findings if f["fix"] and f["fix"]["applicability"] == "safe")
            unsafe = sum(1 for f in findings if f["fix"] and f["fix"]["applicability"] != "safe")
            self.say(f"{label}: exit {status}, {seconds:.0f} s, {len(findings)} findings in "
                     f"{len({f['filename'] for f in findings})} files ("
                     + ", ".join(f"{c} {n}" for c, n in sorted(per_code.items()))
                     + f"; fixes: {safe} safe, {unsafe} unsafe), {len(unparsable)} files that do not parse")
            if label == "check":
                for path in sorted(unparsable):
                    self.say(f"    does not parse: {path}")
        if snapshot(pristine) != original:
            self.problem("check modified files")

        for label, flags in FIX_RUNS:
            copy = self.work / label.replace(" ", "_").replace("-", "")
            shutil.copytree(pristine, copy, symlinks=True)
            status, out, err, seconds = cli(["fix", "--output-format", "json", *flags], copy, self.jobs)
            remaining = json.loads(out) if out.strip() else []
            self.judge_errors(label, status, err, remaining, original)
            fixed = snapshot(copy)
            changed = sorted(p for p in original if fixed.get(p) != original[p])
            inserted = collections.Counter()
            for path in changed:
                before, after = text_of(original[path]), text_of(fixed[path])
                if parses(before) and not parses(after):
                    self.problem(f"{label}: {path}: the fixed file does not parse")
                problem = chain_only_diff(before, after)
                if problem:
                    self.problem(f"{label}: {path}: {problem}")
                for unit in (".detach()", ".cpu()", ".numpy()", ".item()", "force=True"):
                    inserted[unit] += after.count(unit) - before.count(unit)
            status2, out2, err2, seconds2 = cli(["fix", "--output-format", "json", *flags], copy, self.jobs)
            self.judge_errors(label + " (second)", status2, err2, json.loads(out2) if out2.strip() else [], original)
            again = snapshot(copy)
            not_idempotent = sorted(p for p in fixed if again.get(p) != fixed[p])
            for path in not_idempotent:
                self.problem(f"{label}: {path}: the second fix changed it")
            per_code = collections.Counter(f["code"] for f in remaining)
            self.say(f"{label}: exit {status}, {seconds:.0f} s; {len(changed)} files changed ("
                     + ", ".join(f"{u} +{n}" for u, n in inserted.items() if n) + f"); {len(remaining)} findings "
                     f"left (" + ", ".join(f"{c} {n}" for c, n in sorted(per_code.items())) + f"); second fix: "
                     f"exit {status2}, {seconds2:.0f} s, {len(not_idempotent)} files changed")
        self.say(f"wall time:     {time.time() - start:.0f} s")
        self.say(f"problems:      {len(self.problems)}")
        for text in self.problems:
            self.say(f"  {text}")
        return 1 if self.problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default="/work/corpus/full", type=Path)
    parser.add_argument("--jobs", type=int, default=1, help="the CLI's --jobs (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the copies (their path is printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="detachify-soak-"))
    try:
        return Soak(args.corpus.resolve(), work, args.jobs).run()
    finally:
        if args.keep:
            print(f"copies kept under {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
