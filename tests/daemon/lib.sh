# tests/daemon/lib.sh - helpers for the daemon tests (sourced by
# tests/daemon/test_*.sh and tests/sdk/run; not a test itself).
#
# Before sourcing: BUILDDIR (absolute), RESULTS (the results file; optional,
# /dev/null when unset), and optionally T_PREFIX (the scratch dir's name)
# and PID_VARS (the names of the variables holding the PIDs the script
# starts; cleanup kills and reaps each, by PID, on exit). OPC_TEST_KEEP=1
# keeps the scratch dir (logs) for a look afterwards.
#
# Gives: $T (scratch dir, removed on exit) with its own HOME and XDG_*
# dirs; pass/fail/check counting into NPASS/NFAIL and $RESULTS; the HTTP
# helpers req/header/expect/experr/code_is/body_jq against $URL_HOST:$APORT
# (127.0.0.1 unless OPC_TEST_HOST says otherwise, tests/lib/connect.sh);
# poll_until, free_port, now_ms, wait_http; `op` without a terminal;
# account_create (a signed-in account) and start_daemons (connect-sync and
# connect-api as two processes on free ports, synced); upstream_down and
# upstream_up (make the upstream unreachable, and bring it back).
#
# OPC_UPSTREAM_MODE picks the world: "local" (the default: the daemons read
# the owner's account file directly) or "https" (tests/lib/networld.sh:
# they reach it through op-account-server over HTTPS; $OP then writes
# credentials naming that server, and account_create starts it).
: "${BUILDDIR:?}"
RESULTS=${RESULTS:-/dev/null}
SYNC="$BUILDDIR/connect-sync"
API="$BUILDDIR/connect-api"
OP="$BUILDDIR/op"
T=$(mktemp -d "${TMPDIR:-/tmp}/${T_PREFIX:-opdaemon}.XXXXXX")
PID_VARS=${PID_VARS:-"SYNC_PID API_PID"}
for _v in $PID_VARS; do eval "$_v="; done
cleanup() {
    _world=0
    upstream_world_check || _world=1
    for _v in $PID_VARS; do
        eval "_p=\${$_v:-}"
        if [ -n "$_p" ]; then kill "$_p" 2>/dev/null || true; fi
    done
    for _v in $PID_VARS; do
        eval "_p=\${$_v:-}"
        if [ -n "$_p" ]; then wait "$_p" 2>/dev/null || true; fi
    done
    # UBSan reports of a sanitized build (make asan) go to the daemons'
    # stderr files: show them, for tools/run-daemon-tests to find.
    grep -h -A4 -e 'runtime error:' -e 'Sanitizer' "$T"/*.err "$T"/stderr 2>/dev/null || true
    if [ -n "${OPC_TEST_KEEP:-}" ]; then
        echo "# kept the scratch dir $T (OPC_TEST_KEEP)"
    else
        rm -rf "$T"
    fi
    # A failed last word fails the script too (tests/sdk/run's verdict
    # is made before).
    [ "$_world" -eq 0 ] || exit 1
}
trap cleanup EXIT INT TERM

NPASS=0
NFAIL=0
# pass/fail/check, free_port, now_ms, poll_until, connect_env_setup
# shellcheck source=../lib/connect.sh
. "$(dirname "$0")/../lib/connect.sh"
connect_env_setup

# op ARGS...: the CLI without a controlling terminal; stdout only.
op() { setsid -w "$OP" "$@" </dev/null; }

# run_setup LABEL: the script's own setup function, its stderr in
# $T/setup.err; when it fails, LABEL fails with that text and the script
# exits 1. Sets CREDS, the credentials file setup writes in $T/work.
run_setup() {
    if ! setup 2>"$T/setup.err"; then
        fail "$1" "$(cat "$T/setup.err")"
        exit 1
    fi
    CREDS="$T/work/1password-credentials.json"
}

# ---- HTTP helpers ----
# req TOKEN PATH [CURL-ARGS...]: a request to http://$URL_HOST:$APORT$PATH
# (GET unless CURL-ARGS say otherwise; "-" = no Authorization header).
# Body in $T/body, headers in $T/hdr, status in CODE, bytes received in
# GOT. Every response is checked for 1Password-Connect-Version; misses are
# counted in NOVER.
NREQ=0
NOVER=0
req() {
    _tok=$1
    _path=$2
    shift 2
    set +e
    if [ "$_tok" = - ]; then
        _out=$(curl -s -g -o "$T/body" -D "$T/hdr" -w '%{http_code} %{size_download}' "$@" \
            "http://$URL_HOST:$APORT$_path")
    else
        _out=$(curl -s -g -o "$T/body" -D "$T/hdr" -w '%{http_code} %{size_download}' \
            -H "Authorization: Bearer $_tok" "$@" "http://$URL_HOST:$APORT$_path")
    fi
    set -e
    CODE=${_out%% *}
    GOT=${_out#* }
    NREQ=$((NREQ + 1))
    if ! grep -qi '^1Password-Connect-Version: [0-9][0-9.]*' "$T/hdr" 2>/dev/null; then
        NOVER=$((NOVER + 1))
        echo "   (no 1Password-Connect-Version on $_path: HTTP $CODE)"
    fi
}

# header NAME: the value of a response header of the last request (CR removed).
header() { grep -i "^$1:" "$T/hdr" | head -n 1 | cut -d: -f2- | sed 's/^ //' | tr -d '\r'; }

# expect DESC CODE TOKEN PATH [JQ-FILTER [CURL-ARGS...]]: the status is CODE
# and, when given (non-empty), jq -e FILTER holds on the body.
expect() {
    _d=$1
    _want=$2
    _etok=$3
    _epath=$4
    _jq=${5:-}
    shift 4
    [ $# -eq 0 ] || shift
    req "$_etok" "$_epath" "$@"
    if [ "$CODE" != "$_want" ]; then
        fail "$_d" "HTTP $CODE (want $_want): $(head -c 300 "$T/body")"
    elif [ -n "$_jq" ] && ! jq -e "$_jq" "$T/body" >/dev/null 2>&1; then
        fail "$_d" "jq '$_jq' is not true on: $(head -c 400 "$T/body")"
    else
        pass "$_d"
    fi
}

# experr DESC CODE TOKEN PATH [MESSAGE-REGEX [CURL-ARGS...]]: an error
# response: status CODE, Content-Type application/json, body exactly
# {status: CODE, message: "..."}.
experr() {
    _xd=$1
    _xc=$2
    _xt=$3
    _xp=$4
    _re=${5:-.}
    shift 4
    [ $# -eq 0 ] || shift
    expect "$_xd" "$_xc" "$_xt" "$_xp" \
        "(keys == [\"message\",\"status\"]) and .status == $_xc and (.message | type == \"string\" and length > 0 and test(\"$_re\"))" \
        "$@"
    if ! grep -qi '^Content-Type: application/json' "$T/hdr"; then
        fail "$_xd: Content-Type application/json" "$(grep -i '^content-type' "$T/hdr" || echo none)"
    fi
}

# code_is WANT TOKEN PATH: the request answers WANT.
code_is() {
    req "$2" "$3"
    [ "$CODE" = "$1" ]
}

# body_jq TOKEN PATH FILTER: 200 and jq -e FILTER on the body.
body_jq() {
    req "$1" "$2"
    [ "$CODE" = 200 ] && jq -e "$3" "$T/body" >/dev/null 2>&1
}

wait_http() { # PORT [URL-HOST]: /heartbeat answers within 5 s (127.0.0.1)
    poll_until 5000 curl -sf -g "http://${2:-127.0.0.1}:$1/heartbeat"
}

# ---- an account and the daemons ----
# account_create PASSWORD: a new account (owner@example.com), signed in in
# this shell. Exits the script on failure.
account_create() {
    printf '%s\n' "$1" | setsid -w "$OP" account create --email owner@example.com --password-stdin \
        >"$T/acct.out" 2>"$T/acct.err" || { fail "account create" "$(cat "$T/acct.err")"; exit 1; }
    env OP_PASSWORD="$1" setsid -w "$OP" signin >"$T/signin" 2>"$T/signin.err" </dev/null ||
        { fail "signin" "$(cat "$T/signin.err")"; exit 1; }
    eval "$(cat "$T/signin")"
    upstream_account_ready
}

# account_file: the path of the signed-in account's file (networld.sh:
# the one op-account-server keeps for it).
account_file() { op account get --format json | jq -r .path; }

# upstream_account_ready: the world's upstream serves the new account (the
# local file does by itself; networld.sh starts op-account-server).
upstream_account_ready() { :; }
# upstream_world_check: on exit, the world's last word (networld.sh: the
# daemons did reach the account through op-account-server); 1 fails the
# script.
upstream_world_check() { :; }

# upstream_down / upstream_up: the upstream becomes unreachable, and comes
# back (0 on success). Local: the account file moves away and back.
UPSTREAM_WHAT="the account file"
upstream_down() {
    UPSTREAM_DB=$(op account get --format json | jq -r .path) && [ -f "$UPSTREAM_DB" ] &&
        mv "$UPSTREAM_DB" "$UPSTREAM_DB.away"
}
upstream_up() { mv "$UPSTREAM_DB.away" "$UPSTREAM_DB"; }

# start_daemons CREDS: connect-sync (SPORT, SYNC_PID, logs $T/sync.*) and
# connect-api (APORT, API_PID, logs $T/api.*) over $XDG_DATA_HOME, on free
# ports, debug logs; checks both heartbeats and the initial sync. Extra
# environment for connect-api: API_ENV (e.g. "OP_SYNC_TIMEOUT=5s").
start_daemons() {
    SPORT=$(free_port)
    OP_SESSION="$1" OP_HTTP_PORT="$SPORT" OP_LOG_LEVEL=debug "$SYNC" \
        >"$T/sync.log" 2>"$T/sync.err" </dev/null &
    SYNC_PID=$!
    APORT=$(free_port)
    while [ "$APORT" = "$SPORT" ]; do APORT=$(free_port); done
    # shellcheck disable=SC2086
    env OP_SESSION="$1" OP_HTTP_PORT="$APORT" OP_BIND_ADDRESS="$OPC_TEST_HOST" OP_LOG_LEVEL=debug \
        ${API_ENV:-} "$API" >"$T/api.log" 2>"$T/api.err" </dev/null &
    API_PID=$!
    check "connect-sync answers /heartbeat" wait_http "$SPORT"
    check "connect-api answers /heartbeat" wait_http "$APORT" "$URL_HOST"
    check "connect-sync finishes the initial sync" poll_until 10000 sync_done
}
sync_done() {
    curl -s "http://127.0.0.1:$SPORT/health" | jq_e \
        '.dependencies[] | select(.service == "account_data") | .status == "ACTIVE"'
}

# stop_pid VAR: SIGTERM the process whose PID is in $VAR, reap it, clear
# VAR; STOP_RC is its exit status.
stop_pid() {
    eval "_p=\${$1:-}"
    STOP_RC=
    [ -n "$_p" ] || return 0
    kill -TERM "$_p" 2>/dev/null || true
    set +e
    wait "$_p"
    STOP_RC=$?
    set -e
    eval "$1="
}

# one_item_https NAME: an account with vault Demo holding the login "Web
# Login", a Connect server NAME granted Demo, its read-write TOKEN; DEMO and
# ITEM are the ids. Then both daemons (start_daemons) with connect-api also
# on HTTPS (HTTPS_PORT, a self-signed certificate in $T/tls/cert.pem for
# localhost, 127.0.0.1 and ::1), checked to answer there. Exits the script
# when the setup fails.
one_item_https() {
    _srv=$1
    account_create "$_srv password $$"
    # shellcheck disable=SC2317
    setup() {
        op vault create Demo >/dev/null &&
            op item create --vault Demo --category login --title "Web Login" username=alice \
                "password=$_srv-$$" >/dev/null &&
            (cd "$T/work" && op connect server create "$_srv" --vaults Demo >/dev/null)
    }
    run_setup "account, vault, item and server set up with op"
    TOKEN=$(op connect token create tok --server "$_srv" --vault Demo | tail -n 1)
    DEMO=$(op vault get Demo --format json | jq -r .id)
    ITEM=$(op item get "Web Login" --vault Demo --format json | jq -r .id)
    if ! connect_selfsigned "$T/tls"; then
        fail "a self-signed certificate made with openssl"
        exit 1
    fi
    HTTPS_PORT=$(free_port)
    API_ENV="${API_ENV:-} OP_HTTPS_PORT=$HTTPS_PORT"
    API_ENV="$API_ENV OP_TLS_CERT_FILE=$T/tls/cert.pem OP_TLS_KEY_FILE=$T/tls/key.pem"
    start_daemons "$CREDS"
    check "connect-api answers over HTTPS" poll_until 5000 \
        curl -sf -g --cacert "$T/tls/cert.pem" "https://$URL_HOST:$HTTPS_PORT/heartbeat"
}

# ---- the world ----
case ${OPC_UPSTREAM_MODE:-local} in
local) ;;
https)
    # shellcheck source=../lib/networld.sh
    . "$(dirname "$0")/../lib/networld.sh"
    ;;
*)
    fail "OPC_UPSTREAM_MODE is local or https" "not $OPC_UPSTREAM_MODE"
    exit 1
    ;;
esac
