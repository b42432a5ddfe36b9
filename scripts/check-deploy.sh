#!/usr/bin/env bash
# Checks the deployment configuration, offline (called by scripts/test.sh):
#  - the production Worker: `wrangler deploy --dry-run --env production` bundles the built edge
#    with its bindings, Durable Object migrations and vars, and its ORIGIN_URL is https;
#  - the systemd units: `systemd-analyze verify` accepts deploy/origin.service and
#    deploy/litestream.service with nothing to say (ExecStart pointed at the built origin and
#    the installed Litestream), and systemd-sysusers creates the service user;
#  - the Cloudflare Tunnel example routes only the public listener and ends in a catch-all.
# Needs the edge built (scripts/build-edge.sh) and the origin built (cargo build -p origin).
# Installs Debian's systemd when systemd-analyze is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "--> wrangler deploy --dry-run --env production"
[ -f edge/build/index.js ] || { echo "the edge is not built: run bash scripts/build-edge.sh" >&2; exit 1; }
if ! WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false DO_NOT_TRACK=1 \
  WRANGLER_NO_SKILLS_UPDATE_PROMPTS=1 CLOUDFLARE_CF_FETCH_ENABLED=false EDGE_SKIP_BUILD=1 \
  wrangler deploy --dry-run --env production --outdir "$work/dist" > "$work/wrangler.log" 2>&1; then
  cat "$work/wrangler.log" >&2
  exit 1
fi
for expected in 'env.USER_STATE (UserState)' 'env.RATE_LIMITER (RateLimiter)' 'env.ORIGIN_URL ("https://' 'env.RATE_LIMIT_SIGNIN ("120/60")' '--dry-run: exiting now.'; do
  grep -qF -- "$expected" "$work/wrangler.log" || {
    cat "$work/wrangler.log" >&2
    echo "the production dry run does not show: $expected" >&2
    exit 1
  }
done
[ -s "$work/dist/index.js" ] || { echo "the dry run wrote no bundle" >&2; exit 1; }
echo "    ok: $(grep -c '^env\.' "$work/wrangler.log" || true) bindings, bundle $(wc -c < "$work/dist/index.js") bytes of JS"

echo "--> systemd-analyze verify deploy/origin.service"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
origin_bin="$root/target/debug/origin"
[ -x "$origin_bin" ] || { echo "the origin is not built: run cargo build -p origin" >&2; exit 1; }
sed "s#^ExecStart=/usr/local/bin/origin #ExecStart=$origin_bin #" deploy/origin.service > "$work/origin.service"
grep -q "^ExecStart=$origin_bin serve" "$work/origin.service" || { echo "ExecStart not found in the unit" >&2; exit 1; }
if ! systemd-analyze verify "$work/origin.service" > "$work/verify.log" 2>&1 || [ -s "$work/verify.log" ]; then
  cat "$work/verify.log" >&2
  echo "systemd-analyze verify is not clean" >&2
  exit 1
fi
exposure="$(systemd-analyze security --offline=true "$work/origin.service" 2>/dev/null | sed -n 's/.*Overall exposure level for origin.service: \([0-9.]*\).*/\1/p')"
echo "    ok (systemd-analyze security exposure: ${exposure:-?} of 10)"

echo "--> systemd-analyze verify deploy/litestream.service"
litestream_bin="$(bash scripts/setup-litestream.sh)"
sed "s#^ExecStart=/usr/local/bin/litestream #ExecStart=$litestream_bin #" deploy/litestream.service > "$work/litestream.service"
grep -q "^ExecStart=$litestream_bin replicate" "$work/litestream.service" || { echo "ExecStart not found in the Litestream unit" >&2; exit 1; }
if ! systemd-analyze verify "$work/litestream.service" > "$work/verify.log" 2>&1 || [ -s "$work/verify.log" ]; then
  cat "$work/verify.log" >&2
  echo "systemd-analyze verify is not clean for the Litestream unit" >&2
  exit 1
fi
echo "    ok"
mkdir -p "$work/root/etc"
systemd-sysusers --root="$work/root" - < deploy/origin.sysusers.conf >/dev/null 2>&1
grep -q '^origin:x:[0-9]*:[0-9]*:.*:/var/lib/origin:/usr/sbin/nologin$' "$work/root/etc/passwd" || {
  echo "systemd-sysusers did not create the origin user" >&2
  exit 1
}
echo "    ok: systemd-sysusers creates the origin user"

echo "--> deploy/cloudflared.yml"
python3 - deploy/cloudflared.yml <<'PY'
import sys
try:
    import yaml
except ImportError:
    print("    skipped: PyYAML is not installed")
    sys.exit(0)
config = yaml.safe_load(open(sys.argv[1]))
rules = config["ingress"]
assert "hostname" not in rules[-1] and rules[-1]["service"].startswith("http_status:"), "the last rule must be a catch-all"
services = [rule["service"] for rule in rules]
assert "http://127.0.0.1:8080" in services, "the public listener must be routed"
assert not any(":8081" in service for service in services), "the admin listener must not be routed"
print("    ok: the public listener only, then a catch-all 404")
PY
