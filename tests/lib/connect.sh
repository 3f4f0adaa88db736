# tests/lib/connect.sh - shell helpers shared by integration scripts that
# run the daemons (sourced, POSIX sh). The caller sets T (a scratch
# directory), BUILDDIR and, for pass/fail bookkeeping, RESULTS (a file that
# collects "ok - ..." / "not ok - ..." lines; may be /dev/null).
#
#   free_port                  a free TCP port on 127.0.0.1
#   now_ms                     wall clock in milliseconds
#   poll_until MS CMD...       run CMD every 50 ms until it succeeds (ELAPSED)
#   pass/fail/check            TAP-like result lines
#   connect_env_setup          HOME, XDG_* under $T; clears OP_* variables
#   connect_account_setup NAME an account with a vault "Demo" (one item), a
#                              Connect server NAME granted Demo: sets CREDS
#                              (credentials file) and TOKEN (read-write)
#   connect_selfsigned DIR     DIR/cert.pem + DIR/key.pem: a self-signed EC
#                              certificate for localhost, 127.0.0.1 and ::1
#
# OPC_TEST_HOST (default 127.0.0.1) is the address the daemon scripts bind
# connect-api to (OP_BIND_ADDRESS) and send their requests to; OPC_TEST_HOST=::1
# runs them over IPv6. URL_HOST is its form in a URL ([::1]).

OPC_TEST_HOST=${OPC_TEST_HOST:-127.0.0.1}
case $OPC_TEST_HOST in
*:*) URL_HOST="[$OPC_TEST_HOST]" ;;
*) URL_HOST=$OPC_TEST_HOST ;;
esac

NPASS=${NPASS:-0}
NFAIL=${NFAIL:-0}
pass() { NPASS=$((NPASS + 1)); echo "ok - $1"; echo "ok - $1" >>"$RESULTS"; }
fail() { NFAIL=$((NFAIL + 1)); echo "not ok - $1${2:+ -- $2}"; echo "not ok - $1" >>"$RESULTS"; }
check() { _d=$1; shift; if "$@" >/dev/null 2>&1; then pass "$_d"; else fail "$_d"; fi; }

# Debian's python3 when there (a pyenv shim on PATH costs a second a call).
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }

# jq_e ARGS...: jq -e on stdin, failing on an empty input (jq 1.6 lets an
# empty input pass -e, so a failed curl or op piped into it would count).
jq_e() {
    _jq_in=$(cat)
    [ -n "$_jq_in" ] && printf '%s\n' "$_jq_in" | jq -e "$@"
}

poll_until() {
    _lim=$1
    shift
    _t0=$(now_ms)
    while :; do
        if "$@" >/dev/null 2>&1; then
            ELAPSED=$(($(now_ms) - _t0))
            return 0
        fi
        ELAPSED=$(($(now_ms) - _t0))
        [ "$ELAPSED" -lt "$_lim" ] || return 1
        sleep 0.01
    done
}

connect_env_setup() {
    mkdir -p "$T/home" "$T/data" "$T/config" "$T/run" "$T/work"
    chmod 700 "$T/run"
    export HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" \
        XDG_RUNTIME_DIR="$T/run"
    unset OP_SESSION OP_SESSION_TOKEN OP_ACCOUNT OP_PASSWORD OP_LOG_LEVEL OP_HTTP_PORT \
        OP_HTTPS_PORT OP_BUS_PORT OP_BUS_PEERS OP_SYNC_TIMEOUT OP_TLS_CERT_FILE \
        OP_TLS_KEY_FILE OP_TLS_USE_LETSENCRYPT OP_TLS_DOMAIN OP_ACME_DIRECTORY_URL \
        OP_ACME_CA_FILE OP_ACME_EMAIL OP_ACCOUNT OP_ACCOUNT_DATA_DIR OP_UPSTREAM_CA_FILE || true
}

# The CLI without a controlling terminal.
connect_op() { setsid -w "$BUILDDIR/op" "$@" </dev/null; }

connect_account_setup() {
    _pw="integration test password $$"
    printf '%s\n' "$_pw" | setsid -w "$BUILDDIR/op" account create --email owner@example.com \
        --password-stdin >"$T/acct.out" 2>"$T/acct.err" || return 1
    env OP_PASSWORD="$_pw" setsid -w "$BUILDDIR/op" signin >"$T/signin" 2>"$T/signin.err" \
        </dev/null || return 1
    eval "$(cat "$T/signin")"
    connect_op vault create Demo >/dev/null &&
        connect_op item create --vault Demo --category password --title "Canary" \
            "password=canary-$$" >/dev/null &&
        (cd "$T/work" && connect_op connect server create "$1" --vaults Demo >/dev/null) ||
        return 1
    CREDS="$T/work/1password-credentials.json"
    TOKEN=$(connect_op connect token create tok --server "$1" --vault Demo | tail -n 1)
    [ -s "$CREDS" ] && [ -n "$TOKEN" ]
}

connect_selfsigned() {
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -keyout "$1/key.pem" -out "$1/cert.pem" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
        >/dev/null 2>&1 && [ -s "$1/cert.pem" ] && [ -s "$1/key.pem" ]
}
