#!/usr/bin/env bash
# Finds or installs what the browser tests of the operator console (tests/tests/browser/) drive:
# Debian's Chromium and its WebDriver server (packages `chromium`, `chromium-driver`), and a
# small Chinese font (`fonts-wqy-microhei`) so that screenshots of the console show its text.
# Skipped when all are present; otherwise installed with apt-get, non-interactively, through
# sudo when not run as root. Prints the paths of chromium and chromedriver.
set -euo pipefail
has_cjk_font() { command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh family)" ]; }
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! has_cjk_font; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "==> installing chromium, chromium-driver and fonts-wqy-microhei (Debian packages, once)" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >/dev/null
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver fonts-wqy-microhei >/dev/null
fi
command -v chromium
command -v chromedriver
