#!/bin/sh
# tests/daemon/test_net_faults.sh - the network world under faults (issue 13,
# must-show 3): op-account-server killed with SIGKILL
#   1. during connect-sync's initial sync of NET_FAULT_ITEMS (10,000) items:
#      the sync reports the upstream down, goes on after the restart, and its
#      cache then equals the account item by item (id, vault, version);
#   2. during a write loop through connect-api (8 clients creating items):
#      while it is down reads are served, writes answer 503 with
#      Retry-After, connect-sync's /health names the upstream UNREACHABLE;
#      after the restart writes succeed again within 5 s; every write that
#      got a 200 is in the account exactly once (and nothing twice), and the
#      cache equals the account again.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
NET_OWNER=file # op writes the account file the server serves
export OPC_UPSTREAM_MODE
T_PREFIX=opnetfault
PID_VARS="SYNC_PID API_PID"
. "$(dirname "$0")/lib.sh"
POPULATE="$BUILDDIR/bench/deployed/populate"
ITEMS=${NET_FAULT_ITEMS:-10000}
[ -x "$POPULATE" ] || { fail "populate is built ($POPULATE)"; exit 1; }

# ---- the world: ITEMS items in one vault, a Connect server, a token ----
account_create "faults password $$"
VAULT=$(op vault create Bulk --format json | jq -r .id)
"$POPULATE" create "$OP_ACCOUNT" "$VAULT" "$ITEMS" 2>"$T/populate.err" ||
    { fail "populate $ITEMS items" "$(cat "$T/populate.err")"; exit 1; }
(cd "$T/work" && op connect server create faults --vaults Bulk >/dev/null)
CREDS="$T/work/1password-credentials.json"
TOK=$(op connect token create ft --server faults --vault Bulk | tail -n 1)
check "credentials and a token" [ -s "$CREDS" -a -n "$TOK" ]
CACHE="$XDG_DATA_HOME/.op/data/1password.sqlite"

# same_as_account: the cache holds exactly the account's active items of
# the vault, at the same versions (python3's sqlite3, read-only).
same_as_account() {
    python3 - "$OP_ACCOUNT" "$CACHE" "$VAULT" <<'PY'
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
    print(f"account {len(a)} items, cache {len(c)}; only in the account: {len(a - c)}, "
          f"only in the cache: {len(c - a)}", file=sys.stderr)
    sys.exit(1)
print(len(a))
PY
}
cache_count() {
    python3 -c 'import sqlite3,sys
try:
    c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(c.execute("SELECT COUNT(*) FROM items").fetchone()[0])
except Exception:
    print(0)' "$CACHE"
}
upstream_status() { # the status connect-sync's /health gives the upstream
    curl -sf "http://127.0.0.1:$SPORT/health" 2>/dev/null |
        jq -r '.dependencies[] | select(.service == "upstream") | .status' 2>/dev/null || true
}
synced() {
    curl -sf "http://127.0.0.1:$SPORT/health" 2>/dev/null |
        jq -e '.dependencies[] | select(.service == "account_data") | .status == "ACTIVE"' \
            >/dev/null 2>&1
}
kill9_acctd() {
    kill -9 "$ACCTD_PID" 2>/dev/null || true
    wait "$ACCTD_PID" 2>/dev/null || true
    ACCTD_PID=
}

# ================= 1. SIGKILL during the initial sync =================
SPORT=$(free_port)
OP_SESSION="$CREDS" OP_HTTP_PORT="$SPORT" OP_LOG_LEVEL=debug "$SYNC" >"$T/sync.log" \
    2>"$T/sync.err" </dev/null &
SYNC_PID=$!
# One process watches the cache every 5 ms and kills op-account-server
# (SIGKILL) at the first items it sees; it prints how many there were.
n=$(python3 - "$CACHE" "$ACCTD_PID" <<'PY'
import os, signal, sqlite3, sys, time
cache, pid = sys.argv[1], int(sys.argv[2])
end = time.monotonic() + 30
n = 0
while time.monotonic() < end:
    try:
        c = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
        n = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        c.close()
    except sqlite3.Error:
        n = 0
    if n > 0:
        break
    time.sleep(0.005)
os.kill(pid, signal.SIGKILL)
print(n)
PY
)
kill9_acctd
check "the initial sync was under way when the account server died ($n of $ITEMS items)" \
    [ "$n" -gt 0 -a "$n" -lt "$ITEMS" ]
check "connect-sync's /health names the upstream UNREACHABLE" \
    poll_until 15000 sh -c "curl -sf http://127.0.0.1:$SPORT/health | jq -e '.dependencies[] | select(.service == \"upstream\") | .status == \"UNREACHABLE\"' >/dev/null"
check "the sync is not complete while the account server is down" sh -c "! curl -sf http://127.0.0.1:$SPORT/health | jq -e '.dependencies[] | select(.service == \"account_data\") | .status == \"ACTIVE\"' >/dev/null"
upstream_up || { fail "op-account-server restarts"; exit 1; }
t0=$(now_ms)
check "the initial sync completes after the restart" poll_until 30000 synced
echo "   (synced $(($(now_ms) - t0)) ms after the restart)"
if same_as_account >"$T/same.out" 2>"$T/same.err"; then
    pass "the cache equals the account, item by item ($(cat "$T/same.out") items)"
else
    fail "the cache equals the account, item by item" "$(cat "$T/same.err")"
fi
check "connect-sync's /health names the upstream ACTIVE again" \
    [ "$(upstream_status)" = ACTIVE ]

# ================= 2. SIGKILL during a write loop =================
APORT=$(free_port)
OP_SESSION="$CREDS" OP_HTTP_PORT="$APORT" OP_LOG_LEVEL=debug "$API" >"$T/api.log" \
    2>"$T/api.err" </dev/null &
