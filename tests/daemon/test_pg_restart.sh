#!/bin/sh
# tests/daemon/test_pg_restart.sh - PostgreSQL restarted under load while
# op-account-server keeps running (issue 14, must-show 4).
#
# The network world on PostgreSQL (NET_STORE=pg): an account, vault Load
# with the item "Before" (a known password), a Connect server (connect-sync
# + connect-api) and a load through connect-api for the whole test: 4
# clients each POSTing an item, then listing the vault and GETting the item
# (tests/lib/item_load.py, MODE create). Twice, the database goes away
# under it:
#   1. pg_ctl restart -m fast;
#   2. SIGKILL of the postmaster, a few seconds of outage, pg_ctl start.
# During the outage (2): a write through connect-api answers 503 with
# Retry-After, the account server's log shows 503s, reads through
# connect-api keep answering the right data, the owner's op item create
# fails cleanly (its item there at most once afterwards). After each
# restart, without restarting op-account-server (same PIDs; a second one,
# acctd2, on the same database): a write through connect-api succeeds
# within 10 s; the owner's session survives the clean restart, and after
# the crash either survives or op says to sign in again (sessions are
# UNLOGGED: docs/postgres.md); then the owner's `op item create` through
# acctd and through acctd2 succeeds at the first try (no stale pooled
# connection answers 503) and reaches connect-api within 10 s (through
# acctd2 within 4 s: the account server's LISTEN is back).
# At the end: every answer of the load was 200 or 503 (a read never wrong:
# a GET with another item's title counts as wrong); every POST answered 200
# is in the vault exactly once, every POST answered otherwise at most once;
# connect-api's items equal the database's (ids, versions); "Before" reads
# back its password through connect-api and through op (the database).
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
NET_STORE=pg
NET_OWNER=remote
export OPC_UPSTREAM_MODE NET_STORE NET_OWNER
T_PREFIX=oppgrestart
PID_VARS="SYNC_PID API_PID LOAD_PID ACCTD2_PID"
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
OUTAGE_S=${PG_OUTAGE_SECONDS:-4}

account_create "pg restart password $$"
BEFORE_PW="before-pw-$$"
# shellcheck disable=SC2317
setup() {
    op vault create Load >/dev/null &&
        op item create --vault Load --category login --title Before username=alice \
            "password=$BEFORE_PW" >/dev/null &&
        (cd "$T/work" && op connect server create rs --vaults Load >/dev/null)
}
run_setup "account, vault Load, item Before and Connect server rs set up with op"
TOK=$(op connect token create tok --server rs --vault Load | tail -n 1)
LOAD=$(op vault get Load --format json | jq -r .id)
ACCT=$(op account get --format json | jq -r .id)
BEFORE=$(op item get Before --vault Load --format json | jq -r .id)
start_daemons "$CREDS"
ACCTD_PID0=$ACCTD_PID
# A second account server on the database (acctd2), the owner signed in
# there too (its own runtime dir: op keeps one session per account in
# one): the owner's writes after each restart go through acctd2, so they
# reach connect-sync's long poll on acctd only by the database's
# notifications (acctd's listener, back after the restart) or its poll.
ACCT2_PORT=$(free_port)
while [ "$ACCT2_PORT" = "$ACCT_PORT" ]; do ACCT2_PORT=$(free_port); done
net_server_start ACCTD2_PID "$NET_DATA" "$NET/srv1" "$OP_UPSTREAM_CA_FILE" "$ACCT2_PORT" acctd2 ||
    { fail "a second op-account-server on the database answers" "$(tail -n 5 "$T/acctd2.err")"; exit 1; }
ACCTD2_PID0=$ACCTD2_PID
URL2=$(net_url "$ACCT2_PORT")
mkdir -p "$T/run2" && chmod 700 "$T/run2"
env XDG_RUNTIME_DIR="$T/run2" OP_PASSWORD="$NET_OWNER_PW" setsid -w "$OP" signin --address "$URL2" \
    --email owner@example.com >"$T/signin2" 2>"$T/signin2.err" </dev/null || true
