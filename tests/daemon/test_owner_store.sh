#!/bin/sh
# tests/daemon/test_owner_store.sh - the owner's store protocol over the
# network (issue 13; docs/protocol.md, "The owner's store protocol"): `op`
# signed in to op-account-server runs every command through it, and the
# server only ever sees ciphertext.
#
# op talks to the server through a recording proxy (plain HTTP on loopback),
# so the test reads what crossed the wire. Vaults, items (create, get, list,
# edit with a stale --version refused, delete), a 6 MiB document (a batch
# above the 4 MiB request limit: only an owner session may send it) read
# back byte for byte, a Connect server whose credentials name the server and
# its pin by default, tokens; four `op` at once on one session (the lock:
# none refused as a replay); the server killed: a read fails in one line,
# and after its restart op must sign in again (sessions live in the
# server's memory); a write whose answer is lost says its outcome is
# unknown (and it was made); the server's
# logs name statements, never values; and a canary scan: the item's
# secrets, titles and document bytes appear nowhere in the server's data
# directory (WAL included), its logs, or the wire.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opstore
PID_VARS="ACC_PID PROXY_PID SYNC_PID"
. "$(dirname "$0")/lib.sh"
RECPROXY=$(cd "$(dirname "$0")/../lib" && pwd)/recproxy.py
ACC="$BUILDDIR/op-account-server"
DATA="$T/account-server"
PW="owner store password $$"
U=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
SECRET="canary-secret-$U"
SECRET2="canary-secret-two-$U"
TITLE="canary-title-$U"
VNAME="canary-vault-$U"

mkdir -p "$DATA"
chmod 700 "$DATA"
HPORT=$(free_port)
start_server() {
    env OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTP_PORT="$HPORT" OP_BIND_ADDRESS=127.0.0.1 \
        OP_LOG_LEVEL=debug "$ACC" >>"$T/acc.log" 2>>"$T/acc.err" </dev/null &
    ACC_PID=$!
    poll_until 5000 curl -sf "http://127.0.0.1:$HPORT/heartbeat"
}
check "op-account-server serves plain HTTP on loopback" start_server
PIN=$(OP_ACCOUNT_DATA_DIR="$DATA" "$ACC" --print-pin </dev/null)

# A recording proxy: every request's method, path and body, and every
# answer's body, appended to proxy.log (the wire, as a TLS terminator sees it).
PPORT=$(free_port)
python3 "$RECPROXY" "$PPORT" "$HPORT" "$T/proxy.log" 2>"$T/proxy.err" &
PROXY_PID=$!
URL="http://127.0.0.1:$PPORT"
check "the recording proxy answers" poll_until 5000 curl -sf "$URL/heartbeat"

# ---- the account, made and signed in through the server ----
printf '%s\n' "$PW" | setsid -w "$OP" account create --address "$URL" --email owner@example.com \
    --password-stdin >"$T/signup.out" 2>"$T/signup.err" ||
    { fail "op account create --address" "$(cat "$T/signup.err")"; exit 1; }
ACCT=$(sed -n 's/^Account: *//p' "$T/signup.out")
SK=$(sed -n 's/^Secret Key: *//p' "$T/signup.out")
printf '%s\n' "$PW" | setsid -w "$OP" signin --address "$URL" --password-stdin \
    >"$T/signin.out" 2>"$T/signin.err" ||
    { fail "op signin --address" "$(cat "$T/signin.err")"; exit 1; }
eval "$(cat "$T/signin.out")"
export OP_SESSION_TOKEN OP_ADDRESS
DB="$DATA/accounts/$ACCT.db"
pass "account $ACCT made and signed in through the server"
# The Account Unlock Key op derived (2SKD) and keeps sealed in its session
# file: computed here from the account row, for the canary scan.
AUK=$(AUK_PASSWORD="$PW" AUK_SECRET_KEY="$SK" "$BUILDDIR/tests/daemon/auk_probe" "$DB" 2>"$T/auk.err")
AUK_HEX=$(printf '%s\n' "$AUK" | sed -n 1p)
AUK_B64=$(printf '%s\n' "$AUK" | sed -n 2p)
check "the AUK computed for the canary scan (64 hex, 43 b64url)" sh -c \
    "[ ${#AUK_HEX} -eq 64 ] && [ ${#AUK_B64} -eq 43 ] || { cat '$T/auk.err'; false; }"

