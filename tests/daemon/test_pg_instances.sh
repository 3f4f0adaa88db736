#!/bin/sh
# tests/daemon/test_pg_instances.sh - several account servers on one
# PostgreSQL database (issue 14: sessions and rate limits across instances,
# no instance-local state). One throwaway cluster (tests/lib/pg.sh), TWO
# op-account-server processes A and B on it, sharing one data directory
# (the server key), each on its own ports, behind a round-robin load
# balancer that terminates TLS (tests/lib/rrproxy.py: every request goes to
# the next server, so consecutive requests of one session alternate):
#   - `op account create` and `op signin` through it (the SRP start at one
#     server, the proof at the other), then op commands on that session,
#     whose requests the log shows served by both A and B;
#   - a Connect server (connect-sync and connect-api) whose session's
#     requests alternate between A and B keeps syncing, an owner's change
#     reaching connect-api;
#   - restarting both servers signs nobody out: op and the Connect server
#     carry on with their sessions;
#   - a clean restart of the database keeps every session (the servers
#     answer 503 meanwhile: op says "busy", nobody is signed out);
#   - sign-out at B ends the session at A;
#   - the database holds no session id in the clear;
#   - failed sign-ins spread over A and B are counted together: the limit
#     of one address is reached after OPC_AD_OWNER_FAIL_LIMIT (10) of them
#     in all, not 10 per server.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=oppginst
PID_VARS="A_PID B_PID LB_PID SYNC_PID API_PID"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
RRPROXY=$(cd "$(dirname "$0")/../lib" && pwd)/rrproxy.py
ACC="$BUILDDIR/op-account-server"
DATA="$T/account-server"
PW="pg instances password $$"
EMAIL="owner@example.com"

# The cluster runs as another user when root: outside $T (mode 0700).
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/opc-pginst.XXXXXX")
finish() {
    pg_stop
    rm -rf "$PGDIR"
}
trap 'finish; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if pg_start "$PGDIR"; then
    pass "a throwaway PostgreSQL cluster (tests/lib/pg.sh)"
else
    fail "a throwaway PostgreSQL cluster (tests/lib/pg.sh)" "$(tail -n 5 "$PGDIR"/*.log 2>/dev/null)"
    exit 1
fi
psql_q() { "$PG_BIN/psql" "$PG_URL" -Atqc "$1"; }

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
if ! tls_setup >"$T/tls.log" 2>&1; then
    fail "a CA and a certificate for 127.0.0.1 made with openssl" "$(tail -3 "$T/tls.log")"
    exit 1
fi
CA="$T/tls/ca.pem"

# ---- two servers on one database and one data directory ----
mkdir -p "$DATA"
chmod 700 "$DATA"
A_PORT=$(free_port)
A_HPORT=$(free_port)
B_PORT=$(free_port)
B_HPORT=$(free_port)
LB_PORT=$(free_port)
# start_server VAR HTTPS_PORT HTTP_PORT NAME: logs in $T/NAME.log, .err
start_server() {
    env OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTPS_PORT="$2" OP_HTTP_PORT="$3" \
        OP_BIND_ADDRESS=127.0.0.1 OP_TLS_CERT_FILE="$T/tls/cert.pem" \
        OP_TLS_KEY_FILE="$T/tls/key.pem" OP_LOG_LEVEL=debug OP_ACCOUNT_DATABASE_URL="$PG_URL" \
        "$ACC" >>"$T/$4.log" 2>>"$T/$4.err" </dev/null &
    eval "$1=\$!"
    poll_until 5000 curl -sf --cacert "$CA" "https://127.0.0.1:$2/heartbeat"
}
# A first (it makes the server key), then B over the same directory.
check "server A on PostgreSQL answers" start_server A_PID "$A_PORT" "$A_HPORT" a
check "server B on the same database and data directory answers" \
    start_server B_PID "$B_PORT" "$B_HPORT" b
check "the schema's step 2 (the shared state) is applied" sh -c \
    "[ \"\$(\"$PG_BIN/psql\" \"$PG_URL\" -Atqc 'SELECT version FROM opc_schema')\" = 2 ]"
python3 "$RRPROXY" "$LB_PORT" "$T/tls/cert.pem" "$T/tls/key.pem" "$T/lb.log" \
    "$A_HPORT" "$B_HPORT" 2>"$T/lb.err" &
LB_PID=$!
LB="https://127.0.0.1:$LB_PORT"
check "the load balancer answers over HTTPS" poll_until 5000 curl -sf --cacert "$CA" "$LB/heartbeat"
: >"$T/lb.log"

