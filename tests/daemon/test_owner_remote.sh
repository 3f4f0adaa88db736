#!/bin/sh
# tests/daemon/test_owner_remote.sh - the owner over the network (issue
# 13): op-account-server over HTTPS with a CA made here; `op account create
# --address` (sign-up: the Secret Key shown once), the same email again
# refused; `op signin --address` (SRP) and `op whoami` on the downloaded,
# locally unlocked keyset; a wrong password and an unknown email refused
# with the same one line; a replayed owner request (same counter) 401; `op
# signout` ends the session on the server (the old session's next signed
# request is 401); failed sign-ins from one address hit 429 with
# Retry-After; and a canary scan: the password and the Secret Key appear
# nowhere in the server's data directory (WAL included), its logs or op's
# session files, with a positive control that the scan finds a planted one.
# The password is not ASCII (NFC "ä", "ö" and the ligature "ﬁ"): a sign-in
# with its NFKD form (decomposed, "fi") opens the same account (docs/account.md,
# "Passwords").
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opowner
PID_VARS="ACC_PID PROXY_PID"
. "$(dirname "$0")/lib.sh"
RECPROXY=$(cd "$(dirname "$0")/../lib" && pwd)/recproxy.py
ACC="$BUILDDIR/op-account-server"
DATA="$T/account-server"
PW=$(printf 'owner remote p\303\244ssw\303\266rd \357\254\201 %s' $$)
PW_NFKD=$(printf 'owner remote pa\314\210sswo\314\210rd fi %s' $$)
EMAIL="owner@example.com"

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
if tls_setup >"$T/tls.log" 2>&1; then
    pass "a CA and a certificate for 127.0.0.1 made with openssl"
else
    fail "a CA and a certificate for 127.0.0.1 made with openssl" "$(tail -3 "$T/tls.log")"
    exit 1
fi
CA="$T/tls/ca.pem"

# ---- the server: HTTPS, and plain HTTP on loopback for the capturing proxy ----
mkdir -p "$DATA"
chmod 700 "$DATA"
PORT=$(free_port)
HPORT=$(free_port)
env OP_ACCOUNT_DATA_DIR="$DATA" OP_HTTPS_PORT="$PORT" OP_HTTP_PORT="$HPORT" \
    OP_BIND_ADDRESS=127.0.0.1 OP_TLS_CERT_FILE="$T/tls/cert.pem" \
    OP_TLS_KEY_FILE="$T/tls/key.pem" OP_LOG_LEVEL=debug \
    "$ACC" >"$T/acc.log" 2>"$T/acc.err" </dev/null &
ACC_PID=$!
URL="https://127.0.0.1:$PORT"
check "op-account-server serves HTTPS" poll_until 5000 curl -sf --cacert "$CA" "$URL/heartbeat"

# ---- sign-up ----
set +e
printf '%s\n' "$PW" | setsid -w "$OP" account create --address "$URL" --ca-file "$CA" \
    --email "$EMAIL" --password-stdin >"$T/signup.out" 2>"$T/signup.err"
RC=$?
set -e
check "op account create --address: exit 0" sh -c "[ $RC -eq 0 ] || { cat '$T/signup.err'; false; }"
ACCT=$(sed -n 's/^Account: *//p' "$T/signup.out")
SK=$(sed -n 's/^Secret Key: *//p' "$T/signup.out")
check "sign-up printed the account id and the Secret Key once" sh -c \
    "printf '%s' '$ACCT' | grep -Eq '^[a-z0-9]{26}\$' && printf '%s' '$SK' | grep -q '^A3-' &&
     [ \$(grep -c -- '$SK' '$T/signup.out') -eq 1 ]"
check "the server made accounts/<id>.db, mode 0600" sh -c \
    "[ \$(stat -c %a '$DATA/accounts/$ACCT.db') = 600 ]"
check "the account file holds the SRP row (schema v3)" sh -c \
    "[ \$(sqlite3 '$DATA/accounts/$ACCT.db' 'PRAGMA user_version') = 3 ] &&
     [ \$(sqlite3 '$DATA/accounts/$ACCT.db' 'SELECT count(*) FROM owner_srp') = 1 ]"
