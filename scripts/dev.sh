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

# A development super-admin for the web console, once per data directory: `root` with a random
# password kept beside the generated secrets (development only; production creates its admins
# with `origin admin create`, README "Operating it").
dev_admin_password_file="$ORIGIN_DATA_DIR/secrets/dev_admin_password"
if [ ! -s "$dev_admin_password_file" ]; then
  mkdir -p "$ORIGIN_DATA_DIR/secrets"
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$dev_admin_password_file")
  ./target/debug/origin admin create --username root < "$dev_admin_password_file" >/dev/null
fi

# Each process started here must be the one answering its address: another program holding a
# port is reported instead of being mistaken for the origin or the edge.
. scripts/lib/origin.sh
address_free 127.0.0.1:8787 || exit 1
if ! start_origin; then
  [ -n "${origin_pid:-}" ] && pids+=("$origin_pid")
  exit 1
fi
pids+=("$origin_pid")
secret="${EDGE_SHARED_SECRET:-$(cat "$ORIGIN_DATA_DIR/secrets/edge_shared_secret")}"
printf 'EDGE_SHARED_SECRET=%s\n' "$secret" > .dev.vars
chmod 600 .dev.vars

WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false DO_NOT_TRACK=1 \
WRANGLER_NO_SKILLS_UPDATE_PROMPTS=1 CLOUDFLARE_CF_FETCH_ENABLED=false EDGE_SKIP_BUILD=1 \
  setsid wrangler dev --ip 127.0.0.1 --port 8787 --show-interactive-dev-session=false --log-level warn &
wrangler_pid=$!
pids+=("$wrangler_pid")
edge_ready=
for _ in $(seq 1 120); do
  process_running "$wrangler_pid" || { echo "error: wrangler dev exited before it was ready; its log is above" >&2; exit 1; }
  curl -s -o /dev/null --max-time 1 http://127.0.0.1:8787/__edge/health && { edge_ready=1; break; }
  sleep 0.5
done
[ -n "$edge_ready" ] || { echo "error: the edge did not answer on http://127.0.0.1:8787/__edge/health within 60 s" >&2; exit 1; }

admin="${ORIGIN_ADMIN_ADDR:-127.0.0.1:8081}"
cat <<MSG

  edge (clients use this)    http://127.0.0.1:8787
  API docs (Swagger UI)      http://127.0.0.1:8787/api/docs   (OpenAPI: /api/openapi/store.json, print.json)
  web console (operators)    http://$admin/console/   sign in as root, password: $(cat "$dev_admin_password_file")
  origin admin (private)     http://$admin   (docs: http://$admin/admin/docs)
  origin public (edge only)  http://${ORIGIN_PUBLIC_ADDR:-127.0.0.1:8080}
  health and metrics         http://$admin/readyz   http://$admin/metrics
  data directory             $ORIGIN_DATA_DIR
  origin pid $origin_pid, wrangler pid $wrangler_pid

  Another admin, or root's password reset (the password is read from stdin):
    printf '%s' 'a-long-password' | ./target/debug/origin admin create --username root
  An admin token:
    ADMIN_TOKEN=\$(curl -s -XPOST http://$admin/admin/login -d username=root --data-urlencode password@$dev_admin_password_file | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  A development code (SMS, e-mail and captcha answers go to the outbox, not out):
    curl -s 'http://$admin/admin/outbox?to=13800138000' -H "token: \$ADMIN_TOKEN"
  More in README.md ("Operating it"). Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
