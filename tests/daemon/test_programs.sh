#!/bin/sh
# tests/daemon/test_programs.sh - connect-api, connect-sync and op as
# programs (issue 12): --help (stdout, exit 0) lists every option and every
# environment variable the program's sources read, each with its default,
# and so does its man page; --version names the program, the project
# version and the Connect API version; an unknown option is one line on
# stderr naming --help, exit 2. A daemon run logs each listening event
# once ("serving on" / "status on", and their "stopped"). A busy port stops
# either daemon with one line saying "address in use" and naming the
# variable to change (OP_HTTP_PORT, OP_HTTPS_PORT), exit 1.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opprogs
PID_VARS="SYNC_PID API_PID HOLD_PID"
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)

# ---- the versions the programs must print ----
header_define() { sed -n "s/^#define $1 \"\(.*\)\"\$/\1/p" "$TOP/include/opconnect/version.h"; }
VERSION=$(header_define OPC_VERSION_STRING)
CONNECT=$(header_define OPC_CONNECT_VERSION)
check "version.h gives the version and the Connect API version" \
    sh -c "[ -n '$VERSION' ] && [ -n '$CONNECT' ]"

# ---- --help, --version, unknown options ----
# prog_args NAME BIN: the three behaviours of BIN.
prog_args() {
    _n=$1
    _b=$2
    set +e
    "$_b" --help >"$T/help.$_n" 2>"$T/help.err"
    _rc=$?
    set -e
    check "$_n --help: exit 0, usage on stdout, nothing on stderr" \
        sh -c "[ $_rc -eq 0 ] && [ ! -s '$T/help.err' ] && grep -qi '^usage: $_n' '$T/help.$_n'"
    check "$_n --help lists --help and --version" \
        sh -c "grep -q -- '--help' '$T/help.$_n' && grep -q -- '--version' '$T/help.$_n'"
    set +e
    "$_b" --version >"$T/version.out" 2>"$T/version.err"
    _rc=$?
    set -e
    _want="$_n $VERSION (libopconnect $VERSION, Connect API $CONNECT)"
    if [ "$_rc" -eq 0 ] && [ ! -s "$T/version.err" ] && [ "$(cat "$T/version.out")" = "$_want" ]; then
        pass "$_n --version: '$_want'"
    else
        fail "$_n --version: '$_want'" "exit $_rc: $(cat "$T/version.out" "$T/version.err")"
    fi
    for _opt in --no-such-option -Z; do
        set +e
        "$_b" "$_opt" >"$T/unknown.out" 2>"$T/unknown.err"
        _rc=$?
        set -e
        if [ "$_rc" -eq 2 ] && [ ! -s "$T/unknown.out" ] && [ "$(wc -l <"$T/unknown.err")" -eq 1 ] &&
            grep -q -- "$_opt" "$T/unknown.err" && grep -q -- '--help' "$T/unknown.err"; then
            pass "$_n $_opt: one line on stderr naming it and --help, exit 2"
        else
            fail "$_n $_opt: one line on stderr naming it and --help, exit 2" \
                "exit $_rc: $(cat "$T/unknown.err")"
        fi
    done
}
prog_args connect-api "$API"
prog_args connect-sync "$SYNC"
prog_args op "$OP"
check "connect-api --help x: exit 2, one line" sh -c \
    "'$API' --help x >/dev/null 2>'$T/x.err'; [ \$? -eq 2 ] && [ \$(wc -l <'$T/x.err') -eq 1 ]"

