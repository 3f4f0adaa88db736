#!/bin/sh
# tests/daemon/test_upstream_https.sh - connect-sync and connect-api with an
# https:// upstream: op-account-server serving the account over HTTPS (a
# self-signed certificate trusted through OP_UPSTREAM_CA_FILE, its key
# pinned with --upstream-pin). The sync mirrors the account; an item
# changed with op reaches connect-api; a write through connect-api reaches
# the account file; with the account server stopped, a write is 503 with
# Retry-After and /health names the upstream UNREACHABLE by its host; a
# missing CA file or a missing pin stops the start.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=ophttpsup
PID_VARS="ASRV_PID SYNC_PID API_PID"
. "$(dirname "$0")/lib.sh"
ASRV="$BUILDDIR/op-account-server"

# ---- the account, inside the account server's data directory ----
DATA="$T/asrv"
mkdir -p "$DATA/accounts"
chmod 700 "$DATA" "$DATA/accounts"
export OP_ACCOUNT="$DATA/accounts/main.db"
account_create "https upstream password $$"
op vault create Prod >/dev/null
op item create --vault Prod --category login --title "Net login" "password=canary-net-$$" \
    >/dev/null
ITEM=$(op item get "Net login" --vault Prod --format json | jq -r .id)
PROD=$(op vault get Prod --format json | jq -r .id)

# ---- op-account-server on HTTPS ----
if ! connect_selfsigned "$T/tls"; then
    fail "a self-signed certificate made with openssl"
    exit 1
fi
PIN=$(OP_ACCOUNT_DATA_DIR="$DATA" "$ASRV" --print-pin 2>"$T/pin.err" </dev/null || true)
check "op-account-server --print-pin prints a 43-character pin" \
    sh -c "printf '%s' '$PIN' | grep -Eq '^[A-Za-z0-9_-]{43}\$'"
ASPORT=$(free_port)
start_asrv() {
    OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTPS_PORT="$ASPORT" OP_BIND_ADDRESS=127.0.0.1 \
        OP_TLS_CERT_FILE="$T/tls/cert.pem" OP_TLS_KEY_FILE="$T/tls/key.pem" OP_LOG_LEVEL=debug \
        "$ASRV" >>"$T/asrv.log" 2>>"$T/asrv.err" </dev/null &
    ASRV_PID=$!
    poll_until 5000 curl -sf --cacert "$T/tls/cert.pem" "https://127.0.0.1:$ASPORT/heartbeat"
}
check "op-account-server answers /heartbeat over HTTPS" start_asrv
UPSTREAM="https://127.0.0.1:$ASPORT"

# ---- the Connect server's credentials ----
set +e
(cd "$T/work" && "$OP" connect server create nopin --vaults Prod --upstream "$UPSTREAM" \
    >/dev/null 2>"$T/nopin.err" </dev/null)
NOPIN_RC=$?
set -e
check "op refuses an https:// upstream without --upstream-pin" \
    sh -c "[ $NOPIN_RC -ne 0 ] && grep -q -- '--upstream-pin' '$T/nopin.err'"
(cd "$T/work" && op connect server create net --vaults Prod --upstream "$UPSTREAM" \
    --upstream-pin "$PIN" >/dev/null)
CREDS="$T/work/1password-credentials.json"
check "credentials written" [ -s "$CREDS" ]
TOKEN=$(op connect token create tok --server net --vault Prod | tail -n 1)

# ---- start-up refusals ----
set +e
OP_SESSION="$CREDS" OP_HTTP_PORT=0 OP_UPSTREAM_CA_FILE=/nonexistent/ca.pem timeout 10 "$SYNC" \
    >"$T/bad.out" 2>"$T/bad.err" </dev/null
BAD_RC=$?
set -e
check "connect-sync: a missing OP_UPSTREAM_CA_FILE stops start-up with one line ($BAD_RC)" \
    sh -c "[ $BAD_RC -eq 1 ] && [ \$(wc -l <'$T/bad.err') -eq 1 ] &&
           grep -q '^connect-sync: OP_UPSTREAM_CA_FILE: No such file' '$T/bad.err'"
