#!/bin/sh
# tests/cli/test_negative.sh - failures: wrong password, wrong or missing
# Secret Key, bad sessions, a tampered ciphertext row, a token for a vault
# the server lacks, a duplicate server name, a stale-version edit, usage
# and validation errors. Each must be one "[ERROR] ..." line on stderr with
# its documented exit code, and leave the account exactly as it was.
set -eu
. "$(dirname "$0")/lib.sh"
setup_env

PW='negative-test-password-1'
ok "account create (OP_PASSWORD)" env OP_PASSWORD="$PW" op account create --email neg@example.com --format json
need "account create"
SK=$(jget .secretKey)
AID=$(jget .id)
SKFILE=$(jget .secretKeyFile)
DB="$XDG_DATA_HOME/opconnect/account.db"

ok "signin --ttl 2h --format json" env OP_PASSWORD="$PW" op signin --ttl 2h --format json
need "signin"
OP_SESSION_TOKEN=$(jget .token)
export OP_SESSION_TOKEN
jqok "signin JSON: account and an expiry two hours ahead" --arg a "$AID" --argjson now "$(date +%s)" \
    '.account == $a and ((.expiresAt | fromdateiso8601) - $now | . > 7100 and . < 7300)'

ok "vault create Prod" op vault create Prod
ok "vault create Dev" op vault create Dev
ok "item create" op item create --category login --title neg-login --vault Prod username=u1 password=p1 --format json
need "item create"
ITEM=$(jget .id)
mkdir -p "$T/work/a" "$T/work/b"
cd "$T/work/a"
ok "server create on Prod" op connect server create srv --vaults Prod
ok "token create" op connect token create t1 --server srv --vault Prod,r
cd "$T"

# snapshot FILE: everything the account holds, as the CLI lists it; every
# command must succeed (a hash of error text would compare equal as well).
snapshot() {
    op vault list --format json >"$1.vaults" &&
        op item list --format json >"$1.items" &&
        op item get "$ITEM" --vault Prod --format json >"$1.item" &&
        op connect server list --format json >"$1.servers" &&
        op connect token list --format json >"$1.tokens" &&
        jq -S -s . "$1.vaults" "$1.items" "$1.item" "$1.servers" "$1.tokens" >"$1"
}
snapshot_taken() {
    snapshot "$T/before.json" && jq -e --arg i "$ITEM" \
        '(.[0] | map(.name) | sort) == ["Dev","Prod"] and any(.[1][]; .id == $i) and .[2].id == $i and
         (.[3] | map(.name)) == ["srv"] and (.[4] | map(.name)) == ["t1"]' "$T/before.json"
}
check "snapshot taken (both vaults, the item, the server, its token)" snapshot_taken

# ---- authentication ----
fails 3 "wrong password" env -u OP_SESSION_TOKEN OP_PASSWORD=wrong-password op vault list
check "wrong password: the message says so" grep -q 'wrong password or Secret Key' "$T/err"
BADSK=$(printf '%s' "$SK" | sed 's/^\(A3-.\)./\1Z/; t; s/^/x/')
if [ "$BADSK" = "$SK" ]; then
    BADSK=$(printf '%s' "$SK" | sed 's/^\(A3-.\)./\1Y/')
fi
fails 3 "wrong Secret Key (OP_SECRET_KEY)" \
    env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" OP_SECRET_KEY="$BADSK" op vault list
fails 3 "malformed Secret Key" \
    env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" OP_SECRET_KEY="A3-NOPE" op vault list
fails 3 "no Secret Key file" \
    env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" XDG_CONFIG_HOME="$T/elsewhere" op vault list
check "the missing-key message names the variable" grep -q 'OP_SECRET_KEY' "$T/err"
chmod 644 "$SKFILE"
fails 3 "a Secret Key file readable by others is refused" \
    env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" op vault list
chmod 600 "$SKFILE"
fails 3 "no password and no terminal" env -u OP_SESSION_TOKEN op vault list
fails 3 "an invalid session token" env OP_SESSION_TOKEN=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA op vault list
fails 3 "a garbage session token via --session" op vault list --session 'not a token'
check "no secret in the error lines" sh -c '! grep -qF -- "$1" "$2" && ! grep -qF -- "$3" "$2"' _ "$PW" "$T/all-stderr" "$SK"
fails 4 "no account file" op vault list --account "$T/none/account.db"

# ---- Connect: scopes, names, files ----
fails 7 "token for a vault the server lacks" op connect token create t2 --server srv --vault Dev,r
fails 4 "token for an unknown server" op connect token create t3 --server nope --vault Prod
cd "$T/work/b"
fails 6 "duplicate server name" op connect server create srv --vaults Prod
check "the refused server wrote no credentials file" [ ! -e 1password-credentials.json ]
cd "$T/work/a"
fails 6 "credentials file exists, no --force" op connect server create srv2 --vaults Prod
cd "$T"
cd "$T/work/b"
fails 2 "an https:// upstream without --upstream-pin" \
    op connect server create net1 --vaults Prod --upstream https://account.example.test:8443