check "op remembers the address of the account (accounts.json)" jq -e \
    ".accounts[0].address == \"$URL\" and .accounts[0].id == \"$ACCT\"" "$T/config/opconnect/accounts.json"
set +e
printf '%s\n' "$PW" | setsid -w "$OP" account create --address "$URL" --ca-file "$CA" \
    --email "OWNER@example.com" --password-stdin >"$T/signup2.out" 2>"$T/signup2.err"
RC=$?
set -e
check "the same email again: exit 6, one line" sh -c \
    "[ $RC -eq 6 ] && [ \$(wc -l <'$T/signup2.err') -eq 1 ] && grep -q 'already has an account' '$T/signup2.err'"
set +e
printf '%s\n' "$PW" | setsid -w "$OP" account create --address "$URL" --email x@example.com \
    --password-stdin >/dev/null 2>"$T/noca.err"
RC=$?
set -e
check "without the CA the certificate is refused (verification always on)" sh -c \
    "[ $RC -ne 0 ] && grep -qi 'certificate\|SSL\|TLS' '$T/noca.err'"

# ---- sign-in, whoami ----
signin() { # signin ADDRESS [ARGS...]: the export lines in $T/signin.out
    _a=$1
    shift
    printf '%s\n' "$PW" | setsid -w "$OP" signin --address "$_a" --ca-file "$CA" \
        --password-stdin "$@" >"$T/signin.out" 2>"$T/signin.err"
}
set +e
signin "$URL"
RC=$?
set -e
check "op signin --address: exit 0, prints OP_SESSION_TOKEN and OP_ADDRESS" sh -c \
    "[ $RC -eq 0 ] && grep -q '^export OP_SESSION_TOKEN=' '$T/signin.out' &&
     grep -q '^export OP_ADDRESS=\"$URL\"' '$T/signin.out' || { cat '$T/signin.err'; false; }"
TOKEN=$(sed -n 's/^export OP_SESSION_TOKEN="\(.*\)"$/\1/p' "$T/signin.out")
SESS="$T/run/opconnect/session-$ACCT"
check "the session file is 0600 and holds the address" sh -c \
    "[ \$(stat -c %a '$SESS') = 600 ] && jq -e '.address == \"$URL\" and .remote.data != null' '$SESS'"
export OP_SESSION_TOKEN="$TOKEN" OP_ADDRESS="$URL" OP_CA_FILE="$CA"
set +e
op whoami >"$T/whoami.out" 2>"$T/whoami.err"
RC=$?
set -e
check "op whoami: the account downloaded and unlocked with the session's AUK" sh -c \
    "[ $RC -eq 0 ] && grep -q '^ID: *$ACCT\$' '$T/whoami.out' &&
     grep -q '^Email: *$EMAIL\$' '$T/whoami.out' && grep -q '^Address: *$URL\$' '$T/whoami.out' ||
     { cat '$T/whoami.err'; false; }"
check "op account get --format json: the same account" sh -c \
    "setsid -w '$OP' account get --format json </dev/null |
     jq -e '.id == \"$ACCT\" and .address == \"$URL\"' >/dev/null"
set +e
OP_SESSION_TOKEN=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA op whoami >/dev/null 2>"$T/badtok.err"
RC=$?
set -e
check "a wrong session token: exit 3, one line" sh -c \
    "[ $RC -eq 3 ] && [ \$(wc -l <'$T/badtok.err') -eq 1 ] && grep -q 'invalid session token' '$T/badtok.err'"
set +e
op vault list --format json >"$T/vl.out" 2>"$T/vl.err"
RC=$?
set -e
check "op vault list on the remote account: exit 0, no vault yet (the store over the network)" \
    sh -c "[ $RC -eq 0 ] && jq -e 'length == 0' '$T/vl.out' >/dev/null || { cat '$T/vl.err'; false; }"
check "the server logged the owner's request with the account id" \
    poll_until 3000 grep -q "GET /v1/owner/account: 200 (account $ACCT, owner" "$T/acc.log"

# ---- the same password in another Unicode form: the same account ----
mkdir -m 700 "$T/run3"
set +e
printf '%s\n' "$PW_NFKD" | XDG_RUNTIME_DIR="$T/run3" setsid -w "$OP" signin --address "$URL" \
    --ca-file "$CA" --password-stdin >"$T/signin3.out" 2>"$T/signin3.err"
