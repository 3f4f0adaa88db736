#!/bin/sh
# tests/daemon/test_account_server.sh - op-account-server as a program
# (issue 13): --help, --version, --print-pin (the key made once, mode
# 0600, the same pin afterwards); served over HTTPS with a certificate of
# a CA made here with openssl; /heartbeat and /health (the account file
# `op account create --account` put in accounts/ is found); --healthcheck;
# a handshake for an unknown server refused with the uniform 401 and ONE
# log line with the reason, nothing of the request's signature in the log;
# a request without a session refused; plain HTTP refused on a
# non-loopback bind and served on loopback; no certificate at all refused;
# SIGTERM exits 0.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opaccountd
PID_VARS="ACC_PID PLAIN_PID"
. "$(dirname "$0")/lib.sh"
ACC="$BUILDDIR/op-account-server"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
DATA="$T/account-server"

# ---- the program's options ----
set +e
"$ACC" --help >"$T/help" 2>"$T/help.err"
RC=$?
set -e
check "--help: exit 0, nothing on stderr" sh -c "[ $RC -eq 0 ] && [ ! -s '$T/help.err' ]"
check "--help names OP_ACCOUNT_DATA_DIR, --print-pin and --healthcheck" sh -c \
    "grep -q OP_ACCOUNT_DATA_DIR '$T/help' && grep -q -- --print-pin '$T/help' &&
     grep -q -- --healthcheck '$T/help' && ! grep -q OP_SESSION '$T/help'"
check "--help lines fit 80 columns" sh -c "! awk 'length > 80' '$T/help' | grep -q ."
VERSION=$(sed -n 's/^#define OPC_VERSION_STRING "\(.*\)"$/\1/p' "$TOP/include/opconnect/version.h")
check "--version names op-account-server $VERSION" sh -c \
    "'$ACC' --version | grep -q '^op-account-server $VERSION (libopconnect $VERSION, '"
set +e
"$ACC" --print-pin extra >/dev/null 2>"$T/extra.err"
RC=$?
set -e
check "--print-pin with an argument after it: exit 2, one line" sh -c \
    "[ $RC -eq 2 ] && [ \$(wc -l <'$T/extra.err') -eq 1 ]"

PIN=$(OP_ACCOUNT_DATA_DIR="$DATA" "$ACC" --print-pin)
check "--print-pin prints a pin (43 b64url characters)" sh -c \
    "printf '%s' '$PIN' | grep -Eq '^[A-Za-z0-9_-]{43}\$'"
check "--print-pin made server-key.jwk, mode 0600, in a 0700 directory" sh -c \
    "[ \$(stat -c %a '$DATA/server-key.jwk') = 600 ] && [ \$(stat -c %a '$DATA') = 700 ]"
check "the key file is a private P-256 JWK" jq -e '.kty == "EC" and .crv == "P-256" and (.d | length) == 43' \
    "$DATA/server-key.jwk"
PIN2=$(OP_ACCOUNT_DATA_DIR="$DATA" "$ACC" --print-pin)
check "--print-pin again: the same pin" [ "$PIN" = "$PIN2" ]

# ---- an account file in accounts/ ----
mkdir -p "$DATA/accounts"
printf 'account server password %s\n' "$$" | setsid -w "$OP" account create \
    --email owner@example.com --account "$DATA/accounts/alpha.db" --password-stdin \
    >"$T/acct.out" 2>"$T/acct.err" ||
    fail "op account create --account" "$(cat "$T/acct.err")"
check "op account create --account made accounts/alpha.db" [ -s "$DATA/accounts/alpha.db" ]

# ---- a CA and a certificate for 127.0.0.1 ----
tls_setup() {
    mkdir -p "$T/tls" && cd "$T/tls" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=opconnect test CA" -keyout ca.key -out ca.pem \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
            -keyout key.pem -out leaf.csr &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext &&
        openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext -out cert.pem && cd "$T"
}
if tls_setup >"$T/tls.log" 2>&1; then
    pass "a CA and a certificate for 127.0.0.1 made with openssl"
else
    fail "a CA and a certificate for 127.0.0.1 made with openssl" "$(tail -3 "$T/tls.log")"
    exit 1
fi

# ---- serving over HTTPS ----
PORT=$(free_port)
env OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTPS_PORT="$PORT" OP_BIND_ADDRESS=127.0.0.1 \
    OP_TLS_CERT_FILE="$T/tls/cert.pem" OP_TLS_KEY_FILE="$T/tls/key.pem" OP_LOG_LEVEL=debug \
    "$ACC" >"$T/acc.log" 2>"$T/acc.err" </dev/null &
ACC_PID=$!
URL="https://127.0.0.1:$PORT"
check "HTTPS /heartbeat answers (the CA's certificate verifies)" poll_until 5000 \
    curl -sf --cacert "$T/tls/ca.pem" "$URL/heartbeat"
curl -s --cacert "$T/tls/ca.pem" -D "$T/hb.hdr" -o "$T/hb.body" "$URL/heartbeat" || true
check "/heartbeat: '.' with OPC-Protocol: 1" sh -c \
    "[ \"\$(cat '$T/hb.body')\" = . ] && grep -qi '^OPC-Protocol: 1' '$T/hb.hdr'"
check "/health: JSON naming one account in the store" sh -c \
    "curl -sf --cacert '$T/tls/ca.pem' '$URL/health' | jq -e '.store.accounts == 1 and .store.state == \"ok\"'"