SESS2=$(sed -n 's/^export OP_SESSION_TOKEN="\(.*\)"$/\1/p' "$T/signin2")
# signin_again: the owner's two sessions anew (acctd: this shell's).
signin_again() {
    env OP_PASSWORD="$NET_OWNER_PW" setsid -w "$OP" signin --address "$NET_URL" >"$T/signin" \
        2>"$T/signin.err" </dev/null && eval "$(cat "$T/signin")" &&
        env XDG_RUNTIME_DIR="$T/run2" OP_PASSWORD="$NET_OWNER_PW" setsid -w "$OP" signin \
            --address "$URL2" --email owner@example.com >"$T/signin2" 2>"$T/signin2.err" </dev/null &&
        SESS2=$(sed -n 's/^export OP_SESSION_TOKEN="\(.*\)"$/\1/p' "$T/signin2") && [ -n "$SESS2" ]
}
check "a second account server, the owner signed in there too" [ -n "$SESS2" ]
op2() { # op through acctd2
    env XDG_RUNTIME_DIR="$T/run2" OP_SESSION_TOKEN="$SESS2" OP_ADDRESS="$URL2" \
        setsid -w "$OP" "$@" </dev/null
}
psql_q() { # SQL: one query's rows, unaligned
    "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d opc -v ON_ERROR_STOP=1 -c "$1"
}

# before_ok: connect-api answers Before with its password.
before_ok() {
    curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults/$LOAD/items/$BEFORE" |
        jq -e --arg pw "$BEFORE_PW" '.title == "Before" and ([.fields[] | select(.purpose == "PASSWORD") | .value] == [$pw])' \
            >/dev/null
}
check "connect-api reads Before with its password" before_ok

OPC_TOKEN=$TOK "$PY" "$HERE/../lib/item_load.py" "$APORT" "$LOAD" "$T/stop" 4 w create \
    "$T/load.log" >"$T/load.sum" 2>"$T/load.err" &
LOAD_PID=$!
posts_ok() { awk '$3 == "POST" && $4 == 200 { n++ } END { print n + 0 }' "$T/load.log"; }
sleep 3
N0=$(posts_ok)
check "the load writes through connect-api ($N0 items in 3 s)" [ "$N0" -gt 0 ]

# one_write TITLE: one POST through connect-api; CODE and $T/w.body, $T/w.hdr.
one_write() {
    CODE=$(curl -s -o "$T/w.body" -D "$T/w.hdr" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
        --data "{\"title\":\"$1\",\"category\":\"LOGIN\"}" \
        "http://127.0.0.1:$APORT/v1/vaults/$LOAD/items")
}
write_ok() { one_write "$1" && [ "$CODE" = 200 ]; }
# title_count TITLE: how many of the vault's items connect-api lists with TITLE.
title_count() {
    curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults/$LOAD/items" |
        jq --arg t "$1" '[.[] | select(.title == $t)] | length'
}
in_api() { [ "$(title_count "$1")" = 1 ]; }

# after_restart LABEL clean|crash: writes and propagation work again within
# 10 s.
after_restart() {
    if poll_until 10000 write_ok "after-$1"; then
        pass "$1: a write through connect-api succeeds again ${ELAPSED} ms after PostgreSQL is back"
    else
        fail "$1: a write through connect-api succeeds again within 10 s" "HTTP $CODE $(head -c 200 "$T/w.body")"
    fi
    # Sessions are kept in UNLOGGED tables (docs/postgres.md): a clean
    # restart keeps them, a crash of the database ends them all. After the
    # crash op either still works or says to sign in again, cleanly.
    if op vault list >/dev/null 2>"$T/op.err"; then
        pass "$1: the owner's session works after the restart"
    elif [ "$2" = crash ] && grep -q 'sign in again' "$T/op.err"; then
        pass "$1: the owner's session ended with the crash of the database; op says to sign in again"
        if signin_again; then
            pass "$1: the owner signs in again (both account servers)"
        else
            fail "$1: the owner signs in again" "$(cat "$T/signin.err" "$T/signin2.err")"
        fi
    else
        fail "$1: the owner's session works after the restart" "$(cat "$T/op.err")"
    fi
    # The owner through acctd (its own commits wake its long polls), then
    # through acctd2 (the wake-up crosses servers).
    for _via in acctd acctd2; do
        _cmd=op
        [ "$_via" = acctd ] || _cmd=op2
        t1=$(now_ms)
        # At the first try: the database is back, and a connection the pool
        # kept from before the restart must not fail the request (the pool
        # opens a new one instead).
        if "$_cmd" item create --vault Load --category password \
            --title "owner-$_via-after-$1" "password=owner-$1-$$" >/dev/null 2>"$T/op.err"; then
            if poll_until 10000 in_api "owner-$_via-after-$1"; then
                _ms=$(($(now_ms) - t1))
                pass "$1: an item the owner writes through $_via reaches connect-api ($_ms ms: the feed's long polls resumed)"
                [ "$_via" = acctd ] || check "$1: ... within 4 s (not by the 5 s safety poll: acctd's listener is back)" \
                    [ "$_ms" -lt 4000 ]
            else
                fail "$1: an item the owner writes through $_via reaches connect-api within 10 s"
            fi
        else
            fail "$1: op item create through $_via after the restart, at the first try" "$(cat "$T/op.err")"
        fi
    done
    check "$1: neither op-account-server was restarted (PIDs $ACCTD_PID0, $ACCTD2_PID0)" \
        sh -c "[ '$ACCTD_PID' = '$ACCTD_PID0' ] && kill -0 '$ACCTD_PID0' && [ '$ACCTD2_PID' = '$ACCTD2_PID0' ] && kill -0 '$ACCTD2_PID0'"
    n=$(posts_ok)
    check "$1: the load goes on ($n items written)" poll_until 10000 sh -c \
        "[ \$(awk '\$3 == \"POST\" && \$4 == 200 { n++ } END { print n + 0 }' '$T/load.log') -gt $n ]"
}