# run CMD...: op's stdout in $T/out, stderr in $T/err, exit code in RC.
run() {
    set +e
    setsid -w "$OP" "$@" <"${IN:-/dev/null}" >"$T/out" 2>"$T/err"
    RC=$?
    set -e
}
# okrun DESC CMD...: op exits 0 with nothing on stderr.
okrun() {
    _d=$1
    shift
    run "$@"
    if [ "$RC" -eq 0 ] && [ ! -s "$T/err" ]; then
        pass "$_d"
    else
        fail "$_d" "exit $RC: $(head -c 400 "$T/err")"
    fi
}

# ---- vaults ----
okrun "op vault create over the network" vault create "$VNAME" --format json
VID=$(jq -r .id "$T/out" 2>/dev/null || true)
check "the vault is a row of the server's account file" sh -c \
    "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM vaults WHERE id = '$VID'\") = 1 ]"
okrun "op vault list" vault list --format json
check "vault list: the new vault, its name decrypted by op" \
    jq -e --arg n "$VNAME" '[.[] | select(.name == $n)] | length == 1' "$T/out"
okrun "op vault edit (a new description)" vault edit "$VNAME" --description "described" --format json
check "vault edit: the description" jq -e '.description == "described"' "$T/out"

# ---- items ----
okrun "op item create over the network" item create --vault "$VNAME" --category login \
    --title "$TITLE" username=alice "password=$SECRET" --format json
IID=$(jq -r .id "$T/out" 2>/dev/null || true)
okrun "op item get" item get "$TITLE" --vault "$VNAME" --format json
check "item get: the password, decrypted by op" jq -e --arg s "$SECRET" \
    '[.fields[] | select(.purpose == "PASSWORD")][0].value == $s and .version == 1' "$T/out"
okrun "op item edit: a new password" item edit "$TITLE" --vault "$VNAME" "password=$SECRET2" \
    --format json
check "item edit: version 2" jq -e '.version == 2' "$T/out"
run item edit "$TITLE" --vault "$VNAME" --version 1 username=bob
check "item edit --version 1 (stale): refused (exit 5), nothing written" sh -c \
    "[ $RC -eq 5 ] && grep -q 'not at version 1' '$T/err'"
okrun "op item list" item list --vault "$VNAME" --format json
check "item list: one item, version 2" jq -e --arg t "$TITLE" \
    'length == 1 and .[0].title == $t and .[0].version == 2' "$T/out"

# ---- four op processes at once on one session ----
for n in 1 2 3 4; do
    setsid -w "$OP" item create --vault "$VNAME" --category password --title "parallel $n" \
        "password=$SECRET-$n" >"$T/par$n.out" 2>"$T/par$n.err" </dev/null &
    eval "PAR$n=\$!"
done
PAR_OK=0
for n in 1 2 3 4; do
    eval "_p=\$PAR$n"
    if wait "$_p"; then PAR_OK=$((PAR_OK + 1)); fi
done
check "four op at once on one session: all four succeed (the session's lock)" sh -c \
    "[ $PAR_OK -eq 4 ] || { cat '$T'/par*.err; false; }"
okrun "item list after them" item list --vault "$VNAME" --format json
check "five items" jq -e 'length == 5' "$T/out"
check "the server refused no request as a replay" sh -c "! grep -q 'replay or reorder' '$T/acc.log'"

# ---- a document bigger than the 4 MiB request limit ----
head -c 6291456 /dev/urandom >"$T/doc.bin"
okrun "op document create (6 MiB) over the network" document create "$T/doc.bin" \
    --vault "$VNAME" --title "doc $U" --format json
