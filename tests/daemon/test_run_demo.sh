#!/bin/sh
# tests/daemon/test_run_demo.sh - run-demo, the program behind `make run`
# (tools/run-main): it provisions a demo account in a fresh directory,
# serves it, logs each request at OP_LOG_LEVEL (info by default, nothing at
# warn), and prints op lines that work as printed: they sign in to the
# demo's account, list its items and create one that the server then
# serves. A busy OP_HTTP_PORT ends with a line naming the variable, exit 1.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=oprundemo
PID_VARS=DEMO_PID
. "$(dirname "$0")/lib.sh"
DEMO="$BUILDDIR/run-demo"
DIR="$T/var"

# start_demo LABEL [NAME=VALUE...]: run-demo on DIR and a free port (PORT,
# DEMO_PID, stdout $T/LABEL.out, stderr $T/LABEL.err) until it has printed
# its banner.
start_demo() {
    _l=$1
    shift
    PORT=$(free_port)
    env OP_HTTP_PORT="$PORT" "$@" "$DEMO" "$DIR" >"$T/$_l.out" 2>"$T/$_l.err" </dev/null &
    DEMO_PID=$!
    check "$_l: run-demo prints its banner" poll_until 60000 grep -q 'Ctrl-C stops' "$T/$_l.out"
}
# served TITLE: the server lists an item TITLE in the demo vault.
served() {
    curl -s -H "Authorization: Bearer $(cat "$DIR/token")" \
        "http://127.0.0.1:$PORT/v1/vaults/$(cat "$DIR/vault-id")/items" |
        jq -r '.[].title' | grep -qx "$1"
}

start_demo first
check "first: DIR is 0700 with the demo's files" sh -c \
    "[ \$(stat -c %a '$DIR') = 700 ] && [ -s '$DIR/account.db' ] && [ -s '$DIR/token' ]"
check "first: the server lists the demo items" served 'Demo login'
# The op lines, exactly as printed: from "op on this account" to the blank line.
sed -n '/^op on this account/,/^$/p' "$T/first.out" | sed '1d;/^$/d' >"$T/op-lines"
check "first: the banner has the op lines (export, signin, item list, item create)" sh -c \
    "[ \$(wc -l <'$T/op-lines') -eq 4 ] && grep -q '^  export OP_ACCOUNT=' '$T/op-lines' &&
     grep -q ' signin --password-stdin ' '$T/op-lines' && grep -q ' item list ' '$T/op-lines'"
check "first: the op lines name $BUILDDIR/op" grep -qF "$BUILDDIR/op item list" "$T/op-lines"
# Run them in a shell of their own (no terminal), HOME and XDG_* under $T.
set +e
(cd "$T/work" && setsid -w sh -e "$T/op-lines") >"$T/op.out" 2>"$T/op.err" </dev/null
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
    pass "the printed op lines run"
else
    fail "the printed op lines run" "exit $rc: $(head -c 300 "$T/op.err")"
fi
check "op item list shows the demo items" grep -q 'Demo login' "$T/op.out"
check "op item create made 'My login'" grep -q 'My login' "$T/op.out"
check "the server serves the item op created" poll_until 5000 served 'My login'
check "requests are logged at info by default" \
    grep -q '"(I) GET /v1/vaults/[a-z0-9]*/items completed (200: OK)"' "$T/first.err"
check "the banner names the level" grep -q 'OP_LOG_LEVEL=info' "$T/first.out"
# A second run-demo on the same port.
set +e
env OP_HTTP_PORT="$PORT" timeout 30 "$DEMO" "$DIR" >"$T/busy.out" 2>"$T/busy.err" </dev/null
rc=$?
set -e
# stderr: the log lines before the failure (sync started), then the error.
check "a busy OP_HTTP_PORT: exit 1, the last line names OP_HTTP_PORT" sh -c \
    "[ $rc -eq 1 ] && tail -n 1 '$T/busy.err' | grep -q '^run-demo: .*cannot listen on.*OP_HTTP_PORT'"
kill -INT "$DEMO_PID"
set +e
wait "$DEMO_PID"
rc=$?
set -e
DEMO_PID=
check "SIGINT: exit 0" [ "$rc" -eq 0 ]
check "'stopped' logged once" [ "$(grep -c '"(I) stopped"' "$T/first.err")" -eq 1 ]

# Again on the same DIR at warn: no request lines.
start_demo warn OP_LOG_LEVEL=warn
check "warn: DIR reused, the item op created is served" poll_until 5000 served 'My login'
kill -TERM "$DEMO_PID"
set +e
wait "$DEMO_PID"
rc=$?
set -e
DEMO_PID=
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
check "warn: no info line logged" sh -c "! grep -q '\"level\":3' '$T/warn.err'"
check "a bad OP_LOG_LEVEL: exit 1, one line naming it" sh -c \
    "OP_LOG_LEVEL=loud '$DEMO' '$DIR' >/dev/null 2>'$T/bad.err'; [ \$? -eq 1 ] &&
     grep -q '^run-demo: OP_LOG_LEVEL: ' '$T/bad.err'"

echo "run-demo: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
