# tests/cli/lib.sh - helpers for the CLI integration tests (sourced).
#
# Each scenario runs in its own mktemp -d with its own HOME and XDG_* dirs.
# `op` on PATH is a wrapper that runs the binary under test in a new
# session (setsid), so it has no controlling terminal and can never stop
# to prompt. Results go to $RESULTS as "ok - ..." / "not ok - ..." lines.

: "${OP:?OP must name the op binary}"
: "${RESULTS:?RESULTS must name the results file}"

T=$(mktemp -d "${TMPDIR:-/tmp}/opcli.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

setup_env() {
    mkdir -p "$T/home" "$T/data" "$T/config" "$T/cache" "$T/run" "$T/bin" "$T/work"
    chmod 700 "$T/run"
    export HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" \
        XDG_CACHE_HOME="$T/cache" XDG_RUNTIME_DIR="$T/run"
    unset OP_ACCOUNT OP_PASSWORD OP_SECRET_KEY OP_SESSION_TOKEN OP_SESSION || true
    if command -v setsid >/dev/null 2>&1; then
        printf '#!/bin/sh\nexec setsid -w "%s" "$@"\n' "$OP" >"$T/bin/op"
    else
        printf '#!/bin/sh\nexec "%s" "$@"\n' "$OP" >"$T/bin/op"
    fi
    chmod 755 "$T/bin/op"
    PATH="$T/bin:$PATH"
    export PATH
    : >"$T/all-stderr"
}

pass() {
    echo "ok - $1"
    echo "ok - $1" >>"$RESULTS"
}

fail() {
    echo "not ok - $1${2:+ -- $2}"
    echo "not ok - $1" >>"$RESULTS"
}

# run CMD...: stdout in $T/out, stderr in $T/err (also appended to
# $T/all-stderr), exit code in RC; stdin from $IN (default /dev/null).
run() {
    set +e
    "$@" <"${IN:-/dev/null}" >"$T/out" 2>"$T/err"
    RC=$?
    set -e
    cat "$T/err" >>"$T/all-stderr"
}

# ok DESC CMD...: exit 0 and nothing on stderr.
ok() {
    _d=$1
    shift
    run "$@"
    if [ "$RC" -eq 0 ] && [ ! -s "$T/err" ]; then
        pass "$_d"
    else
        fail "$_d" "exit $RC: $(head -c 400 "$T/err")"
    fi
}

# fails CODE DESC CMD...: exit CODE, exactly one stderr line "[ERROR] ...",
# nothing on stdout.
fails() {
    _code=$1
    _d=$2
    shift 2
    run "$@"
    _lines=$(wc -l <"$T/err")
    if [ "$RC" -eq "$_code" ] && [ "$_lines" -eq 1 ] && grep -q '^\[ERROR\] [^ ]' "$T/err" &&
        [ ! -s "$T/out" ]; then
        pass "$_d (exit $RC: $(cat "$T/err"))"
    else
        fail "$_d" "exit $RC (want $_code), stdout $(wc -c <"$T/out") bytes, stderr: $(head -c 400 "$T/err")"
    fi
}

# check DESC CMD...: the command succeeds.
check() {
    _d=$1
    shift
    if "$@" >/dev/null 2>&1; then
        pass "$_d"
    else
        fail "$_d"
    fi
}

# jqok DESC [JQ-OPTIONS...] FILTER: jq -e FILTER is true on $T/out.
jqok() {
    _d=$1
    shift
    eval "_f=\${$#}"
    if jq -e "$@" "$T/out" >/dev/null 2>&1; then
        pass "$_d"
    else
        fail "$_d" "jq '$_f' is not true on: $(head -c 600 "$T/out")"
    fi
}

# jget FILTER: raw jq output on $T/out.
jget() {
    jq -r "$@" "$T/out"
}

# mode FILE: the octal permission bits.
mode() {
    stat -c %a "$1"
}

# b64url_decode STRING: base64url (no padding) to bytes on stdout.
b64url_decode() {
    _s=$(printf '%s' "$1" | tr '_-' '/+')
    case $((${#_s} % 4)) in
    2) _s="$_s==" ;;
    3) _s="$_s=" ;;
    esac
    printf '%s' "$_s" | base64 -d
}

# Abort the scenario (counted as a failure) when a step others build on failed.
need() {
    if [ "$RC" -ne 0 ]; then
        fail "$1: cannot continue this scenario"
        exit 1
    fi
}

# canary LABEL VALUE: remember a value that must never reach the disk.
canary() {
    printf '%s\t%s\n' "$1" "$2" >>"$T/canaries"
}

# scan_hits FILE: the labels of the canaries found in the bytes of FILE.
scan_hits() {
    _hits=""
    while IFS="$(printf '\t')" read -r _label _value; do
        [ -n "$_value" ] || continue
        if grep -a -F -q -- "$_value" "$1"; then
            _hits="$_hits $_label"
        fi
    done <"$T/canaries"
    printf '%s' "$_hits"
}

# scan_file FILE: no canary occurs in the bytes of FILE.
scan_file() {
    _found=$(scan_hits "$1")
    if [ -z "$_found" ]; then
        pass "canary scan: none of $(wc -l <"$T/canaries") secrets in $(basename "$1") ($(wc -c <"$1") bytes)"
    else
        fail "canary scan of $1" "found:$_found"
    fi
}
