"""The `detachify` command: `check`, `fix` and `rule`, with ruff's flags and exit codes."""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from . import __version__, replay
from .color import CHOICES as COLOR_CHOICES, PLAIN, Style, wants_color
from .cache import configure as configure_cache
from .config import ConfigError, Overrides, Resolver, parse_selectors
from .discovery import discover, excluded_with_parents
from .files import CHECK, DIFF, FIX, FileResult, SourceError, discoverable_suffixes, process_source, write_fixed
from .findings import SYNTAX_ERROR_CODE, Finding
from .interpreter import headroom
from .output import FORMATS, diff_json, diff_summary, fix_summary, report, sort_key, statistics, summary
from .rules.registry import RULES, all_rules
from .runner import Progress, default_jobs, exit_status, interruptible, run
from .settings import FIX_STYLES

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# A run at least this long ends with "Checked N files in T s" on stderr, terminal or not (see `_closing_line`).
LONG_RUN_SECONDS = 10.0

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
    cache = common.add_argument_group("cache")
    cache.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the cache (also: DETACHIFY_NO_CACHE=1)")
    cache.add_argument("--cache-dir", metavar="DIR",
                       help="where to keep the cache (default: .detachify_cache at the project root; "
                            "also: DETACHIFY_CACHE_DIR)")
    cfg.add_argument("--fix-style", choices=FIX_STYLES,
                     help="detach-cpu: `.detach().cpu().numpy()`; force: `.numpy(force=True)`")
    cfg.add_argument("--unsafe-fixes", action=argparse.BooleanOptionalAction, default=None,
                     help="also apply fixes that may change what the program computes")
    out = common.add_argument_group("output")
    out.add_argument("--output-format", choices=FORMATS, default="concise",
                     help="concise: `path:line:col: CODE message` (default); json; github: workflow annotations; "
                          "sarif: SARIF 2.1.0 with fixes")
    out.add_argument("--statistics", action="store_true",
                     help="print the number of findings per code instead, then the totals")
    out.add_argument("--show-fixes", action="store_true", help="fix: list what was fixed, per file and code")
    out.add_argument("-o", "--output-file", metavar="PATH", help="write the report to PATH instead of stdout")
    out.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                     help="colour the text output: auto (default: on a terminal, honouring NO_COLOR and "
                          "FORCE_COLOR), always, never")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    out.add_argument("-q", "--quiet", action="store_true", help="print findings only: no summary, no progress")
    out.add_argument("-s", "--silent", action="store_true",
                     help="print nothing but usage and configuration errors; the exit status still tells")
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
    rule.add_argument("codes", nargs="*", metavar="CODE", help="a code (TNP001) or a name (numpy-on-grad-tensor)")
    rule.add_argument("--all", action="store_true", help="explain every rule")
    rule.add_argument("--output-format", choices=("text", "json"), default="text")

    commands.add_parser("server", help="run the language server on stdin/stdout (needs the `lsp` extra)",
                        description="A Language Server (LSP) for editors: diagnostics, quick fixes, fix-all, "
                                    "notebooks. Install with: pip install \"detachify[lsp]\"")
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
    with headroom():
        return _main(argv)


def command() -> None:
    """The `detachify` program: `main`, then an exit that does not walk every object the run made. The
    interpreter's last garbage collection would (half a second after a cold check of a big package), only for
    the process to free them all anyway; objects frozen are left out of it."""
    with headroom():
        status = _main(None)
        gc.freeze()
    raise SystemExit(status)


def _main(argv: Optional[Sequence[str]]) -> int:
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
        if args.command == "server":
            from .server import main as serve  # pygls is imported only here: the linter does not need it

            return serve()
        args.output = _open_output(args.output_file)
        try:
            return _lint(args)
        finally:
            if args.output is not None:
                args.output.close()
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:  # `detachify check . | head`
        _silence_stdout()
        return EXIT_FINDINGS


def _open_output(path: Optional[str]) -> Optional[TextIO]:
    """--output-file, opened before the run so a bad path fails at once (parent directories are made, as ruff does)."""
    if path is None:
        return None
    try:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"--output-file: cannot write {path}: {exc.strerror or exc}") from None


