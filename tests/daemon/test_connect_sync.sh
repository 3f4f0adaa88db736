#!/bin/sh
# tests/daemon/test_connect_sync.sh - the connect-sync daemon as a process:
# bad environment values stop start-up with one line naming the variable;
# it serves /heartbeat and /health on OP_HTTP_PORT (127.0.0.1), mirrors the
# account into $XDG_DATA_HOME/.op/data/1password.sqlite (0600, dir 0700),
# logs JSON lines, answers --healthcheck, and exits 0 on SIGTERM.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
SYNC="$BUILDDIR/connect-sync"
OP="$BUILDDIR/op"
T=$(mktemp -d "${TMPDIR:-/tmp}/opsyncd.XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
    # UBSan reports of a sanitized build (make asan) go to the daemons'
    # stderr files: show them, for tools/run-daemon-tests to find.
    grep -h -A4 -e 'runtime error:' -e 'Sanitizer' "$T"/*.err "$T"/stderr 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

pass() { echo "ok - $1"; echo "ok - $1" >>"$RESULTS"; }
fail() { echo "not ok - $1${2:+ -- $2}"; echo "not ok - $1" >>"$RESULTS"; }
check() { _d=$1; shift; if "$@" >/dev/null 2>&1; then pass "$_d"; else fail "$_d"; fi; }

mkdir -p "$T/home" "$T/data" "$T/config" "$T/run" "$T/work"
chmod 700 "$T/run"
export HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" XDG_RUNTIME_DIR="$T/run"
unset OP_SESSION OP_LOG_LEVEL OP_HTTP_PORT OP_BUS_PORT OP_BUS_PEERS || true

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- an account with a server ----
PW="daemon test password $$"
printf '%s\n' "$PW" | setsid -w "$OP" account create --email owner@example.com --password-stdin \
    >"$T/acct.out" 2>"$T/acct.err" </dev/stdin || { fail "account create" "$(cat "$T/acct.err")"; exit 1; }
env OP_PASSWORD="$PW" setsid -w "$OP" signin >"$T/signin" 2>/dev/null </dev/null
eval "$(cat "$T/signin")"
"$OP" vault create Prod >/dev/null </dev/null
"$OP" item create --vault Prod --category login --title "Web login" "password=canary-sync-$$" \
    >/dev/null </dev/null
(cd "$T/work" && "$OP" connect server create sync-srv --vaults Prod >/dev/null </dev/null)
CREDS="$T/work/1password-credentials.json"
check "credentials file written" [ -s "$CREDS" ]

# ---- bad values: one line naming the variable, non-zero exit ----
bad() {
    _var=$1
    shift
    set +e
    env OP_SESSION="$CREDS" "$@" "$SYNC" >"$T/bad.out" 2>"$T/bad.err" </dev/null
    _rc=$?
    set -e
    if [ "$_rc" -ne 0 ] && [ "$(wc -l <"$T/bad.err")" -eq 1 ] && grep -q "$_var" "$T/bad.err"; then
        pass "bad $_var stops start-up with one line"
    else
        fail "bad $_var stops start-up with one line" "rc $_rc: $(cat "$T/bad.err")"
    fi
}
bad OP_HTTP_PORT OP_HTTP_PORT=99999
bad OP_HTTP_PORT OP_HTTP_PORT=80x
bad OP_LOG_LEVEL OP_LOG_LEVEL=loud
bad OP_SESSION OP_SESSION=/nonexistent/creds.json
bad XDG_DATA_HOME XDG_DATA_HOME=relative/dir

# ---- start ----
PORT=$(free_port)
OP_SESSION="$CREDS" OP_HTTP_PORT="$PORT" OP_BUS_PORT=11221 OP_BUS_PEERS=localhost:11220 \
    OP_LOG_LEVEL=debug "$SYNC" >"$T/log" 2>"$T/stderr" </dev/null &
PID=$!
up=0
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$PORT/heartbeat" >"$T/hb" 2>/dev/null; then up=1; break; fi
    sleep 0.05
done
check "connect-sync answers /heartbeat" [ "$up" -eq 1 ]
check "/heartbeat body is '.'" [ "$(cat "$T/hb")" = "." ]
CACHE="$XDG_DATA_HOME/.op/data/1password.sqlite"
synced=0
for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$PORT/health" >"$T/health" 2>/dev/null || true
    if jq -e '.dependencies[] | select(.service == "account_data") | .status == "ACTIVE"' \
        "$T/health" >/dev/null 2>&1; then synced=1; break; fi
    sleep 0.05
done
check "/health: name, version, dependencies" \
    jq -e '.name == "1Password Connect Sync" and (.version | length > 0) and (.dependencies | length >= 2)' "$T/health"
check "/health reports the initial sync complete" [ "$synced" -eq 1 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")
check "/health is 200" [ "$code" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
check "unknown route is 404" [ "$code" = 404 ]
check "cache file exists, mode 0600" [ "$(stat -c %a "$CACHE")" = 600 ]
check "data dir mode 0700" [ "$(stat -c %a "$XDG_DATA_HOME/.op/data")" = 700 ]
check "cache has the item (ciphertext)" \
    [ "$(sqlite3 "$CACHE" 'SELECT COUNT(*) FROM items' 2>/dev/null || echo 0)" = 1 ]
check "no plaintext canary in the cache" sh -c "! grep -q 'canary-sync-$$' '$CACHE'*"
check "--healthcheck exits 0 while running" env OP_HTTP_PORT="$PORT" "$SYNC" --healthcheck

# ---- upstream gone: health reports it, heartbeat stays ----
DB=$(find "$T" -name account.db -type f | head -n 1)
check "account.db found" [ -n "$DB" ]
if [ -n "$DB" ] && [ -f "$DB" ]; then
    mv "$DB" "$DB.away"
    gone=0
    for _ in $(seq 1 60); do
        curl -s "http://127.0.0.1:$PORT/health" >"$T/health" 2>/dev/null || true
        if jq -e '.dependencies[] | select(.service == "upstream") | .status == "UNREACHABLE"' \
            "$T/health" >/dev/null 2>&1; then gone=1; break; fi
        sleep 0.05
    done
    check "/health reports an unreachable upstream" [ "$gone" -eq 1 ]
    mv "$DB.away" "$DB"
    back=0
    for _ in $(seq 1 100); do
        curl -s "http://127.0.0.1:$PORT/health" >"$T/health" 2>/dev/null || true
        if jq -e '.dependencies[] | select(.service == "upstream") | .status == "ACTIVE"' \
            "$T/health" >/dev/null 2>&1; then back=1; break; fi
        sleep 0.1
    done
    check "the sync recovers when the upstream returns" [ "$back" -eq 1 ]
fi

# ---- SIGTERM ----
kill -TERM "$PID"
set +e
wait "$PID"
rc=$?
set -e
PID=
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
check "logs are JSON lines" sh -c "jq -e 'has(\"log_message\") and has(\"level\") and has(\"timestamp\")' '$T/log' >/dev/null"
check "no canary in the logs" sh -c "! grep -q 'canary-sync-$$' '$T/log' '$T/stderr'"
check "--healthcheck exits 1 when nothing listens" sh -c "! OP_HTTP_PORT=$PORT '$SYNC' --healthcheck"