# upstreams_of SID_PREFIX_PATH: the distinct servers that answered 2xx to
# requests whose path starts with $1 (one per line).
upstreams_of() {
    jq -r --arg p "$1" 'select((.path | startswith($p)) and .status >= 200 and .status < 300) |
        .upstream' "$T/lb.log" | sort -u
}
both_served() { [ "$(upstreams_of "$1" | wc -l)" -eq 2 ]; }

# ---- the owner through the load balancer ----
set +e
printf '%s\n' "$PW" | setsid -w "$OP" account create --address "$LB" --ca-file "$CA" \
    --email "$EMAIL" --password-stdin >"$T/signup.out" 2>"$T/signup.err"
RC=$?
set -e
check "op account create --address LB: exit 0" sh -c "[ $RC -eq 0 ] || { cat '$T/signup.err'; false; }"
ACCT=$(sed -n 's/^Account: *//p' "$T/signup.out")
set +e
printf '%s\n' "$PW" | setsid -w "$OP" signin --address "$LB" --ca-file "$CA" --password-stdin \
    >"$T/signin.out" 2>"$T/signin.err"
RC=$?
set -e
check "op signin through the load balancer (SRP start and proof at different servers)" sh -c \
    "[ $RC -eq 0 ] || { cat '$T/signin.err'; false; }"
check "the sign-in's start and proof were answered by A and B" sh -c \
    "[ \$(jq -r 'select(.path | startswith(\"/v1/owner/auth/\")) | .upstream' '$T/lb.log' |
        sort -u | wc -l) -eq 2 ]"
eval "$(cat "$T/signin.out")"
export OP_CA_FILE="$CA"
setup() {
    op whoami >/dev/null &&
        op vault create Demo >/dev/null &&
        op item create --vault Demo --category login --title "Web Login" username=alice \
            "password=pg-$$" >/dev/null &&
        op vault list >/dev/null &&
        mkdir -p "$T/work" && (cd "$T/work" && op connect server create inst-srv --vaults Demo >/dev/null)
}
run_setup "op whoami, vault, item and Connect server made on one session through the load balancer"
check "that session's requests were served by both A and B" both_served /v1/owner/rows/
OWNER_SID=$(jq -r 'select(.path == "/v1/owner/account") | .sid' "$T/lb.log" | head -n 1)
TOKEN=$(op connect token create tok --server inst-srv --vault Demo | tail -n 1)
DEMO=$(op vault get Demo --format json | jq -r .id)
ITEM=$(op item get "Web Login" --vault Demo --format json | jq -r .id)

# ---- a Connect server whose requests alternate between A and B ----
OP_UPSTREAM_CA_FILE="$CA"
export OP_UPSTREAM_CA_FILE
start_daemons "$CREDS"
expect "connect-api serves the item synced through A and B" 200 "$TOKEN" "/v1/vaults/$DEMO/items/$ITEM"
check "the Connect server's session requests were served by both A and B" both_served /v1/connect/
check "one Connect session, several requests: the handshake at one server, used at the other" sh -c \
    "jq -r 'select(.path | startswith(\"/v1/connect/\")) | select(.path != \"/v1/connect/session\") |
        .sid' '$T/lb.log' | sort | uniq -c | sort -rn | head -n 1 | awk '{exit !(\$1 >= 2)}'"
# title_is TITLE: connect-api has the item under TITLE
title_is() {
    curl -s -H "Authorization: Bearer $TOKEN" \
        "http://$URL_HOST:$APORT/v1/vaults/$DEMO/items/$ITEM" | jq_e ".title == \"$1\""
}
op item edit "Web Login" --vault Demo --title "Renamed once" >/dev/null
check "an owner's change reaches connect-api (long poll at one server, write at either)" \
    poll_until 15000 title_is "Renamed once"

# ---- restarting both servers signs nobody out ----
stop_pid A_PID
stop_pid B_PID
check "server A restarted" start_server A_PID "$A_PORT" "$A_HPORT" a
check "server B restarted" start_server B_PID "$B_PORT" "$B_HPORT" b
N_BEFORE=$(grep -c '"/v1/connect/session"' "$T/lb.log" || true)
check "after the restart, op works on the same session (no new sign-in)" sh -c \
    "setsid -w '$OP' whoami </dev/null | grep -q '$ACCT' && setsid -w '$OP' vault list </dev/null | grep -q Demo"
op item edit "Renamed once" --vault Demo --title "Renamed twice" >/dev/null
check "after the restart, the Connect server carries on (the change reaches connect-api)" \
    poll_until 20000 title_is "Renamed twice"
N_AFTER=$(grep -c '"/v1/connect/session"' "$T/lb.log" || true)
check "the Connect server needed no new handshake after the restart" [ "$N_BEFORE" = "$N_AFTER" ]