def _report_stream(args, default: TextIO) -> Tuple[TextIO, Style]:
    """Where the report goes, and whether in colour (never into a file)."""
    if args.output is not None:
        return args.output, PLAIN
    return default, Style(wants_color(args.color, default))


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
        by_name = {rule.name: rule for rule in all_rules()}
        rules = []
        for code in args.codes:
            rule = RULES.get(code.upper()) or by_name.get(code.lower())
            if rule is None:
                known = ", ".join(f"{r.code} ({r.name})" for r in all_rules())
                _error(f"unknown rule {code!r} (known: {known})")
                return EXIT_ERROR
            rules.append(rule)
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


def _forget_earlier_runs() -> None:
    """A process that runs `main` again (a script, a test) must not answer from what its earlier runs saw of the
    project: files may have changed since. (The persistent cache checks what it keeps; the memory of a process
    does not.) The workspace module is only loaded once a run analysed something."""
    workspace = sys.modules.get("detachify.project.workspace")
    if workspace is not None:
        workspace.forget_workspaces()
    else:
        from .project import witness

        witness.forget()


def _lint(args) -> int:
    mode = DIFF if args.diff else FIX if (args.command == "fix" or getattr(args, "fix", False)) else CHECK
    if mode == DIFF and args.output_format not in ("concise", "json"):
        _error(f"--diff prints a unified diff, or JSON with --output-format json; not {args.output_format}")
        return EXIT_ERROR
    args.quiet = args.quiet or args.silent
    _forget_earlier_runs()
    configure_cache(enabled=not args.no_cache, directory=args.cache_dir)
    warnings: List[str] = []
    resolver = Resolver(_overrides(args, warnings), config_file=args.config, isolated=args.isolated)
    resolver.warnings[:0] = warnings
    paths: List[str] = args.paths
    if "-" in paths or (args.stdin_filename and not paths):
        if paths not in (["-"], []):
            _error("`-` (standard input) cannot be combined with other paths")
            return EXIT_ERROR
        return _lint_stdin(args, mode, resolver)

    started = time.monotonic()
    found = discover(paths or ["."], discoverable_suffixes(), resolver.excluded,
                     force_exclude=args.force_exclude, respect_gitignore=args.respect_gitignore)
    for warning in dict.fromkeys(resolver.warnings if not args.silent else ()):
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
    progress = Progress(len(tasks), enabled=not args.quiet)  # (--silent implies --quiet)

    def on_result(result: FileResult) -> None:
        if result.new_data is not None:
            try:
                write_fixed(result.path, result.new_data, result.digest)
            except SourceError as exc:
                result.error = str(exc)
            result.new_data = None
        results.append(result)
        progress.update()

    replayed = replay.recall(tasks) if mode == CHECK else None
    try:
        if replayed is not None:
            results.extend(replayed)
        else:
            with interruptible() as stop:
                run(tasks, args.jobs or default_jobs(), on_result, stop)
            if mode == CHECK:
                replay.remember(tasks, results)
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
    for path, message in errors if not args.silent else ():
        print(f"{path}: error: {message}", file=sys.stderr)
    _print_warnings(results)
    unparsable = any(r.has_syntax_error for r in results)
    findings = sorted((f for r in results for f in r.findings), key=sort_key)
    fixed = sum(r.fixed for r in results)
    applicable = _applicability({task[1]: task[2].unsafe_fixes for task in tasks})
    stream, style = _report_stream(args, sys.stdout)

    if mode == DIFF:
        changed = [r for r in results if r.diff]
        _report_syntax_errors(findings)
        _print_diff(args, [(r.display, r.fixed, r.diff) for r in changed], fixed, findings, applicable, len(errors),
                    stream)
        status = EXIT_FINDINGS if changed else EXIT_CLEAN
    else:
        _print_findings(args, findings, mode, applicable, stream, style, fixed=fixed, unchecked=len(errors),
                        fixed_by_file=[(r.display, r.fixed_by_code) for r in results])
        status = EXIT_FINDINGS if findings else EXIT_CLEAN
    _closing_line(args, len(tasks), time.monotonic() - started, progress)
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


def _applicability(unsafe_by_file: Dict[str, bool]) -> Callable[[Finding], bool]:
    """Whether a finding's fix applies in this run: safe, or unsafe where its file's settings enable those."""
    def applies(finding: Finding) -> bool:
        return finding.fix is not None and (finding.fix.safe or unsafe_by_file.get(finding.filename, False))
    return applies


