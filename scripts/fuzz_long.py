"""The long fuzz run: ≥ 10,000 generated programs and fixture mutants through every property of tests/test_fuzz.py.

    .venv/bin/python scripts/fuzz_long.py [--hypothesmith 4000] [--torch 6000] [--mutants 5000] [--out DIR]
    .venv/bin/python scripts/fuzz_long.py --long-constructs

One process. Prints running counts, then: programs, distinct, parse-rejected, analysed, findings (per code), fixes
applied, failures (new ones, and those a known bug explains — see ``fuzz_support.known_failure``). The first
failing inputs of each kind are saved under ``--out`` (``<n>-<kind>.py`` plus ``<n>-<kind>.txt`` with the detail).
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

import fuzz_support as fs  # noqa: E402


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


class Run:
    def __init__(self, out: Path, per_kind: int, timeout: int):
        self.out, self.per_kind, self.timeout = out, per_kind, timeout
        self.counts = collections.Counter()
        self.findings = collections.Counter()
        self.failures = collections.Counter()  # (kind, known-or-"new")
        self.saved = collections.Counter()
        self.hashes = set()
        self.slowest = (0.0, "")
        self.start = time.time()

    def one(self, source: str, origin: str) -> None:
        self.counts["programs"] += 1
        self.counts["programs:" + origin] += 1
        self.hashes.add((origin, hashlib.sha1(source.encode("utf-8", "surrogatepass")).digest()))
        signal.alarm(self.timeout)
        try:
            outcome = fs.examine(source)
        except fs.PropertyFailure as failure:
            signal.alarm(0)
            self.failed(failure.kind, fs.known_failure(failure), str(failure), source, failure.output)
            return
        except Timeout:
            self.failed("timeout", None, f"examine took more than {self.timeout} s", source, None)
            return
        except BaseException as exc:  # noqa: B902 — the harness itself must not die on one input
            signal.alarm(0)
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.failed("harness-error", None, f"{type(exc).__name__}: {exc}", source, None)
            return
        signal.alarm(0)
        if outcome.rejected:
            self.counts["parse-rejected"] += 1
            return
        self.counts["analysed"] += 1
        self.findings.update(outcome.findings)
        if outcome.findings:
            self.counts["programs with findings"] += 1
        self.counts["fixed configurations"] += outcome.fixed_configs
        self.counts["fixes applied"] += outcome.fixes_applied
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, source)

    def failed(self, kind, known, detail, source, output) -> None:
        self.failures[(kind, known or "NEW")] += 1
        key = f"{kind}-{known or 'NEW'}"
        if self.saved[key] >= self.per_kind:
            return
        self.saved[key] += 1
        n = sum(self.saved.values())
        self.out.mkdir(parents=True, exist_ok=True)
        stem = self.out / f"{n:03d}-{key}"
        stem.with_suffix(".py").write_text(source, encoding="utf-8", errors="surrogatepass", newline="")
        text = f"{detail}\n\nknown bug: {known}\n"
        if output is not None:
            text += "\n--- output ---\n" + output
        stem.with_suffix(".txt").write_text(text, encoding="utf-8", errors="surrogatepass", newline="")

    def progress(self) -> None:
        c = self.counts
        print(f"[{time.time() - self.start:7.0f}s] programs {c['programs']}, rejected {c['parse-rejected']}, "
              f"analysed {c['analysed']}, findings {sum(self.findings.values())}, "
              f"fixes applied {c['fixes applied']}, failures {sum(self.failures.values())} "
              f"(new {sum(n for (k, known), n in self.failures.items() if known == 'NEW')})", flush=True)

    def report(self) -> None:
        c = self.counts
        print("=" * 72)
        distinct = collections.Counter(origin for origin, _ in self.hashes)
        print(f"programs:             {c['programs']}  (distinct {len(self.hashes)}; "
              + ", ".join(f"{k.split(':', 1)[1]} {v} ({distinct[k.split(':', 1)[1]]} distinct)"
                          for k, v in sorted(c.items()) if k.startswith("programs:")) + ")")
        print(f"parse-rejected:       {c['parse-rejected']}")
        print(f"analysed:             {c['analysed']}")
        print(f"findings:             {sum(self.findings.values())}  ("
              + ", ".join(f"{k} {v}" for k, v in sorted(self.findings.items())) + ")")
        print(f"programs w/ findings: {c['programs with findings']}")
        print(f"fixes applied:        {c['fixes applied']}  (findings removed by fix_source, summed over the 3 "
              f"fix configurations; {c['fixed configurations']} sources changed)")
        print(f"failures:             {sum(self.failures.values())}")
        for (kind, known), n in sorted(self.failures.items()):
            print(f"    {kind:22} {'known: ' + known if known != 'NEW' else 'NEW':28} {n}")
        print(f"slowest program:      {self.slowest[0]:.2f} s")
        print(f"wall time:            {time.time() - self.start:.0f} s")
        if self.failures:
            print(f"failing inputs saved under {self.out}")


def drive(run: Run, strategy, origin: str, n: int) -> None:
    if n <= 0:
        return

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def body(source):
        run.one(source, origin)
        if run.counts["programs"] % 250 == 0:
            run.progress()

    body()


_GRAD = "import torch\nout = torch.ones(2, requires_grad=True)\n"
LONG_CONSTRUCTS = {  # family -> source of size n (all compile under CPython)
    "a + a + ... (n terms)": lambda n: _GRAD + "y = " + " + ".join(["out"] * n) + "\nprint(y.numpy())\n",
    "'a' + 'a' + ... (n strings)": lambda n: _GRAD + "s = " + " + ".join(["'a'"] * n) + "\nprint(out.numpy())\n",
    "a and a and ... (n terms)": lambda n: _GRAD + "y = " + " and ".join(["out"] * n) + "\nprint(out.numpy())\n",
    "x.relu().relu()... (n calls)": lambda n: _GRAD + "y = out" + ".relu()" * n + "\nprint(y.numpy())\n",
    "x[0][0]... (n subscripts)": lambda n: _GRAD + "y = out" + "[0]" * n + "\nprint(y.numpy())\n",
    "if/elif ladder (n elifs)": lambda n: _GRAD + "x = 1\nif x:\n    pass\n"
    + "".join(f"elif x == {i}:\n    pass\n" for i in range(n)) + "print(out.numpy())\n",
    "if/elif ladder with stores (n elifs)": lambda n: _GRAD + "if out:\n    pass\n"
    + "".join(f"elif out == {i}:\n    out = out * 2\n" for i in range(n)) + "print(out.numpy())\n",
    "[[[...]]] (n levels)": lambda n: _GRAD + "y = " + "[" * n + "out" + "]" * n + "\nprint(out.numpy())\n",
    "[a, a, ...] (n elements)": lambda n: _GRAD + "y = [" + ", ".join(["out"] * n) + "]\nprint(out.numpy())\n",
    "n statements": lambda n: _GRAD + "".join(f"v{i} = out * {i}\n" for i in range(n)) + "print(v1.numpy())\n",
}
_CHILD = ("import sys, time, detachify\nsource = sys.stdin.read()\nt = time.time()\n"
          "try:\n    detachify.check_source(source)\n    print('ok', round(time.time() - t, 1))\n"
          "except BaseException as exc:\n    print(type(exc).__name__, round(time.time() - t, 1))\n")


def long_constructs(sizes=(100, 300, 1000, 3000), timeout: int = 300) -> int:
    """check_source on long flat constructs, each in a child process: 'ok', the exception that escaped, or a hang."""
    import subprocess
    bad = 0
    print(f"{'construct':40}" + "".join(f"{n:>20}" for n in sizes))
    for family, make in LONG_CONSTRUCTS.items():
        cells = []
        for n in sizes:
            source = make(n)
            try:
                compile(source, "long", "exec")
            except (SyntaxError, RecursionError, MemoryError):
                cells.append("(CPython refuses)")
                continue
            try:
                done = subprocess.run([sys.executable, "-c", _CHILD], input=source, capture_output=True,
                                      text=True, timeout=timeout)
                verdict = done.stdout.strip() or f"exit {done.returncode}"
            except subprocess.TimeoutExpired:
                verdict = f"> {timeout} s"
            bad += not verdict.startswith("ok")
            cells.append(verdict + ("" if ">" in verdict else " s"))
        print(f"{family:40}" + "".join(f"{c:>20}" for c in cells), flush=True)
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hypothesmith", type=int, default=4000)
    parser.add_argument("--torch", type=int, default=6000)
    parser.add_argument("--mutants", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    parser.add_argument("--per-kind", type=int, default=5, help="failing inputs saved per kind of failure")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per program before it counts as a hang")
    parser.add_argument("--long-constructs", action="store_true",
                        help="only check long flat constructs (sums, chains, elif ladders) at growing sizes")
    args = parser.parse_args()
    if args.long_constructs:
        return 1 if long_constructs() else 0
    signal.signal(signal.SIGALRM, _alarm)
    run = Run(args.out, args.per_kind, args.timeout)
    try:
        drive(run, fs.torch_programs(), "torch-templates", args.torch)
        drive(run, fs.fixture_mutants(), "fixture-mutants", args.mutants)
        drive(run, fs.hypothesmith_programs(), "hypothesmith", args.hypothesmith)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    run.report()
    return 1 if any(known == "NEW" for _, known in run.failures) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