# ---- the database restarts (clean shutdown): the sessions stay ----
# (unlogged tables survive a clean restart, not a crash: docs/postgres.md)
pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 20 stop >/dev/null 2>&1
set +e
setsid -w "$OP" whoami </dev/null >"$T/down.out" 2>"$T/down.err"
RC=$?
set -e
check "while the database is down, op is refused (not signed out)" sh -c \
    "[ $RC -ne 0 ] && jq -e 'select(.path == \"/v1/owner/account\") | .status' '$T/lb.log' |
        tail -n 1 | grep -q 503"
pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='$PGDIR' -c fsync=off -c full_page_writes=off" \
    start >/dev/null 2>&1
PG_PID=$(head -n 1 "$PGDIR/data/postmaster.pid")
check "after the database's restart, op works on the same session" poll_until 10000 sh -c \
    "setsid -w '$OP' whoami </dev/null | grep -q '$ACCT'"
op item edit "Renamed twice" --vault Demo --title "Renamed thrice" >/dev/null
check "after the database's restart, the Connect server carries on" \
    poll_until 20000 title_is "Renamed thrice"

# ---- at rest: no session id in the clear ----
check "the database holds the sessions, keyed by hash (no sid in the clear)" sh -c \
    "[ -n '$OWNER_SID' ] && [ \$(\"$PG_BIN/psql\" \"$PG_URL\" -Atqc 'SELECT count(*) FROM ad_sessions') -ge 2 ] &&
     [ \$(\"$PG_BIN/psql\" \"$PG_URL\" -Atqc \"SELECT count(*) FROM ad_sessions WHERE sid = '$OWNER_SID'\") -eq 0 ]"

# ---- sign-out at B ends the session at A ----
# op deletes its session file on sign-out: keep a copy, to try the ended
# session at A afterwards.
SESS="$XDG_RUNTIME_DIR/opconnect/session-$ACCT"
cp -p "$SESS" "$T/session.saved"
echo "$B_HPORT" >"$T/lb.log.only"
set +e
op signout >"$T/signout.out" 2>"$T/signout.err"
RC=$?
set -e
check "op signout (at B): exit 0" sh -c "[ $RC -eq 0 ] || { cat '$T/signout.err'; false; }"
check "the sign-out was answered by B" sh -c \
    "jq -e 'select(.path == \"/v1/owner/signout\") | .upstream == $B_HPORT and .status == 200' '$T/lb.log'"
echo "$A_HPORT" >"$T/lb.log.only"
cp -p "$T/session.saved" "$SESS"
check "op whoami at A on the session signed out at B: refused" sh -c "! setsid -w '$OP' whoami </dev/null"
check "the session is gone from the database" sh -c \
    "[ \$(\"$PG_BIN/psql\" \"$PG_URL\" -Atqc \"SELECT count(*) FROM ad_sessions WHERE kind = 2\") -eq 0 ]"
check "A refused it as a session that ended" sh -c \
    "grep -q 'owner/account: authentication failed.*\\(ended, expired or idle\\|unknown or expired session\\)' '$T/a.log'"
check "the refusal was A's" sh -c \
    "jq -r 'select(.path == \"/v1/owner/account\") | \"\\(.upstream) \\(.status)\"' '$T/lb.log' |
        tail -n 1 | grep -q '^$A_HPORT 401\$'"
rm -f "$T/lb.log.only"

# ---- failed sign-ins spread over A and B are counted together ----
# (every request of this script came from 127.0.0.1: none failed a sign-in yet)
N=0
CODES=
while [ "$N" -lt 12 ]; do
    N=$((N + 1))
    if [ $((N % 2)) -eq 1 ]; then P=$A_PORT; else P=$B_PORT; fi
    C=$(curl -s -o "$T/rl.body" -D "$T/rl.hdr" -w '%{http_code}' --cacert "$CA" \
        -H 'Content-Type: application/json' \
        --data '{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA","M1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' \
        "https://127.0.0.1:$P/v1/owner/auth/verify")
    CODES="$CODES $C"
done
check "10 failed sign-ins over A and B in all, then 429 at both (got:$CODES)" \
    [ "$CODES" = " 401 401 401 401 401 401 401 401 401 401 429 429" ]
check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$T/rl.hdr"

# The servers logged no secret: neither the password nor a session key
# (their logs name ids only); and they ran on PostgreSQL.
check "the servers' logs hold no password" sh -c "! grep -q -- '$PW' '$T/a.log' '$T/a.err' '$T/b.log' '$T/b.err'"
stop_pid SYNC_PID
stop_pid API_PID
stop_pid LB_PID
stop_pid A_PID
stop_pid B_PID
echo "# $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
