#!/usr/bin/env bash
# Regenerates the payment golden vectors with the providers' official SDKs (PyPI), in a venv of
# its own. Run once; the outputs are committed. Rerunning makes new TEST-ONLY keys, so every
# vector (and the Rust tests' expectations read from them) changes together.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VECTORS_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi
exec "$venv/bin/python" "$here/generate.py" "$here"
