#!/bin/sh
# tests/daemon/test_failover.sh - a Connect server failing over between two
# account servers (issue 14, "Connect servers fail over"; docs/protocol.md,
# "Several account servers"):
#
#   - two op-account-server processes, A and B, on two ports over the SAME
#     data directory (one server key, so one pin; the SQLite store's
#     account files shared: for this test only, the deployment's shared
#     store is PostgreSQL);
#   - one Connect server (connect-sync and connect-api, two processes)
#     whose credentials name both (`op connect server create --upstream A
#     --upstream B`); op writes the account file itself (NET_OWNER=file),
#     so the owner's writes do not depend on either account server;
#   - a write loop of 2 clients POSTing items through connect-api all along;
#   - `kill -9` A: connect-sync moves to B (one log line "upstream: A failed
#     (...); now B") and an item op writes shows in connect-api within 5 s;
#     a POST through connect-api answers 200 (its upstream moved too);
#   - A restarted, `kill -9` B: both move back to A, the same checks;
#   - every write that got a 200 is in the account exactly once (none
#     twice), and connect-sync's cache equals the account.
# Also: op's --upstream list refusals (a server twice, a file path in the
# list) and the comma form.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
NET_OWNER=file
export OPC_UPSTREAM_MODE
T_PREFIX=opfailover
PID_VARS="SYNC_PID API_PID ACCTD2_PID WRITER_PID"
. "$(dirname "$0")/lib.sh"

# ---- the account, account server A (account_create starts it), then B ----
account_create "failover password $$"
URL_A=$NET_URL
ACCT_PORT2=$(free_port)
while [ "$ACCT_PORT2" = "$ACCT_PORT" ]; do ACCT_PORT2=$(free_port); done
URL_B=$(net_url "$ACCT_PORT2")
net_server_start ACCTD2_PID "$NET_DATA" "$NET/srv1" "$OP_UPSTREAM_CA_FILE" "$ACCT_PORT2" acctd2 ||
    { fail "account server B answers /heartbeat over HTTPS" "$(tail -n 5 "$T/acctd2.err")"; exit 1; }
pass "two account servers over one data dir: A on $ACCT_PORT, B on $ACCT_PORT2"
same_pin() { grep -q "server key pin $NET_PIN" "$T/acctd.log" && grep -q "server key pin $NET_PIN" "$T/acctd2.log"; }
check "A and B serve with the same server key (pin $NET_PIN)" poll_until 3000 same_pin

setup() {
    op vault create Demo >/dev/null &&
        op item create --vault Demo --category login --title "before" username=alice \
            "password=fo-$$" >/dev/null &&
        (cd "$T/work" && op connect server create fo --vaults Demo --upstream "$URL_A" \
            --upstream "$URL_B" --upstream-pin "$NET_PIN" >/dev/null)
}
run_setup "a vault, an item and a Connect server naming A and B (--upstream twice), with op"
TOKEN=$(op connect token create tok --server fo --vault Demo | tail -n 1)
DEMO=$(op vault get Demo --format json | jq -r .id)
check "a token and the vault id" [ -n "$TOKEN" -a -n "$DEMO" ]

# op's list: a comma list works; a server twice or a file path in it does not.
mkdir -p "$T/work2" "$T/work3"
check "op connect server create --upstream A,B (a comma list)" sh -c \
    "cd '$T/work2' && setsid -w '$OP' connect server create fo2 --vaults Demo --upstream '$URL_A,$URL_B' --upstream-pin '$NET_PIN' </dev/null >/dev/null 2>'$T/fo2.err'"
op_refuses() { # REGEX ARGS...: op connect server create fails, saying REGEX
    _re=$1
    shift
    ! (cd "$T/work3" && setsid -w "$OP" connect server create bad --vaults Demo "$@" \
        --upstream-pin "$NET_PIN" </dev/null >/dev/null 2>"$T/bad.err") &&
        grep -Eq "$_re" "$T/bad.err" && [ ! -e "$T/work3/1password-credentials.json" ]
}
check "op refuses the same account server twice" op_refuses "listed before it" \
    --upstream "$URL_A" --upstream "$URL_A/"
check "op refuses a file path in a list of account servers" op_refuses "is a file path" \
    --upstream "$URL_A" --upstream "$T/work/x.db"

# ---- the Connect server, on A first ----
start_daemons "$CREDS"
ITEMS="/v1/vaults/$DEMO/items"
# visible TITLE: connect-api lists one item titled TITLE.
visible() {
    curl -sf -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$APORT$ITEMS?filter=title%20eq%20%22$1%22" | jq_e 'length == 1'
}
check "the item op wrote before shows in connect-api" poll_until 5000 visible before
check "connect-sync opened its session with A" poll_until 3000 grep -q 'session opened' "$T/acctd.log"
# moved LOG FROM TO: the log has the move's line (no secret in it: URLs and the cause).
moved() { grep -F "upstream: $2 failed (" "$T/$1.log" | grep -qF "; now $3"; }
# post TITLE: a POST through connect-api; CODE is its status.
post() {
    req "$TOKEN" "$ITEMS" -X POST -H 'Content-Type: application/json' \
        -d "{\"title\":\"$1\",\"category\":\"LOGIN\"}"
}

# The loop: 2 clients POST items titled w-<client>-<n> until $T/stop exists;
# one line per write "<Unix ms> <client> <n> <status> <id>".
python3 "$(dirname "$0")/../lib/write_loop.py" "$APORT" "$TOKEN" "$DEMO" "$T/stop" 2 0.03 \
    >"$T/writes" 2>"$T/writes.err" &
