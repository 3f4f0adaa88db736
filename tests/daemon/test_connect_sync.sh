#!/bin/sh
# tests/daemon/test_connect_sync.sh - the connect-sync daemon as a process:
# bad environment values stop start-up with one line naming the variable
# (connect-api's too: the two share that code, daemons/common/);
# it serves /heartbeat and /health on OP_HTTP_PORT (127.0.0.1), mirrors the
# account into $XDG_DATA_HOME/.op/data/1password.sqlite (0600, dir 0700),
# logs JSON lines, answers --healthcheck, answers HEAD, 405
# and 404 with JSON bodies on its status port, ignores SIGHUP, and exits 0
# on SIGTERM. With the credentials' base64 in OP_SESSION, neither daemon
# keeps it in /proc/<pid>/environ.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opsyncd
PID_VARS="PID ENV_PID"
. "$(dirname "$0")/lib.sh"

# ---- an account with a server ----
account_create "daemon test password $$"
"$OP" vault create Prod >/dev/null </dev/null
"$OP" item create --vault Prod --category login --title "Web login" "password=canary-sync-$$" \
    >/dev/null </dev/null
(cd "$T/work" && "$OP" connect server create sync-srv --vaults Prod >/dev/null </dev/null)
CREDS="$T/work/1password-credentials.json"
check "credentials file written" [ -s "$CREDS" ]

# ---- bad values (both daemons): one line naming the variable, exit 1 ----
# bad_in DAEMON VAR [NAME=VALUE...]: DAEMON with OP_SESSION=$CREDS and the
# given variables stops at once: exit 1, exactly one line on stderr,
# "<daemon>: VAR: ..." (the library's OP_SESSION messages start with the
# name itself). A daemon that starts anyway is killed after 10 s.
bad_in() {
    _bin=$1
    _var=$2
    shift 2
    set +e
    env OP_SESSION="$CREDS" OP_HTTP_PORT=0 "$@" timeout 10 "$_bin" >"$T/bad.out" 2>"$T/bad.err" \
        </dev/null
    _rc=$?
    set -e
    if [ "$_rc" -eq 1 ] && [ "$(wc -l <"$T/bad.err")" -eq 1 ] &&
        grep -Eq "^$(basename "$_bin"): $_var[: ]" "$T/bad.err"; then
        pass "$(basename "$_bin"): bad $_var ($*) stops start-up with one line"
    else
        fail "$(basename "$_bin"): bad $_var ($*) stops start-up with one line" \
            "rc $_rc: $(cat "$T/bad.err")"
    fi
}
bad() { bad_in "$SYNC" "$@"; }
bad OP_HTTP_PORT OP_HTTP_PORT=99999
bad OP_HTTP_PORT OP_HTTP_PORT=80x
bad OP_LOG_LEVEL OP_LOG_LEVEL=loud
bad OP_SESSION OP_SESSION=/nonexistent/creds.json
bad XDG_DATA_HOME XDG_DATA_HOME=relative/dir
bad OP_BIND_ADDRESS OP_BIND_ADDRESS=1.2.3
bad OP_BIND_ADDRESS OP_BIND_ADDRESS=localhost
# --help, --version and unknown options: tests/daemon/test_programs.sh
# connect-api reads the same variables through the same code, and its own.
API="$BUILDDIR/connect-api"
bad_in "$API" OP_HTTP_PORT OP_HTTP_PORT=65536
bad_in "$API" OP_BIND_ADDRESS OP_BIND_ADDRESS=127.0.0
bad_in "$API" OP_LOG_LEVEL OP_LOG_LEVEL=verbose
bad_in "$API" OP_SESSION OP_SESSION=/nonexistent/creds.json
bad_in "$API" OP_SYNC_TIMEOUT OP_SYNC_TIMEOUT=2h
bad_in "$API" OP_SYNC_TIMEOUT OP_SYNC_TIMEOUT=10
bad_in "$API" OP_JWT_LEEWAY OP_JWT_LEEWAY=6m
bad_in "$API" OP_JWT_LEEWAY OP_JWT_LEEWAY=1500ms
bad_in "$API" OP_JWT_LEEWAY OP_JWT_LEEWAY=30
bad_in "$API" OP_JWT_LEEWAY OP_JWT_LEEWAY=-5s
bad_in "$API" OP_API_THREADS OP_API_THREADS=0
bad_in "$API" OP_API_THREADS OP_API_THREADS=8x

# ---- start ----
PORT=$(free_port)
OP_SESSION="$CREDS" OP_HTTP_PORT="$PORT" OP_BUS_PORT=11221 OP_BUS_PEERS=localhost:11220 \
    OP_LOG_LEVEL=debug "$SYNC" >"$T/log" 2>"$T/stderr" </dev/null &
