#!/bin/sh
# tests/daemon/test_disk_full.sh - a full disk under both daemons (issue 15;
# docs/decisions.md, "A full cache disk"; the long proof is
# tests/soak/disk_full). The cache's directory and the account file's
# directory are each a small tmpfs (so this needs root: without it, or
# where tmpfs cannot be mounted, the script says SKIP and passes nothing).
#   1. The cache's disk full: a POST answers 503 with Retry-After and the
#      "cache disk is full" message before anything reaches the account
#      (the item is not in the account), reads keep working, /health's
#      sqlite is ACTIVE with a message saying so. An item made in the
#      account meanwhile (op) cannot be synced: connect-sync logs "cannot
#      record the sync health" once, not per retry.
#   2. Space back: a POST answers 200 at once and reads back 200,
#      connect-sync brings the op item in and logs that the health is
#      recorded again, /health no longer speaks of a full disk.
#   3. The account file's disk full: a POST answers 503 naming the
#      account's storage, not an unreachable account server; reads work;
#      space back, the POST works again.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
if [ "$(id -u)" -ne 0 ]; then
    echo "# SKIP test_disk_full: needs root to mount a tmpfs"
    exit 0
fi
T_PREFIX=opdiskfull
PID_VARS="SYNC_PID API_PID"
. "$(dirname "$0")/lib.sh"
MOUNTS=""
unmount_all() {
    for _m in $MOUNTS; do umount "$_m" 2>/dev/null || true; done
}
trap 'unmount_all; cleanup' EXIT INT TERM
# small_disk DIR: a 6 MiB tmpfs on DIR (created); 1 when it cannot be mounted.
small_disk() {
    mkdir -p "$1"
    mount -t tmpfs -o size=6m,mode=0700 tmpfs "$1" 2>"$T/mount.err" || return 1
    MOUNTS="$1 $MOUNTS"
}
# fill DIR: a file takes every free byte of DIR's file system.
fill() { cat /dev/zero >"$1/filler" 2>/dev/null || true; }

account_create "disk full test password $$"
setup() {
    op vault create Demo >/dev/null &&
        op item create --vault Demo --category login --title "Web Login" username=alice \
            "password=canary-full-$$" >/dev/null &&
        (cd "$T/work" && op connect server create full-srv --vaults Demo >/dev/null)
}
run_setup "account, vault, item and server set up with op"
TOKEN=$(op connect token create tok --server full-srv --vault Demo | tail -n 1)
DEMO=$(op vault get Demo --format json | jq -r .id)
WEB=$(op item get "Web Login" --vault Demo --format json | jq -r .id)
ACCOUNT_DIR=$(dirname "$(account_file)")
DATA="$XDG_DATA_HOME/.op/data"
ITEMS="/v1/vaults/$DEMO/items"

# The account's directory moves onto its own tmpfs, the cache's gets one.
mv "$ACCOUNT_DIR" "$ACCOUNT_DIR.orig"
if ! small_disk "$ACCOUNT_DIR" || ! small_disk "$DATA"; then
    echo "# SKIP test_disk_full: cannot mount a tmpfs: $(cat "$T/mount.err")"
    exit 0
fi
cp -a "$ACCOUNT_DIR.orig/." "$ACCOUNT_DIR/"
check "the account file works on its tmpfs" op item get "Web Login" --vault Demo

start_daemons "$CREDS"

# post TITLE: POST a password item titled TITLE (status in CODE, body in $T/body).
post() {
    req "$TOKEN" "$ITEMS" -X POST -H 'Content-Type: application/json' \
        --data "{\"vault\":{\"id\":\"$DEMO\"},\"category\":\"PASSWORD\",\"title\":\"$1\",
                 \"fields\":[{\"purpose\":\"PASSWORD\",\"value\":\"pw-$1-$$\"}]}"
}
api_sqlite() { # JQ on /health's sqlite dependency
    curl -s -g "http://$URL_HOST:$APORT/health" |
        jq_e ".dependencies[] | select(.service == \"sqlite\") | $1"
}
count() { grep -c "$1" "$2" || true; }

post before
check "a POST before the disk is full answers 200" [ "$CODE" = 200 ]

