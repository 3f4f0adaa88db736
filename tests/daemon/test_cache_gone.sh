#!/bin/sh
# tests/daemon/test_cache_gone.sh - the cache lost while both daemons run
# (issue 15 point 2; docs/decisions.md, "The cache lost while running"):
# 1password.sqlite deleted (its -wal and -shm left behind), replaced by a
# file of garbage, overwritten in place, and the whole data directory
# removed. Each time, without a restart: connect-sync notices and logs it,
# both /health say the cache is REBUILDING, connect-api answers writes and
# reads 503 with Retry-After (never the 404 "item ... not found" of a
# missing file, never 500), connect-sync makes a new file and syncs it from
# the start, and connect-api serves it once its initial sync is complete:
# GET and POST work again and every item created before is there.
#
# To hold the "meanwhile" open long enough to look at it, the upstream is
# made unreachable before the cache goes (the rebuild cannot finish), and
# brought back afterwards; the in-place and directory cases run with the
# upstream up, every request answered 200 or 503 until the cache is back.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opcachegone
PID_VARS="SYNC_PID API_PID"
. "$(dirname "$0")/lib.sh"

# ---- an account: vault Demo with one item, a server, a read-write token ----
account_create "cache gone test password $$"
setup() {
    op vault create Demo >/dev/null &&
        op item create --vault Demo --category login --title "Web Login" username=alice \
            "password=canary-gone-$$" >/dev/null &&
        (cd "$T/work" && op connect server create gone-srv --vaults Demo >/dev/null)
}
run_setup "account, vault, item and server set up with op"
TOKEN=$(op connect token create tok --server gone-srv --vault Demo | tail -n 1)
DEMO=$(op vault get Demo --format json | jq -r .id)
WEB=$(op item get "Web Login" --vault Demo --format json | jq -r .id)
DATA="$XDG_DATA_HOME/.op/data"
CACHE="$DATA/1password.sqlite"

API_ENV="OP_SYNC_TIMEOUT=5s" start_daemons "$CREDS"
SYNC_PID0=$SYNC_PID
API_PID0=$API_PID
ITEMS="/v1/vaults/$DEMO/items"

# post TITLE: POST a password item titled TITLE (status in CODE, body in $T/body).
post() {
    req "$TOKEN" "$ITEMS" -X POST -H 'Content-Type: application/json' \
        --data "{\"vault\":{\"id\":\"$DEMO\"},\"category\":\"PASSWORD\",\"title\":\"$1\",
                 \"fields\":[{\"purpose\":\"PASSWORD\",\"value\":\"pw-$1-$$\"}]}"
}
# sync_health SERVICE STATUS / api_health SERVICE STATUS: /health of
# connect-sync / connect-api gives SERVICE that status (kept in $T/sh, $T/ah).
sync_health() {
    curl -s "http://127.0.0.1:$SPORT/health" >"$T/sh" &&
        jq -e --arg s "$1" --arg st "$2" \
            '.dependencies[] | select(.service == $s) | .status == $st' "$T/sh"
}
api_health() {
    curl -s -g "http://$URL_HOST:$APORT/health" >"$T/ah" &&
        jq -e --arg s "$1" --arg st "$2" \
            '.dependencies[] | select(.service == $s) | .status == $st' "$T/ah"
}
# is_503_rebuilding: the last answer was connect-api's 503 for a lost cache.
is_503_rebuilding() {
    [ "$CODE" = 503 ] && [ -n "$(header Retry-After)" ] &&
        jq -e '(keys == ["message","status"]) and .status == 503 and
               (.message | test("being rebuilt"))' "$T/body"
}
# item_there ID: GET the item answers 200 with that id.
item_there() { body_jq "$TOKEN" "$ITEMS/$1" ".id == \"$1\""; }
# titles: the vault's item titles, sorted, one line.
titles() {
    req "$TOKEN" "$ITEMS"
    [ "$CODE" = 200 ] && jq -r '[.[].title] | sort | join(",")' "$T/body"
}

# ---- before: a write through connect-api ----
post "Before"
if [ "$CODE" = 200 ]; then
    BEFORE=$(jq -r .id "$T/body")
    pass "POST before anything happens: 200"