check "the log names the server key's pin" poll_until 3000 grep -q "server key pin $PIN" "$T/acc.log"
check "the log lines are JSON" sh -c "jq -e . '$T/acc.log' >/dev/null"
check "--healthcheck: exit 0 against the running instance" env OP_HTTPS_PORT="$PORT" \
    OP_BIND_ADDRESS=127.0.0.1 "$ACC" --healthcheck
OTHER=$(free_port)
set +e
env OP_HTTPS_PORT="$OTHER" OP_BIND_ADDRESS=127.0.0.1 "$ACC" --healthcheck
RC=$?
set -e
check "--healthcheck: exit 1 where nothing listens" [ "$RC" -eq 1 ]

# A well-formed handshake for an account and server the store does not hold.
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
openssl ecparam -name prime256v1 -genkey -noout -out "$T/eph.pem" 2>/dev/null
EPH=$(openssl ec -in "$T/eph.pem" -pubout -outform DER 2>/dev/null | tail -c 65 | b64url)
NONCE=$(head -c 16 /dev/urandom | b64url)
SIG=$(head -c 64 /dev/urandom | b64url)
NOW=$(now_ms)
HELLO=$(printf '{"v":1,"account":"%s","server":"%s","ts":%s,"nonce":"%s","eph":"%s","sig":"%s"}' \
    abcdefghijklmnopqrstuvwxyz zyxwvutsrqponmlkjihgfedcba "$NOW" "$NONCE" "$EPH" "$SIG")
LINES_BEFORE=$(grep -c 'authentication failed' "$T/acc.log" || true)
CODE=$(curl -s --cacert "$T/tls/ca.pem" -o "$T/hs.body" -D "$T/hs.hdr" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data "$HELLO" "$URL/v1/connect/session")
check "handshake of an unknown server: 401" [ "$CODE" = 401 ]
check "handshake refused with the uniform body" jq -e \
    '.error.code == "unauthorized" and .error.message == "authentication failed"' "$T/hs.body"
check "handshake refused: OPC-Protocol: 1" grep -qi '^OPC-Protocol: 1' "$T/hs.hdr"
# shellcheck disable=SC2016
check "exactly one log line says why (no such account), with the request id" poll_until 2000 sh -c \
    "[ \$(grep -c 'authentication failed' '$T/acc.log') -eq $((LINES_BEFORE + 1)) ] &&
     grep 'authentication failed' '$T/acc.log' | tail -n 1 |
       jq -e '(.log_message | test(\"no such account\")) and (.scope.request_id | length > 0)'"
check "the log holds nothing of the hello's signature or nonce" sh -c \
    "! grep -q -e '$SIG' -e '$NONCE' '$T/acc.log'"
CODE=$(curl -s --cacert "$T/tls/ca.pem" -o "$T/ns.body" -w '%{http_code}' "$URL/v1/connect/changes")
check "a request without a session: 401" [ "$CODE" = 401 ]
CODE=$(curl -s --cacert "$T/tls/ca.pem" -o /dev/null -w '%{http_code}' \
    -H 'Authorization: OPC-Session AAAAAAAAAAAAAAAAAAAAAA' -H 'OPC-Counter: 1' \
    -H 'OPC-MAC: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "$URL/v1/connect/changes")
check "a request of an unknown session: 401" [ "$CODE" = 401 ]
CODE=$(curl -s --cacert "$T/tls/ca.pem" -o /dev/null -w '%{http_code}' "$URL/nothing")
check "an unknown path: 404" [ "$CODE" = 404 ]

stop_pid ACC_PID
check "SIGTERM: exit 0" [ "$STOP_RC" -eq 0 ]
check "the log says it stopped" grep -q '"(I) stopped"' "$T/acc.log"
check "nothing on stderr" [ ! -s "$T/acc.err" ]

# ---- plain HTTP: loopback only ----
HPORT=$(free_port)
set +e
env OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTP_PORT="$HPORT" OP_BIND_ADDRESS=0.0.0.0 \
    OP_TLS_CERT_FILE="$T/tls/cert.pem" OP_TLS_KEY_FILE="$T/tls/key.pem" \
    "$ACC" >"$T/plain.log" 2>"$T/plain.err" </dev/null
RC=$?
set -e
check "plain HTTP on 0.0.0.0 refused: exit 1, one line naming OP_HTTP_PORT" sh -c \
    "[ $RC -eq 1 ] && [ \$(wc -l <'$T/plain.err') -eq 1 ] && grep -q '^op-account-server: OP_HTTP_PORT: ' '$T/plain.err'"
set +e
env OP_ACCOUNT_DATA_DIR="$DATA" "$ACC" >"$T/nocert.log" 2>"$T/nocert.err" </dev/null
RC=$?
set -e
check "neither a certificate nor plain HTTP: exit 1, one line naming OP_TLS_CERT_FILE" sh -c \
    "[ $RC -eq 1 ] && [ \$(wc -l <'$T/nocert.err') -eq 1 ] && grep -q 'OP_TLS_CERT_FILE' '$T/nocert.err'"
env OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTP_PORT="$HPORT" OP_BIND_ADDRESS=127.0.0.1 \
    "$ACC" >"$T/plain.log" 2>"$T/plain.err" </dev/null &
PLAIN_PID=$!
check "plain HTTP on 127.0.0.1 is served" wait_http "$HPORT"
check "--healthcheck over plain HTTP: exit 0" env OP_HTTP_PORT="$HPORT" OP_BIND_ADDRESS=127.0.0.1 \
    "$ACC" --healthcheck
stop_pid PLAIN_PID
check "plain HTTP instance: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
echo "account-server: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
