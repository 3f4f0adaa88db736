#!/bin/sh
# tests/daemon/test_cache_tamper.sh - the cache rows that decide access are
# verified on load (issue 15 point 1; cache/cache.h, "Verified rows";
# docs/decisions.md). A token is revoked, the daemons stop, and the cache
# (1password.sqlite) is edited with sqlite3 as whoever can write the data
# directory could:
#   state     the revoked token's row set back to 'active'
#   acl       the vault grant's acl edited
#   copied    the grant row of another Connect server's cache copied in
#   rollback  the token's row before its revocation (an older row with a
#             valid MAC of its own) copied back in
#   deleted   the revoked token's row deleted
#   cursor    meta.feed_cursor edited
# Then connect-api alone starts: every token is refused (401), its log
# names the row that failed (or the seal); connect-sync starts, logs it
# too, syncs the cache again, and the state is the account's: the good
# token works, the revoked one is refused, its row says 'revoked'.
# Last, a whole file rolled back to an older copy of this server's own is
# consistent (the documented limit): it is served until the sync has
# caught up, and then the revocation holds again.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=optamper
PID_VARS="SYNC_PID API_PID"
. "$(dirname "$0")/lib.sh"

account_create "cache tamper password $$"
setup() {
    op vault create Demo >/dev/null &&
        op item create --vault Demo --category login --title "Web Login" username=alice \
            "password=tamper-$$" >/dev/null &&
        (cd "$T/work" && op connect server create srv-a --vaults Demo >/dev/null) &&
        mkdir -p "$T/work-b" &&
        (cd "$T/work-b" && op connect server create srv-b --vaults Demo >/dev/null)
}
run_setup "account, vault, item and two servers set up with op"
CREDS_B="$T/work-b/1password-credentials.json"
DEMO=$(op vault get Demo --format json | jq -r .id)
TOK_GOOD=$(op connect token create good --server srv-a --vault Demo | tail -n 1)
TOK_REV=$(op connect token create torevoke --server srv-a --vault Demo | tail -n 1)
# jti of a token: its payload's claim (base64url, padded for base64 -d).
jti_of() {
    "$PY" -c 'import base64,json,sys
p=sys.argv[1].split(".")[1]; p+="="*(-len(p)%4)
print(json.loads(base64.urlsafe_b64decode(p))["jti"])' "$1"
}
JTI=$(jti_of "$TOK_REV")
check "tokens issued, jti read" sh -c "echo '$JTI' | grep -qE '^[a-z0-9]{26}\$'"
CACHE="$XDG_DATA_HOME/.op/data/1password.sqlite"
q() { sqlite3 "$CACHE" "$1"; }

