#!/bin/sh
# tests/daemon/test_pg_backup.sh - a backup of the PostgreSQL store and its
# restore, round trip (issue 14, must-show 7).
#
# The network world on PostgreSQL (NET_STORE=pg): the owner writes vault
# Backup with items (a login, a note) and a document through
# op-account-server; a Connect server bk (connect-sync + connect-api) writes
# one more item and edits one. Its answers are recorded: every item (full),
# the document's file list and content. Then:
#   - pg_dump -Fc of the database; op-account-server stopped; pg_restore
#     --clean --if-exists over it (docs/ha.md's command); then the database
#     dropped and created again, empty, and pg_restore of the dump;
#   - op-account-server started again on the restored database; bk ran on
#     with its cache (docs/ha.md: Connect servers keep their caches and
#     continue from their cursor); bk2, a Connect server made before the
#     dump, starts with an empty cache;
#   - both connect-apis answer the same items at the same versions, the
#     same document bytes; new writes work (connect-api and op), their seqs
#     continue after the dump's (no seq used twice, none skipped) and reach
#     both Connect servers.
#
# Then a restore to an OLDER point: the same dump again, over a database
# that has moved on (the writes above are lost). The Connect servers'
# cursors are now past the restored feed's head: the account server answers
# them with the head, below their cursor, and each connect-sync empties its
# cache and syncs again from the start (docs/ha.md, "Restoring to an
# earlier point"): the lost items leave both caches, both answer as at the
# dump again, and a new write (whose seq the lost ones had used) reaches
# both.
#
# The dump (and its SQL text, pg_restore -f: the custom format compresses)
# holds no title, password, vault name or document content in plaintext,
# nor the owner's session token, Secret Key or a Connect bearer token;
# positive controls: the scan finds a planted canary and the SQL text holds
# the item ids (so it is the real data, uncompressed).
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
OPC_UPSTREAM_MODE=https
NET_STORE=pg
NET_OWNER=remote
export OPC_UPSTREAM_MODE NET_STORE NET_OWNER
T_PREFIX=oppgbackup
PID_VARS="SYNC_PID API_PID SYNC2_PID API2_PID"
. "$(dirname "$0")/lib.sh"
U="$$-$(date +%s)"
PW_LOGIN="canary-login-pw-$U"
PW_API="canary-api-pw-$U"
NOTE="canary-note-text-$U"
T_LOGIN="canary-login-title-$U"
T_NOTE="canary-note-title-$U"
T_DOC="canary-doc-title-$U"
T_API="canary-api-title-$U"
VNAME="canary-vault-$U"
DOC_TEXT="canary-document-content-$U"

account_create "pg backup password $$"
printf '%s\n' "$DOC_TEXT" >"$T/doc.txt"
head -c 100000 /dev/urandom >>"$T/doc.txt" # two chunks
# shellcheck disable=SC2317
setup() {
    op vault create "$VNAME" >/dev/null &&
        op item create --vault "$VNAME" --category login --title "$T_LOGIN" username=alice \
            "password=$PW_LOGIN" >/dev/null &&
        op item create --vault "$VNAME" --category "Secure Note" --title "$T_NOTE" \
            "notesPlain=$NOTE" >/dev/null &&
        op document create "$T/doc.txt" --vault "$VNAME" --title "$T_DOC" >/dev/null &&
        (cd "$T/work" && op connect server create bk --vaults "$VNAME" >/dev/null) &&
        mkdir -p "$T/work2" &&
        (cd "$T/work2" && op connect server create bk2 --vaults "$VNAME" >/dev/null)
}
run_setup "account, vault, items, a document and a Connect server set up with op"
TOK=$(op connect token create tok --server bk --vault "$VNAME" | tail -n 1)
TOK2=$(op connect token create tok2 --server bk2 --vault "$VNAME" | tail -n 1)
V=$(op vault get "$VNAME" --format json | jq -r .id)
ACCT=$(op account get --format json | jq -r .id)
DOC=$(op item get "$T_DOC" --vault "$VNAME" --format json | jq -r .id)
LOGIN=$(op item get "$T_LOGIN" --vault "$VNAME" --format json | jq -r .id)
start_daemons "$CREDS"
psql_q() { # SQL: one query's rows, unaligned
    "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${2:-opc}" \
        -v ON_ERROR_STOP=1 -c "$1"
}
# api PATH [CURL-ARGS...]: the answer of connect-api (bk's, or bk2's after
# `use bk2`) on stdout; fails unless 2xx.
use() {
    if [ "$1" = bk ]; then CUR_PORT=$APORT CUR_TOK=$TOK; else CUR_PORT=$APORT2 CUR_TOK=$TOK2; fi
}
api() {
    _p=$1
    shift
    curl -sf -H "Authorization: Bearer $CUR_TOK" "$@" "http://127.0.0.1:$CUR_PORT$_p"
}
use bk

