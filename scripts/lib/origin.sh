# Starting the origin for scripts/dev.sh (sourced; tested by origin/tests/it/dev_script.rs).
#
# start_origin runs `$ORIGIN_BIN serve` (default ./target/debug/origin) in a session of its own
# and waits until *that process* answers: its `GET /healthz` on the admin listener names its
# pid. Another process already holding a port is reported, never mistaken for the new origin
# (which then fails to bind and exits). On success `origin_pid` is the started process.

# Whether pid $1 is running (not gone, not a zombie waiting to be reaped).
process_running() {
  if [ -r "/proc/$1/stat" ]; then
    local state
    state="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# Fails if something already answers HTTP at address $1 (host:port); $2 says how to move.
address_free() {
  if curl -s -o /dev/null --max-time 1 "http://$1/"; then
    echo "error: something already answers on $1 (an earlier dev.sh, or another program); stop it${2:+, or $2}" >&2
    return 1
  fi
}

start_origin() {
  local bin="${ORIGIN_BIN:-./target/debug/origin}"
  local public="${ORIGIN_PUBLIC_ADDR:-127.0.0.1:8080}"
  local admin="${ORIGIN_ADMIN_ADDR:-127.0.0.1:8081}"
  address_free "$public" "set ORIGIN_PUBLIC_ADDR to another address" || return 1
  address_free "$admin" "set ORIGIN_ADMIN_ADDR to another address" || return 1
  setsid "$bin" serve &
  origin_pid=$!
  local answer pid parent
  for _ in $(seq 1 300); do
    if ! process_running "$origin_pid"; then
      echo "error: the origin (pid $origin_pid) exited before it was ready; its log is above (a port in use?)" >&2
      return 1
    fi
    answer="$(curl -s --max-time 1 "http://$admin/healthz" || true)"
    pid="$(printf '%s' "$answer" | sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p')"
    if [ -n "$pid" ]; then
      # setsid may fork: then the origin is the child of the process we started.
      parent="$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')"
      if [ "$pid" = "$origin_pid" ] || [ "$parent" = "$origin_pid" ]; then
        return 0
      fi
      echo "error: http://$admin is answered by another origin (pid $pid), not the one just started (pid $origin_pid)" >&2
      kill -TERM "$origin_pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  echo "error: the origin (pid $origin_pid) did not answer on http://$admin/healthz within 30 s" >&2
  kill -TERM "$origin_pid" 2>/dev/null || true
  return 1
}
