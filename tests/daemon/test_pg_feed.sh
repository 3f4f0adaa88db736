#!/bin/sh
# tests/daemon/test_pg_feed.sh - the change feed is gap-free under
# concurrent writers on two account servers sharing one PostgreSQL (issue
# 14, must-show 3).
#
# One throwaway cluster (tests/lib/pg.sh via networld.sh, NET_STORE=pg),
# TWO op-account-server processes on it and on one data dir (acctd, acctd2).
# Writers for PG_FEED_SECONDS (default 30) s on both: Connect server "wa"
# (connect-sync + connect-api) talks to acctd, "wb" to acctd2, each with
# 3 clients POSTing, PATCHing and DELETEing items (tests/lib/item_load.py)
# in two vaults; the owner's `op item create` loops, one signed in to
# acctd (in Feed1), one to acctd2 (in Hidden, a vault granted to no Connect
# server: entries the readers must skip, between those they must see). Meanwhile
# two readers (tests/daemon/feed_probe.c: the https upstream's changes(),
# long polls, the `since` cursor each page returns) follow the feed as
# Connect servers granted both vaults: r1 through acctd, 5 entries a page
# (always paging, racing the commits), r2 through acctd2, up to 1000 a page
# (at the head most of the time: its long polls wait for the wake-ups of
# commits made through either server).
#
# At the end: the account's seqs in the database's changes are 1..last_seq
# without a hole; each reader saw exactly the entries visible to it (the
# granted vaults' changes, issuer keys and its own server's; those scoped
# to wa and wb are invisible by design), each once, in increasing order,
# with their kinds. Positive controls: the checker fails a reader's log with
# one entry dropped, one duplicated, two swapped.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
NET_STORE=pg
NET_OWNER=remote
export OPC_UPSTREAM_MODE NET_STORE NET_OWNER
T_PREFIX=oppgfeed
PID_VARS="SYNC_PID API_PID SYNCB_PID APIB_PID ACCTD2_PID R1_PID R2_PID LOADA_PID LOADB_PID OPLOOP_PID OPLOOP2_PID"
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FEED_PROBE="$BUILDDIR/tests/daemon/feed_probe"
SECONDS_RUN=${PG_FEED_SECONDS:-30}
[ -x "$FEED_PROBE" ] || { fail "feed_probe is built ($FEED_PROBE)"; exit 1; }

# ---- the world: the account, a second account server, three Connect servers ----
account_create "pg feed password $$"
ACCT2_PORT=$(free_port)
while [ "$ACCT2_PORT" = "$ACCT_PORT" ]; do ACCT2_PORT=$(free_port); done
net_server_start ACCTD2_PID "$NET_DATA" "$NET/srv1" "$OP_UPSTREAM_CA_FILE" "$ACCT2_PORT" acctd2 ||
    { fail "a second op-account-server on the same database answers" "$(tail -n 5 "$T/acctd2.err")"; exit 1; }
pass "two op-account-server processes on one PostgreSQL database"
URL2=$(net_url "$ACCT2_PORT")
# The owner signed in to acctd2 too, a second session whose commands go
# to acctd2 (OP_ADDRESS); op keeps the sealed key of one session per
# account in its runtime dir, so this one gets a runtime dir of its own.
mkdir -p "$T/run2" && chmod 700 "$T/run2"
if env XDG_RUNTIME_DIR="$T/run2" OP_PASSWORD="$NET_OWNER_PW" setsid -w "$OP" signin \
    --address "$URL2" --email owner@example.com >"$T/signin2" 2>"$T/signin2.err" </dev/null; then
    SESS2=$(sed -n 's/^export OP_SESSION_TOKEN="\(.*\)"$/\1/p' "$T/signin2")
    check "the owner signed in to acctd2 as well" [ -n "$SESS2" ]
else
    fail "the owner signs in to acctd2 as well" "$(cat "$T/signin2.err")"
    exit 1
fi
ACCT=$(op account get --format json | jq -r .id)
V1=$(op vault create Feed1 --format json | jq -r .id)
V2=$(op vault create Feed2 --format json | jq -r .id)
# Hidden: granted to no Connect server; the owner's writes there during the
# load put entries no reader may see between those it must see.
op vault create Hidden >/dev/null
mkdir -p "$T/wa" "$T/wb" "$T/r1" "$T/r2"
(cd "$T/wa" && op connect server create wa --vaults Feed1,Feed2 >/dev/null)
(cd "$T/wb" && op connect server create wb --vaults Feed1,Feed2 --upstream "$URL2" \
    --upstream-pin "$NET_PIN" >/dev/null)
