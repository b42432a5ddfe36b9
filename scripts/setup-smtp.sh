#!/usr/bin/env bash
# Finds or installs aiosmtpd, the real SMTP server the e-mail tests send to
# (tests/smtp/sink.py): the system's python3 when it has it (Debian's python3-aiosmtpd),
# otherwise the pinned version from PyPI in target/smtp-venv, installed once. Prints the path
# of a Python that can import it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version=1.4.6
venv="$root/target/smtp-venv"
if python3 -c 'import aiosmtpd' 2>/dev/null; then
  command -v python3
  exit 0
fi
if ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$version" >&2
fi
echo "$venv/bin/python"