API_PID=$!
check "connect-api answers /heartbeat" wait_http "$APORT"
READ_ID=$(curl -sf -H "Authorization: Bearer $TOK" \
    "http://127.0.0.1:$APORT/v1/vaults/$VAULT/items?filter=title%20co%20%22Harbor%22" |
    jq -r '.[0].id')
check "an item to read ($READ_ID)" [ -n "$READ_ID" -a "$READ_ID" != null ]

# The loop: 8 clients POST items titled w-<client>-<n> until $T/stop exists;
# each result is one line "<Unix ms> <client> <n> <status> <retry-after> <id>".
python3 - "$APORT" "$TOK" "$VAULT" "$T/stop" >"$T/writes" 2>"$T/writes.err" <<'PY' &
import http.client, json, os, sys, threading, time
port, tok, vault, stop = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
def client(k):
    n = 0
    c = None
    while not os.path.exists(stop):
        n += 1
        body = json.dumps({"title": f"w-{k}-{n}", "category": "LOGIN",
                           "fields": [{"id": "password", "type": "CONCEALED",
                                       "purpose": "PASSWORD", "value": f"pw-{k}-{n}"}]})
        status, ra, iid = 0, "-", "-"
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
            c.request("POST", f"/v1/vaults/{vault}/items", body,
                      {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            status = r.status
            ra = r.getheader("Retry-After") or "-"
            if status == 200:
                iid = json.loads(data)["id"]
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                c = None
        except (OSError, http.client.HTTPException, ValueError):
            if c is not None:
                c.close()
            c = None
        with lock:
            print(f"{time.time() * 1000:.0f} {k} {n} {status} {ra} {iid}", flush=True)
        time.sleep(0.02)
threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
PY
WRITER=$!
sleep 2
kill9_acctd
sleep 1
check "while the account server is down: a read is served (200)" \
    code_is 200 "$TOK" "/v1/vaults/$VAULT/items/$READ_ID"
req "$TOK" "/v1/vaults/$VAULT/items" -X POST -H 'Content-Type: application/json' \
    -d '{"title":"while down","category":"LOGIN"}'
RA=$(header Retry-After)
check "while the account server is down: a write answers 503 with Retry-After ($CODE, $RA)" \
    [ "$CODE" = 503 -a -n "$RA" ]
check "while the account server is down: connect-sync's /health names the upstream UNREACHABLE" \
    poll_until 10000 sh -c "curl -sf http://127.0.0.1:$SPORT/health | jq -e '.dependencies[] | select(.service == \"upstream\") | .status == \"UNREACHABLE\"' >/dev/null"
sleep 1
upstream_up || { fail "op-account-server restarts"; exit 1; }
T_UP=$(now_ms)
sleep 6
touch "$T/stop"
wait "$WRITER" || true
# figures of the loop
python3 - "$T/writes" <<'PY' >"$T/loop.txt"
import collections, sys
st = collections.Counter(l.split()[3] for l in open(sys.argv[1]))
print(" ".join(f"{k}:{v}" for k, v in sorted(st.items())))
PY
echo "   (write loop statuses: $(cat "$T/loop.txt"))"
check "the loop saw 200s, and 503s (each with Retry-After) while the server was down" \
    awk '$4 == 200 { ok++ } $4 == 503 { u++ } $4 == 503 && $5 == "-" { bad++ }
        END { exit !(ok > 0 && u > 0 && bad == 0) }' "$T/writes"
# resumption: the first 200 after the outage came within 5 s of the restart
FIRST_OK_AFTER=$(python3 - "$T/writes" "$T_UP" <<'PY'
import sys
up = int(sys.argv[2])
ok = sorted(int(r[0]) for r in (l.split() for l in open(sys.argv[1])) if r[3] == "200" and int(r[0]) >= up)
print(ok[0] - up if ok else 99999)
PY
)
check "writes succeed again within 5 s of the restart (first 200 after ${FIRST_OK_AFTER} ms)" \
    [ "$FIRST_OK_AFTER" -le 5000 ]
# exactly once: every 200's title is in the account once, and no title twice
op item list --vault Bulk --format json >"$T/list.json" 2>"$T/list.err" ||
    fail "op item list" "$(cat "$T/list.err")"
if python3 - "$T/writes" "$T/list.json" >"$T/once.out" 2>"$T/once.err" <<'PY'
import collections, json, sys
ok = {f"w-{r[1]}-{r[2]}": r[5] for r in (l.split() for l in open(sys.argv[1])) if r[3] == "200"}
titles = collections.Counter(i["title"] for i in json.load(open(sys.argv[2])))
ids = {i["title"]: i["id"] for i in json.load(open(sys.argv[2]))}
missing = [t for t in ok if titles[t] != 1]
twice = [t for t, n in titles.items() if t.startswith("w-") and n > 1]
wrong = [t for t, i in ok.items() if titles[t] == 1 and ids[t] != i]
if missing or twice or wrong:
    print(f"{len(ok)} acknowledged; not exactly once: {missing[:5]}; twice: {twice[:5]}; "
          f"other id: {wrong[:5]}", file=sys.stderr)
    sys.exit(1)
print(f"{len(ok)} acknowledged writes, each once")
PY
then
    pass "every write that got a 200 is in the account exactly once, none twice ($(cat "$T/once.out"))"
else
    fail "every write that got a 200 is in the account exactly once, none twice" "$(cat "$T/once.err")"
fi
check "the cache equals the account again" poll_until 10000 same_as_account
echo "   ($(grep -c . "$T/writes") writes tried)"

echo "net-faults: $NPASS passed, $NFAIL failed"