# ---- every variable the sources read, in --help and in the man page ----
# The functions that read a variable named by a literal: getenv itself and
# the programs' wrappers around it (daemons/common: dmn_env*; tools/op:
# take_env_secret, xdg_path).
READERS='getenv|secure_getenv|dmn_env|dmn_env_int|dmn_env_port|dmn_env_duration_ms|dmn_env_seconds|dmn_env_take|take_env_secret|xdg_path'
# env_names DIR-OR-FILE...: the variable names those readers are given in
# DIR's C files (or the C file).
env_names() {
    for _d in "$@"; do
        if [ -f "$TOP/$_d" ]; then cat "$TOP/$_d"; else cat "$TOP/$_d"/*.c; fi
    done | grep -oE "(^|[^A-Za-z0-9_])($READERS)\(\"[A-Za-z_][A-Za-z0-9_]*\"" |
        sed 's/.*("\(.*\)"/\1/' | sort -u
}
# A reader of a variable named by a non-literal is a wrapper this test must
# know: exactly dmn_env (daemon.c), xdg_path and take_env_secret (auth.c).
nonliteral=$(cat "$TOP"/daemons/*/*.c "$TOP"/tools/op/*.c | grep -cE '(^|[^A-Za-z0-9_])(secure_)?getenv\([^")]' || true)
check "getenv with a non-literal name only in the 3 known wrappers (found $nonliteral)" \
    [ "$nonliteral" -eq 3 ]

# help_entry HELPFILE NAME: NAME's entry in --help, the line that starts
# with it (at column 3) and the lines that continue it (deeper indent).
help_entry() {
    awk -v n="$2" '
        /^  [A-Za-z_][A-Za-z0-9_]*( |$)/ { on = ($1 == n) }
        /^[^ ]/ || /^$/ { on = 0 }
        on { print }' "$1"
}
# man_env MANPAGE: the ENVIRONMENT section.
man_env() { awk '/^\.Sh /{ on = ($2 == "ENVIRONMENT") } on' "$1"; }

# covers PROG HELPFILE MANPAGE DIR...: every variable read in DIR has an
# entry in HELPFILE that states a default, and an .Ev in MANPAGE's
# ENVIRONMENT section.
covers() {
    _p=$1
    _h=$2
    _m=$3
    shift 3
    _names=$(env_names "$@")
    _count=$(printf '%s\n' "$_names" | grep -c . || true)
    check "$_p: the sources read variables ($_count found)" [ "$_count" -ge 5 ]
    man_env "$TOP/$_m" >"$T/man.env"
    _miss_help=
    _miss_default=
    _miss_man=
    for _v in $_names; do
        help_entry "$_h" "$_v" >"$T/entry"
        if [ ! -s "$T/entry" ]; then
            _miss_help="$_miss_help $_v"
        elif ! grep -q 'default' "$T/entry"; then
            _miss_default="$_miss_default $_v"
        fi
        grep -Eq "^\.It Ev (.* )?$_v( |\$)" "$T/man.env" || _miss_man="$_miss_man $_v"
    done
    check "$_p --help lists every variable it reads${_miss_help:+ (missing:$_miss_help)}" \
        [ -z "$_miss_help" ]
    check "$_p --help gives each variable's default${_miss_default:+ (none:$_miss_default)}" \
        [ -z "$_miss_default" ]
    check "$_m lists every variable $_p reads${_miss_man:+ (missing:$_miss_man)}" \
        [ -z "$_miss_man" ]
}
covers connect-api "$T/help.connect-api" man/connect-api.8 daemons/common daemons/connect-api
# connect-sync serves no HTTPS: it does not link daemons/common/tls_env.c.
covers connect-sync "$T/help.connect-sync" man/connect-sync.8 daemons/common/daemon.c \
    daemons/connect-sync
covers op "$T/help.op" man/op.1 tools/op
# The check itself must be able to fail: a name the sources do not read.
help_entry "$T/help.connect-api" OP_NO_SUCH_VARIABLE >"$T/entry"
check "help_entry finds no entry for an unknown name" [ ! -s "$T/entry" ]
api_names=" $(env_names daemons/common daemons/connect-api | tr '\n' ' ')"
check "env_names sees connect-api's own OP_SYNC_TIMEOUT and the shared OP_HTTP_PORT" sh -c \
    "case '$api_names' in *' OP_SYNC_TIMEOUT '*) ;; *) exit 1 ;; esac
     case '$api_names' in *' OP_HTTP_PORT '*) ;; *) exit 1 ;; esac"
# Each daemon's man page documents its options, each in an .It line.
man_opt() { grep '^\.It ' "$1" | grep -qF "Fl \\-$2"; }
for m in connect-api connect-sync; do
    for o in help version healthcheck; do
        check "man/$m.8 documents --$o" man_opt "$TOP/man/$m.8" "$o"
    done
done

# ---- a run logs each listening event once ----
account_create "programs test password $$"
"$OP" vault create Prod >/dev/null </dev/null
(cd "$T/work" && "$OP" connect server create progs-srv --vaults Prod >/dev/null </dev/null)
CREDS="$T/work/1password-credentials.json"
start_daemons "$CREDS"
stop_pid API_PID
check "connect-api: SIGTERM, exit 0" [ "$STOP_RC" = 0 ]
stop_pid SYNC_PID
check "connect-sync: SIGTERM, exit 0" [ "$STOP_RC" = 0 ]
# count LOG REGEX: the lines whose log_message matches REGEX (jq test()).
count() { jq -r --arg re "$2" 'select(.log_message | test($re)) | .log_message' "$1" | grep -c . || true; }
# once LOG WHAT REGEX
once() {
    _c=$(count "$1" "$3")
    check "$(basename "$1" .log): '$2' logged once (got $_c)" [ "$_c" -eq 1 ]
}
once "$T/api.log" "serving on" 'serving on 127[.]0[.]0[.]1:[0-9]+$'
once "$T/api.log" "serving on (any)" 'serving on'
once "$T/api.log" "stopped" '(^|[)] )stopped$'
once "$T/api.log" "<title> <version> starting" \
    "^[(]I[)] 1Password Connect API $VERSION [(]libopconnect $VERSION, Connect API $CONNECT[)] starting$"
once "$T/sync.log" "status on" 'status on 0[.]0[.]0[.]0:[0-9]+ '
once "$T/sync.log" "listening (status on / serving on)" 'status on|serving on'
once "$T/sync.log" "status listener stopped" 'status listener stopped$'
c=$(count "$T/sync.log" '(^|[)] )stopped$')
check "connect-sync: no bare 'stopped' besides the listener's (got $c)" [ "$c" -eq 0 ]
once "$T/sync.log" "<title> <version> starting" \
    "^[(]I[)] 1Password Connect Sync $VERSION [(]libopconnect $VERSION, Connect API $CONNECT[)] starting$"

# ---- a busy port ----
# hold PORT [ADDR]: a python3 listener on ADDR (127.0.0.1):PORT, PORT 0 for
# a free one, until killed; HOLD_PID, and HOLD_PORT the port it holds.
hold() {
    rm -f "$T/hold.out"
    "$PY" -c 'import socket, sys, time
a = sys.argv[2]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((a, int(sys.argv[1])))
s.listen(1)
print("listening", s.getsockname()[1], flush=True)
time.sleep(120)' "$1" "${2:-127.0.0.1}" >"$T/hold.out" 2>&1 </dev/null &
    HOLD_PID=$!
    poll_until 5000 grep -q listening "$T/hold.out" &&
        HOLD_PORT=$(sed -n 's/^listening //p' "$T/hold.out")
}
# busy DESC VAR CMD...: CMD stops within 20 s, exit 1, one line on stderr
# with "address in use", $HOLD_AT (the address and port) and VAR.
HOLD_AT=
busy() {
    _d=$1
    _var=$2
    shift 2
    set +e
    env OP_SESSION="$CREDS" OP_BIND_ADDRESS=127.0.0.1 "$@" >"$T/busy.out" 2>"$T/busy.err" </dev/null
    _rc=$?
    set -e
    if [ "$_rc" -eq 1 ] && [ "$(wc -l <"$T/busy.err")" -eq 1 ] &&
        grep -q "address in use" "$T/busy.err" && grep -qF "$HOLD_AT" "$T/busy.err" &&
        grep -q "^[a-z-]*: $_var: .*choose another with $_var" "$T/busy.err"; then
        pass "$_d: one line, 'address in use', names $_var"
    else
        fail "$_d: one line, 'address in use', names $_var" "exit $_rc: $(cat "$T/busy.err")"
    fi
}
check "a python3 listener holds a port of 127.0.0.1" hold 0
HOLD_AT="127.0.0.1:$HOLD_PORT"
busy "connect-api on a busy OP_HTTP_PORT" OP_HTTP_PORT \
    env OP_HTTP_PORT="$HOLD_PORT" timeout 20 "$API"
busy "connect-sync on a busy OP_HTTP_PORT" OP_HTTP_PORT \
    env OP_HTTP_PORT="$HOLD_PORT" timeout 20 "$SYNC"
check "the busy-port runs wrote no log line of a listener" sh -c \
    "! grep -q 'serving on\|status on' '$T/busy.out'"
if command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=localhost -keyout "$T/tls.key" -out "$T/tls.pem" >/dev/null 2>&1
    busy "connect-api on a busy OP_HTTPS_PORT" OP_HTTPS_PORT \
        env OP_HTTP_PORT="$(free_port)" OP_HTTPS_PORT="$HOLD_PORT" OP_TLS_CERT_FILE="$T/tls.pem" \
        OP_TLS_KEY_FILE="$T/tls.key" timeout 20 "$API"
else
    fail "openssl is not installed (tools/install-deps lists it)"
fi
stop_pid HOLD_PID 2>/dev/null
# IPv6, when this machine has ::1: the library writes [::1]:PORT.
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    check "a python3 listener holds a port of ::1" hold 0 ::1
    HOLD_AT="[::1]:$HOLD_PORT"
    busy "connect-api on a busy OP_HTTP_PORT of ::1" OP_HTTP_PORT \
        env OP_BIND_ADDRESS=::1 OP_HTTP_PORT="$HOLD_PORT" timeout 20 "$API"
    stop_pid HOLD_PID 2>/dev/null
else
    echo "   (no ::1 on this machine: the IPv6 busy port is not tried)"
fi
check "connect-api with OP_HTTPS_PORT equal to OP_HTTP_PORT: one line naming OP_HTTPS_PORT" sh -c \
    "OP_SESSION='$CREDS' OP_HTTP_PORT=$HOLD_PORT OP_HTTPS_PORT=$HOLD_PORT OP_TLS_CERT_FILE='$T/tls.pem' \
     OP_TLS_KEY_FILE='$T/tls.key' timeout 20 '$API' >/dev/null 2>'$T/same.err';
     [ \$? -eq 1 ] && grep -q '^connect-api: OP_HTTPS_PORT: ' '$T/same.err'"

echo "programs: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
