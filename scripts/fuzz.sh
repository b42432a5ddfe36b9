#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/fuzz_targets) with the machine's nightly toolchain, each
# for FUZZ_SECONDS (default 20: the short run the test command makes; the documented long
# run is FUZZ_SECONDS=900). Installs cargo-fuzz at a pinned version if it is missing.
# Crashes land in fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
seconds="${FUZZ_SECONDS:-20}"
cargo_fuzz_version="0.13.2"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  cargo install --locked --quiet cargo-fuzz --version "$cargo_fuzz_version"
fi

cd "$root/fuzz"
cargo +nightly fuzz build
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in params edge_jwt sniff; do
  echo "==> fuzzing $target for ${seconds}s"
  mkdir -p "corpus/$target"
  if ! cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed: the input is in fuzz/artifacts/$target" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/    /'
done