# Writes through the Connect server: one new item, one edit of the login.
api "/v1/vaults/$V/items" -X POST -H 'Content-Type: application/json' --data \
    "{\"title\":\"$T_API\",\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\",\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\",\"value\":\"$PW_API\"}]}" \
    >"$T/api-new.json" || true
APIITEM=$(jq -r .id "$T/api-new.json" 2>/dev/null || echo "")
api "/v1/vaults/$V/items/$LOGIN" -X PATCH -H 'Content-Type: application/json' \
    --data '[{"op":"add","path":"/favorite","value":true}]' >"$T/patch.json" || true
check "connect-api wrote an item and edited one" sh -c \
    "[ -n '$APIITEM' ] && [ '$APIITEM' != null ] && jq -e '.favorite == true and .version == 2' '$T/patch.json'"

# snapshot FILE: connect-api's answers: the vault's items in full (by id),
# the document's files and the content's SHA-256.
snapshot() {
    api "/v1/vaults/$V/items" >"$T/list.json" || return 1
    for _i in $(jq -r '.[].id' "$T/list.json" | sort); do
        api "/v1/vaults/$V/items/$_i" || return 1
    done | jq -S -s '.' >"$1.items" || return 1
    api "/v1/vaults/$V/items/$DOC/files" | jq -S 'map(del(.content_path))' >"$1.files" || return 1
    _f=$(jq -r '.[0].id' "$1.files")
    api "/v1/vaults/$V/items/$DOC/files/$_f/content" | sha256sum >"$1.sha" || return 1
    jq -r '.[] | "\(.id) \(.version)"' "$1.items" >"$1.versions"
}
snapshot "$T/before" || { fail "connect-api's answers before the backup"; exit 1; }
sha256sum <"$T/doc.txt" >"$T/doc.sha"
check "before: 4 items in connect-api, the document's content as written" sh -c \
    "[ \$(wc -l <'$T/before.versions') -eq 4 ] && cmp -s '$T/before.sha' '$T/doc.sha'"
HEAD1=$(psql_q "SELECT last_seq FROM account WHERE account_id = '$ACCT'")

# ---- the backup ----
# Secrets of the moment for the scan: the owner's session token, the
# Connect server's bearer token, the Secret Key op keeps.
SESS_AT_DUMP=${OP_SESSION_TOKEN:-}
SK=$(cat "$XDG_CONFIG_HOME/opconnect/secret-key-$ACCT" 2>/dev/null || true)
check "the secrets to scan for are known (session token, Secret Key, bearer token)" \
    [ -n "$SESS_AT_DUMP" -a -n "$SK" -a -n "$TOK" ]
DUMP="$T/opc.dump"
if "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Fc -f "$DUMP" opc 2>"$T/dump.err"; then
    pass "pg_dump -Fc of the database ($(wc -c <"$DUMP") bytes, feed head $HEAD1)"
else
    fail "pg_dump -Fc of the database" "$(cat "$T/dump.err")"
    exit 1
fi

