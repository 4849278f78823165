#!/usr/bin/env bash
# Creates the PyPI virtual environment that runs the Python peers (benchmarks/peers) and the reference
# generators (tests/reference/gen_*.py). Usage: tools/python/make_venv.sh [DIR]   (default: .venv)
# Prints the directory; `DIR/bin/python` is the interpreter to use. Running it again only adds what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-${AIMASTERY_VENV:-$here/../../.venv}}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
fi
"$venv/bin/python" -m pip install -q -r "$here/requirements.txt" >&2
echo "$(cd "$venv" && pwd)"
