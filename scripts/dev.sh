#!/usr/bin/env bash
# Runs the whole system locally: the origin (embedded SQLite, keys and secrets generated into
# ./data on first run, outbox notifier) and the edge under `wrangler dev` in front of it.
# Clients use the edge: http://127.0.0.1:8787. Ctrl-C stops both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export ORIGIN_DATA_DIR="${ORIGIN_DATA_DIR:-$root/data}"

echo "==> building the origin"
cargo build --quiet -p origin
echo "==> building the edge"
build_log="$(mktemp)"
bash scripts/build-edge.sh > "$build_log" 2>&1 || { cat "$build_log"; exit 1; }
rm -f "$build_log"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

setsid ./target/debug/origin serve &
pids+=($!)
# The origin generates the edge secret on first run; wait for it and for the listener.
for _ in $(seq 1 100); do
  [ -s "$ORIGIN_DATA_DIR/secrets/edge_shared_secret" ] && curl -s -o /dev/null "http://${ORIGIN_PUBLIC_ADDR:-127.0.0.1:8080}/" && break
  sleep 0.1
done
secret="${EDGE_SHARED_SECRET:-$(cat "$ORIGIN_DATA_DIR/secrets/edge_shared_secret")}"
printf 'EDGE_SHARED_SECRET=%s\n' "$secret" > .dev.vars
chmod 600 .dev.vars

WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false DO_NOT_TRACK=1 \
WRANGLER_NO_SKILLS_UPDATE_PROMPTS=1 CLOUDFLARE_CF_FETCH_ENABLED=false EDGE_SKIP_BUILD=1 \
  setsid wrangler dev --ip 127.0.0.1 --port 8787 --show-interactive-dev-session=false --log-level warn &
pids+=($!)
for _ in $(seq 1 120); do
  curl -s -o /dev/null http://127.0.0.1:8787/__edge/health && break
  sleep 0.5
done

cat <<MSG

  edge (clients use this)   http://127.0.0.1:8787
  origin admin (private)    http://${ORIGIN_ADMIN_ADDR:-127.0.0.1:8081}
  origin public (edge only) http://${ORIGIN_PUBLIC_ADDR:-127.0.0.1:8080}
  data directory            $ORIGIN_DATA_DIR

  Create an admin:  ./target/debug/origin admin create --username root   (password on stdin)
  Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