okrun "op document get" document get "doc $U" --vault "$VNAME" --out-file "$T/doc.out"
check "the document reads back byte for byte" cmp -s "$T/doc.bin" "$T/doc.out"
# 96 chunks of 64 KiB, the item's row, its change and the vault's: one
# batch of about a hundred statements.
check "the server logged the document's one batch (its 96 chunks and the item)" \
    grep -Eq "owner batch of (9[6-9]|[1-9][0-9]{2,}) statements, [0-9]+ changes on account $ACCT" \
    "$T/acc.log"

# ---- a Connect server: upstream and pin by default ----
mkdir -p "$T/work"
(cd "$T/work" && setsid -w "$OP" connect server create ci --vaults "$VNAME" \
    >"$T/srv.out" 2>"$T/srv.err" </dev/null)
RC=$?
check "op connect server create over the network" sh -c "[ $RC -eq 0 ] || { cat '$T/srv.err'; false; }"
CREDS="$T/work/1password-credentials.json"
# The credentials' upstream is in their encrypted outer layer: connect-sync
# syncing from the server (its session pinned) is the proof that the
# address and the pin op filled in are right.
SPORT=$(free_port)
mkdir -p "$T/syncdata"
env OP_SESSION="$CREDS" OP_HTTP_PORT="$SPORT" XDG_DATA_HOME="$T/syncdata" OP_LOG_LEVEL=debug \
    "$SYNC" >"$T/sync.log" 2>"$T/sync.err" </dev/null &
SYNC_PID=$!
check "connect-sync syncs from the server and pin op put in the credentials" \
    poll_until 10000 sync_done
check "the account server logged the Connect server's session" \
    poll_until 3000 grep -q 'session opened' "$T/acc.log"
stop_pid SYNC_PID
okrun "op connect token create" connect token create tok --server ci --vault "$VNAME"
check "a token printed alone on its line" sh -c "tail -n 1 '$T/out' | grep -Eq '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\$'"
okrun "op connect token list" connect token list --format json
check "token list: one active token" jq -e '[.[] | select(.state == "active" or .status == "active")] | length == 1' "$T/out"
okrun "op item delete" item delete "parallel 1" --vault "$VNAME"
okrun "op vault get: four items" vault get "$VNAME" --format json
check "vault get: items 5 (4 + the document)" jq -e '.items == 5' "$T/out"

# ---- the same commands on a local account file: the same output ----
# Every command of a session, on the remote account and on a local file:
# JSON outputs have the same members at the same places, human outputs the
# same lines once ids, times and numbers are set aside.
LOCALDB="$T/local/account.db"
mkdir -p "$T/local" "$T/work-r" "$T/work-l"
lop() { env -u OP_ADDRESS OP_ACCOUNT="$LOCALDB" OP_SESSION_TOKEN="${LTOK:-}" setsid -w "$OP" "$@"; }
printf '%s\n' "$PW" | lop account create --email owner@example.com --password-stdin >/dev/null \
    2>"$T/lcreate.err" || fail "a local account for the comparison" "$(cat "$T/lcreate.err")"
LTOK=$(env -u OP_ADDRESS OP_PASSWORD="$PW" OP_ACCOUNT="$LOCALDB" setsid -w "$OP" signin --raw </dev/null |
    tail -n 1)