def _print_findings(args, findings: List[Finding], mode: str, applicable: Callable[[Finding], bool], stream: TextIO,
                    style: Style, fixed: int = 0, unchecked: int = 0,
                    fixed_by_file: Sequence[Tuple[str, Dict[str, int]]] = ()) -> None:
    if args.silent:
        return
    concise = args.output_format == "concise"
    if args.statistics:
        statistics(findings, args.output_format, stream, style=style, applicable=applicable)
    else:
        # As ruff: `[*]` marks what `detachify fix` would fix, in runs that do not fix, when anything would be.
        marks = mode != FIX and any(applicable(f) for f in findings)
        report(findings, args.output_format, stream, style=style, fix_status=applicable if marks else None)
        if concise and args.show_fixes:
            for line in fix_summary(fixed_by_file, style):
                stream.write(line + "\n")
    if concise and not args.quiet:
        # Unsafe fixes switched on by this command line apply only with the same flag.
        needs_flag = args.unsafe_fixes and any(applicable(f) and not f.fix.safe for f in findings)
        fix_command = "detachify fix --unsafe-fixes" if needs_flag else "detachify fix"
        for line in summary(findings, fixed, mode == FIX, applicable, unchecked, style, fix_command):
            stream.write(line + "\n")


def _print_diff(args, diffs: Sequence[Tuple[str, int, str]], fixed: int, remaining: List[Finding],
                applicable: Callable[[Finding], bool], unchecked: int, stream: TextIO) -> None:
    if args.silent:
        return
    if args.output_format == "json":
        diff_json(diffs, stream)
    else:
        stream.write("".join(diff for _, _, diff in diffs))
    if not args.quiet:  # on stderr, as ruff: stdout is the patch
        for line in diff_summary(fixed, remaining, applicable, unchecked):
            print(line, file=sys.stderr)


def _closing_line(args, files: int, seconds: float, progress: Progress) -> None:
    """ "Checked 8,602 files in 59.6 s", on stderr (stdout may be JSON or a patch), for the runs someone waits on:
    those that showed the progress counter on a terminal, and any that took LONG_RUN_SECONDS, in a CI log too."""
    if args.quiet or not (progress.enabled or seconds >= LONG_RUN_SECONDS):
        return
    print(f"Checked {files:,} {'file' if files == 1 else 'files'} in {seconds:.1f} s", file=sys.stderr)


def _lint_stdin(args, mode: str, resolver: Resolver) -> int:
    data = sys.stdin.buffer.read()
    display = _display(args.stdin_filename) if args.stdin_filename else "-"
    path = os.path.abspath(args.stdin_filename or "-")

    def echo(payload: bytes) -> None:
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()

    project = resolver.project_for(path)
    for warning in dict.fromkeys(resolver.warnings if not args.silent else ()):
        print(f"detachify: warning: {warning}", file=sys.stderr)
    if args.stdin_filename and args.force_exclude and excluded_with_parents(path, False, resolver.excluded):
        if mode == FIX:
            echo(data)  # an editor integration replaces the buffer with our output: give it back unchanged
        return EXIT_CLEAN

    result = process_source(data, path, display, project.settings_for(path), mode)
    if result.error:
        if not args.silent:
            print(f"{display}: error: {result.error}", file=sys.stderr)
        if mode == FIX:
            echo(data)
        return EXIT_ERROR
    applicable = _applicability({display: project.settings_for(path).unsafe_fixes})
    _print_warnings([result])
    if mode == FIX:
        echo(result.new_data if result.new_data is not None else data)  # the payload: printed even with --silent
        stream, style = _report_stream(args, sys.stderr)  # stdout holds the source
        _print_findings(args, result.findings, mode, applicable, stream, style, fixed=result.fixed,
                        fixed_by_file=[(display, result.fixed_by_code)])
        status = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    elif mode == DIFF:
        diffs = [(display, result.fixed, result.diff)] if result.diff else []
        _report_syntax_errors(result.findings)
        _print_diff(args, diffs, result.fixed, result.findings, applicable, 0, _report_stream(args, sys.stdout)[0])
        status = EXIT_FINDINGS if result.diff else EXIT_CLEAN
    else:
        stream, style = _report_stream(args, sys.stdout)
        _print_findings(args, result.findings, mode, applicable, stream, style)
        status = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    if result.has_syntax_error:
        return EXIT_ERROR
    return EXIT_CLEAN if args.exit_zero else status