# ---- 1. the cache's disk full ----
fill "$DATA"
experr "the cache's disk full: a POST answers 503 before the upstream" 503 "$TOKEN" "$ITEMS" \
    "^the server's cache disk is full: the write was not sent to the account" -X POST \
    -H 'Content-Type: application/json' \
    --data "{\"category\":\"PASSWORD\",\"title\":\"during\",\"fields\":[{\"purpose\":\"PASSWORD\",\"value\":\"x\"}]}"
check "  with Retry-After: 5" [ "$(header Retry-After)" = 5 ]
if op item get during --vault Demo >/dev/null 2>&1; then
    fail "  the refused POST did not reach the account"
else
    pass "  the refused POST did not reach the account"
fi
experr "  a DELETE too" 503 "$TOKEN" "$ITEMS/$WEB" "cache disk is full" -X DELETE
expect "  reads keep working" 200 "$TOKEN" "$ITEMS/$WEB" '.title == "Web Login"'
full_logged() { [ "$(count "the cache's disk is full (" "$T/api.log")" -eq 1 ]; }
check "  logged once" poll_until 3000 full_logged
check "  /health: sqlite ACTIVE, its message says the disk is full" \
    api_sqlite '.status == "ACTIVE" and (.message | test("disk is full"))'
# An item made in the account meanwhile cannot be synced; the failure to
# record the sync health is logged once, not per retry.
NOTE=$(head -c 49152 /dev/urandom | od -An -tx1 | tr -d ' \n')
op item create --vault Demo --category login --title "Made aside" "password=aside-$$" \
    "note[text]=$NOTE" >/dev/null
sleep 6
N_ERR=$(count "cannot record the sync health" "$T/sync.log")
check "connect-sync logged the unrecordable health once in 6 s of retries ($N_ERR)" [ "$N_ERR" -eq 1 ]
N_FAIL=$(count '"(W) sync failed\|retrying in' "$T/sync.log")
check "  while it retried (warnings and debug lines: $N_FAIL)" [ "$N_FAIL" -ge 1 ]

# ---- 2. space back ----
rm -f "$DATA/filler"
post after
check "space back: a POST answers 200 at once" [ "$CODE" = 200 ]
AFTER=$(jq -r .id "$T/body")
expect "  and reads back" 200 "$TOKEN" "$ITEMS/$AFTER" '.title == "after"'
aside_synced() { code_is 200 "$TOKEN" "$ITEMS?filter=title%20eq%20%22Made%20aside%22" &&
    jq -e 'length == 1' "$T/body"; }
check "  connect-sync brings the item made aside in" poll_until 15000 aside_synced
recorded() { grep -q "the sync health is recorded again, after" "$T/sync.log"; }
check "  and logs that the health is recorded again" poll_until 5000 recorded
room_logged() { grep -q "the cache's disk has room again" "$T/api.log"; }
check "  connect-api logs that writes go ahead" poll_until 3000 room_logged
check "  /health no longer speaks of a full disk" \
    api_sqlite '.status == "ACTIVE" and (.message | test("disk is full") | not)'

# ---- 3. the account file's disk full ----
fill "$ACCOUNT_DIR"
experr "the account file's disk full: a POST answers 503 naming it" 503 "$TOKEN" "$ITEMS" \
    "^the account's storage is full: the write was not made" -X POST \
    -H 'Content-Type: application/json' \
    --data "{\"category\":\"PASSWORD\",\"title\":\"acct-full\",\"fields\":[{\"purpose\":\"PASSWORD\",\"value\":\"$NOTE\"}]}"
check "  with Retry-After: 5" [ "$(header Retry-After)" = 5 ]
acct_logged() { grep -q "upstream write failed: .*account file: database or disk is full" "$T/api.log"; }
check "  logged as the account file being full" poll_until 3000 acct_logged
expect "  reads keep working" 200 "$TOKEN" "$ITEMS/$WEB" '.title == "Web Login"'
rm -f "$ACCOUNT_DIR/filler"
post again
check "  space back: a POST answers 200" [ "$CODE" = 200 ]

stop_pid API_PID
check "connect-api: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
stop_pid SYNC_PID
check "connect-sync: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
echo "disk full: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
