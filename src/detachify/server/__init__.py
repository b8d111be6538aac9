"""`detachify server`: a language server over stdio (``pip install "detachify[lsp]"`` brings pygls).

Only :func:`main` lives here, so the CLI can import this package without pygls installed and say what is
missing; the server itself is in :mod:`detachify.server.lsp`.
"""
from __future__ import annotations

import os
import sys

EXIT_CLEAN, EXIT_NOT_SHUT_DOWN, EXIT_MISSING = 0, 1, 2


def main() -> int:
    """Serve on stdin/stdout until the client says `exit` or goes away. Exits 0 after a `shutdown` request,
    1 without one (as LSP asks), 2 when pygls is not installed."""
    try:
        from .lsp import build_server
    except ImportError as exc:
        print(f"detachify: error: the language server needs the `lsp` extra ({exc}); "
              f"install it with: pip install \"detachify[lsp]\"", file=sys.stderr)
        return EXIT_MISSING
    server = build_server()
    server.start_io()
    status = EXIT_CLEAN if server.protocol._shutdown else EXIT_NOT_SHUT_DOWN
    # pygls reads stdin on a pool thread that may still block in read(): leave without joining it.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
