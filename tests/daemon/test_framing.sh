#!/bin/sh
# tests/daemon/test_framing.sh - how connect-api frames requests, over raw
# sockets (tests/daemon/framing.py): ambiguous or malformed lengths, a
# missing Host, NUL bytes and dot segments in the path, Expect (100-continue
# with and without a token, an unknown value), a 401 to a body never sent,
# an oversized head: each case's status, whether the connection is closed,
# the JSON error body {"status":N,"message":"..."} (civetweb's own errors
# included) and X-Request-ID echoed. Also: a keep-alive connection idle for
# 20 s still serves (default settings), and plain HTTP sent to the HTTPS
# port is answered or closed within 1 s while HTTPS keeps working. About
# 30 s.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opframing
PID_VARS="SYNC_PID API_PID KA_PID"
. "$(dirname "$0")/lib.sh"
DRIVER="$(dirname "$0")/framing.py"

one_item_https framing-srv
expect "the item is served (and the token unlocks the server)" 200 "$TOKEN" \
    "/v1/vaults/$DEMO/items/$ITEM" ".id == \"$ITEM\""

# verdicts FILE: the driver's PASS/FAIL lines as checks.
verdicts() {
    _n=0
    while IFS="$(printf '\t')" read -r _v _what _detail; do
        case $_v in
        PASS) pass "$_what${_detail:+ ($_detail)}" ;;
        FAIL) fail "$_what" "$_detail" ;;
        *) continue ;;
        esac
        _n=$((_n + 1))
    done <"$1"
    [ "$_n" -gt 0 ] || fail "$1: the driver gave verdicts" "$(tail -n 5 "$1.err" 2>/dev/null)"
}

# The keep-alive wait runs meanwhile.
OPC_TOKEN="$TOKEN" "$PY" "$DRIVER" keepalive 127.0.0.1 "$APORT" "/v1/vaults/$DEMO/items/$ITEM" 20 \
    >"$T/ka" 2>"$T/ka.err" &
KA_PID=$!
OPC_TOKEN="$TOKEN" timeout 120 "$PY" "$DRIVER" table 127.0.0.1 "$APORT" "$DEMO" "$ITEM" \
    >"$T/table" 2>"$T/table.err" || true
verdicts "$T/table"

timeout 10 "$PY" "$DRIVER" plain-to-tls 127.0.0.1 "$HTTPS_PORT" >"$T/plain" 2>"$T/plain.err" || true
verdicts "$T/plain"
check "HTTPS still serves after plain HTTP on its port" \
    curl -sf -m 5 --cacert "$T/tls/cert.pem" "https://127.0.0.1:$HTTPS_PORT/heartbeat"

wait "$KA_PID" || true
KA_PID=
verdicts "$T/ka"
check "connect-api still runs and answers" sh -c \
    "kill -0 $API_PID && curl -sf -m 5 http://127.0.0.1:$APORT/heartbeat"
stop_pid API_PID
check "connect-api: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
echo "framing: $NPASS passed, $NFAIL failed"
