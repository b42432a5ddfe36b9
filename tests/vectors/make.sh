#!/usr/bin/env bash
# Makes the golden vectors of the SMS providers' signatures with their official Python SDKs
# (pinned in requirements.txt), in a throwaway venv: run it once, commit the vectors.json files
# it writes; the Rust tests (`origin::delivery::{aliyun,tencent}`) check our signing against
# them. Nothing here talks to a provider: the SDKs send to a local capture server.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${VECTORS_VENV:-$(mktemp -d)/venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" "$here/aliyun/make_vectors.py"
"$venv/bin/python" "$here/tencent/make_vectors.py"