# ---- server A running: both tokens work; keep a copy; revoke one ----
start_daemons "$CREDS"
expect "the good token works" 200 "$TOK_GOOD" "/v1/vaults/$DEMO"
expect "the token to revoke works" 200 "$TOK_REV" "/v1/vaults/$DEMO"
check "every token and grant row carries a 32-byte MAC, meta a seal" sh -c \
    "[ \"\$(sqlite3 '$CACHE' 'SELECT COUNT(*) FROM tokens WHERE length(mac) != 32')\" = 0 ] &&
     [ \"\$(sqlite3 '$CACHE' 'SELECT COUNT(*) FROM vault_access WHERE length(mac) != 32')\" = 0 ] &&
     [ \"\$(sqlite3 '$CACHE' 'SELECT length(seal) FROM meta')\" = 32 ]"
sqlite3 "$CACHE" ".backup '$T/before-revoke.sqlite'"
op connect token delete torevoke --server srv-a >/dev/null 2>"$T/rev.err" ||
    fail "op connect token delete" "$(cat "$T/rev.err")"
check "the revoked token is refused" poll_until 5000 code_is 401 "$TOK_REV" "/v1/vaults/$DEMO"
check "its cache row says revoked" sh -c "[ \"\$(sqlite3 '$CACHE' \"SELECT state FROM tokens WHERE jti = '$JTI'\")\" = revoked ]"
stop_pid API_PID
stop_pid SYNC_PID

# ---- server B's cache, for a row copied between servers ----
mkdir -p "$T/data-b"
SPORT=$(free_port)
XDG_DATA_HOME="$T/data-b" OP_SESSION="$CREDS_B" OP_HTTP_PORT="$SPORT" "$SYNC" \
    >"$T/sync-b.log" 2>&1 </dev/null &
SYNC_PID=$!
check "server B's connect-sync finishes its initial sync" poll_until 10000 sync_done
stop_pid SYNC_PID
CACHE_B="$T/data-b/.op/data/1password.sqlite"
check "server B's cache holds its own grant of Demo" sh -c \
    "[ \"\$(sqlite3 '$CACHE_B' \"SELECT COUNT(*) FROM vault_access WHERE vault_id = '$DEMO'\")\" = 1 ]"

# start_api LOG / start_sync LOG: one daemon of server A, logs in $T/LOG.
start_api() {
    APORT=$(free_port)
    OP_SESSION="$CREDS" OP_HTTP_PORT="$APORT" OP_BIND_ADDRESS="$OPC_TEST_HOST" \
        OP_LOG_LEVEL=debug "$API" >"$T/$1" 2>&1 </dev/null &
    API_PID=$!
    wait_http "$APORT" "$URL_HOST"
}
start_sync() {
    SPORT=$(free_port)
    while [ "$SPORT" = "$APORT" ]; do SPORT=$(free_port); done
    OP_SESSION="$CREDS" OP_HTTP_PORT="$SPORT" OP_LOG_LEVEL=debug "$SYNC" \
        >"$T/$1" 2>&1 </dev/null &
    SYNC_PID=$!
    wait_http "$SPORT"
}
refused_line() { # LOG PATTERN: a verification failure line naming PATTERN
    grep 'failed verification' "$T/$1" | grep -q -- "$2"
}
revoked_row() { [ "$(q "SELECT state FROM tokens WHERE jti = '$JTI'")" = revoked ]; }

# tamper NAME SQL LOG-PATTERN: with both daemons stopped, SQL on the cache;
# connect-api alone refuses both tokens and logs LOG-PATTERN once; then
# connect-sync logs it, resyncs, and the account's state is back.
tamper() {
    _n=$1
    if ! sqlite3 "$CACHE" "$2" 2>"$T/sql.err"; then
        fail "$_n: the edit applies" "$(cat "$T/sql.err")"
        return
    fi
    if ! start_api "api-$_n.log"; then
        fail "$_n: connect-api starts"
        stop_pid API_PID
        return
    fi
    check "$_n: connect-api logs the row that failed ($3)" poll_until 5000 refused_line "api-$_n.log" "$3"
    expect "$_n: the revoked token is refused" 401 "$TOK_REV" "/v1/vaults/$DEMO"
    expect "$_n: no token of the cache is used (the good one too)" 401 "$TOK_GOOD" "/v1/vaults/$DEMO"
    # Logged once, not at every rebuild: the api polls the cache meanwhile.
    sleep 0.5
    _lines=$(grep -c 'failed verification' "$T/api-$_n.log" || true)
    check "$_n: connect-api logs it once ($_lines)" [ "$_lines" = 1 ]
    check "$_n: no secret column value in the log" sh -c \
        "! grep -q -e 'tamper-$$' -e \"\$(printf %s '$TOK_REV' | cut -c1-40)\" '$T/api-$_n.log'"
    if ! start_sync "sync-$_n.log"; then
        fail "$_n: connect-sync starts"
    fi
    check "$_n: connect-sync logs it and syncs again" poll_until 5000 refused_line "sync-$_n.log" "$3"
    check "$_n: after the resync the good token works" poll_until 15000 code_is 200 "$TOK_GOOD" "/v1/vaults/$DEMO"
    expect "$_n: after the resync the revoked token is refused" 401 "$TOK_REV" "/v1/vaults/$DEMO"
    check "$_n: its row says revoked again" poll_until 5000 revoked_row
    check "$_n: connect-api logs that the rows verify again" \
        poll_until 5000 grep -q 'verify again' "$T/api-$_n.log"
    stop_pid API_PID
    stop_pid SYNC_PID
}

tamper state "UPDATE tokens SET state = 'active' WHERE jti = '$JTI'" "tokens $JTI"
tamper acl "UPDATE vault_access SET acl = 1 WHERE vault_id = '$DEMO'" "vault_access $DEMO"
tamper copied "ATTACH '$CACHE_B' AS b; INSERT OR REPLACE INTO main.vault_access
    SELECT * FROM b.vault_access WHERE vault_id = '$DEMO'" "vault_access $DEMO"
tamper rollback "ATTACH '$T/before-revoke.sqlite' AS old; INSERT OR REPLACE INTO main.tokens
    SELECT * FROM old.tokens WHERE jti = '$JTI'" "the seal"
tamper deleted "DELETE FROM tokens WHERE jti = '$JTI'" "the seal"
tamper cursor "UPDATE meta SET feed_cursor = feed_cursor - 1" "the seal"

# ---- a whole file rolled back to this server's own older copy ----
# Consistent, so it verifies: the older registry answers until the sync
# has applied the revocation again from the older cursor (docs).
rm -f "$CACHE" "$CACHE-wal" "$CACHE-shm"
cp "$T/before-revoke.sqlite" "$CACHE"
chmod 600 "$CACHE"
start_api api-file.log || fail "file: connect-api starts"
expect "file: an older copy of the whole cache verifies (the revoked token answers)" 200 \
    "$TOK_REV" "/v1/vaults/$DEMO"
check "file: nothing is logged as failed" sh -c "! grep -q 'failed verification' '$T/api-file.log'"
start_sync sync-file.log || fail "file: connect-sync starts"
check "file: the sync applies the revocation again" poll_until 10000 code_is 401 "$TOK_REV" "/v1/vaults/$DEMO"
expect "file: the good token still works" 200 "$TOK_GOOD" "/v1/vaults/$DEMO"
stop_pid API_PID
stop_pid SYNC_PID

# The closing count; failures are in $RESULTS (tools/run-daemon-tests sums them).
echo "cache tamper: $NPASS passed, $NFAIL failed"
