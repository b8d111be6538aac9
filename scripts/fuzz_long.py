"""The long fuzz run: ≥ 10,000 generated programs and fixture mutants through every property of tests/test_fuzz.py.

    .venv/bin/python scripts/fuzz_long.py [--hypothesmith 4000] [--torch 6000] [--mutants 5000] [--out DIR]

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hypothesmith", type=int, default=4000)
    parser.add_argument("--torch", type=int, default=6000)
    parser.add_argument("--mutants", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    parser.add_argument("--per-kind", type=int, default=5, help="failing inputs saved per kind of failure")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per program before it counts as a hang")
    args = parser.parse_args()
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