else
    BEFORE=none
    fail "POST before anything happens: 200" "HTTP $CODE: $(head -c 300 "$T/body")"
fi
check "the item created before is read back" item_there "$BEFORE"
check "connect-sync's /health says sqlite ACTIVE before" sync_health sqlite ACTIVE
check "connect-api's /health says sqlite ACTIVE before" api_health sqlite ACTIVE

# lost_while_down LABEL ACTION: with the upstream away, ACTION loses the
# cache; everything connect-api and connect-sync say meanwhile is checked;
# then the upstream comes back and the cache must be served again.
N=0
lost_while_down() {
    _l=$1
    _act=$2
    N=$((N + 1))
    if ! upstream_down; then
        fail "$_l: $UPSTREAM_WHAT goes away"
        return
    fi
    _lines_sync=$(grep -c 'rebuilding the cache from the account' "$T/sync.log" || true)
    _lines_api=$(grep -c 'answering 503 until connect-sync has rebuilt the cache' "$T/api.log" || true)
    eval "$_act"
    check "$_l: connect-sync's /health says sqlite REBUILDING (within 3 s)" \
        poll_until 3000 sync_health sqlite REBUILDING
    check "$_l: connect-sync's /health message says what happened" \
        jq -e '.dependencies[] | select(.service == "sqlite") | .message | test("rebuilding it")' "$T/sh"
    check "$_l: connect-sync's /health says account_data NOT_SYNCED" sync_health account_data NOT_SYNCED
    check "$_l: connect-api's /health says sqlite REBUILDING" \
        poll_until 3000 api_health sqlite REBUILDING
    check "$_l: connect-api's /health says account_data NOT_SYNCED" api_health account_data NOT_SYNCED
    post "During$N"
    if is_503_rebuilding >/dev/null 2>&1; then
        pass "$_l: POST meanwhile is 503 with Retry-After, saying the cache is being rebuilt"
    else
        fail "$_l: POST meanwhile is 503 with Retry-After, saying the cache is being rebuilt" \
            "HTTP $CODE: $(head -c 300 "$T/body")"
    fi
    req "$TOKEN" "$ITEMS/$BEFORE"
    check "$_l: GET of an item meanwhile is 503 too" is_503_rebuilding
    req "$TOKEN" "$ITEMS/$WEB" -X DELETE
    check "$_l: DELETE meanwhile is 503 and deletes nothing" is_503_rebuilding
    check "$_l: connect-sync logged the loss once" sh -c \
        "[ \$(grep -c 'rebuilding the cache from the account' '$T/sync.log') -eq $((_lines_sync + 1)) ]"
    check "$_l: connect-api logged it once" sh -c \
        "[ \$(grep -c 'answering 503 until connect-sync has rebuilt the cache' '$T/api.log') -eq $((_lines_api + 1)) ]"
    upstream_up || fail "$_l: $UPSTREAM_WHAT comes back"
    back_again "$_l"
    check "$_l: POST meanwhile created nothing" sh -c \
        "! grep -q 'During$N' '$T/titles'"
}

# back_again LABEL: the cache is rebuilt and served, by the same processes.
back_again() {
    check "$1: connect-sync's /health says sqlite ACTIVE again (within 15 s)" \
        poll_until 15000 sync_health sqlite ACTIVE
    check "$1: ... and account_data ACTIVE" poll_until 5000 sync_health account_data ACTIVE
    check "$1: connect-api's /health says sqlite ACTIVE again" poll_until 5000 api_health sqlite ACTIVE
    check "$1: the item created before the loss is there" poll_until 5000 item_there "$BEFORE"
    check "$1: the owner's item is there" item_there "$WEB"
    post "After$N"
    if [ "$CODE" = 200 ]; then
        _id=$(jq -r .id "$T/body")
        pass "$1: POST works again"
        check "$1: the new item is read back at once" item_there "$_id"
    else
        fail "$1: POST works again" "HTTP $CODE: $(head -c 300 "$T/body")"
    fi
    titles >"$T/titles" || true
    check "$1: no restart (the same two processes)" sh -c \
        "[ '$SYNC_PID' = '$SYNC_PID0' ] && [ '$API_PID' = '$API_PID0' ] &&
         kill -0 $SYNC_PID && kill -0 $API_PID"
    check "$1: a new cache file, mode 0600" [ "$(stat -c %a "$CACHE")" = 600 ]
}