(cd "$T/r1" && op connect server create r1 --vaults Feed1,Feed2 >/dev/null)
(cd "$T/r2" && op connect server create r2 --vaults Feed1,Feed2 --upstream "$URL2" \
    --upstream-pin "$NET_PIN" >/dev/null)
TOKA=$(op connect token create ta --server wa --vault Feed1 --vault Feed2 | tail -n 1)
TOKB=$(op connect token create tb --server wb --vault Feed1 --vault Feed2 | tail -n 1)
RID_r1=$(op connect server get r1 --format json | jq -r .id)
RID_r2=$(op connect server get r2 --format json | jq -r .id)
check "vaults, three Connect servers (wb naming the second account server) and tokens" \
    [ -n "$V1" -a -n "$V2" -a -n "$TOKA" -a -n "$TOKB" -a -n "$RID_r1" -a "$RID_r1" != null -a -n "$RID_r2" -a "$RID_r2" != null \
    -a -s "$T/wa/1password-credentials.json" -a -s "$T/wb/1password-credentials.json" \
    -a -s "$T/r1/1password-credentials.json" -a -s "$T/r2/1password-credentials.json" ]

psql_q() { # SQL: one query's rows, unaligned (|-separated)
    "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d opc -v ON_ERROR_STOP=1 -c "$1"
}

# start_connect TAG CREDS: connect-sync and connect-api of one Connect
# server over a cache of its own ($T/data-TAG as XDG_DATA_HOME; logs
# $T/TAG-sync.* and $T/TAG-api.*); sets SPORT_TAG, APORT_TAG
# and the PIDs in SYNC_PID/API_PID (TAG a) or SYNCB_PID/APIB_PID (TAG b).
start_connect() {
    _sp=$(free_port)
    mkdir -p "$T/data-$1"
    XDG_DATA_HOME="$T/data-$1" OP_SESSION="$2" OP_HTTP_PORT="$_sp" OP_LOG_LEVEL=debug "$SYNC" >"$T/$1-sync.log" \
        2>"$T/$1-sync.err" </dev/null &
    _spid=$!
    _ap=$(free_port)
    while [ "$_ap" = "$_sp" ]; do _ap=$(free_port); done
    XDG_DATA_HOME="$T/data-$1" OP_SESSION="$2" OP_HTTP_PORT="$_ap" OP_BIND_ADDRESS=127.0.0.1 OP_LOG_LEVEL=debug "$API" \
        >"$T/$1-api.log" 2>"$T/$1-api.err" </dev/null &
    _apid=$!
    if [ "$1" = a ]; then SYNC_PID=$_spid API_PID=$_apid; else SYNCB_PID=$_spid APIB_PID=$_apid; fi
    eval "SPORT_$1=$_sp APORT_$1=$_ap"
    check "Connect server $1: connect-sync answers /heartbeat" wait_http "$_sp"
    check "Connect server $1: connect-api answers /heartbeat" wait_http "$_ap"
    SPORT=$_sp
    check "Connect server $1: the initial sync completes" poll_until 15000 sync_done
}
start_connect a "$T/wa/1password-credentials.json"
start_connect b "$T/wb/1password-credentials.json"

# ---- the reader, then the writers ----
"$FEED_PROBE" "$T/r1/1password-credentials.json" "$T/feed-r1.out" "$T/feed.stop" 5 10000 \
    >"$T/r1.sum" 2>"$T/r1.err" </dev/null &
R1_PID=$!
"$FEED_PROBE" "$T/r2/1password-credentials.json" "$T/feed-r2.out" "$T/feed.stop" 1000 10000 \
    >"$T/r2.sum" 2>"$T/r2.err" </dev/null &
R2_PID=$!
check "the readers follow the feed (r1 through acctd, r2 through acctd2)" \
    poll_until 10000 test -s "$T/feed-r1.out" -a -s "$T/feed-r2.out"

OPC_TOKEN=$TOKA "$PY" "$HERE/../lib/item_load.py" "$APORT_a" "$V1,$V2" "$T/stop" 3 wa mix \
    "$T/load-a.log" >"$T/load-a.sum" 2>"$T/load-a.err" &
LOADA_PID=$!
OPC_TOKEN=$TOKB "$PY" "$HERE/../lib/item_load.py" "$APORT_b" "$V2,$V1" "$T/stop" 3 wb mix \
    "$T/load-b.log" >"$T/load-b.sum" 2>"$T/load-b.err" &
