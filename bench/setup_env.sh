#!/usr/bin/env bash
# Create the benchmark environments, outside the repository, beside it:
#   <repo>/../benchenv           ruff, flake8, detachify (editable from this repo)
#   <repo>/../benchenv-torchfix  torchfix 0.7.0 alone
# torchfix gets its own venv because (1) it pins libcst<1.6, which would downgrade the libcst detachify is
# timed with, and (2) it registers a flake8 plugin (TOR) that would run inside every flake8 row.
# torchfix does not depend on torch, so no torch is installed.
# Idempotent; versions pinned so reruns compare like with like.  Usage: bash bench/setup_env.sh [PYTHON]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${1:-python3}
ROOT=$(dirname "$REPO")
[ -x "$ROOT/benchenv/bin/python" ] || "$PY" -m venv "$ROOT/benchenv"
"$ROOT/benchenv/bin/pip" install --quiet "ruff==0.17.6" "flake8==7.5.0" -e "$REPO"
[ -x "$ROOT/benchenv-torchfix/bin/python" ] || "$PY" -m venv "$ROOT/benchenv-torchfix"
"$ROOT/benchenv-torchfix/bin/pip" install --quiet "torchfix==0.7.0"
"$ROOT/benchenv/bin/ruff" --version
"$ROOT/benchenv/bin/flake8" --version
"$ROOT/benchenv-torchfix/bin/torchfix" --version
