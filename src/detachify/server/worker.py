"""The checker process: the engine runs here, not in the server, so a crash or a runaway check costs one result
and never the editor's server (deeply nested code can overflow the native parser's stack; the operating system
may kill a process that grows too large).

Protocol, on this process's stdin and stdout: the server writes pickled ``(data, path, settings, mode, python)``
tuples,
this process answers each with a pickled ``FileResult`` from :func:`detachify.server.checking.check_buffer`.
Both ends are this package, so pickle is safe here.
"""
from __future__ import annotations

import os
import pickle
import sys
import threading
from typing import BinaryIO

from ..files import FileResult
from ..interpreter import headroom
from ..parsing import reuse_recent_parses
from .checking import check_buffer

# As much stack as the analysis can use before the parser's own recursion gives out (8 MiB is the usual main
# thread's; deeply nested expressions need more).
STACK = 64 * 1024 * 1024


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    while True:
        try:
            data, path, settings, mode, python = pickle.load(requests)
        except EOFError:
            return  # the server went away
        try:
            result = check_buffer(data, path, settings, mode, python)
        except Exception as exc:  # process_source catches what the engine raises; this is the last net
            result = FileResult(path, path, error=f"internal error: {type(exc).__name__}: {exc} (please report this)")
        pickle.dump(result, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def main() -> None:
    reuse_recent_parses()  # an editor sends the same document again and again, a few characters changed
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print goes to stderr, never into the answers
    threading.stack_size(STACK)
    thread = threading.Thread(target=serve, args=(sys.stdin.buffer, answers), name="detachify-checker")
    with headroom():  # for the process's whole life: left after each check, it would start a collection there
        thread.start()
        thread.join()


if __name__ == "__main__":
    main()