LOADB_PID=$!
# op_loop NAME VAULT: the owner's `op item create` in VAULT until the stop
# file exists (one line "ok" or "failed" each in $T/NAME.log), through the
# account server of the environment's OP_ADDRESS and session.
op_loop() {
    n=0
    while [ ! -e "$T/stop" ]; do
        n=$((n + 1))
        if setsid -w "$OP" item create --vault "$2" --category password --title "$1-$n" \
            "password=$1-pw-$n" </dev/null >/dev/null 2>>"$T/$1.err"; then
            echo ok
        else
            echo failed
        fi
    done >"$T/$1.log"
}
op_loop oploop Feed1 &
OPLOOP_PID=$!
(
    XDG_RUNTIME_DIR="$T/run2" OP_SESSION_TOKEN="$SESS2" OP_ADDRESS="$URL2"
    export XDG_RUNTIME_DIR OP_SESSION_TOKEN OP_ADDRESS
    op_loop oploop2 Hidden
) &
OPLOOP2_PID=$!
t0=$(now_ms)
sleep "$SECONDS_RUN"
touch "$T/stop"
for v in LOADA_PID LOADB_PID OPLOOP_PID OPLOOP2_PID; do
    eval "p=\$$v"
    wait "$p" || true
    eval "$v="
done
ran_ms=$(($(now_ms) - t0))

# ---- what was written ----
wsum() { # FILE: the writes answered 200/204 in an item_load log
    awk '($3 == "POST" || $3 == "PATCH") && $4 == 200 || $3 == "DELETE" && $4 == 204 { n++ } END { print n + 0 }' "$1"
}
WA=$(wsum "$T/load-a.log")
WB=$(wsum "$T/load-b.log")
WOP1=$(grep -c '^ok$' "$T/oploop.log" || true)
WOP2=$(grep -c '^ok$' "$T/oploop2.log" || true)
WOP=$((WOP1 + WOP2))
WOPBAD=$(grep -c -v '^ok$' "$T/oploop.log" "$T/oploop2.log" | awk -F: '{ n += $2 } END { print n + 0 }')
WBAD=$(cat "$T/load-a.log" "$T/load-b.log" |
    awk '!(($3 == "POST" || $3 == "PATCH") && $4 == 200 || $3 == "DELETE" && $4 == 204) { n++ } END { print n + 0 }')
echo "   (writes in $ran_ms ms: $WA through wa/acctd, $WB through wb/acctd2, $WOP1 + $WOP2 op item create through acctd (Feed1) + acctd2 (Hidden); $((WBAD + WOPBAD)) refused; $(((WA + WB + WOP) * 1000 / ran_ms)) writes/s)"
check "writers on both account servers: wa $WA and wb $WB writes" [ "$WA" -ge 30 -a "$WB" -ge 30 ]
check "the owner wrote through both account servers ($WOP1 and $WOP2 op item create)" \
    [ "$WOP1" -ge 1 -a "$WOP2" -ge 1 ]
check "no write was refused ($WBAD through connect-api, $WOPBAD of op)" [ "$WBAD" -eq 0 -a "$WOPBAD" -eq 0 ]

# ---- the database's side ----
HEAD=$(psql_q "SELECT last_seq FROM account WHERE account_id = '$ACCT'")
DBROWS=$(psql_q "SELECT count(*) || ' ' || coalesce(min(seq), 0) || ' ' || coalesce(max(seq), 0) FROM changes WHERE account_id = '$ACCT'")
check "the database's changes are seqs 1..last_seq without a hole ($DBROWS, last_seq $HEAD)" \
    [ "$DBROWS" = "$HEAD 1 $HEAD" ]
