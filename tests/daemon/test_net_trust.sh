#!/bin/sh
# tests/daemon/test_net_trust.sh - what the network protocol of
# op-account-server (docs/protocol.md, "The network protocol") promises a
# Connect server against the network in between, end to end with the real
# daemons (issue 13):
#
#   (a) the account server's certificate from a CA the Connect server does
#       not trust: connect-sync refuses, says so in its log, caches nothing;
#   (b) credentials pinned to another account server's key: refused,
#       nothing cached;
#   (c) a proxy that terminates TLS (its CA trusted through
#       OP_UPSTREAM_CA_FILE: tests/lib/mitm.py) alters a feed entry: the
#       answer fails its MAC check, nothing of it is applied; the same proxy
#       relaying honestly lets the sync through (the control);
#   (d) the proxy replays a signed request: the account server answers 401
#       to the replay and logs why;
#   (e) account isolation: accounts A and B in one data dir; through B's
#       credentials (tests/daemon/upstream_probe: the real client, one
#       upstream operation), every endpoint of the protocol's table with
#       A's vault, item, file, token and issuer key ids is refused
#       (OPC_ERR_NOT_FOUND or OPC_ERR_PERMISSION: 404 or 403), while B's
#       own ids work and B's feed names none of A's ids.
#
# Always in the network world (tests/lib/networld.sh), whatever
# OPC_UPSTREAM_MODE says; run once per `make check`.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opnettrust
PID_VARS="SYNC_PID MITM_PID"
OPC_UPSTREAM_MODE=https
NET_OWNER=file # op writes the account file the server serves
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE="$BUILDDIR/tests/daemon/upstream_probe"
if [ ! -x "$PROBE" ]; then
    fail "tests/daemon/upstream_probe is built (make $PROBE)"
    exit 1
fi
A_DB="$NET_DATA/accounts/a.db"
B_DB="$NET_DATA/accounts/b.db"

# ---- account A (a.db; account_create starts op-account-server) ----
account_create "net trust A password $$"
SESS_A=$OP_SESSION_TOKEN
printf 'attached line\n' >"$T/work/attached.txt"
setup() {
    op vault create Demo >/dev/null &&
        op item create --vault Demo --category login --title "Web Login" username=alice \
            "password=canary-a-$$" >/dev/null &&
        op item create --vault Demo --category login --title "Attached" "password=att-a-$$" \
            "note[file]=$T/work/attached.txt" >/dev/null &&
        (cd "$T/work" && op connect server create a-srv --vaults Demo >/dev/null)
}
run_setup "account A: a vault, two items (one with a file) and a server, with op"
CREDS_A=$CREDS
A_VAULT=$(op vault get Demo --format json | jq -r .id)
A_ITEM=$(op item get "Web Login" --vault Demo --format json | jq -r .id)
A_ATT=$(op item get "Attached" --vault Demo --format json | jq -r .id)
A_TOKEN=$(op connect token create a-tok --server a-srv --vault Demo | tail -n 1)
A_JTI=$(op connect token list --server a-srv --format json | jq -r '.[0].id')
A_KID=$(printf '%s' "${A_TOKEN%%.*}" | "$PY" -c \
    'import sys,base64,json; s=sys.stdin.read().strip(); print(json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))["kid"])')
A_SRV=$(op connect server get a-srv --format json | jq -r .id)
check "account A's ids are known (vault, items, token, issuer key, server)" sh -c \
    "for i in '$A_VAULT' '$A_ITEM' '$A_ATT' '$A_JTI' '$A_KID' '$A_SRV'; do echo \"\$i\" | grep -qE '^[a-z2-7]{26}\$' || exit 1; done"