# Without OP_UPSTREAM_CA_FILE the self-signed certificate is not trusted:
# the sync starts, and /health says why it cannot reach the upstream.

# ---- the daemons over the https upstream ----
export OP_UPSTREAM_CA_FILE="$T/tls/cert.pem"
start_daemons "$CREDS"
expect "connect-api serves the item mirrored over https" 200 "$TOKEN" \
    "/v1/vaults/$PROD/items/$ITEM" '.title == "Net login"'
check "the account server logged the Connect server's session" \
    grep -q 'session' "$T/asrv.log"

# A change made with op reaches connect-api through the long poll.
op item edit "Net login" --vault Prod --title "Net login 2" >/dev/null
title_is() { body_jq "$TOKEN" "/v1/vaults/$PROD/items/$ITEM" ".title == \"$1\""; }
check "an item edited with op is mirrored within 5 s" poll_until 5000 title_is "Net login 2"

# A write through connect-api goes to the account server, then the account file.
NEW='{"vault":{"id":"'"$PROD"'"},"title":"Written over https","category":"LOGIN","fields":[{"id":"password","type":"CONCEALED","purpose":"PASSWORD","value":"w-'"$$"'"}]}'
printf '%s' "$NEW" >"$T/new.json"
req "$TOKEN" "/v1/vaults/$PROD/items" -X POST -H 'Content-Type: application/json' \
    --data-binary "@$T/new.json"
check "POST an item through the https upstream: 200 ($CODE)" [ "$CODE" = 200 ]
NEW_ID=$(jq -r .id "$T/body")
check "the written item is in the account file" \
    sh -c "'$OP' item get '$NEW_ID' --vault Prod --format json </dev/null | jq -e '.title == \"Written over https\"'"
expect "connect-api reads its own write" 200 "$TOKEN" "/v1/vaults/$PROD/items/$NEW_ID" \
    '.title == "Written over https"'

# ---- the account server stops ----
stop_pid ASRV_PID
req "$TOKEN" "/v1/vaults/$PROD/items" -X POST -H 'Content-Type: application/json' \
    --data-binary "@$T/new.json"
check "a write with the upstream down: 503 ($CODE)" [ "$CODE" = 503 ]
check "the 503 carries Retry-After ($(header Retry-After))" [ -n "$(header Retry-After)" ]
expect "reads keep working with the upstream down" 200 "$TOKEN" "/v1/vaults/$PROD/items/$ITEM"
upstream_down() {
    curl -s "http://127.0.0.1:$SPORT/health" >"$T/health.json" &&
        jq -e '.dependencies[] | select(.service == "upstream") | .status == "UNREACHABLE"' \
            "$T/health.json"
}
check "connect-sync /health: upstream UNREACHABLE within 10 s" poll_until 10000 upstream_down
check "/health names the upstream's host" grep -q "127.0.0.1:$ASPORT" "$T/health.json"
check "/health does not show the pin" sh -c "! grep -q -- '$PIN' '$T/health.json'"
check "no log line holds the pin" sh -c "! grep -q -- '$PIN' '$T/sync.log' '$T/api.log'"

# ---- back ----
check "op-account-server starts again" start_asrv
upstream_up() {
    curl -s "http://127.0.0.1:$SPORT/health" |
        jq -e '.dependencies[] | select(.service == "upstream") | .status == "ACTIVE"'
}
check "connect-sync /health: upstream ACTIVE again within 10 s" poll_until 10000 upstream_up

# The long poll (a full wait per request) ends promptly on SIGTERM.
T0=$(now_ms)
stop_pid SYNC_PID
STOP_MS=$(($(now_ms) - T0))
check "connect-sync exits 0 on SIGTERM ($STOP_RC)" [ "$STOP_RC" = 0 ]
check "connect-sync stops within 1 s of SIGTERM (${STOP_MS} ms)" [ "$STOP_MS" -lt 1000 ]
stop_pid API_PID
stop_pid ASRV_PID
echo "test_upstream_https: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
