#!/usr/bin/env bash
# Installs what the system and its tests need, skipping whatever is already present at the
# exact version: the pinned Rust toolchain and its wasm32 target (rust-toolchain.toml), the
# Node tooling from package-lock.json (wrangler, and Node 22 for it), worker-build, the
# wasm-bindgen CLI at the version Cargo.lock uses, aiosmtpd for the e-mail tests, and Debian's
# Chromium with chromedriver for the console's browser tests. Safe to run again; quick when
# nothing is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
say() { printf '==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo (rustup) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is required (any Node; Node 22 itself comes from npm)" >&2; exit 1; }

# The toolchain named in rust-toolchain.toml, with its components and the wasm32 target.
toolchain="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup target list --installed --toolchain "$toolchain" 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "installing Rust $toolchain with the wasm32 target"
  rustup toolchain install "$toolchain" --profile minimal --component rustfmt,clippy --target wasm32-unknown-unknown
fi

# Node tooling, reinstalled only when package-lock.json changed.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ] || [ ! -x node_modules/.bin/wrangler ]; then
  say "installing wrangler and Node 22 from package-lock.json"
  # `npm ci` trips over optional platform packages missing from the lock file (an npm bug);
  # `npm install --no-save` installs the locked versions without rewriting the lock.
  npm install --no-save --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.lock-hash
fi

# worker-build, exact version.
if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (several minutes, once)"
  cargo install --quiet worker-build --version "$WORKER_BUILD_VERSION"
fi

# wasm-bindgen CLI, the version Cargo.lock resolved (the two must match exactly). Installed
# without --locked: the locked set is not in the reachable index.
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $NF}')" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version (several minutes, once)"
  cargo install --quiet wasm-bindgen-cli --version "$bindgen_version"
fi
# aiosmtpd, the SMTP server the e-mail tests deliver to (skipped when present).
bash scripts/setup-smtp.sh > /dev/null
# Chromium and chromedriver, which the browser tests drive (skipped when present).
bash scripts/setup-chromium.sh > /dev/null

say "tools ready: $(worker-build --version), $(wasm-bindgen --version), wrangler $(node_modules/.bin/wrangler --version 2>/dev/null | tail -1), node $(node_modules/.bin/node --version), $(chromedriver --version | awk '{print $1, $2}')"