# ================= 1. pg_ctl restart =================
OLDPG=$PG_PID
DOWN1=$(now_ms)
if pg_restart; then
    BACK1=$(now_ms)
    pass "pg_ctl restart -m fast (postmaster $OLDPG -> $PG_PID)"
else
    fail "pg_ctl restart -m fast" "$(tail -n 5 "$PG_DIR/pg_ctl.log")"
    exit 1
fi
after_restart "pg_ctl restart" clean

# ================= 2. SIGKILL of the postmaster =================
A503=$(grep -c '503' "$T/acctd.log" || true)
DOWN2=$(now_ms)
kill -KILL "$PG_PID"
pass "SIGKILL to the postmaster ($PG_PID)"
t0=$(now_ms)
# A write during the outage: 503 with Retry-After (the first tries may
# still meet a backend alive: try until one answers 503).
got503=
i=0
while [ $(($(now_ms) - t0)) -lt $((OUTAGE_S * 1000)) ]; do
    i=$((i + 1))
    one_write "outage-write-$i"
    echo "outage-write-$i $CODE" >>"$T/outage.log"
    if [ "$CODE" = 503 ]; then
        got503=1
        break
    fi
    sleep 0.2
done
if [ -n "$got503" ]; then
    pass "outage: a write through connect-api answers 503"
    check "outage: ... with Retry-After ($(grep -i '^Retry-After' "$T/w.hdr" | tr -d '\r'))" \
        grep -qi '^Retry-After: [0-9]' "$T/w.hdr"
else
    fail "outage: a write through connect-api answers 503" "HTTP $CODE $(head -c 200 "$T/w.body")"
fi
check "outage: connect-api still reads Before with its password" before_ok
# The owner's write during the outage: op fails cleanly (an error, within
# 30 s), and the item is there at most once afterwards.
ot0=$(now_ms)
set +e
timeout 30 setsid -w "$OP" item create --vault Load --category password --title owner-outage \
    "password=owner-outage-$$" </dev/null >/dev/null 2>"$T/op-outage.err"
OP_OUT_RC=$?
set -e
check "outage: op item create fails cleanly (exit $OP_OUT_RC in $(($(now_ms) - ot0)) ms: $(head -c 160 "$T/op-outage.err"))" \
    [ "$OP_OUT_RC" -ne 0 -a "$OP_OUT_RC" -ne 124 -a -s "$T/op-outage.err" ]
while [ $(($(now_ms) - t0)) -lt $((OUTAGE_S * 1000)) ]; do sleep 0.2; done
A503b=$(grep -c '503' "$T/acctd.log" || true)
check "outage: the account server answered 503 ($((A503b - A503)) lines of its log)" [ "$A503b" -gt "$A503" ]
if pg_start_again; then
    BACK2=$(now_ms)
    pass "PostgreSQL started again after $(($(now_ms) - t0)) ms of outage (postmaster $PG_PID)"
else
    fail "PostgreSQL starts again" "$(tail -n 5 "$PG_DIR/pg_ctl.log")"
    exit 1
fi
after_restart "SIGKILL" crash

# ================= the end: nothing lost, nothing twice, nothing wrong =================
sleep 2
touch "$T/stop"
wait "$LOAD_PID" || true
LOAD_PID=
echo "   (load: $(tail -n 1 "$T/load.sum"); outage writes: $(cut -d' ' -f2 "$T/outage.log" | tr '\n' ' '))"
# The writes of the outage check join the load's, in its log's format.
while read -r title code; do
    echo "0 - POST $code $title - - 0" >>"$T/load.log"