# cache_count DIR TABLE: rows of TABLE in the cache under data dir DIR (0
# when there is no cache yet).
cache_count() {
    _c="$1/.op/data/1password.sqlite"
    if [ -f "$_c" ]; then
        sqlite3 -cmd ".timeout 10000" "$_c" "SELECT COUNT(*) FROM $2" 2>/dev/null || echo 0
    else
        echo 0
    fi
}
# sync_start NAME CREDS CA_FILE: connect-sync over a fresh data dir
# $T/NAME (SDIR), trusting CA_FILE, logs $T/NAME.log and $T/NAME.err, on a
# free status port (SPORT); SYNC_PID.
sync_start() {
    SDIR="$T/$1"
    mkdir -p "$SDIR"
    SPORT=$(free_port)
    env XDG_DATA_HOME="$SDIR" OP_SESSION="$2" OP_HTTP_PORT="$SPORT" OP_LOG_LEVEL=debug \
        OP_UPSTREAM_CA_FILE="$3" "$SYNC" >"$T/$1.log" 2>"$T/$1.err" </dev/null &
    SYNC_PID=$!
    wait_http "$SPORT" || fail "$1: connect-sync answers /heartbeat" "$(cat "$T/$1.err")"
}
sync_health_is() { # SERVICE STATUS
    curl -s "http://127.0.0.1:$SPORT/health" | jq_e --arg s "$1" --arg st "$2" \
        '.dependencies[] | select(.service == $s) | .status == $st'
}
# log_has NAME REGEX: a line of connect-sync's log $T/NAME.log (or its
# stderr) matches REGEX (grep -E -i).
log_has() { cat "$T/$1.log" "$T/$1.err" 2>/dev/null | grep -Eiq "$2"; }
# warned_once NAME REGEX: exactly one line of connect-sync's log at warn
# or error level (JSON level <= 2) matches REGEX (jq test, case-insensitive):
# a refusal is one clear line, its repeats go to the debug level.
warned_once() {
    jq -e -s --arg re "$2" \
        '[.[] | select(.level <= 2 and (.log_message | test($re; "i")))] | length == 1' "$T/$1.log"
}
items_in() { [ "$(cache_count "$T/$1" items)" -ge "$2" ]; }
nothing_cached() { [ "$(cache_count "$T/$1" items)" -eq 0 ] && [ "$(cache_count "$T/$1" vaults)" -eq 0 ]; }

# ---- the control: A's credentials, the right CA, the right pin ----
sync_start ok "$CREDS_A" "$NET/ca1/ca.pem"
if poll_until 10000 items_in ok 2; then
    pass "control: connect-sync mirrors account A through op-account-server (${ELAPSED} ms)"
else
    fail "control: connect-sync mirrors account A through op-account-server" \
        "$(cache_count "$T/ok" items) items; $(tail -n 3 "$T/ok.log")"
fi
check "control: /health reports the upstream ACTIVE" sync_health_is upstream ACTIVE
stop_pid SYNC_PID

# ---- (a) a certificate from a CA the Connect server does not trust ----
# The account server's certificate is from CA 1; this connect-sync trusts
# CA 2 only (a valid bundle, the wrong CA).
net_ca "$NET/ca2" "opconnect test CA 2" || fail "a second test CA made with openssl"
sync_start untrusted "$CREDS_A" "$NET/ca2/ca.pem"
TLS_RE='certificate'
if poll_until 8000 log_has untrusted "$TLS_RE"; then
    pass "(a) an untrusted certificate: connect-sync logs why"
else
    fail "(a) an untrusted certificate: connect-sync logs why" "$(tail -n 3 "$T/untrusted.log")"
fi
check "(a) the refusal is one warning line (its repeats at debug)" warned_once untrusted "$TLS_RE"
check "(a) /health reports the upstream unreachable" poll_until 3000 sync_health_is upstream UNREACHABLE
check "(a) nothing cached: no vault, no item" nothing_cached untrusted
stop_pid SYNC_PID

# ---- (b) credentials pinned to another account server's key ----
net_data_init "$NET/data2" || fail "a second data dir"
PIN2=$(net_pin "$NET/data2" 2>"$T/pin2.err") || fail "op-account-server --print-pin of a second data dir"
other_pin() { [ -n "$PIN2" ] && [ "$PIN2" != "$NET_PIN" ]; }
check "(b) the second data dir's key has another pin" other_pin
mkdir -p "$T/workpin"
(cd "$T/workpin" && op connect server create pin-srv --vaults Demo --upstream "$NET_URL" \
    --upstream-pin "$PIN2" >/dev/null) 2>"$T/pin.err" || fail "(b) credentials with another pin" "$(cat "$T/pin.err")"
