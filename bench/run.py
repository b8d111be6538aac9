#!/usr/bin/env python3
"""Benchmark detachify against torchfix, ruff and flake8 on a pinned real-world corpus.

Stdlib only; every tool runs as a subprocess.  See bench/README.md.

    python bench/run.py --quick                 # medium subset only (~560 files)
    python bench/run.py                         # medium subset (3 repeats) + full corpus (1 repeat)
    python bench/run.py --write-results bench/RESULTS.md --json /tmp/bench.json

The corpus is built (idempotently) by calling <repo>/../shared/bench/make_corpus.sh, never a copy of it.

Rows ("tools"):
  detachify        detachify check --isolated --no-cache PATH   (default --jobs): a cold run
  detachify-j1     the same with --jobs 1
  detachify-baseline   the same cold run by another detachify (--baseline-detachify: the release before a change)
  detachify-warm   detachify check --isolated --cache-dir DIR PATH, DIR filled by one run first (nothing changed)
  flake8           flake8 default checks, no plugin at all (baseline: pyflakes, pycodestyle, mccabe)
  flake8+TNP       flake8 default checks + the detachify plugin (what a user with detachify installed runs), no cache
  flake8+TNP-warm  the same with the plugin's cache filled by one run first (DETACHIFY_CACHE_DIR)
  flake8-TNP-only  flake8 --select TNP (note: flake8 still runs pyflakes/pycodestyle, it only hides their codes)
  torchfix         torchfix PATH (its default rule selection: all but TOR3xx, TOR4xx, TOR9xx)
  ruff             ruff check --isolated --no-cache (ruff's default rule set: about 400 rules in ruff 0.17)
  ruff-classic     the same with --select E4,E7,E9,F (ruff's old, pyflakes-like default)

flake8 loads every plugin installed in its environment and `--extend-ignore` only hides codes, it does not stop
a plugin from running.  So all flake8 rows run flake8 through a tiny shim that hides every installed plugin
distribution except an allow-list (mccabe, plus detachify for the TNP rows) from flake8's plugin finder.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.sh"
DEFAULT_CORPUS = REPO.parent / "corpus"
DEFAULT_VENVS = [REPO.parent / "benchenv", REPO.parent / "benchenv-torchfix"]
ALL_TOOLS = ["detachify", "detachify-j1", "detachify-baseline", "detachify-warm", "flake8", "flake8+TNP",
             "flake8+TNP-warm", "flake8-TNP-only", "torchfix", "ruff", "ruff-classic"]
WARM = ("detachify-warm", "flake8+TNP-warm")  # rows whose cache one unmeasured run of the whole subset fills
CACHE_DIR = Path(tempfile.gettempdir()) / "detachify-bench-cache"
WARM_CACHES = {"detachify-warm": CACHE_DIR / "cli", "flake8+TNP-warm": CACHE_DIR / "flake8"}
EXECUTABLES = {"detachify": "detachify", "flake8": "flake8", "torchfix": "torchfix", "ruff": "ruff"}

FINDING = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+[0-9]+)\b")

# Runs flake8's own CLI with plugin discovery limited to an allow-list of distributions (argv[1], comma-separated).
FLAKE8_SHIM = r"""
import importlib.metadata as _md, sys
_allow = {n.strip().lower().replace("_", "-") for n in sys.argv[1].split(",") if n.strip()} | {"flake8"}
_orig = _md.distributions
def _filtered(*a, **k):
    for d in _orig(*a, **k):
        name = (d.metadata["Name"] or "").lower().replace("_", "-")
        if name in _allow:
            yield d
_md.distributions = _filtered
from flake8.main.cli import main
sys.argv = ["flake8"] + sys.argv[2:]
raise SystemExit(main(sys.argv[1:]))
"""


# --------------------------------------------------------------------------------------------------------------
# locating tools


def find_executable(name: str, explicit: str | None, bin_dirs: list[Path]) -> str | None:
    if explicit:
        path = shutil.which(explicit)
        return str(Path(path).resolve()) if path else None
    for d in bin_dirs:
        candidate = d / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    path = shutil.which(name)
    return path


def interpreter_of(script: str) -> str:
    """The python that runs a console script (its shebang), or the python beside it."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
    except OSError:
        first = ""
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and "python" in Path(parts[0]).name:
            return parts[0]
        if len(parts) >= 2 and Path(parts[0]).name == "env":
            found = shutil.which(parts[1])
            if found:
                return found
    sibling = Path(script).with_name("python")
    return str(sibling) if sibling.exists() else sys.executable


