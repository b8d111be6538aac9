"""The pre-filter never drops a finding, over a real corpus: findings with it equal findings without it.

    .venv/bin/python scripts/prefilter_corpus_check.py [/work/corpus/full] [--jobs 2] [--full]

All codes enabled (``extend_select=TNP9``). Every file is checked as shipped; a file the pre-filter skips is checked
again with the pre-filter switched off (``detachify.api.may_contain_findings`` patched to say yes), and must have
no findings then either. Where the pre-filter says yes, ``check_source`` runs exactly as without it, so the two
runs are one computation; ``--full`` runs both anyway. The same is derived for a ``select = ["TNP001"]``
configuration (its findings are the TNP001 findings of the all-codes run; its pre-filter is stricter).

Prints: files, files the pre-filter skips, findings with/without, identical yes/no (and any file that differs).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time
from typing import List, Optional, Tuple

import libcst as cst

import detachify
import detachify.api as api
from detachify import Settings
from detachify.files import SourceError, decode_python
from detachify.prefilter import may_contain_findings
from detachify.rules import enabled_codes
from detachify.syntax import UnsupportedSyntax

ALL = Settings(extend_select=("TNP9",))
ALL_CODES = tuple(enabled_codes(ALL))
TNP001_CODES = ("TNP001",)
FULL = False
PREFILTER_SECONDS = 20  # the text test is meant to take microseconds; more is a backtracking regex


def _check(source: str, path: str, prefilter: bool) -> Tuple[Optional[List[tuple]], Optional[str]]:
    original = api.may_contain_findings
    if not prefilter:
        api.may_contain_findings = lambda source, codes: True
    try:
        found = detachify.check_source(source, path, ALL)
        return [(f.line, f.column, f.code, f.message) for f in found], None
    except cst.ParserSyntaxError:
        return None, "parse error"
    except UnsupportedSyntax:  # CPython compiles it; libcst cannot read it even with its tabs expanded
        return None, "not analysed"
    except RecursionError:
        return None, "RecursionError"
    except Exception as exc:  # noqa: BLE001 — counted and listed, not fatal
        return None, f"crash: {type(exc).__name__}: {exc}"
    finally:
        api.may_contain_findings = original


class Timeout(Exception):
    pass


def _ring(signum, frame):
    raise Timeout()


def one(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            source, _ = decode_python(f.read())
    except (OSError, SourceError) as exc:
        return {"path": path, "error": f"unreadable: {exc}"}
    signal.signal(signal.SIGALRM, _ring)
    signal.alarm(PREFILTER_SECONDS)
    try:
        passes = may_contain_findings(source, ALL_CODES)
        passes_001 = may_contain_findings(source, TNP001_CODES)
    except Timeout:
        return {"path": path, "error": f"the pre-filter took more than {PREFILTER_SECONDS} s"}
    finally:
        signal.alarm(0)
    with_filter, error = _check(source, path, True)
    if passes and not FULL:
        without, error_without = with_filter, error
    else:
        without, error_without = _check(source, path, False)
    return {"path": path, "passes": passes, "passes_001": passes_001, "with": with_filter, "without": without,
            "error": error, "error_without": error_without}


def _init(full: bool) -> None:
    global FULL
    FULL = full


def python_files(root: str) -> List[str]:
    out = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        out.extend(os.path.join(directory, name) for name in sorted(files) if name.endswith((".py", ".pyi")))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="/work/corpus/full")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="check every file twice, not only the skipped ones")
    args = parser.parse_args()
    start = time.time()
    files = python_files(args.root)
    with multiprocessing.Pool(args.jobs, initializer=_init, initargs=(args.full,)) as pool:
        results = []
        for n, result in enumerate(pool.imap_unordered(one, files, chunksize=8), 1):
            results.append(result)
            if n % 1000 == 0:
                print(f"  {n}/{len(files)} files, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    results.sort(key=lambda r: r["path"])

    unreadable = [r for r in results if "passes" not in r]
    checked = [r for r in results if "passes" in r]
    skipped = [r for r in checked if not r["passes"]]
    skipped_001 = [r for r in checked if not r["passes_001"]]
    differ, skipped_with_findings, skipped_001_with_findings = [], [], []
    found_with = found_without = 0
    for r in checked:
        w, wo = r["with"] or [], r["without"] or []
        found_with += len(w)
        found_without += len(wo)
        lost_only_parse_error = r["with"] == [] and r["without"] is None and not r["passes"]
        if (r["with"] != r["without"] and not lost_only_parse_error) or (r["error"] and "crash" in r["error"]):
            differ.append(r)
        if not r["passes"] and wo:
            skipped_with_findings.append(r)
        if not r["passes_001"] and any(code == "TNP001" for _, _, code, _ in wo):
            skipped_001_with_findings.append(r)
    tnp001_with = sum(1 for r in checked if r["passes_001"] for f in (r["with"] or []) if f[2] == "TNP001")
    tnp001_without = sum(1 for r in checked for f in (r["without"] or []) if f[2] == "TNP001")
    parse_errors = [r for r in checked if r["without"] is None]

    print(f"corpus:                               {args.root}")
    print(f"files:                                {len(results)}")
    print(f"unreadable / undecodable / pre-filter timeouts: {len(unreadable)}")
    for r in unreadable:
        print(f"  {r['path']}: {r['error']}")
    print(f"files the pre-filter skips (all codes): {len(skipped)}")
    print(f"files the pre-filter skips (TNP001 only): {len(skipped_001)}")
    print(f"parse errors / crashes (without the filter): {len(parse_errors)}")
    print(f"findings with the pre-filter:         {found_with}")
    print(f"findings without the pre-filter:      {found_without}")
    print(f"TNP001-only selection, with / without: {tnp001_with} / {tnp001_without}")
    print(f"checked twice:                        {len(checked) if args.full else len(skipped)} files")
    identical = not differ and not skipped_with_findings and not skipped_001_with_findings and not any(
        "pre-filter took" in r["error"] for r in unreadable)
    print(f"identical:                            {'yes' if identical else 'no'}")
    for r in differ + skipped_with_findings + skipped_001_with_findings:
        print(f"  DIFFERS {r['path']}: with {r['with'] if r['with'] is not None else r['error']} / "
              f"without {r['without'] if r['without'] is not None else r['error_without']}")
    for r in parse_errors:
        print(f"  not analysed: {r['path']}: {r['error_without']}")
    print(f"wall time:                            {time.time() - start:.0f} s")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
