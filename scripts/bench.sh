#!/usr/bin/env bash
# Benchmarks the origin alone and the edge under `wrangler dev` and prints the numbers
# (BENCH_SECONDS per measurement, default 5). Not part of the test command.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo build --quiet --release -p origin -p tests --bin origin --bin bench
bash scripts/build-edge.sh >/dev/null
./target/release/bench