PID=$!
check "connect-sync answers /heartbeat" wait_http "$PORT"
check "/heartbeat body is '.'" [ "$(curl -s "http://127.0.0.1:$PORT/heartbeat")" = "." ]
CACHE="$XDG_DATA_HOME/.op/data/1password.sqlite"
# health_is SERVICE STATUS: /health (kept in $T/health) gives SERVICE that status.
health_is() {
    curl -s "http://127.0.0.1:$PORT/health" >"$T/health" &&
        jq -e --arg s "$1" --arg st "$2" \
            '.dependencies[] | select(.service == $s) | .status == $st' "$T/health"
}
synced=0
if poll_until 5000 health_is account_data ACTIVE; then synced=1; fi
check "/health: name, version, dependencies" \
    jq -e '.name == "1Password Connect Sync" and (.version | length > 0) and (.dependencies | length >= 2)' "$T/health"
check "/health reports the initial sync complete" [ "$synced" -eq 1 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")
check "/health is 200" [ "$code" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
check "unknown route is 404" [ "$code" = 404 ]
nope_body() { curl -s "http://127.0.0.1:$PORT/nope" | jq_e '.status == 404 and (.message | length > 0)'; }
check "404 body is JSON {status, message}" nope_body
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/health")
check "POST /health is 405" [ "$code" = 405 ]
check "HEAD /heartbeat is 200" curl -sf -I "http://127.0.0.1:$PORT/heartbeat"
check "1Password-Connect-Version on the status responses" sh -c \
    "curl -s -D - -o /dev/null http://127.0.0.1:$PORT/health | grep -qi '^1Password-Connect-Version: [0-9]'"
kill -HUP "$PID"
sleep 0.2
check "SIGHUP does not stop connect-sync" curl -sf "http://127.0.0.1:$PORT/heartbeat"
check "cache file exists, mode 0600" [ "$(stat -c %a "$CACHE")" = 600 ]
check "data dir mode 0700" [ "$(stat -c %a "$XDG_DATA_HOME/.op/data")" = 700 ]
check "cache has the item (ciphertext)" \
    [ "$(sqlite3 "$CACHE" 'SELECT COUNT(*) FROM items' 2>/dev/null || echo 0)" = 1 ]
check "no plaintext canary in the cache" sh -c "[ -s '$CACHE' ] && ! grep -q 'canary-sync-$$' '$CACHE'*"
check "--healthcheck exits 0 while running" env OP_HTTP_PORT="$PORT" "$SYNC" --healthcheck

# ---- upstream gone: health reports it, heartbeat stays ----
# (the account file moves away; over the network, op-account-server stops)
if upstream_down; then
    pass "$UPSTREAM_WHAT goes away"
    check "/health reports an unreachable upstream" poll_until 3000 health_is upstream UNREACHABLE
    check "/heartbeat still answers while the upstream is away" curl -sf "http://127.0.0.1:$PORT/heartbeat"
    upstream_up || fail "$UPSTREAM_WHAT comes back"
    check "the sync recovers when the upstream returns" poll_until 10000 health_is upstream ACTIVE
else
    fail "$UPSTREAM_WHAT goes away"
fi

# ---- SIGTERM ----
kill -TERM "$PID"
set +e
wait "$PID"
rc=$?
set -e
PID=
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
# -s: jq -e alone would judge the last line only.
check "logs are JSON lines" jq -e -s \
    'length > 0 and all(.[]; has("log_message") and has("level") and has("timestamp"))' "$T/log"
check "no canary in the logs" sh -c "! grep -q 'canary-sync-$$' '$T/log' '$T/stderr'"
check "--healthcheck exits 1 when nothing listens" sh -c \
    "OP_HTTP_PORT=$PORT '$SYNC' --healthcheck 2>/dev/null; [ \$? -eq 1 ]"

# ---- OP_SESSION with the credentials' base64 leaves /proc/<pid>/environ ----
# /proc/<pid>/environ shows the block the process started with; the daemons
# overwrite the value there (and unsetenv it) once read. The file must be
# readable here (root, or CAP_SYS_PTRACE: the daemons are not dumpable) and
# show the other variables, so that "not found" means wiped.
B64=$(base64 -w0 "$CREDS")
MID=$(printf %s "$B64" | cut -c101-160) # 60 characters from the middle
for _d in "$SYNC" "$API"; do
    _n=$(basename "$_d")
    _port=$(free_port)
    OP_SESSION="$B64" OP_HTTP_PORT="$_port" OP_BIND_ADDRESS=127.0.0.1 OPC_ENV_MARKER=present-$$ \
        "$_d" >"$T/env.$_n.log" 2>"$T/env.$_n.err" </dev/null &
    ENV_PID=$!
    check "$_n started with OP_SESSION=<base64> answers /heartbeat" wait_http "$_port"
    if tr '\0' '\n' <"/proc/$ENV_PID/environ" >"$T/environ.$_n" 2>/dev/null &&
        grep -q "^OPC_ENV_MARKER=present-$$\$" "$T/environ.$_n"; then
        pass "$_n: /proc/<pid>/environ is readable and shows the other variables"
        check "$_n: no credentials base64 in /proc/<pid>/environ" sh -c \
            "! grep -qF '$B64' '$T/environ.$_n' && ! grep -qF '$MID' '$T/environ.$_n'"
        check "$_n: OP_SESSION has no value left in /proc/<pid>/environ" sh -c \
            "! grep -q '^OP_SESSION=.' '$T/environ.$_n'"
    else
        fail "$_n: /proc/<pid>/environ is readable and shows the other variables" \
            "needs root or CAP_SYS_PTRACE (the daemons are not dumpable)"
    fi
    kill -TERM "$ENV_PID"
    set +e
    wait "$ENV_PID"
    _rc=$?
    set -e
    ENV_PID=
    check "$_n (OP_SESSION=<base64>): SIGTERM exits 0" [ "$_rc" -eq 0 ]
done
