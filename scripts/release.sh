#!/usr/bin/env bash
# Builds the origin for production: the release profile with symbols stripped (which also drops
# the line tables the release profile keeps for profiling), and prints where it is and its size.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --quiet --release -p origin
binary="$root/target/release/origin"
echo "$binary: $(wc -c < "$binary") bytes ($(( $(wc -c < "$binary") / 1024 / 1024 )) MiB), stripped"