shape() { # shape FILE: the JSON's member paths (indexes as #), or the normalized lines
    if jq -e . "$1" >/dev/null 2>&1; then
        jq -c '[paths | map(if type == "number" then "#" else . end) | join(".")] | unique' "$1"
    else
        sed -E 's/[a-z0-9]{26}/ID/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+Z?/TIME/g;
            s/eyJ[A-Za-z0-9_.-]+/TOKEN/g; s/[0-9]+/N/g' "$1"
    fi
}
# same DESC DIR CMD...: op CMD in DIR on both accounts: both exit 0 with the same shape.
same() {
    _d=$1
    _w=$2
    shift 2
    set +e
    (cd "$T/work-r/$_w" && setsid -w "$OP" "$@" </dev/null >"$T/same.r" 2>"$T/same.re")
    _rr=$?
    (cd "$T/work-l/$_w" && lop "$@" </dev/null >"$T/same.l" 2>"$T/same.le")
    _rl=$?
    set -e
    if [ "$_rr" -eq 0 ] && [ "$_rl" -eq 0 ] && [ "$(shape "$T/same.r")" = "$(shape "$T/same.l")" ]; then
        pass "same output, remote and file: $_d"
    else
        fail "same output, remote and file: $_d" \
            "exit $_rr/$_rl; $(head -c 300 "$T/same.re" "$T/same.le"); $(diff "$T/same.r" "$T/same.l" | head -n 6)"
    fi
}
mkdir -p "$T/work-r/s" "$T/work-l/s"
head -c 70000 /dev/urandom >"$T/work-r/s/small.bin"
cp "$T/work-r/s/small.bin" "$T/work-l/s/small.bin"
same "vault create" s vault create Shared --format json
same "vault create (human)" s vault create Other
same "vault get" s vault get Shared --format json
same "vault edit" s vault edit Shared --description "shared things" --format json
same "vault edit (the other)" s vault edit Other --description "other things" --format json
same "vault list" s vault list --format json
same "item create (login, URL, tags)" s item create --vault Shared --category login --title Same \
    username=u password=p --url https://same.example --tags a,b --format json
same "item get" s item get Same --vault Shared --format json
same "item get (human)" s item get Same --vault Shared
same "item edit" s item edit Same --vault Shared username=v --format json
same "item list" s item list --vault Shared --format json
same "document create" s document create small.bin --vault Shared --title Doc --format json
same "document get" s document get Doc --vault Shared --out-file got.bin
check "the document read back the same from both" cmp -s "$T/work-r/s/got.bin" "$T/work-l/s/got.bin"
same "connect server create" s connect server create S2 --vaults Shared --format json
same "connect server list" s connect server list --format json
same "connect server get" s connect server get S2 --format json
same "connect vault grant" s connect vault grant --server S2 --vault Other
same "connect token create" s connect token create t2 --server S2 --vault Shared
same "connect token list" s connect token list --server S2 --format json
same "connect token edit" s connect token edit t2 --name t3 --server S2
same "connect token delete" s connect token delete t3 --server S2
same "connect vault revoke" s connect vault revoke --server S2 --vault Other
same "connect server edit" s connect server edit S2 --name S3
same "connect server delete" s connect server delete S3
same "item delete" s item delete Same --vault Shared
same "vault delete" s vault delete Other
same "vault list at the end" s vault list --format json

# ---- what the server saw and logged ----
check "the wire carried the owner's rows calls" sh -c \
    "grep -q '/v1/owner/rows/batch' '$T/proxy.log' && grep -q '/v1/owner/rows/read' '$T/proxy.log'"
check "the server's log names statements and accounts, not values" sh -c \
    "grep -q 'owner batch of' '$T/acc.log' && ! grep -q -F -e '$TITLE' -e '$VNAME' '$T/acc.log'"

# ---- the server gone ----
kill -9 "$ACC_PID" 2>/dev/null || true
wait "$ACC_PID" 2>/dev/null || true
ACC_PID=
run item get "$TITLE" --vault "$VNAME"
check "the server killed: a read fails with one line" sh -c \
    "[ $RC -ne 0 ] && [ \$(wc -l <'$T/err') -eq 1 ]"
check "op-account-server starts again on its port" start_server
run item get "$TITLE" --vault "$VNAME"
check "after a restart the server knows no session: one line, sign in again (exit 3)" sh -c \
    "[ $RC -eq 3 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q 'sign in again' '$T/err' ||
     { cat '$T/err'; false; }"
printf '%s\n' "$PW" | setsid -w "$OP" signin --address "$URL" --password-stdin \
    >"$T/signin.out" 2>"$T/signin.err" || true
