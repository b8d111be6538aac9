"""The `detachify` command: `check`, `fix` and `rule`, with ruff's flags and exit codes."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional, Sequence

from . import __version__
from .config import ConfigError, Overrides, Resolver, parse_selectors
from .discovery import discover, excluded_with_parents
from .files import CHECK, DIFF, FIX, FileResult, SourceError, discoverable_suffixes, process_source, write_fixed
from .output import FORMATS, plural, report, sort_key, statistics, summary
from .rules.registry import RULES, all_rules
from .runner import Progress, default_jobs, exit_status, interruptible, run
from .settings import FIX_STYLES
from .syntax import SYNTAX_ERROR_CODE

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

EPILOG = """\
exit status:
  0    no findings (check), every finding fixed (fix), nothing to change (fix --diff)
  1    findings remain, or --diff shows changes (0 with --exit-zero)
  2    usage or configuration error, or an input that cannot be read, decoded or parsed: one
       `path: error: ...` line per unreadable file on stderr, an E999 finding where code does not parse
       (at CPython's position); the other files are still checked. Code CPython compiles that
       detachify cannot read is not analysed: a `path: warning: ...` line, not an error
  130  interrupted (143 for SIGTERM): each file is either untouched or completely fixed
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detachify",
        description="Find and fix tensor-to-NumPy conversions that crash with "
                    "\"Can't call numpy() on Tensor that requires grad\".",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"detachify {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories to check (default: .); `-` reads standard input")
    rules = common.add_argument_group("rule selection")
    rules.add_argument("--select", action="append", metavar="CODES",
                       help="comma-separated codes or prefixes to enable, replacing the configured selection")
    rules.add_argument("--ignore", action="append", default=[], metavar="CODES",
                       help="comma-separated codes or prefixes to disable")
    rules.add_argument("--extend-select", action="append", default=[], metavar="CODES",
                       help="comma-separated codes or prefixes to enable on top of the selection")
    files = common.add_argument_group("file selection")
    files.add_argument("--exclude", "--extend-exclude", action="append", default=[], metavar="GLOB",
                       help="leave out matching files and directories (added to the defaults and the config)")
    files.add_argument("--force-exclude", action=argparse.BooleanOptionalAction, default=False,
                       help="apply exclusions to paths named on the command line too (for pre-commit)")
    files.add_argument("--respect-gitignore", action=argparse.BooleanOptionalAction, default=True,
                       help="leave out files that .gitignore ignores (default: on)")
    files.add_argument("--stdin-filename", metavar="PATH",
                       help="the name of the file read from standard input (for messages and config)")
    files.add_argument("--show-files", action="store_true", help="list the files that would be checked and stop")
    cfg = common.add_argument_group("configuration")
    cfg.add_argument("--config", metavar="PYPROJECT", help="use this pyproject.toml's [tool.detachify] for every file")
    cfg.add_argument("--isolated", action="store_true", help="ignore every pyproject.toml")
    cfg.add_argument("--fix-style", choices=FIX_STYLES,
                     help="detach-cpu: `.detach().cpu().numpy()`; force: `.numpy(force=True)`")
    cfg.add_argument("--unsafe-fixes", action=argparse.BooleanOptionalAction, default=None,
                     help="also apply fixes that may change what the program computes")
    out = common.add_argument_group("output")
    out.add_argument("--output-format", choices=FORMATS, default="concise",
                     help="concise: `path:line:col: CODE message` (default); json; github: workflow annotations; "
                          "sarif: SARIF 2.1.0 with fixes")
    out.add_argument("--statistics", action="store_true", help="print the number of findings per code instead")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    out.add_argument("-q", "--quiet", action="store_true", help="print findings only: no summary, no progress")
    out.add_argument("-j", "--jobs", type=_positive_int, default=None, metavar="N",
                     help="worker processes (default: the number of CPUs; 1: no pool)")

    check = commands.add_parser("check", parents=[common], help="report findings",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--fix", action="store_true", help="same as `detachify fix`")
    check.add_argument("--diff", action="store_true", help="same as `detachify fix --diff`")
    fix = commands.add_parser("fix", parents=[common], help="rewrite files so the conversions work",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    fix.add_argument("--diff", action="store_true", help="print a unified diff instead of writing files")

    rule = commands.add_parser("rule", help="explain a rule")
    rule.add_argument("codes", nargs="*", metavar="CODE")
    rule.add_argument("--all", action="store_true", help="explain every rule")
    rule.add_argument("--output-format", choices=("text", "json"), default="text")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse's 2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        if args.command == "rule":
            return _rule(args)
        return _lint(args)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:  # `detachify check . | head`
        _silence_stdout()
        return EXIT_FINDINGS


def _error(message: str) -> None:
    print(f"detachify: error: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------------------------
# rule


def _rule(args) -> int:
    if args.all:
        rules = list(all_rules())
    elif args.codes:
        rules = []
        for code in args.codes:
            if code.upper() not in RULES:
                _error(f"unknown rule {code!r} (known: {', '.join(sorted(RULES))})")
                return EXIT_ERROR
            rules.append(RULES[code.upper()])
    else:
        _error("name a rule (e.g. `detachify rule TNP001`) or use --all")
        return EXIT_ERROR
    if args.output_format == "json":
        json.dump([{"code": r.code, "name": r.name, "summary": r.summary, "default_on": r.default_on,
                    "fix_availability": r.fix_availability, "documentation": r.documentation()} for r in rules],
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(r.documentation().rstrip("\n") + "\n" for r in rules))
    return EXIT_CLEAN


# ---------------------------------------------------------------------------------------------------------------
# check / fix


def _overrides(args, warnings: List[str]) -> Overrides:
    return Overrides(
        select=parse_selectors(args.select, "--select", warnings) if args.select is not None else None,
        ignore=parse_selectors(args.ignore, "--ignore", warnings),
        extend_select=parse_selectors(args.extend_select, "--extend-select", warnings),
        exclude=tuple(args.exclude),
        fix_style=args.fix_style,
        unsafe_fixes=args.unsafe_fixes,
    )


def _display(path: str) -> str:
    """Paths under the working directory are shown relative to it, as ruff does; others as given."""
    absolute, cwd = os.path.abspath(path), os.getcwd()
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    if absolute.startswith(prefix):
        return absolute[len(prefix):]
    return path


def _lint(args) -> int:
    mode = DIFF if args.diff else FIX if (args.command == "fix" or getattr(args, "fix", False)) else CHECK
    warnings: List[str] = []
    resolver = Resolver(_overrides(args, warnings), config_file=args.config, isolated=args.isolated)
    resolver.warnings[:0] = warnings
    paths: List[str] = args.paths
    if "-" in paths or (args.stdin_filename and not paths):
        if paths not in (["-"], []):
            _error("`-` (standard input) cannot be combined with other paths")
            return EXIT_ERROR
        return _lint_stdin(args, mode, resolver)

    found = discover(paths or ["."], discoverable_suffixes(), resolver.excluded,
                     force_exclude=args.force_exclude, respect_gitignore=args.respect_gitignore)
    for warning in dict.fromkeys(resolver.warnings):
        print(f"detachify: warning: {warning}", file=sys.stderr)
    if not args.quiet:
        for directory in found.empty_dirs:
            print(f"detachify: warning: no Python files found under {directory}", file=sys.stderr)
    tasks = [(path, _display(path), resolver.project_for(path).settings_for(path), mode) for path in found.files]
    if args.show_files:
        for display in sorted(task[1] for task in tasks):
            print(display)
        for path, message in found.errors:
            print(f"{path}: error: {message}", file=sys.stderr)
        return EXIT_ERROR if found.errors else EXIT_CLEAN

    results: List[FileResult] = []
    progress = Progress(len(tasks), enabled=not args.quiet)

    def on_result(result: FileResult) -> None:
        if result.new_data is not None:
            try:
                write_fixed(result.path, result.new_data, result.digest)
            except SourceError as exc:
                result.error = str(exc)
            result.new_data = None
        results.append(result)
        progress.update()

    try:
        with interruptible() as stop:
            run(tasks, args.jobs or default_jobs(), on_result, stop)
    except KeyboardInterrupt as exc:
        progress.close()
        written = sum(1 for r in results if r.fixed and not r.error) if mode == FIX else 0
        print(f"detachify: interrupted after {len(results)} of {len(tasks)} files"
              + (f" ({written} fixed; every file is either fixed or untouched)" if mode == FIX else ""),
              file=sys.stderr)
        return exit_status(exc)
    progress.close()

    results.sort(key=lambda r: r.display)
    errors = [(path, message) for path, message in found.errors] + [(r.display, r.error) for r in results if r.error]
    for path, message in errors:
        print(f"{path}: error: {message}", file=sys.stderr)
    _print_warnings(results)
    unparsable = any(r.has_syntax_error for r in results)
    findings = sorted((f for r in results for f in r.findings), key=sort_key)
    fixed = sum(r.fixed for r in results)
    settings_unsafe = args.unsafe_fixes is True or any(t[2].unsafe_fixes for t in tasks)

    if mode == DIFF:
        diffs = [r.diff for r in results if r.diff]
        sys.stdout.write("".join(diffs))
        _report_syntax_errors(findings)
        if not args.quiet:
            print(f"Would fix {plural(fixed, 'error')}." if fixed else "No fixes to apply.", file=sys.stderr)
        status = EXIT_FINDINGS if diffs else EXIT_CLEAN
    else:
        _print_findings(args, findings, fixed, mode, settings_unsafe, sys.stdout)
        status = EXIT_FINDINGS if findings else EXIT_CLEAN
    if args.exit_zero:
        status = EXIT_CLEAN
    return EXIT_ERROR if errors or unparsable else status


def _report_syntax_errors(findings) -> None:
    """A diff shows no findings, but code that does not parse (exit 2) must still say where."""
    report([f for f in findings if f.code == SYNTAX_ERROR_CODE], "concise", sys.stderr)


def _print_warnings(results: Sequence[FileResult], stream=None) -> None:
    for result in results:
        for warning in result.warnings:
            print(f"{result.display}: warning: {warning}", file=stream or sys.stderr)


def _print_findings(args, findings, fixed: int, mode: str, unsafe: bool, stream) -> None:
    if args.statistics:
        statistics(findings, args.output_format, stream)
        return
    report(findings, args.output_format, stream)
    if args.output_format == "concise" and not args.quiet:
        for line in summary(findings, fixed, mode == FIX, unsafe):
            stream.write(line + "\n")


def _lint_stdin(args, mode: str, resolver: Resolver) -> int:
    data = sys.stdin.buffer.read()
    display = _display(args.stdin_filename) if args.stdin_filename else "-"
    path = os.path.abspath(args.stdin_filename or "-")

    def echo(payload: bytes) -> None:
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()

    project = resolver.project_for(path)
    for warning in dict.fromkeys(resolver.warnings):
        print(f"detachify: warning: {warning}", file=sys.stderr)
    if args.stdin_filename and args.force_exclude and excluded_with_parents(path, False, resolver.excluded):
        if mode == FIX:
            echo(data)  # an editor integration replaces the buffer with our output: give it back unchanged
        return EXIT_CLEAN

    result = process_source(data, path, display, project.settings_for(path), mode)
    if result.error:
        print(f"{display}: error: {result.error}", file=sys.stderr)
        if mode == FIX:
            echo(data)
        return EXIT_ERROR
    _print_warnings([result])
    unsafe = project.settings.unsafe_fixes
    if mode == FIX:
        echo(result.new_data if result.new_data is not None else data)
        _print_findings(args, result.findings, result.fixed, mode, unsafe, sys.stderr)
        status = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    elif mode == DIFF:
        sys.stdout.write(result.diff)
        _report_syntax_errors(result.findings)
        status = EXIT_FINDINGS if result.diff else EXIT_CLEAN
    else:
        _print_findings(args, result.findings, 0, mode, unsafe, sys.stdout)
        status = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    if result.has_syntax_error:
        return EXIT_ERROR
    return EXIT_CLEAN if args.exit_zero else status