RC=$?
TOKEN3=$(sed -n 's/^export OP_SESSION_TOKEN="\(.*\)"$/\1/p' "$T/signin3.out")
OP_SESSION_TOKEN="$TOKEN3" XDG_RUNTIME_DIR="$T/run3" op whoami >"$T/whoami3.out" 2>"$T/whoami3.err"
RC3=$?
set -e
check "op signin --address with the password's NFKD form (made with NFC): exit 0" sh -c \
    "[ $RC -eq 0 ] && [ -n '$TOKEN3' ] || { cat '$T/signin3.err'; false; }"
check "op whoami on that session: the keyset unlocked with the normalised password's AUK" sh -c \
    "[ $RC3 -eq 0 ] && grep -q '^ID: *$ACCT\$' '$T/whoami3.out' || { cat '$T/whoami3.err'; false; }"

# ---- refused sign-ins: one line, the same for a wrong password and an unknown email ----
unset OP_SESSION_TOKEN OP_ADDRESS
set +e
printf 'not the password\n' | setsid -w "$OP" signin --address "$URL" --ca-file "$CA" \
    --password-stdin >/dev/null 2>"$T/wrongpw.err"
RC1=$?
printf '%s\n' "$PW" | env OP_SECRET_KEY="$SK" setsid -w "$OP" signin --address "$URL" \
    --ca-file "$CA" --email nobody@example.com --password-stdin >/dev/null 2>"$T/unknown.err"
RC2=$?
set -e
check "wrong password: exit 3, one line" sh -c \
    "[ $RC1 -eq 3 ] && [ \$(wc -l <'$T/wrongpw.err') -eq 1 ]"
check "unknown email: exit 3, the very same line" sh -c \
    "[ $RC2 -eq 3 ] && cmp -s '$T/wrongpw.err' '$T/unknown.err' || { cat '$T/wrongpw.err' '$T/unknown.err'; false; }"