check "the message names --upstream-pin" grep -q -- '--upstream-pin' "$T/err"
fails 2 "--upstream-pin without an https:// upstream" \
    op connect server create net2 --vaults Prod --upstream-pin obviouslyfakepin-obviouslyfakepin_obviously
fails 8 "a pin that is not a thumbprint" \
    op connect server create net3 --vaults Prod --upstream https://account.example.test:8443 --upstream-pin short
check "the refused servers wrote no credentials file" [ ! -e 1password-credentials.json ]
cd "$T"

# ---- items ----
fails 5 "stale-version edit" op item edit "$ITEM" --vault Prod --version 7 username=u2
check "the conflict message mentions the version" grep -q 'version' "$T/err"
fails 4 "unknown item" op item get no-such-item --vault Prod
fails 4 "unknown vault" op vault get no-such-vault
fails 4 "field[delete] of a missing field" op item edit "$ITEM" --vault Prod 'nofield[delete]'
fails 8 "unknown category" op item create --category spaceship --title x --vault Prod
fails 8 "CUSTOM is not creatable" op item create --category custom --title x --vault Prod
fails 8 "an invalid DATE" op item create --category login --title x --vault Prod 'd[date]=2024-13-45'
fails 8 "an invalid OTP URI" op item create --category login --title x --vault Prod 'o[otp]=http://x'

# ---- usage ----
fails 2 "unknown flag" op vault list --bogus
fails 2 "unknown command" op frobnicate
fails 2 "missing --vault" op item create --category login --title x
fails 2 "bad --format" op vault list --format xml
fails 2 "bad --expires-in" op connect token create t4 --server srv --vault Prod --expires-in 30x
fails 2 "bad field type" op item create --category login --title x --vault Prod 'a[phone]=1'
fails 2 "bad recipe" op item create --category login --title x --vault Prod --generate-password=emoji
# Recipes the CLI once read more loosely than the library's generator does.
fails 2 "recipe with an empty part" \
    op item create --category login --title x --vault Prod --generate-password=letters,,digits
check "the empty-part message says so" grep -q 'empty item' "$T/err"
fails 2 "recipe naming a set twice" \
    op item edit "$ITEM" --vault Prod --generate-password=letters,LETTERS
check "the repeated-set message names it" grep -q 'LETTERS given twice' "$T/err"
fails 2 "recipe with two lengths" \
    op item create --category login --title x --vault Prod --generate-password=10,20
check "the two-lengths message says so" grep -q 'more than one length' "$T/err"
fails 2 "--version must be a number" op item edit "$ITEM" --vault Prod --version two username=x
fails 2 "flag without its value" op vault get --account

# ---- nothing changed ----
unchanged() { snapshot "$T/after.json" && cmp -s "$T/before.json" "$T/after.json"; }
check "no failed command changed the account (lists and item identical)" unchanged

# ---- a tampered ciphertext row ----
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$DB" ".backup '$T/tampered.db'"
    # Flip the first base64url character of the ciphertext of the item's
    # encrypted details (items.details holds its envelope).
    n=$(sqlite3 "$T/tampered.db" "UPDATE items SET details =
        substr(details, 1, instr(details, '\"data\":\"') + 7) ||
        CASE substr(details, instr(details, '\"data\":\"') + 8, 1) WHEN 'A' THEN 'B' ELSE 'A' END ||
        substr(details, instr(details, '\"data\":\"') + 9)
        WHERE id = '$ITEM' AND instr(details, '\"data\":\"') > 0; SELECT changes();")
    # The UPDATE is the test's own step: a precondition, not a check.
    if [ "$n" != 1 ]; then
        fail "tampering changed the item's stored details" "changes(): $n"
    fi
    fails 9 "a tampered ciphertext row fails to decrypt (integrity error)" \
        env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" op item get "$ITEM" --vault Prod --account "$T/tampered.db"
    ok "the untampered item of the same copy still lists" \
        env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" op vault list --account "$T/tampered.db"
    ok "the tampered item is still listed (only its details were touched)" \
        env -u OP_SESSION_TOKEN OP_PASSWORD="$PW" op item list --vault Prod --account "$T/tampered.db" \
        --format json
    jqok "... by its id" --arg i "$ITEM" 'any(.[]; .id == $i)'
else
    fail "sqlite3 is not installed (tools/install-deps lists it): tampered-row case not run"
fi

# ---- sessions end ----
ok "signin --ttl 1s" env OP_PASSWORD="$PW" op signin --ttl 1s --raw
SHORT=$(cat "$T/out")
sleep 2
fails 3 "an expired session" op vault list --session "$SHORT"
check "the expired-session message says so" grep -q 'expired' "$T/err"