sync_start pinned "$T/workpin/1password-credentials.json" "$NET/ca1/ca.pem"
PIN_RE="key is not the one the credentials pin"
if poll_until 8000 log_has pinned "$PIN_RE"; then
    pass "(b) another server's pin: connect-sync refuses and logs why"
else
    fail "(b) another server's pin: connect-sync refuses and logs why" "$(tail -n 3 "$T/pinned.log")"
fi
check "(b) the refusal is one warning line (its repeats at debug)" warned_once pinned "$PIN_RE"
check "(b) /health reports the upstream unreachable" poll_until 3000 sync_health_is upstream UNREACHABLE
sleep 0.5
check "(b) nothing cached: no vault, no item" nothing_cached pinned
stop_pid SYNC_PID

# ---- the proxy in the middle (tests/lib/mitm.py), its certificate from CA 2 ----
net_cert "$NET/ca2" "$NET/mitm" || fail "a certificate for the proxy, from CA 2"
MITM_PORT=$(free_port)
# mitm_start NAME ARGS...: the proxy on MITM_PORT in front of the account
# server, log $T/NAME.mitm; MITM_PID.
mitm_start() {
    _n=$1
    shift
    rm -f "$T/mitm.port"
    "$PY" "$HERE/../lib/mitm.py" --port "$MITM_PORT" --port-file "$T/mitm.port" \
        --cert "$NET/mitm/cert.pem" --key "$NET/mitm/key.pem" --upstream-port "$ACCT_PORT" \
        --upstream-ca "$NET/ca1/ca.pem" --log "$T/$_n.mitm" "$@" 2>"$T/$_n.mitm.err" &
    MITM_PID=$!
    poll_until 5000 [ -s "$T/mitm.port" ] || fail "$_n: the proxy listens" "$(cat "$T/$_n.mitm.err")"
}
mkdir -p "$T/workmitm"
(cd "$T/workmitm" && op connect server create mitm-srv --vaults Demo \
    --upstream "https://127.0.0.1:$MITM_PORT" --upstream-pin "$NET_PIN" >/dev/null) 2>"$T/mitm.err" ||
    fail "credentials naming the proxy" "$(cat "$T/mitm.err")"
CREDS_M="$T/workmitm/1password-credentials.json"
mitm_lines() { grep -c "$2" "$T/$1.mitm" 2>/dev/null || true; }
altered_twice() { [ "$(mitm_lines alter ' ALTERED ')" -ge 2 ]; }

# ---- (c) an altered feed entry ----
mitm_start alter --alter-changes 0 --field kind
sync_start altered "$CREDS_M" "$NET/ca2/ca.pem"
MAC_RE='failed its MAC check'
if poll_until 10000 altered_twice; then
    pass "(c) the proxy altered a feed entry of the changes answers ($(mitm_lines alter ' ALTERED ') times)"
else
    fail "(c) the proxy altered a feed entry of the changes answers" "$(tail -n 5 "$T/alter.mitm")"
fi
if poll_until 5000 log_has altered "$MAC_RE"; then
    pass "(c) connect-sync refuses the altered answer: \"$MAC_RE\""
else
    fail "(c) connect-sync refuses the altered answer: \"$MAC_RE\"" "$(tail -n 3 "$T/altered.log")"
fi
check "(c) the refusals are one warning line (the repeats at debug)" warned_once altered "$MAC_RE"
check "(c) nothing of the altered answers applied: no vault, no item" nothing_cached altered
stop_pid SYNC_PID
stop_pid MITM_PID
# The control: the same proxy alters only the first answer; the sync
# refuses it, starts over and mirrors the account.
mitm_start alter1 --alter-changes 1 --field kind
sync_start altered1 "$CREDS_M" "$NET/ca2/ca.pem"
if poll_until 15000 items_in altered1 2; then
    pass "(c) control: through the proxy, once it stops altering, the sync completes (${ELAPSED} ms)"
else
    fail "(c) control: through the proxy, once it stops altering, the sync completes" \
        "$(tail -n 3 "$T/altered1.log")"
fi
check "(c) control: the one altered answer was refused" log_has altered1 "$MAC_RE"
stop_pid SYNC_PID
stop_pid MITM_PID