# only_200_503 LABEL: GET and POST in a loop until both are 200 again (at
# most 15 s); every answer meanwhile is 200 or connect-api's 503.
only_200_503() {
    N=$((N + 1))
    _bad=
    _t0=$(now_ms)
    _ok=0
    while [ $(($(now_ms) - _t0)) -lt 15000 ]; do
        req "$TOKEN" "$ITEMS/$BEFORE"
        _g=$CODE
        [ "$_g" = 200 ] || is_503_rebuilding >/dev/null 2>&1 || _bad="$_bad GET:$CODE"
        post "Loop$N"
        _p=$CODE
        [ "$_p" = 200 ] || is_503_rebuilding >/dev/null 2>&1 || _bad="$_bad POST:$CODE"
        if [ "$_g" = 200 ] && [ "$_p" = 200 ] && api_health sqlite ACTIVE >/dev/null 2>&1 &&
            sync_health account_data ACTIVE >/dev/null 2>&1; then
            _ok=1
            break
        fi
        sleep 0.05
    done
    if [ -z "$_bad" ]; then
        pass "$1: every answer until the cache is back is 200 or 503 (rebuilding)"
    else
        fail "$1: every answer until the cache is back is 200 or 503 (rebuilding)" "$_bad"
    fi
    check "$1: GET and POST work again within 15 s" [ "$_ok" -eq 1 ]
    check "$1: connect-sync logged the loss" grep -q "$2" "$T/sync.log"
    back_again "$1"
}

# ---- 1: the file deleted (its -wal and -shm stay) ----
lost_while_down "deleted" 'rm -f "$CACHE"'
check "deleted: connect-sync's log names it" grep -q 'was deleted: rebuilding the cache' "$T/sync.log"

# ---- 2: the file replaced by a file of garbage (another inode) ----
lost_while_down "replaced by garbage" \
    'head -c 65536 /dev/urandom >"$T/garbage" && mv "$T/garbage" "$CACHE"'
check "replaced: connect-sync's log names it" \
    grep -q 'was replaced by another file: rebuilding the cache' "$T/sync.log"

# ---- 3: overwritten in place (same inode), the upstream up ----
dd if=/dev/urandom of="$CACHE" bs=4096 count=2 conv=notrunc 2>/dev/null
only_200_503 "overwritten in place" 'was truncated or overwritten: rebuilding'

# ---- 4: truncated in place, the upstream up ----
: >"$CACHE"
only_200_503 "truncated in place" 'was truncated or overwritten: rebuilding'

# ---- 5: the data directory removed, the upstream up ----
rm -rf "$DATA"
only_200_503 "data directory removed" 'was deleted: rebuilding'
check "data directory made again, mode 0700" [ "$(stat -c %a "$DATA")" = 700 ]

# ---- afterwards ----
check "all the items written through connect-api are there" sh -c \
    "titles_now=\$(cat '$T/titles'); for t in Before After1 After2 After3 After4 After5 'Web Login'; do
        printf %s \"\$titles_now\" | tr , '\n' | grep -qx \"\$t\" || exit 1; done"
check "the cache holds no plaintext canary" sh -c "! grep -q 'canary-gone-$$' '$CACHE'*"
check "no canary in the logs" sh -c "! grep -q 'canary-gone-$$' '$T'/*.log '$T'/*.err"
check "connect-api never answered 500 (logs)" sh -c "! grep -q 'completed (500' '$T/api.log'"
check "every response carried 1Password-Connect-Version ($NREQ responses, $NOVER without)" \
    [ "$NOVER" -eq 0 ]

stop_pid API_PID
check "connect-api: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
stop_pid SYNC_PID
check "connect-sync: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
echo "cache gone: $NPASS passed, $NFAIL failed"
