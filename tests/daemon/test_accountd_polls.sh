#!/bin/sh
# tests/daemon/test_accountd_polls.sh - more Connect servers long-polling
# one account server than it has workers for (OP_ACCOUNT_THREADS): the
# polls beyond its cap (threads less a reserve) get a signed 503 with
# Retry-After, and the reserve keeps the rest working: the owner's op,
# a Connect server's write, and a change still reaching the Connect
# servers that hold a poll (the refused ones back off and see it later).
# One warning line in the log, not one per poll.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
export OPC_UPSTREAM_MODE
T_PREFIX=oppolls
N_SYNC=14
PID_VARS="SYNC_PID API_PID $(i=1; while [ $i -le $N_SYNC ]; do printf 'Q%d ' $i; i=$((i + 1)); done)"
. "$(dirname "$0")/lib.sh"

one_item_https polls
# The account server again with 16 workers: at most 14 - 2 = 16 - max(8, 2)
# = 8 long polls held at once.
stop_pid ACCTD_PID
small() {
    env OP_ACCOUNT_DATA_DIR="$NET_DATA" OP_HTTPS_PORT="$ACCT_PORT" OP_BIND_ADDRESS=127.0.0.1 \
        OP_TLS_CERT_FILE="$NET/srv1/cert.pem" OP_TLS_KEY_FILE="$NET/srv1/key.pem" \
        OP_LOG_LEVEL=debug OP_ACCOUNT_THREADS=16 "$ACCTD" >>"$T/acctd.log" 2>>"$T/acctd.err" </dev/null &
    ACCTD_PID=$!
    poll_until 5000 curl -sf --cacert "$OP_UPSTREAM_CA_FILE" "$NET_URL/heartbeat"
}
check "the account server again, with OP_ACCOUNT_THREADS=16" small
env OP_PASSWORD="$NET_OWNER_PW" setsid -w "$OP" signin --address "$NET_URL" >"$T/signin" \
    2>"$T/signin.err" </dev/null && eval "$(cat "$T/signin")"

# 14 more connect-syncs on the same credentials, each its own cache: each
# holds a long poll most of the time.
i=1
while [ $i -le $N_SYNC ]; do
    mkdir -p "$T/q$i"
    XDG_DATA_HOME="$T/q$i" OP_SESSION="$CREDS" OP_HTTP_PORT="$(free_port)" OP_LOG_LEVEL=debug \
        "$SYNC" >"$T/q$i.log" 2>"$T/q$i.err" </dev/null &
    eval "Q$i=\$!"
    i=$((i + 1))
done
refused() { grep -q "long polls held, the most 8 workers allow" "$T/acctd.log"; }
check "polls beyond the cap are refused, with one warning naming OP_ACCOUNT_THREADS" \
    poll_until 15000 refused
sleep 2
N503=$(grep -c 'GET /v1/connect/changes: 503' "$T/acctd.log" || true)
NWARN=$(grep -c "long polls held, the most" "$T/acctd.log" || true)
check "... each refused with a 503 ($N503 so far), the warning not repeated per poll ($NWARN)" \
    [ "$N503" -gt "$NWARN" -a "$NWARN" -le 2 ]

# The reserve: the owner, a Connect write and the feed still work.
T0=$(now_ms)
check "the owner's op works meanwhile" sh -c \
    "setsid -w '$OP' item create --vault Demo --category login --title during-polls 'password=p-$$' </dev/null >/dev/null 2>'$T/op.err'"
echo "   (op item create took $(($(now_ms) - T0)) ms)"
code_post() {
    req "$TOKEN" "/v1/vaults/$DEMO/items" -X POST -H 'Content-Type: application/json' \
        -d '{"title":"api-during-polls","category":"LOGIN"}'
    [ "$CODE" = 200 ]
}
check "a Connect server's write works meanwhile (POST 200)" code_post
visible() {
    curl -sf -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$APORT/v1/vaults/$DEMO/items?filter=title%20eq%20%22during-polls%22" |
        jq_e 'length == 1'
}
check "the owner's change reaches connect-api" poll_until 10000 visible
# The holders see the change at once; the refused ones back off (up to
# connect-sync's 30 s) and see it late: beyond the cap a Connect server's
# changes are delayed, not lost (docs/ha.md, "Capacity").
applied_new() { # the syncs (of the 14) that applied the owner's change (cursor moved past 6)
    _n=0
    _i=1
    while [ $_i -le $N_SYNC ]; do
        grep -q 'applied [0-9]* changes, cursor [7-9]' "$T/q$_i.log" 2>/dev/null && _n=$((_n + 1))
        _i=$((_i + 1))
    done
    echo "$_n"
}
most_applied() { [ "$(applied_new)" -ge 6 ]; }
check "the connect-syncs holding a poll get the change (at least 6 of the $N_SYNC)" \
    poll_until 10000 most_applied
backing_off() { grep -qh 'too many long polls held' "$T"/q*.log; }
check "the refused ones say why and back off" backing_off
echo "   ($(applied_new) of $N_SYNC connect-syncs applied the change within the wait)"
no_crash() { kill -0 "$ACCTD_PID" 2>/dev/null && [ ! -s "$T/acctd.err" ]; }
check "the account server still runs, nothing on its stderr" no_crash

echo "accountd-polls: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
