#!/usr/bin/env bash
# The contract run (part of the test command): schemathesis, from PyPI at the versions pinned in
# scripts/contract-requirements.txt, drives the served OpenAPI documents against the origin and
# through `wrangler dev`; no 5xx and no answer outside the documents.
# CONTRACT_EXAMPLES (default 20) bounds the examples per operation; CONTRACT_SEED (default 1)
# picks the generator's seed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
venv="$root/target/contract-venv"
requirements="$root/scripts/contract-requirements.txt"
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  echo "    installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
cargo build --quiet -p origin -p tests --bin origin --bin contract
[ -f edge/build/index.js ] || bash scripts/build-edge.sh >/dev/null
SCHEMATHESIS="$venv/bin/schemathesis" CONTRACT_EXAMPLES="${CONTRACT_EXAMPLES:-20}" \
  ./target/debug/contract
