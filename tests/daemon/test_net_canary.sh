#!/bin/sh
# tests/daemon/test_net_canary.sh - nothing in clear in the network world
# (issue 13, must-show 4). Canaries (a title, field values, a password, a
# file's content, the Secret Key, the owner's password, the token secret
# T) go through op, op-account-server, connect-sync and connect-api
# (including a write through connect-api); then every byte of the account
# server's data directory (account files with their WAL, the server key),
# its logs, op's session files, the Connect daemons' data directory (cache
# with WAL) and their logs is scanned for each canary, as it is and in
# base64url. A positive control (a canary planted in one of the scanned
# places) proves the scan finds what is there.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
NET_OWNER=file # op writes the account file the server serves
export OPC_UPSTREAM_MODE
T_PREFIX=opnetcanary
. "$(dirname "$0")/lib.sh"

PW="canary-owner-password-$$"
account_create "$PW"
SK=$(grep -o 'A3-[A-Z0-9-]*' "$T/acct.out" | head -n 1)
check "the Secret Key was shown once" [ -n "$SK" ]
C_TITLE="canary-title-$$"
C_USER="canary-user-$$"
C_PASS="canary-pass-$$"
C_NOTE="canary-note-$$"
C_FILE="canary-file-content-$$"
C_WRITE="canary-written-through-api-$$"
printf '%s\n' "$C_FILE" >"$T/canary.txt"
setup() {
    op vault create Vault >/dev/null &&
        op item create --vault Vault --category login --title "$C_TITLE" "username=$C_USER" \
            "password=$C_PASS" "notesPlain=$C_NOTE" "doc\\.txt[file]=$T/canary.txt" >/dev/null &&
        (cd "$T/work" && op connect server create canary-srv --vaults Vault >/dev/null)
}
run_setup "the account, an item with canaries and a file, a Connect server"
TOK=$(op connect token create canary-tok --server canary-srv --vault Vault | tail -n 1)
check "a token" [ -n "$TOK" ]
# the token secret T: claim 1password.com/token of the JWT
C_T=$(printf '%s' "$TOK" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null |
    jq -r '."1password.com/token"' 2>/dev/null || true)
[ -n "$C_T" ] && [ "$C_T" != null ] || C_T=$(printf '%s' "$TOK" | cut -d. -f2 |
    python3 -c 'import base64,json,sys; s=sys.stdin.read().strip(); s+="="*(-len(s)%4); print(json.loads(base64.urlsafe_b64decode(s))["1password.com/token"])')
check "the token secret T read from the token" [ -n "$C_T" -a "$C_T" != null ]
start_daemons "$CREDS"
VAULT=$(curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults" | jq -r '.[0].id')
ITEM=$(curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults/$VAULT/items" |
    jq -r '.[0].id')
check "connect-api reads the item through the network world" \
    body_jq "$TOK" "/v1/vaults/$VAULT/items/$ITEM" ".title == \"$C_TITLE\""
req "$TOK" "/v1/vaults/$VAULT/items" -X POST -H 'Content-Type: application/json' \
    -d "{\"title\":\"$C_WRITE\",\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\",\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\",\"value\":\"$C_WRITE-pw\"}]}"
check "a write through connect-api (200)" [ "$CODE" = 200 ]
FILE_ID=$(curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults/$VAULT/items/$ITEM/files" |
    jq -r '.[0].id')
check "the file's content through connect-api" sh -c "curl -sf -H 'Authorization: Bearer $TOK' \
    'http://127.0.0.1:$APORT/v1/vaults/$VAULT/items/$ITEM/files/$FILE_ID/content' | grep -q '$C_FILE'"
# the write went upstream: the account file holds one more item
check "the write reached the account server" poll_until 5000 python3 -c \
    'import sqlite3, sys; c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True); sys.exit(c.execute("SELECT COUNT(*) FROM items").fetchone()[0] < 2)' "$OP_ACCOUNT"
# WAL contents stay: stop nothing before the scan (files are read as they are)
SESS_DIR=${XDG_RUNTIME_DIR:-$HOME/.cache}/opconnect
DATA="$XDG_DATA_HOME/.op/data"
scan_places() {
    printf '%s\n' "$NET_DATA" "$T/acctd.log" "$T/acctd.err" "$SESS_DIR" "$DATA" \
        "$T/sync.log" "$T/sync.err" "$T/api.log" "$T/api.err"
}
# found CANARY: 0 when any scanned file holds CANARY or its base64url form.
found() {
    _b64=$(printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '=')
    # the base64 of a string at an offset of 1 or 2 bytes differs; try all three
    _b1=$(printf 'x%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '=' | cut -c3-)
    _b2=$(printf 'xx%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '=' | cut -c4-)
    for _p in $(scan_places); do
        [ -e "$_p" ] || continue
        if grep -r -a -q -F -e "$1" -e "$(printf '%s' "$_b64" | cut -c1-16)" \
            -e "$(printf '%s' "$_b1" | cut -c1-16)" -e "$(printf '%s' "$_b2" | cut -c1-16)" "$_p"; then
            return 0
        fi
    done
    return 1
}
# each canary by the name of what it is (the values are not printed)
for name in title username password note file-content written-through-api owner-password \
    secret-key token-secret; do
    case $name in
    title) c=$C_TITLE ;; username) c=$C_USER ;; password) c=$C_PASS ;; note) c=$C_NOTE ;;
    file-content) c=$C_FILE ;; written-through-api) c=$C_WRITE ;; owner-password) c=$PW ;;
    secret-key) c=$SK ;; token-secret) c=$C_T ;;
    esac
    _label=$name
    if found "$c"; then
        fail "nothing in clear: the $_label is nowhere in the scanned files"
    else
        pass "nothing in clear: the $_label is nowhere in the scanned files"
    fi
done
check "the scan covered the account file's WAL" sh -c "ls '$NET_DATA'/accounts/*-wal >/dev/null 2>&1"
check "the scan covered the cache's WAL" sh -c "ls '$DATA'/*-wal >/dev/null 2>&1"
# positive control: a canary planted in the account server's data dir and
# one in the cache directory are found
printf 'planted %s\n' "$C_PASS" >>"$NET_DATA/accounts/planted.txt"
check "positive control: a canary planted in the account server's data dir is found" found "$C_PASS"
rm -f "$NET_DATA/accounts/planted.txt"
printf 'planted %s\n' "$C_NOTE" | base64 -w0 | tr '+/' '-_' >"$DATA/planted.b64"
check "positive control: a canary planted base64url in the cache dir is found" found "$C_NOTE"
rm -f "$DATA/planted.b64"

echo "net-canary: $NPASS passed, $NFAIL failed"