# ---- the restore: the account server stopped, the database dropped ----
stop_pid ACCTD_PID
check "op-account-server stopped (status $STOP_RC)" [ "$STOP_RC" = 0 ]
pgcli() { "$PG_BIN/$1" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$2"; }
# First docs/ha.md's command, over the database as it is.
if "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" -U postgres --clean --if-exists -d opc \
    --exit-on-error "$DUMP" 2>"$T/restore.err"; then
    pass "pg_restore --clean --if-exists over the database (docs/ha.md)"
else
    fail "pg_restore --clean --if-exists over the database (docs/ha.md)" "$(cat "$T/restore.err")"
fi
# Then from nothing.
if pgcli dropdb opc 2>"$T/drop.err" && pgcli createdb opc 2>>"$T/drop.err"; then
    pass "the database dropped and created again"
else
    fail "the database dropped and created again" "$(cat "$T/drop.err")"
    exit 1
fi
check "the new database is empty (no account table)" sh -c \
    "[ \"\$(\"$PG_BIN/psql\" -X -At -h 127.0.0.1 -p $PG_PORT -U postgres -d opc -c \"SELECT count(*) FROM pg_tables WHERE tablename = 'account'\")\" = 0 ]"
if "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d opc --exit-on-error "$DUMP" \
    2>"$T/restore.err"; then
    pass "pg_restore of the dump"
else
    fail "pg_restore of the dump" "$(cat "$T/restore.err")"
    exit 1
fi
check "the restored feed head is the dump's ($HEAD1)" \
    [ "$(psql_q "SELECT last_seq FROM account WHERE account_id = '$ACCT'")" = "$HEAD1" ]

# ---- the account server again; bk kept running with its cache, bk2 new ----
if upstream_up; then
    pass "op-account-server starts on the restored database (op signed in again)"
else
    fail "op-account-server starts on the restored database" "$(tail -n 5 "$T/acctd.err" "$T/signin.err")"
    exit 1
fi
# bk2: a Connect server made before the dump, started now with an empty
# cache (the initial sync reads the restored database).
mkdir -p "$T/data2"
SPORT2=$(free_port)
XDG_DATA_HOME="$T/data2" OP_SESSION="$T/work2/1password-credentials.json" OP_HTTP_PORT="$SPORT2" \
    OP_LOG_LEVEL=debug "$SYNC" >"$T/sync2.log" 2>"$T/sync2.err" </dev/null &
SYNC2_PID=$!
APORT2=$(free_port)
XDG_DATA_HOME="$T/data2" OP_SESSION="$T/work2/1password-credentials.json" OP_HTTP_PORT="$APORT2" \
    OP_BIND_ADDRESS=127.0.0.1 OP_LOG_LEVEL=debug "$API" >"$T/api2.log" 2>"$T/api2.err" </dev/null &
API2_PID=$!
check "bk2: connect-api answers /heartbeat" wait_http "$APORT2"
# upstream_ok PORT: connect-sync's /health names the upstream ACTIVE and the
# account's data synced.
upstream_ok() {
    curl -sf "http://127.0.0.1:$1/health" | jq_e '[.dependencies[] | select(.service == "upstream" or .service == "account_data") | .status] == ["ACTIVE", "ACTIVE"]'
}
check "bk2: the initial sync from the restored database completes" poll_until 15000 upstream_ok "$SPORT2"
check "bk: connect-sync reaches the account server again (kept running, cache kept)" \
    poll_until 15000 upstream_ok "$SPORT"
for srv in bk bk2; do
    use "$srv"
    snapshot "$T/after-$srv" || fail "$srv: connect-api's answers after the restore"
    check "after, $srv: the same items at the same versions" \
        cmp -s "$T/before.versions" "$T/after-$srv.versions"
    if cmp -s "$T/before.items" "$T/after-$srv.items"; then
        pass "after, $srv: connect-api answers every item exactly as before (fields, files, dates)"
    else
        fail "after, $srv: connect-api answers every item exactly as before" \
            "$(diff "$T/before.items" "$T/after-$srv.items" | head -n 10)"
    fi
    check "after, $srv: the document's file list and content as before" sh -c \
        "cmp -s '$T/before.files' '$T/after-$srv.files' && cmp -s '$T/before.sha' '$T/after-$srv.sha'"
done
use bk

# ---- new writes: the feed counter goes on ----
api "/v1/vaults/$V/items" -X POST -H 'Content-Type: application/json' \
    --data '{"title":"after restore","category":"LOGIN"}' >"$T/new.json" || true
check "a write through connect-api after the restore" jq -e '.version == 1' "$T/new.json"
op item create --vault "$VNAME" --category password --title "owner after restore" \
    "password=x-$U" >/dev/null 2>"$T/op.err" || fail "op item create after the restore" "$(cat "$T/op.err")"
seen() { api "/v1/vaults/$V/items" | jq -e '[.[] | select(.title == "owner after restore")] | length == 1'; }
check "bk: the owner's write reaches connect-api (the feed after the restore)" poll_until 10000 seen
use bk2
check "bk2: the owner's write reaches connect-api" poll_until 10000 seen
seen() { api "/v1/vaults/$V/items" | jq -e '[.[] | select(.title == "after restore")] | length == 1'; }
check "bk2: bk's write reaches connect-api" poll_until 10000 seen
use bk
ROWS=$(psql_q "SELECT count(*) || ' ' || max(seq) || ' ' || min(seq) FILTER (WHERE seq > $HEAD1) || ' ' || count(*) FILTER (WHERE seq > $HEAD1) FROM changes WHERE account_id = '$ACCT'")
HEAD2=$(psql_q "SELECT last_seq FROM account WHERE account_id = '$ACCT'")
# shellcheck disable=SC2086 # four numbers
set -- $ROWS
check "the seqs continue after the dump's: first new $3 = $HEAD1 + 1, $4 new, 1..$HEAD2 without a hole or a repeat ($1 rows)" \
    [ "$3" = $((HEAD1 + 1)) -a "$4" -ge 2 -a "$1" = "$HEAD2" -a "$2" = "$HEAD2" ]

# ---- a restore to an older point: the dump again, the writes since lost ----
stop_pid ACCTD_PID
if "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" -U postgres --clean --if-exists -d opc \
    --exit-on-error "$DUMP" 2>"$T/restore.err"; then
    pass "the dump restored over a database that moved on (head $HEAD2 back to $HEAD1)"
else
    fail "the dump restored over a database that moved on" "$(cat "$T/restore.err")"
    exit 1
fi
check "op-account-server starts on it again" upstream_up
restarted() { grep -q "restored to an earlier point" "$T/$1.log"; }
check "bk: connect-sync sees the feed behind its cursor and syncs again from the start" \
    poll_until 15000 restarted sync
check "bk2: the same" poll_until 15000 restarted sync2
for srv in bk bk2; do
    use "$srv"
    at_dump() { snapshot "$T/older-$1" && cmp -s "$T/before.versions" "$T/older-$1.versions"; }
    check "$srv: connect-api answers the items of the dump again, the lost ones gone" \
        poll_until 15000 at_dump "$srv"
done
op item create --vault "$VNAME" --category password --title "owner after older restore" \
    "password=y-$U" >/dev/null 2>"$T/op.err" || fail "op item create after the older restore" "$(cat "$T/op.err")"
seen() { api "/v1/vaults/$V/items" | jq -e '[.[] | select(.title == "owner after older restore")] | length == 1'; }
for srv in bk bk2; do
    use "$srv"
    check "$srv: a new write (a seq the lost ones had used) reaches connect-api" poll_until 10000 seen
done
use bk

# ---- no plaintext secret in the dump ----
"$PG_BIN/pg_restore" -f "$T/dump.sql" "$DUMP" 2>"$T/sql.err" ||
    fail "pg_restore -f: the dump as SQL text" "$(cat "$T/sql.err")"
scan() {
    grep -a -q -i -F -e "$PW_LOGIN" -e "$PW_API" -e "$NOTE" -e "$T_LOGIN" -e "$T_NOTE" \
        -e "$T_DOC" -e "$T_API" -e "$VNAME" -e "$DOC_TEXT" -e "pg backup password $$" \
        -e "$SESS_AT_DUMP" -e "$SK" -e "$TOK" "$@"
}
printf 'x%sx\n' "$DOC_TEXT" >"$T/planted"
check "positive control: the scan finds a planted canary" scan "$T/planted"
check "positive control: the dump's SQL text holds the items (ids $LOGIN, $DOC, $APIITEM)" sh -c \
    "grep -q -F '$LOGIN' '$T/dump.sql' && grep -q -F '$DOC' '$T/dump.sql' && grep -q -F '$APIITEM' '$T/dump.sql'"
clean() { [ -s "$1" ] && ! scan "$1"; } # FILE: there, and no canary in it
check "no title, password, note, vault name, document content, session token, Secret Key or bearer token in the dump" \
    clean "$DUMP"
check "... nor in its SQL text (uncompressed, $(wc -c <"$T/dump.sql") bytes)" clean "$T/dump.sql"

check "nothing on the account server's stderr" [ ! -s "$T/acctd.err" ]

echo "# $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