eval "$(cat "$T/signin.out")"
okrun "signed in again, op works" item create --vault "$VNAME" --category password \
    --title "after restart" "password=x$U"
# A batch whose answer is lost: the proxy passes it to the server, which
# commits it, and closes the connection instead of answering.
: >"$T/proxy.log.drop"
run item create --vault "$VNAME" --category password --title "lost answer" "password=y$U"
rm -f "$T/proxy.log.drop"
check "a write whose answer is lost: one line saying its outcome is unknown" sh -c \
    "[ $RC -ne 0 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q 'may or may not' '$T/err' ||
     { cat '$T/err'; false; }"
okrun "op item list afterwards" item list --vault "$VNAME" --format json
# libcurl resends a request once when the reused connection it went out on
# died before any answer; the resent batch carries the same counter and
# the server refuses it as a replay, so the item is made exactly once.
check "... and it had been made, once (why op says so instead of retrying)" \
    jq -e '[.[] | select(.title == "lost answer")] | length == 1' "$T/out"

# ---- canary scan: ciphertext only, on disk, in the logs and on the wire ----
scan() {
    grep -r -a -q -i -F -e "$SECRET" -e "$SECRET2" -e "$TITLE" -e "$VNAME" -e "$PW" -e "$SK" \
        -e "$AUK_HEX" -e "$AUK_B64" "$@"
}
# clean PATH...: every PATH exists and no canary is in any of them.
clean() {
    for _f in "$@"; do [ -e "$_f" ] || return 1; done
    ! scan "$@"
}
printf 'x%sx\n' "$SECRET2" >"$T/planted"
check "positive control: the scan finds a planted secret" scan "$T/planted"
printf 'x%sx\n' "$AUK_B64" >"$T/planted"
check "positive control: the scan finds a planted AUK" scan "$T/planted"
check "the account file holds the items (so the scan looks at real data)" sh -c \
    "[ \$(sqlite3 '$DB' 'SELECT count(*) FROM items') -ge 5 ]"
check "no secret, title, vault name, password, Secret Key or AUK in the server's data directory" \
    clean "$DATA"
check "... nor in the server's logs" clean "$T/acc.log" "$T/acc.err"
check "... nor on the wire (the proxy's record)" clean "$T/proxy.log"
check "op's session file is there to scan" [ -f "$T/run/opconnect/session-$ACCT" ]
check "... and it holds the session sealed: no AUK, password or Secret Key in op's session directory" \
    clean "$T/run/opconnect"
check "positive control: the wire's record holds what op sent (the rows calls)" \
    grep -q '/v1/owner/rows/batch' "$T/proxy.log"
# contains PIECE PATH: exit 0 when the bytes of PIECE are in a file under
# PATH, 1 when in none, 2 when it cannot tell.
cat >"$T/contains.py" <<'EOF'
import os, sys
try:
    piece = open(sys.argv[1], "rb").read()
    paths = [sys.argv[2]] if os.path.isfile(sys.argv[2]) else [
        os.path.join(r, f) for r, _, fs in os.walk(sys.argv[2]) for f in fs]
    if len(piece) < 16 or not paths:
        sys.exit(2)
    sys.exit(0 if any(piece in open(p, "rb").read() for p in paths) else 1)
except OSError:
    sys.exit(2)
EOF
absent() { # absent PIECE PATH: exit 0 only when the scan ran and found nothing
    set +e
    python3 "$T/contains.py" "$1" "$2"
    _rc=$?
    set -e
    [ "$_rc" -eq 1 ]
}
head -c 64 "$T/doc.bin" | tail -c 32 >"$T/doc.piece"
check "positive control: the piece of the document is found in the document" \
    python3 "$T/contains.py" "$T/doc.piece" "$T/doc.bin"
check "the document's bytes are not in the server's data directory" absent "$T/doc.piece" "$DATA"
stop_pid PROXY_PID
check "nothing on the server's stderr" [ ! -s "$T/acc.err" ]
echo "owner-store: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