WRITER_PID=$!
sleep 1.5

# kill9 VAR: SIGKILL the process whose PID is in VAR, reap it, clear VAR.
kill9() {
    eval "_p=\${$1:-}"
    kill -9 "$_p" 2>/dev/null || true
    wait "$_p" 2>/dev/null || true
    eval "$1="
}

# failover WHICH FROM TO: FROM was just killed; the item op writes shows in
# connect-api within 5 s through TO, both daemons log their move, and a
# POST answers 200.
failover() {
    op item create --vault Demo --category login --title "after-$1" "password=x-$$" >/dev/null ||
        fail "op writes an item while $1 is down"
    if poll_until 5000 visible "after-$1"; then
        pass "$1 killed: the item op wrote shows in connect-api within ${ELAPSED} ms (through the other)"
    else
        fail "$1 killed: the item op wrote shows in connect-api within 5 s" "$(tail -n 3 "$T/sync.log")"
    fi
    check "$1 killed: connect-sync logs its move ($2 failed; now $3)" poll_until 5000 moved sync "$2" "$3"
    post "post-after-$1"
    if [ "$CODE" = 200 ]; then
        pass "$1 killed: a POST through connect-api answers 200"
    else
        fail "$1 killed: a POST through connect-api answers 200" "HTTP $CODE: $(head -c 300 "$T/body")"
    fi
    check "$1 killed: connect-api logs its move too" poll_until 5000 moved api "$2" "$3"
}

# ---- kill -9 A: on to B ----
kill9 ACCTD_PID
failover A "$URL_A" "$URL_B"
two_sessions_b() { [ "$(grep -c 'session opened' "$T/acctd2.log")" -ge 2 ]; }
check "B opened sessions (connect-sync's and connect-api's)" poll_until 5000 two_sessions_b
sleep 1

# ---- A back, kill -9 B: back to A (round robin) ----
net_server_start ACCTD_PID "$NET_DATA" "$NET/srv1" "$OP_UPSTREAM_CA_FILE" "$ACCT_PORT" acctd ||
    { fail "account server A restarts" "$(tail -n 5 "$T/acctd.err")"; exit 1; }
sleep 1
kill9 ACCTD2_PID
failover B "$URL_B" "$URL_A"
sleep 1.5
touch "$T/stop"
wait "$WRITER_PID" || true
WRITER_PID=

# ---- the writes ----
STATS=$(awk '{ n[$4]++ } END { for (s in n) printf "%s:%d ", s, n[s] }' "$T/writes")
echo "   (write loop statuses: $STATS)"
check "the loop's writes got 200s" awk '$4 == 200 { ok++ } END { exit !(ok > 0) }' "$T/writes"
# 200s after each move: some write of the loop succeeded after each kill.
op item list --vault Demo --format json >"$T/list.json" 2>"$T/list.err" ||
    fail "op item list" "$(cat "$T/list.err")"
if python3 - "$T/writes" "$T/list.json" >"$T/once.out" 2>"$T/once.err" <<'PY'
import collections, json, sys
ok = {f"w-{r[1]}-{r[2]}": r[4] for r in (l.split() for l in open(sys.argv[1])) if r[3] == "200"}
items = json.load(open(sys.argv[2]))
titles = collections.Counter(i["title"] for i in items)
ids = {i["title"]: i["id"] for i in items}
missing = [t for t in ok if titles[t] != 1]
twice = [t for t, n in titles.items() if n > 1]
wrong = [t for t, i in ok.items() if titles[t] == 1 and ids[t] != i]
posts = [t for t in ("post-after-A", "post-after-B") if titles[t] != 1]
if missing or twice or wrong or posts:
    print(f"{len(ok)} acknowledged; not exactly once: {missing[:5]} {posts}; twice: {twice[:5]}; "
          f"other id: {wrong[:5]}", file=sys.stderr)
    sys.exit(1)
print(f"{len(ok)} acknowledged loop writes and 2 single POSTs, each once")
PY
then
    pass "every write that got a 200 is in the account exactly once, none twice ($(cat "$T/once.out"))"
else
    fail "every write that got a 200 is in the account exactly once, none twice" "$(cat "$T/once.err")"
fi

# connect-sync's cache equals the account (ids, versions) once it caught up.
CACHE="$XDG_DATA_HOME/.op/data/1password.sqlite"
same_as_account() {
    python3 - "$OP_ACCOUNT" "$CACHE" "$DEMO" <<'PY'
import sqlite3, sys
acct, cache, vault = sys.argv[1:4]
def rows(path, sql):
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return set(c.execute(sql, (vault,)).fetchall())
    finally:
        c.close()
a = rows(acct, "SELECT id, vault_id, version FROM items WHERE vault_id = ? AND state = 'active'")
c = rows(cache, "SELECT id, vault_id, version FROM items WHERE vault_id = ?")
if a != c:
    print(f"account {len(a)}, cache {len(c)}", file=sys.stderr)
    sys.exit(1)
PY
}
check "connect-sync's cache equals the account (ids, versions)" poll_until 10000 same_as_account
no_secret_in_moves() { ! grep -F "failed (" "$T/sync.log" "$T/api.log" | grep -qiE "bearer|$TOKEN|fo-$$"; }
check "the move lines carry no secret (no token, no password)" no_secret_in_moves

echo "failover: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