# feed_check GOT WANT: GOT (a reader's "SEQ KIND" lines) holds exactly
# WANT's entries, each once, in increasing seq order; prints counts.
feed_check() {
    "$PY" - "$1" "$2" <<'PY'
import sys
got = [tuple(l.split()) for l in open(sys.argv[1]) if l.strip()]
want = [tuple(l.split()) for l in open(sys.argv[2]) if l.strip()]
seqs = [int(s) for s, _ in got]
bad = []
order = [(a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]
if order:
    bad.append("%d out of order (first: %d then %d)" % (len(order), order[0][0], order[0][1]))
dups = len(seqs) - len(set(seqs))
if dups:
    bad.append("%d duplicates" % dups)
g, w = set(got), set(want)
if w - g:
    bad.append("%d skipped (first seqs: %s)" % (len(w - g), sorted(int(s) for s, _ in w - g)[:5]))
if g - w:
    bad.append("%d not in the visible set (first: %s)" % (len(g - w), sorted(g - w)[:3]))
print("%d entries seen, %d visible in the database" % (len(got), len(want)))
if bad:
    print("; ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
}
echo "$HEAD" >"$T/feed.stop"
NALL=$(psql_q "SELECT count(*) FROM changes WHERE account_id = '$ACCT'")
for r in r1 r2; do
    eval "rid=\$RID_$r"
    eval "pid=\$R${r#r}_PID"
    # What the reader may see: a granted vault's changes (not scoped to
    # another server), issuer keys, and its own server's (lib/account/feed.h).
    psql_q "SELECT seq, kind FROM changes WHERE account_id = '$ACCT' AND (kind = 'issuer_key'
        OR server_id = '$rid' OR (server_id IS NULL AND vault_id IN ('$V1', '$V2'))) ORDER BY seq" |
        tr '|' ' ' >"$T/feed-$r.want"
    invis=$((NALL - $(wc -l <"$T/feed-$r.want")))
    if poll_until 60000 test -s "$T/$r.sum"; then
        set +e
        wait "$pid"
        rrc=$?
        set -e
        eval "R${r#r}_PID="
        check "$r reached the head $HEAD ($(cat "$T/$r.sum"))" [ "$rrc" -eq 0 ]
    else
        fail "$r reached the head $HEAD within 60 s" "$(tail -n 3 "$T/$r.err")"
    fi
    if feed_check "$T/feed-$r.out" "$T/feed-$r.want" >"$T/check.out" 2>"$T/check.err"; then
        pass "$r saw every visible entry exactly once, in order: 0 skipped, 0 duplicates ($(cat "$T/check.out"); $invis invisible to it by design: other servers' entries, vaults not granted to it)"
    else
        fail "$r saw every visible entry exactly once, in order" "$(cat "$T/check.err") ($(cat "$T/check.out"))"
    fi
done
NITEM=$(grep -c ' item_' "$T/feed-r1.want" || true)
check "the visible entries hold every write in a granted vault ($NITEM item entries >= $((WA + WB + WOP1)) writes)" \
    [ "$NITEM" -ge $((WA + WB + WOP1)) ]
check "the invisible ones include Hidden's, written during the load ($invis >= $WOP2)" [ "$invis" -ge "$WOP2" ]

# ---- positive controls: the checker catches a bad reader ----
n=$(wc -l <"$T/feed-r1.out")
mid=$((n / 2))
sed "${mid}d" "$T/feed-r1.out" >"$T/feed.drop"
if feed_check "$T/feed.drop" "$T/feed-r1.want" >/dev/null 2>"$T/ctl.err"; then
    fail "positive control: the checker catches a dropped entry"
else
    pass "positive control: the checker catches a dropped entry ($(cat "$T/ctl.err"))"
fi
sed "${mid}p" "$T/feed-r1.out" >"$T/feed.dup"
if feed_check "$T/feed.dup" "$T/feed-r1.want" >/dev/null 2>"$T/ctl.err"; then
    fail "positive control: the checker catches a duplicated entry"
else
    pass "positive control: the checker catches a duplicated entry ($(cat "$T/ctl.err"))"
fi
sed -n "${mid}{h;n;p;x;p;b};p" "$T/feed-r1.out" >"$T/feed.swap"
if feed_check "$T/feed.swap" "$T/feed-r1.want" >/dev/null 2>"$T/ctl.err"; then
    fail "positive control: the checker catches two entries out of order"
else
    pass "positive control: the checker catches two entries out of order ($(cat "$T/ctl.err"))"
fi

# ---- both Connect servers converge on the same items ----
items_of() { # PORT TOKEN: "id version" of both vaults' items, sorted
    for _v in "$V1" "$V2"; do
        curl -sf -H "Authorization: Bearer $2" "http://127.0.0.1:$1/v1/vaults/$_v/items" |
            jq -r '.[] | "\(.id) \(.version)"' || echo failed
    done | sort
}
same_items() {
    items_of "$APORT_a" "$TOKA" >"$T/items-a" && items_of "$APORT_b" "$TOKB" >"$T/items-b" &&
        ! grep -q failed "$T/items-a" "$T/items-b" && cmp -s "$T/items-a" "$T/items-b"
}
NDB=$(psql_q "SELECT count(*) FROM items WHERE account_id = '$ACCT' AND state = 'active' AND vault_id IN ('$V1', '$V2')")
check "wa and wb serve the same items at the same versions" poll_until 15000 same_items
check "... which are the database's active items ($NDB)" [ "$(wc -l <"$T/items-a")" -eq "$NDB" ]

# ---- the account servers stayed healthy ----
check "acctd2 served wb's writes (sessions opened there)" poll_until 3000 grep -q 'session opened' "$T/acctd2.log"
check "no account server crashed" kill -0 "$ACCTD_PID" "$ACCTD2_PID"
check "nothing on the account servers' stderr" [ ! -s "$T/acctd.err" -a ! -s "$T/acctd2.err" ]

echo "# $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