def tool_commands(tool: str, exe: dict[str, str | None], target: str) -> list[str] | None:
    if tool == "detachify" and exe["detachify"]:
        return [exe["detachify"], "check", "--isolated", "--no-cache", target]
    if tool == "detachify-j1" and exe["detachify"]:
        return [exe["detachify"], "check", "--isolated", "--no-cache", "--jobs", "1", target]
    if tool == "detachify-baseline" and exe.get("baseline"):
        return [exe["baseline"], "check", "--isolated", target]  # releases before the cache had no --no-cache
    if tool == "detachify-warm" and exe["detachify"]:
        return [exe["detachify"], "check", "--isolated", "--cache-dir", str(WARM_CACHES[tool]), target]
    if tool.startswith("flake8") and exe["flake8"]:
        py = interpreter_of(exe["flake8"])
        shim = [py, "-c", FLAKE8_SHIM]
        if tool == "flake8":
            return shim + ["mccabe", "--isolated", target]
        if tool == "flake8+TNP":
            return ["env", "DETACHIFY_NO_CACHE=1"] + shim + ["mccabe,detachify", "--isolated", target]
        if tool == "flake8+TNP-warm":
            return (["env", f"DETACHIFY_CACHE_DIR={WARM_CACHES[tool]}"] + shim
                    + ["mccabe,detachify", "--isolated", target])
        if tool == "flake8-TNP-only":
            return shim + ["mccabe,detachify", "--isolated", "--select", "TNP", target]
    if tool == "torchfix" and exe["torchfix"]:
        return [exe["torchfix"], target]
    if tool == "ruff" and exe["ruff"]:
        return [exe["ruff"], "check", "--isolated", "--no-cache", "--output-format", "concise", target]
    if tool == "ruff-classic" and exe["ruff"]:
        return [exe["ruff"], "check", "--isolated", "--no-cache", "--output-format", "concise",
                "--select", "E4,E7,E9,F", target]
    return None


def tool_versions(exe: dict[str, str | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, path in exe.items():
        if not path:
            out[name] = "missing"
            continue
        if name == "flake8":
            # what the rows actually load: the shim with the TNP allow-list
            cmd = [interpreter_of(path), "-c", FLAKE8_SHIM, "mccabe,detachify", "--version"]
        elif name == "detachify":
            cmd = [interpreter_of(path), "-c", "import importlib.metadata as m, detachify, libcst; "
                   "print(m.version('detachify'), 'libcst', m.version('libcst'), detachify.__file__)"]
        else:
            cmd = [path, "--version"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            text = (r.stdout.strip() or r.stderr.strip()).splitlines()
            out[name] = (text[0] if text else f"rc={r.returncode}") + f"  [{path}]"
        except (OSError, subprocess.SubprocessError) as error:
            out[name] = f"error: {error}"
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        # only when the detachify that runs is this checkout (an editable install)
        if rev and exe.get("detachify") and str(REPO / "src") in out["detachify"]:
            out["detachify"] += f" (repo {rev})"
    except (OSError, subprocess.SubprocessError):
        pass
    return out


# --------------------------------------------------------------------------------------------------------------
# measuring


def _tree_pss_kib(root: int) -> int:
    """Sum of PSS (or RSS where PSS is unreadable) over `root` and its live descendants, in KiB."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children[ppid].append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            try:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
            except OSError:
                pass
    return total


def measure(cmd: list[str], cwd: str, sample_interval: float = 0.1, timeout: float = 0) -> dict:
    """Run cmd once: wall time, CPU time, max RSS (os.wait4), sampled peak tree PSS, rc, stdout/stderr.

    With a timeout, the whole process group is killed after `timeout` seconds and the run is marked timed_out."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = threading.Event()

        def kill_group() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        killer = threading.Timer(timeout, kill_group) if timeout > 0 else None
        if killer:
            killer.daemon = True
            killer.start()
        peak = [0]
        done = threading.Event()

        def sampler() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_pss_kib(proc.pid))
                done.wait(sample_interval)

        thread = threading.Thread(target=sampler, daemon=True)
        if sample_interval > 0 and Path("/proc").is_dir():
            thread.start()
        # wait4's rusage covers the child plus all descendants it reaped: ru_maxrss is the largest single process.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if killer:
            killer.cancel()
        done.set()
        if thread.is_alive():
            thread.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "tree_pss_peak_mib": peak[0] / 1024,
        "rc": proc.returncode,
        "timed_out": timed_out.is_set(),
        "stdout": stdout,
        "stderr": stderr,
    }


def count_findings(stdout: str) -> collections.Counter:
    codes: collections.Counter = collections.Counter()
    for line in stdout.splitlines():
        m = FINDING.match(line)
        if m:
            codes[m.group("code")] += 1
    return codes


def corpus_stats(path: Path) -> tuple[int, int]:
    files = lines = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            if name.endswith(".py"):
                files += 1
                with open(os.path.join(dirpath, name), "rb") as f:
                    lines += f.read().count(b"\n")
    return files, lines


def first_py(path: Path) -> str | None:
    for dirpath, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".py"):
                return os.path.join(dirpath, name)
    return None


