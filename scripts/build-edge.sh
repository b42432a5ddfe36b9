#!/usr/bin/env bash
# Builds the edge Worker into edge/build with worker-build (release, wasm-opt off), using the
# wasm-bindgen CLI and esbuild installed by scripts/setup.sh instead of GitHub downloads.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The end-to-end suite builds the edge once beforehand and sets this, so that `wrangler dev`
# (whose [build] step calls this script) does not run cargo while `cargo test` holds the lock.
if [ "${EDGE_SKIP_BUILD:-}" = 1 ] && [ -f "$root/edge/build/index.js" ]; then
  exit 0
fi
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
if [ -x "$root/node_modules/@esbuild/linux-x64/bin/esbuild" ]; then
  export ESBUILD_BIN="$root/node_modules/@esbuild/linux-x64/bin/esbuild"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
# Size over speed for the wasm only; the origin's release profile is untouched.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_DEBUG=false
cd "$root/edge"
worker-build --release "$@"