# ---- (d) a replayed signed request ----
: >"$T/acctd.before"
cat "$T/acctd.log" >"$T/acctd.before" 2>/dev/null || true
mitm_start replay --replay
sync_start replayed "$CREDS_M" "$NET/ca2/ca.pem"
replayed() { grep -q '^REPLAY ' "$T/replay.mitm" 2>/dev/null; }
if poll_until 10000 replayed; then
    pass "(d) the proxy replayed a signed request"
else
    fail "(d) the proxy replayed a signed request" "$(tail -n 5 "$T/replay.mitm")"
fi
check "(d) the account server answers 401 to the replay" grep -q '^REPLAY .* -> 401$' "$T/replay.mitm"
acctd_logs_replay() { # a line of the account server's log since (d) began
    {
        tail -n "+$(($(wc -l <"$T/acctd.before") + 1))" "$T/acctd.log"
        cat "$T/acctd.err"
    } 2>/dev/null | grep -Eq 'counter [0-9]+ not above [0-9]+ \(replay or reorder\)'
}
check "(d) the account server logs why it refused the replay (counter not above the last)" \
    poll_until 3000 acctd_logs_replay
if poll_until 10000 items_in replayed 2; then
    pass "(d) the original request was served: the sync through the proxy completes"
else
    fail "(d) the original request was served: the sync through the proxy completes" "$(tail -n 3 "$T/replayed.log")"
fi
stop_pid SYNC_PID
stop_pid MITM_PID

# ---- (e) account isolation ----
# a_op ARGS...: op as A's owner (A's file and session).
a_op() { env OP_ACCOUNT="$A_DB" OP_SESSION_TOKEN="$SESS_A" setsid -w "$OP" "$@" </dev/null; }
# Account B in the same data dir (b.db), with its own server.
export OP_ACCOUNT="$B_DB"
account_create "net trust B password $$"
mkdir -p "$T/workb"
setup() {
    op vault create Bee >/dev/null &&
        op item create --vault Bee --category login --title "B Login" username=bob \
            "password=canary-b-$$" >/dev/null &&
        op item create --vault Bee --category login --title "B Attached" "password=att-b-$$" \
            "note[file]=$T/work/attached.txt" >/dev/null &&
        (cd "$T/workb" && op connect server create b-srv --vaults Bee >/dev/null)
}
if ! setup 2>"$T/setupb.err"; then
    fail "account B: a vault, two items and a server, with op" "$(cat "$T/setupb.err")"
    exit 1
fi
CREDS_B="$T/workb/1password-credentials.json"
B_VAULT=$(op vault get Bee --format json | jq -r .id)
B_ITEM=$(op item get "B Login" --vault Bee --format json | jq -r .id)
B_ATT=$(op item get "B Attached" --vault Bee --format json | jq -r .id)
B_TOKEN=$(op connect token create b-tok --server b-srv --vault Bee | tail -n 1)
B_JTI=$(op connect token list --server b-srv --format json | jq -r '.[0].id')
B_KID=$(printf '%s' "${B_TOKEN%%.*}" | "$PY" -c \
    'import sys,base64,json; s=sys.stdin.read().strip(); print(json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))["kid"])')
A_ID=$(a_op account get --format json | jq -r .id)
B_ID=$(op account get --format json | jq -r .id)
two_accounts() { [ -n "$A_ID" ] && [ -n "$B_ID" ] && [ "$A_ID" != "$B_ID" ] && [ "$A_ID" != null ]; }
check "accounts A and B are two accounts in one data dir" two_accounts
# (the running account server finds b.db by itself: a lookup that misses
# scans its accounts/ again)