check "the line says sign-in refused" grep -q 'sign-in refused' "$T/wrongpw.err"
# The two challenges look alike: the same members and sizes, and an unknown
# email gets the same salts each time (as a real account does).
A=$(head -c 512 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
start() {
    curl -s --cacert "$CA" -H 'Content-Type: application/json' \
        --data "{\"v\":1,\"email\":\"$1\",\"A\":\"$A\"}" "$URL/v1/owner/auth/start"
}
start "$EMAIL" >"$T/ch1"
start ghost@example.com >"$T/ch2"
start ghost@example.com >"$T/ch3"
shape='[paths(scalars)] | map(map(tostring) | join(".")) | sort'
check "known and unknown email: challenges of the same shape" sh -c \
    "[ \"\$(jq -c '$shape' '$T/ch1')\" = \"\$(jq -c '$shape' '$T/ch2')\" ] &&
     [ \$(jq -r '.B | length' '$T/ch1') = \$(jq -r '.B | length' '$T/ch2') ] &&
     [ \$(jq -r '.kdf.iterations' '$T/ch1') = \$(jq -r '.kdf.iterations' '$T/ch2') ]"
check "an unknown email: the same salts on every ask, a fresh B" sh -c \
    "[ \$(jq -r .srp.salt '$T/ch2') = \$(jq -r .srp.salt '$T/ch3') ] &&
     [ \$(jq -r .kdf.salt '$T/ch2') = \$(jq -r .kdf.salt '$T/ch3') ] &&
     [ \$(jq -r .B '$T/ch2') != \$(jq -r .B '$T/ch3') ]"

# ---- a replayed owner request: captured through a recording proxy ----
PPORT=$(free_port)
python3 "$RECPROXY" "$PPORT" "$HPORT" "$T/proxy.log" 2>"$T/proxy.err" &
PROXY_PID=$!
PURL="http://127.0.0.1:$PPORT"
check "the recording proxy answers" poll_until 5000 curl -sf "$PURL/heartbeat"
# A second session of the same account: its own session directory (one
# session file per account and directory, as for a local account).
mkdir -p "$T/run2"
chmod 700 "$T/run2"
set +e
XDG_RUNTIME_DIR="$T/run2" signin "$PURL" --email "$EMAIL"
RC=$?
set -e
check "op signin through the proxy (plain http on loopback)" sh -c \
    "[ $RC -eq 0 ] || { cat '$T/signin.err'; false; }"
PTOKEN=$(sed -n 's/^export OP_SESSION_TOKEN="\(.*\)"$/\1/p' "$T/signin.out")
check "op whoami through the proxy" sh -c \
    "XDG_RUNTIME_DIR='$T/run2' OP_SESSION_TOKEN='$PTOKEN' OP_ADDRESS='$PURL' setsid -w '$OP' whoami </dev/null | grep -q '$ACCT'"
check "the proxy saw a signed GET /v1/owner/account" sh -c \
    "grep '/v1/owner/account' '$T/proxy.log' | head -n 1 | grep -q '\"OPC-Counter\": \"1\"'"
grep '/v1/owner/account' "$T/proxy.log" | head -n 1 >"$T/captured.json"
AUTHZ=$(jq -r '.headers.Authorization' "$T/captured.json")
CTR=$(jq -r '.headers["OPC-Counter"]' "$T/captured.json")
MAC=$(jq -r '.headers["OPC-MAC"]' "$T/captured.json")
CODE=$(curl -s -o "$T/replay.body" -w '%{http_code}' -H "Authorization: $AUTHZ" \
    -H "OPC-Counter: $CTR" -H "OPC-MAC: $MAC" "http://127.0.0.1:$HPORT/v1/owner/account")
check "the captured request replayed (same counter): 401" [ "$CODE" = 401 ]
check "the replay is refused with the uniform body" jq -e \
    '.error.code == "unauthorized" and .error.message == "authentication failed"' "$T/replay.body"
check "the log says why: the counter (replay)" poll_until 3000 grep -q 'replay or reorder' "$T/acc.log"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTHZ" \
    -H "OPC-Counter: 99" -H "OPC-MAC: $MAC" "http://127.0.0.1:$HPORT/v1/owner/account")
check "the captured MAC with another counter: 401" [ "$CODE" = 401 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTHZ" \
    -H "OPC-Counter: 100" -H "OPC-MAC: $MAC" "http://127.0.0.1:$HPORT/v1/connect/changes")
check "an owner session on a Connect endpoint: 401" [ "$CODE" = 401 ]
check "the log says: the other kind" poll_until 3000 grep -q 'endpoint of the other kind' "$T/acc.log"

# ---- sign-out: the session is gone on the server ----
export OP_SESSION_TOKEN="$TOKEN" OP_ADDRESS="$URL" OP_CA_FILE="$CA"
# The address is bound to the sealed session: a file edited to send op
# (and its MAC keys) elsewhere does not open.
cp "$SESS" "$T/session.keep"
jq -c '.address = "https://127.0.0.1:1"' "$T/session.keep" >"$SESS"
set +e
op whoami >/dev/null 2>"$T/moved.err"
RC=$?
set -e
check "a session file whose address was edited: refused (exit 3), nothing sent" sh -c \
    "[ $RC -eq 3 ] && grep -q 'invalid session token' '$T/moved.err'"
cp "$T/session.keep" "$SESS"
cp "$SESS" "$T/session.copy"
set +e
op signout 2>"$T/signout.err"
RC=$?
set -e
check "op signout: exit 0, the session file deleted" sh -c \
    "[ $RC -eq 0 ] && [ ! -e '$SESS' ] || { cat '$T/signout.err'; false; }"
check "the server logged the sign-out" poll_until 3000 grep -q "owner of account $ACCT signed out" "$T/acc.log"
cp "$T/session.copy" "$SESS"
set +e
op whoami >/dev/null 2>"$T/after.err"
RC=$?
set -e
check "the old session's next signed request: refused (401), exit 3" sh -c \
    "[ $RC -eq 3 ] && grep -q 'does not know this session' '$T/after.err' || { cat '$T/after.err'; false; }"
check "the server refused it as an unknown session" poll_until 3000 sh -c \
    "grep 'GET /v1/owner/account: authentication failed' '$T/acc.log' | tail -n 1 | grep -q 'unknown or expired session'"
rm -f "$SESS"
unset OP_SESSION_TOKEN OP_ADDRESS OP_CA_FILE

# ---- rate limit: failed sign-ins from one address ----
LAST=
N=0
while [ "$N" -lt 12 ]; do
    N=$((N + 1))
    LAST=$(curl -s -o "$T/rl.body" -D "$T/rl.hdr" -w '%{http_code}' --cacert "$CA" \
        -H 'Content-Type: application/json' \
        --data '{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA","M1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' \
        "$URL/v1/owner/auth/verify")
    [ "$LAST" = 429 ] && break
done
check "failed sign-ins from one address: 429 within 12 tries" [ "$LAST" = 429 ]
check "429 carries Retry-After and rate_limited" sh -c \
    "grep -qi '^Retry-After: [0-9]' '$T/rl.hdr' && jq -e '.error.code == \"rate_limited\"' '$T/rl.body'"
set +e
signin "$URL"
RC=$?
set -e
check "op signin while limited: refused, one line naming the rate limit" sh -c \
    "[ $RC -ne 0 ] && [ \$(wc -l <'$T/signin.err') -eq 1 ] && grep -q 'rate limited' '$T/signin.err'"

# ---- rate limit: sign-ups from one address (every attempt counts) ----
LAST=
N=0
while [ "$N" -lt 12 ]; do
    N=$((N + 1))
    LAST=$(curl -s -o "$T/su.body" -D "$T/su.hdr" -w '%{http_code}' --cacert "$CA" \
        -H 'Content-Type: application/json' --data '{"v":1}' "$URL/v1/owner/signup")
    [ "$LAST" = 429 ] && break
    [ "$LAST" = 400 ] || break
done
check "sign-ups from one address: 400s, then 429 with Retry-After" sh -c \
    "[ '$LAST' = 429 ] && grep -qi '^Retry-After: [0-9]' '$T/su.hdr'"

# ---- canary scan (the data directory while the server runs: its WAL is there) ----
SK_RAW=$(printf '%s' "$SK" | tr -d '-')
scan() { # scan PATH...: exit 0 when a canary is found
    grep -r -a -q -F -e "$PW" -e "$SK" -e "$SK_RAW" "$@" 2>/dev/null
}
mkdir -p "$T/control"
printf 'x%sx\n' "$SK" >"$T/control/planted"
check "positive control: the scan finds a planted Secret Key" scan "$T/control"
printf 'x%sx\n' "$PW" >"$T/control/planted"
check "positive control: the scan finds a planted password" scan "$T/control"
ls "$DATA/accounts/" >"$T/files"
check "the data directory holds the account file and its WAL while the server runs" sh -c \
    "grep -qx '$ACCT.db' '$T/files' && grep -qx '$ACCT.db-wal' '$T/files'"
check "no password or Secret Key in the server's data directory (WAL included)" sh -c \
    "! { grep -r -a -q -F -e '$PW' -e '$SK' -e '$SK_RAW' '$DATA'; }"
stop_pid PROXY_PID
stop_pid ACC_PID
check "SIGTERM: exit 0" [ "$STOP_RC" -eq 0 ]
check "nothing on the server's stderr" [ ! -s "$T/acc.err" ]
check "no password or Secret Key in the data directory after the stop either" sh -c \
    "! { grep -r -a -q -F -e '$PW' -e '$SK' -e '$SK_RAW' '$DATA'; }"
check "no password or Secret Key in the server's logs" sh -c \
    "! { grep -a -q -F -e '$PW' -e '$SK' -e '$SK_RAW' '$T/acc.log' '$T/acc.err'; }"
check "no password or Secret Key in op's session files and accounts list" sh -c \
    "! { grep -r -a -q -F -e '$PW' -e '$SK' -e '$SK_RAW' '$T/run' '$T/run2' '$T/run3' '$T/config/opconnect/accounts.json'; }"
check "no password or Secret Key in what crossed the wire (the proxy's record)" sh -c \
    "! { grep -a -q -F -e '$PW' -e '$SK' -e '$SK_RAW' '$T/proxy.log'; }"
echo "owner-remote: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
