#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (native and wasm32), the edge's release build
# and its size budget, unit tests, the origin's integration tests (real HTTP, real SQLite), and
# the end-to-end suite (origin + `wrangler dev`), the schemathesis contract run against both, then
# a short run of each fuzz target.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> clippy (native)"
cargo clippy --quiet --workspace --all-targets -- -D warnings
echo "==> clippy (wasm32: shared, edge)"
cargo clippy --quiet -p shared -p edge --target wasm32-unknown-unknown -- -D warnings
echo "==> building the origin and the edge (release wasm)"
cargo build --quiet -p origin
bash scripts/build-edge.sh >/dev/null
gzipped=$(gzip -9 -c edge/build/index_bg.wasm | wc -c)
budget=$((450 * 1024))
echo "    edge wasm: $(wc -c < edge/build/index_bg.wasm) bytes raw, $gzipped bytes gzip (budget $budget)"
[ "$gzipped" -le "$budget" ] || { echo "edge wasm is over its gzip budget" >&2; exit 1; }
echo "==> deployment configuration (wrangler production dry run, systemd unit, tunnel example)"
bash scripts/check-deploy.sh
echo "==> cargo test (unit, origin integration, end-to-end through wrangler dev)"
log="$(mktemp)"
set +e
cargo test --workspace --all-targets 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
failed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s += $1} END {print s + 0}')
rm -f "$log"
echo
echo "total: $passed passed, $failed failed"
[ "$status" -eq 0 ] || exit "$status"
echo "==> contract: schemathesis against the origin and the edge (${CONTRACT_EXAMPLES:-20} examples per operation)"
bash scripts/contract.sh
echo "==> fuzzing (each target for ${FUZZ_SECONDS:-20}s)"
bash scripts/fuzz.sh