# probe NAME OP ARGS...: one upstream operation with B's credentials; its
# first line in PROBE_OUT, the answer in $T/probe.json.
probe() {
    _pn=$1
    shift
    set +e
    "$PROBE" "$CREDS_B" "$@" >"$T/probe.out" 2>"$T/probe.err"
    _prc=$?
    set -e
    PROBE_OUT=$(head -n 1 "$T/probe.out")
    sed -n 2p "$T/probe.out" >"$T/probe.json"
    [ "$_prc" -eq 0 ] || PROBE_OUT="probe exit $_prc: $(cat "$T/probe.err")"
}
refused() { # DESC OP ARGS...: NOT_FOUND or PERMISSION
    _d=$1
    shift
    probe "$_d" "$@"
    case $PROBE_OUT in
    OPC_ERR_NOT_FOUND* | OPC_ERR_PERMISSION*) pass "(e) B's server, A's ids: $_d refused (${PROBE_OUT%% *})" ;;
    *) fail "(e) B's server, A's ids: $_d refused" "$PROBE_OUT" ;;
    esac
}
served() { # DESC JQ OP ARGS...: OK and jq -e JQ on the answer
    _d=$1
    _q=$2
    shift 2
    probe "$_d" "$@"
    if [ "$PROBE_OUT" = OK ] && jq -e "$_q" "$T/probe.json" >/dev/null 2>&1; then
        pass "(e) control: B's server, B's ids: $_d served"
    else
        fail "(e) control: B's server, B's ids: $_d served" "$PROBE_OUT $(head -c 200 "$T/probe.json")"
    fi
}
# Controls first: B's own ids work through the same client and server.
served "GET changes" 'length > 0' changes
B_CHANGES="$T/b-changes.json"
cp "$T/probe.json" "$B_CHANGES"
served "GET access/{vault}" ".vault_id == \"$B_VAULT\"" access "$B_VAULT"
served "GET vaults/{vault}" ".id == \"$B_VAULT\"" vault "$B_VAULT"
served "GET vaults/{vault}/items" 'length == 2' vault_items "$B_VAULT"
served "GET items/{item}" ".id == \"$B_ITEM\"" item "$B_ITEM"
served "GET items/{item}/files" 'length >= 1' item_files "$B_ATT"
served "GET vaults/{vault}/files" 'length >= 1' vault_files "$B_VAULT" "$B_ATT" "$B_ATT"
served "GET tokens/{jti}" ".jti == \"$B_JTI\"" token "$B_JTI"
served "GET issuer-keys/{kid}" ".kid == \"$B_KID\"" issuer_key "$B_KID"
probe ver item "$B_ITEM"
B_VER=$(jq -r .version "$T/probe.json")
served "PUT vaults/{vault}/items/{item} (a replace at its version)" '.[0].version > 0' \
    item_put "$B_VAULT" "$B_ITEM" "$B_VER" "$B_ITEM"

# A's ids through B's server: every endpoint of the table.
no_a_ids() { ! grep -q -e "$A_VAULT" -e "$A_ITEM" -e "$A_ATT" -e "$A_JTI" -e "$A_SRV" "$B_CHANGES"; }
check "(e) B's feed names none of A's ids" no_a_ids
refused "GET issuer-keys/{kid}" issuer_key "$A_KID"
refused "GET access/{vault}" access "$A_VAULT"
refused "GET vaults/{vault}" vault "$A_VAULT"
refused "GET vaults/{vault}/items" vault_items "$A_VAULT"
refused "GET vaults/{vault}/files" vault_files "$A_VAULT" "$A_ATT" "$A_ATT"
refused "GET items/{item}" item "$A_ITEM"
refused "GET items/{item} (the item with a file)" item "$A_ATT"
refused "GET items/{item}/files" item_files "$A_ATT"
refused "GET tokens/{jti}" token "$A_JTI"
refused "PUT vaults/{vault}/items/{item} (replace)" item_put "$A_VAULT" "$A_ITEM" 1 "$B_ITEM"
NEW_ID=$("$PY" -c 'import secrets; print("".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(26)))')
refused "PUT vaults/{vault}/items/{new id} (create)" item_put "$A_VAULT" "$NEW_ID" 0 "$B_ITEM"
refused "PUT of A's item into B's vault" item_put "$B_VAULT" "$A_ITEM" 1 "$B_ITEM"
refused "DELETE vaults/{vault}/items/{item}" item_delete "$A_VAULT" "$A_ITEM" 0
refused "DELETE vaults/{vault}/items/{item} at its version" item_delete "$A_VAULT" "$A_ATT" 1
# Nothing of A changed: its items as A's owner sees them.
a_items() { a_op item list --vault Demo --format json | jq_e 'length == 2'; }
check "(e) A's items are untouched: still two (op, as A's owner)" a_items
a_item_v1() { a_op item get "$A_ITEM" --vault Demo --format json | jq_e '.version == 1'; }
check "(e) A's first item is still at version 1" a_item_v1

echo "net trust: $NPASS passed, $NFAIL failed"