done <"$T/outage.log"
WRONG=$(awk '$4 != 200 && $4 != 503 { print }' "$T/load.log")
check "every answer of the load was 200 or 503 ($(awk '$4 == 503 { n++ } END { print n + 0 }' "$T/load.log") 503s)" \
    [ -z "$WRONG" ]
[ -z "$WRONG" ] || echo "$WRONG" | head -n 5
# When the 503s were: the load's requests sent while the database was
# down or restarting, and those sent after it was back (connect-api's own
# backoff towards the account server may still answer some at first).
n503() { awk -v a="$1" -v b="$2" '$4 == 503 && $8 >= a && $8 < b { n++ } END { print n + 0 }' "$T/load.log"; }
echo "   (503s of the load by when the request was sent: $(n503 "$DOWN1" "$BACK1") during the restart, $(n503 "$BACK1" "$DOWN2") from then to the SIGKILL (in flight at the kill); $(n503 "$DOWN2" "$BACK2") during the SIGKILL outage, $(n503 "$BACK2" 99999999999999) after it)"
# (a request sent shortly before the SIGKILL may answer 503 too: the check
# looks after the second restart, where the load runs on to the end)
check "no request sent 2.5 s or more after the database was back answered 503" \
    [ "$(n503 $((BACK2 + 2500)) 99999999999999)" -eq 0 ]
# connect-api's items equal the database's.
api_items() {
    curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults/$LOAD/items" \
        >"$T/list.json" && jq -r '.[] | "\(.id) \(.version)"' "$T/list.json" | sort >"$T/api.items" &&
        psql_q "SELECT id || ' ' || version FROM items WHERE account_id = '$ACCT' AND vault_id = '$LOAD' AND state = 'active'" |
        sort >"$T/db.items" && cmp -s "$T/api.items" "$T/db.items"
}
if poll_until 15000 api_items; then
    pass "connect-api's items equal the database's, ids and versions ($(wc -l <"$T/db.items") items)"
else
    fail "connect-api's items equal the database's, ids and versions" \
        "$(wc -l <"$T/api.items") in connect-api, $(wc -l <"$T/db.items") in the database"
fi
n=$(jq '[.[] | select(.title == "owner-outage")] | length' "$T/list.json")
check "outage: the owner's failed write is there at most once ($n)" [ "$n" -le 1 ]
if "$PY" - "$T/load.log" "$T/list.json" >"$T/dups.out" 2>&1 <<'PY'; then
import json, sys
titles = {}
for it in json.load(open(sys.argv[2])):
    titles[it["title"]] = titles.get(it["title"], 0) + 1
bad = []
ok = other = 0
for line in open(sys.argv[1]):
    f = line.split()
    if f[2] != "POST":
        continue
    n = titles.get(f[4], 0)
    if f[3] == "200":
        ok += 1
        if n != 1:
            bad.append("%s answered 200, %d in the vault" % (f[4], n))
    else:
        other += 1
        if n > 1:
            bad.append("%s answered %s, %d in the vault" % (f[4], f[3], n))
print("%d POSTs answered 200, %d answered otherwise" % (ok, other))
if bad:
    print("; ".join(bad[:5]))
    sys.exit(1)
PY
    pass "every write answered 200 is in the vault once, every other at most once ($(cat "$T/dups.out"))"
else
    fail "every write answered 200 is in the vault once, every other at most once" "$(cat "$T/dups.out")"
fi
check "Before reads back its password through connect-api" before_ok
op_pw=$(op item get Before --vault Load --format json 2>"$T/op.err" |
    jq -r '[.fields[]? | select(.id == "password" or .purpose == "PASSWORD") | .value] | first' || true)
check "Before reads back its password through op (the database)" [ "$op_pw" = "$BEFORE_PW" ]
check "op-account-server ran throughout (PID $ACCTD_PID0)" kill -0 "$ACCTD_PID0"
check "the account server logged the lost database connection" \
    grep -q -e 'database connection was lost' -e 'cannot connect to the database' "$T/acctd.log"
# libpq prints the server's messages on stderr unless told otherwise
# ("FATAL: terminating connection due to administrator command" when the
# database shuts down): the store logs them as its other lines instead.
check "nothing on the account servers' stderr (the database's messages go to their logs)" \
    [ ! -s "$T/acctd.err" -a ! -s "$T/acctd2.err" ]
[ ! -s "$T/acctd.err" ] || head -n 3 "$T/acctd.err"
NL=$(grep -c 'listening for commits of other account servers' "$T/acctd.log" || true)
check "acctd's listener connected again after each restart ($NL times in all)" [ "$NL" -ge 3 ]

echo "# $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