# --------------------------------------------------------------------------------------------------------------
# reporting


class Printer:
    """print() that also keeps the text, for --write-results."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def summarize(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {
        "wall_median_s": statistics.median(walls),
        "wall_min_s": min(walls),
        "wall_max_s": max(walls),
        "cpu_median_s": statistics.median(r["cpu_s"] for r in runs),
        "maxrss_mib": max(r["maxrss_mib"] for r in runs),
        "tree_pss_peak_mib": max(r["tree_pss_peak_mib"] for r in runs),
        "rcs": sorted({r["rc"] for r in runs}),
    }


def findings_text(tool: str, codes: collections.Counter) -> str:
    total = sum(codes.values())
    if tool.startswith("detachify") or tool == "flake8-TNP-only":
        detail = ", ".join(f"{c} {n}" for c, n in sorted(codes.items()))
        return f"{total}" + (f" ({detail})" if detail else "")
    if tool == "flake8+TNP":
        tnp = sum(n for c, n in codes.items() if c.startswith("TNP"))
        return f"{total} (TNP {tnp})"
    return str(total)


def paired_ratio(runs_a: list[dict], runs_b: list[dict]) -> float | None:
    """The median of a/b over the rounds that ran both rows (each round runs every row once, one after another)."""
    pairs = [(a["wall_s"], b["wall_s"]) for a, b in zip(runs_a, runs_b) if b["wall_s"]]
    return statistics.median(a / b for a, b in pairs) if pairs else None


def ratio_lines(results: dict) -> list[str]:
    def med(tool: str, key: str) -> float | None:
        r = results.get(tool)
        return r["summary"][key] if r and "summary" in r else None

    out = []
    for a, b in [("detachify", "torchfix"), ("detachify-j1", "torchfix"), ("detachify", "ruff"),
                 ("detachify-j1", "ruff"), ("detachify", "flake8"), ("flake8+TNP", "flake8"),
                 ("detachify", "detachify-baseline"), ("detachify-warm", "ruff"), ("flake8+TNP-warm", "flake8")]:
        ta, tb = med(a, "wall_median_s"), med(b, "wall_median_s")
        ca, cb = med(a, "cpu_median_s"), med(b, "cpu_median_s")
        if ta is None or tb is None or not tb or not cb:
            continue
        line = (f"  {a:>15} / {b:<18} wall {ta / tb:6.2f}x ({ta:.2f}s / {tb:.2f}s)   "
                f"CPU {ca / cb:6.2f}x ({ca:.1f}s / {cb:.1f}s)")
        paired = paired_ratio(results[a]["runs"], results[b]["runs"])
        if paired is not None:
            line += f"   paired {paired:.2f}x"
        if (a, b) == ("flake8+TNP", "flake8"):
            line += (f"\n  {'':>15}   -> the TNP plugin adds {100 * (ta / tb - 1):+.0f}% wall, "
                     f"{100 * (ca / cb - 1):+.0f}% CPU to a default flake8 run (target: at most +10%)")
        out.append(line)
    return out


def machine_lines() -> list[str]:
    model = "?"
    mem = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"date:     {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine:  nproc={os.cpu_count()}  cpu={model}  mem={mem}  {platform.system()} {platform.release()}",
        f"python:   {platform.python_version()} (runner)   load average at start: {load}",
    ]


# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                   help="corpus root: DIR/full and DIR/medium are built there (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="medium subset only")
    p.add_argument("--tools", default=",".join(ALL_TOOLS),
                   help="comma-separated rows to run (default: all): " + ", ".join(ALL_TOOLS))
    p.add_argument("--full-tools", metavar="TOOLS",
                   help="rows to run on the full corpus (default: the same as --tools); e.g. leave out torchfix, "
                        "which needs about 40 CPU-minutes there")
    p.add_argument("--repeat", type=int, default=3, help="runs per tool on the medium subset (default 3)")
    p.add_argument("--repeat-full", type=int, default=1, help="runs per tool on the full corpus (default 1)")
    p.add_argument("--bin-dir", action="append", type=Path, default=None,
                   help="where to look for the tools before PATH (repeatable; default: "
                        + ", ".join(str(v / "bin") for v in DEFAULT_VENVS) + ")")
    for name in EXECUTABLES:
        p.add_argument(f"--{name}", metavar="PATH", help=f"the {name} executable")
    p.add_argument("--baseline-detachify", metavar="PATH",
                   help="another detachify executable for the detachify-baseline row (e.g. the previous release)")
    p.add_argument("--timeout", type=float, default=3600,
                   help="seconds after which one run's process group is killed and the row marked TIMEOUT "
                        "(0: none; default %(default)s)")
    p.add_argument("--no-build", action="store_true", help="do not call make_corpus.sh; use DIR as it is")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed one-file warm-up run per tool")
    p.add_argument("--sample-interval", type=float, default=0.1,
                   help="seconds between /proc samples of the tree's PSS (0 disables; default 0.1)")
    p.add_argument("--note", action="append", default=[], help="a line to print (and keep in the results) "
                   "at the top, e.g. which build of detachify is measured")
    p.add_argument("--json", type=Path, metavar="OUT", help="write machine-readable results here")
    p.add_argument("--write-results", type=Path, metavar="MD", help="write a Markdown report (e.g. bench/RESULTS.md)")
    p.add_argument("--keep-output", type=Path, metavar="DIR",
                   help="save each tool's stdout/stderr (last repeat) under DIR")
    args = p.parse_args(argv)
    # Python tools run as installed ones do on a user's machine, their bytecode cached (the warm-up run writes
    # it): an environment that forbids it would charge every Python row the compilation of its sources.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

    say = Printer()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    full_tools = [t.strip() for t in args.full_tools.split(",") if t.strip()] if args.full_tools else tools
    unknown = [t for t in tools + full_tools if t not in ALL_TOOLS]
    if unknown:
        p.error(f"unknown tools {unknown}; choose from {ALL_TOOLS}")

    corpus = args.corpus.resolve()
    full, medium = corpus / "full", corpus / "medium"
    if not args.no_build:
        if not MAKE_CORPUS.is_file():
            print(f"error: {MAKE_CORPUS} not found", file=sys.stderr)
            return 2
        print(f"building/checking the corpus: bash {MAKE_CORPUS} {full} {medium}", file=sys.stderr)
        r = subprocess.run(["bash", str(MAKE_CORPUS), str(full), str(medium)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            print("error: make_corpus.sh failed", file=sys.stderr)
            return 2
    subsets = [("medium", medium, args.repeat)] + ([] if args.quick else [("full", full, args.repeat_full)])
    for _, path, _ in subsets:
        if not path.is_dir():
            print(f"error: corpus subset {path} missing (run without --no-build)", file=sys.stderr)
            return 2

    bin_dirs = args.bin_dir if args.bin_dir else [v / "bin" for v in DEFAULT_VENVS]
    exe = {name: find_executable(name, getattr(args, name), bin_dirs) for name in EXECUTABLES}
    exe["baseline"] = args.baseline_detachify
    versions = tool_versions(exe)

    for line in machine_lines():
        say(line)
    for line in args.note:
        say(f"note:     {line}")
    say("tools:")
    for name, v in versions.items():
        say(f"  {name:<10} {v}")
    say("memory: maxRSS = largest single process of the tool's tree (os.wait4 rusage ru_maxrss);")
    say(f"        treePSS = peak of the summed PSS of the live process tree, sampled every {args.sample_interval}s "
        "from /proc")
    say("times: wall-clock median (min..max) over the repeats; CPU = user+sys of the whole tree (median)")

    results: dict = {"machine": machine_lines(), "versions": versions, "subsets": {}}

    def save(final: bool) -> None:
        """Write --json / --write-results; called after every row too, so an interrupted run leaves its figures."""
        results["complete"] = final
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        if args.write_results:
            cmdline = shlex.join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
            md = [
                "# detachify benchmark results",
                "",
                "Generated by `bench/run.py --write-results`; do not edit by hand, rerun instead:",
                "",
                f"    {cmdline}",
                "",
                "Timings on a small shared machine are noisy (see the load averages); findings and runtimes change as",
                "the engine improves.",
                "",
                *([] if final else [
                    "**Incomplete: the run was still going (or was interrupted) when this was written.**", ""]),
                "```",
                *say.lines,
                "```",
                "",
            ]
            args.write_results.write_text("\n".join(md))
        if final:
            for path in (args.json, args.write_results):
                if path:
                    print(f"wrote {path}", file=sys.stderr)

    cwd = str(corpus)  # neutral directory, outside the repo: no config file of ours is picked up
    for label, path, repeat in subsets:
        files, lines = corpus_stats(path)
        say()
        say(f"== {label}: {path}  ({files} files, {lines:,} lines)  repeat={repeat}")
        say(f"  {'tool':<16} {'wall median':>11} {'(min..max)':>17} {'CPU s':>8} {'maxRSS':>8} {'treePSS':>8} "
            f"{'rc':>4}  findings")
        sub: dict = {"path": str(path), "files": files, "lines": lines, "repeat": repeat, "tools": {}}
        results["subsets"][label] = sub
        warm_file = first_py(path)
        skipped = [t for t in tools if label == "full" and t not in full_tools]
        if skipped:
            say(f"  (not run on this subset: {', '.join(skipped)})")
        # Every row is prepared first (warm-up, caches filled), then the repeats go round the rows in turn: a
        # machine that speeds up or slows down over minutes (a shared one does) weighs on every row alike, and the
        # paired ratios compare runs made side by side.
        prepared = {}
        for tool in full_tools if label == "full" else tools:
            # relative target: shorter output, and the same spelling for every tool
            cmd = tool_commands(tool, exe, os.path.relpath(path, cwd))
            if cmd is None:
                say(f"  {tool:<16} skipped: executable not found")
                sub["tools"][tool] = {"skipped": "executable not found"}
                continue
            if not args.no_warmup and warm_file:
                warm = tool_commands(tool, exe, warm_file)
                try:
                    subprocess.run(warm, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=args.timeout or None)
                except subprocess.TimeoutExpired:
                    pass
            if tool in WARM:
                shutil.rmtree(WARM_CACHES[tool], ignore_errors=True)
                subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=args.timeout or None)  # fills the cache: what "warm" means
            prepared[tool] = (cmd, [])
        for _ in range(max(1, repeat)):
            for tool, (cmd, runs) in prepared.items():
                if runs and runs[-1]["timed_out"]:
                    continue  # no point in repeating a hang
                runs.append(measure(cmd, cwd, args.sample_interval, args.timeout))
        for tool, (cmd, runs) in prepared.items():
            last = runs[-1]
            codes = count_findings(last["stdout"])
            s = summarize(runs)
            rc = ",".join(map(str, s["rcs"]))
            note = ""
            crashed = any(r not in (0, 1) for r in s["rcs"]) or "Traceback (most recent call last)" in last["stderr"]
            if last["timed_out"]:
                note = f"   !! TIMEOUT: killed after {args.timeout:.0f}s (findings: partial output)"
            elif crashed:
                tail = last["stderr"].strip().splitlines()[-1:] or ["(no stderr)"]
                note = f"   !! exit {rc}, stderr ends: {tail[0][:150]}"
            spread = f"({s['wall_min_s']:.2f}..{s['wall_max_s']:.2f})"
            say(f"  {tool:<16} {s['wall_median_s']:10.2f}s {spread:>17} "
                f"{s['cpu_median_s']:8.1f} {s['maxrss_mib']:7.0f}M {s['tree_pss_peak_mib']:7.0f}M {rc:>4}  "
                f"{findings_text(tool, codes)}{note}")
            sub["tools"][tool] = {
                "cmd": cmd,
                "summary": s,
                "runs": [{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in runs],
                "findings": dict(codes),
                "crashed": crashed,
                "stderr_tail": last["stderr"][-4000:],
            }
            if args.keep_output:
                d = args.keep_output / label
                d.mkdir(parents=True, exist_ok=True)
                safe = tool.replace("+", "_plus_")
                (d / f"{safe}.out").write_text(last["stdout"])
                (d / f"{safe}.err").write_text(last["stderr"])
            save(final=False)
        ratios = ratio_lines(sub["tools"])
        if ratios:
            say(f"  ratios of medians ({label}):")
            for line in ratios:
                say(line)
        sub["ratios"] = ratios
    say()
    say(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    save(final=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
