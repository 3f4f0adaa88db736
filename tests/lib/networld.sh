# tests/lib/networld.sh - the network world of the daemon tests (sourced by
# tests/daemon/lib.sh when OPC_UPSTREAM_MODE=https; not a test itself).
#
# The same suites, with connect-sync and connect-api reaching the account
# through op-account-server over HTTPS instead of a local account file
# (docs/protocol.md, "The network protocol"):
#
#   - a test CA ($NET/ca1) and a certificate for 127.0.0.1 it signed
#     ($NET/srv1), made with the openssl CLI (P-256);
#   - the account server's data dir $NET_DATA (OP_ACCOUNT_DATA_DIR): its
#     server key and accounts/;
#   - the owner's op, by NET_OWNER:
#       remote (the default: the deployment issue 13 builds) - op works
#         through the account server too: account_create starts it, then
#         `op account create --address` and `op signin --address`
#         (OP_ADDRESS, OP_SESSION_TOKEN and OP_CA_FILE exported), and every
#         later op command runs the owner's store protocol over HTTPS;
#       file - op creates accounts/a.db and keeps working on it locally
#         (OP_ACCOUNT, exported), the server's directory watch carrying its
#         changes (test_net_faults.sh and test_net_canary.sh write that file
#         with bench/deployed/populate);
#   - OP_UPSTREAM_CA_FILE (exported) trusts the test CA in every daemon the
#     script starts;
#   - NET_OWNER=file: $OP becomes a wrapper of op that adds --upstream
#     https://127.0.0.1:PORT and --upstream-pin (the data dir's server key)
#     to "connect server create" when the command names no --upstream
#     itself (signed in to the account server, op fills in both by itself);
#   - account_create starts op-account-server (ACCTD_PID, logs
#     $T/acctd.log and $T/acctd.err) once the account file exists;
#   - upstream_down / upstream_up stop it and start it again on its port.
#
# Also for tests that build worlds of their own (test_net_trust.sh):
# net_ca, net_cert, net_data_init, net_pin, net_server_start, net_url.
#
# Needs connect.sh's helpers (free_port, poll_until, pass/fail) and
# lib.sh's T, BUILDDIR, PID_VARS.

ACCTD="$BUILDDIR/op-account-server"
NET="$T/net"
NET_DATA="$NET/data"
PID_VARS="$PID_VARS ACCTD_PID"
ACCTD_PID=
UPSTREAM_WHAT="the account server"

# net_ca, net_cert: a test CA and a server certificate for 127.0.0.1.
# shellcheck source=certs.sh
. "$(dirname "$0")/../lib/certs.sh"

# net_data_init DIR: an empty data dir of op-account-server (mode 0700).
net_data_init() {
    mkdir -p "$1/accounts" && chmod 700 "$1" "$1/accounts"
}

# net_pin DIR: prints the pin of DIR's server key (creating the key).
net_pin() {
    OP_ACCOUNT_DATA_DIR="$1" "$ACCTD" --print-pin </dev/null
}

# net_url PORT: the upstream URL of an account server on 127.0.0.1:PORT.
net_url() { echo "https://127.0.0.1:$1"; }

# net_server_start VAR DATA_DIR CERT_DIR CA_FILE PORT NAME: op-account-server
# over DATA_DIR with CERT_DIR's certificate on 127.0.0.1:PORT, debug logs in
# $T/NAME.log and $T/NAME.err, its PID in VAR (which must be in PID_VARS);
# returns once GET /heartbeat answers over HTTPS (trusting CA_FILE), 1 when
# it does not within 15 s (a loaded machine under ASan starts slowly).
net_server_start() {
    env OP_ACCOUNT_DATA_DIR="$2" OP_HTTPS_PORT="$5" OP_BIND_ADDRESS=127.0.0.1 \
        OP_ACCOUNT_DATABASE_URL="${NET_DB_URL:-}" \
        OP_TLS_CERT_FILE="$3/cert.pem" OP_TLS_KEY_FILE="$3/key.pem" OP_LOG_LEVEL=debug \
        "$ACCTD" >>"$T/$6.log" 2>>"$T/$6.err" </dev/null &
    eval "$1=\$!"
    poll_until 15000 curl -sf --cacert "$4" "$(net_url "$5")/heartbeat"
}

# ---- this script's world ----
# net_world_fail WHAT: the world could not be built: one failed check
# naming WHAT, and the script ends.
net_world_fail() {
    fail "the network world: $1" "${2:-}"
    exit 1
}
[ -x "$ACCTD" ] || net_world_fail "op-account-server is built ($ACCTD)"
net_ca "$NET/ca1" "opconnect test CA 1" || net_world_fail "a test CA made with openssl"
net_cert "$NET/ca1" "$NET/srv1" || net_world_fail "a certificate for 127.0.0.1 signed by the test CA"
net_data_init "$NET_DATA" || net_world_fail "the account server's data dir"
NET_PIN=$(net_pin "$NET_DATA" 2>"$T/pin.err") && [ -n "$NET_PIN" ] ||
    net_world_fail "op-account-server --print-pin" "$(cat "$T/pin.err")"
# NET_STORE picks the account server's store: sqlite (the default: the
# data dir's accounts/*.db) or pg (a throwaway PostgreSQL cluster of this
# script, tests/lib/pg.sh, stopped on exit).
NET_STORE=${NET_STORE:-sqlite}
NET_DB_URL=
case $NET_STORE in
sqlite) ;;
pg)
    # shellcheck source=pg.sh
    . "$(dirname "$0")/../lib/pg.sh"
    # Outside $T (mode 0700, root's): the cluster runs as another user.
    NET_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/opc-netpg.XXXXXX") || net_world_fail "a directory for PostgreSQL"
    pg_start "$NET_PG_DIR" ||
        net_world_fail "a PostgreSQL cluster (tests/lib/pg.sh)" "$(tail -n 5 "$NET_PG_DIR"/*.log 2>/dev/null)"
    NET_DB_URL=$PG_URL
    ;;
*) net_world_fail "NET_STORE is sqlite or pg (not $NET_STORE)" ;;
esac
ACCT_PORT=$(free_port)
NET_URL=$(net_url "$ACCT_PORT")
OP_UPSTREAM_CA_FILE="$NET/ca1/ca.pem"
export OP_UPSTREAM_CA_FILE
NET_OWNER=${NET_OWNER:-remote}
case $NET_OWNER in
file)
    OP_ACCOUNT="$NET_DATA/accounts/a.db"
    export OP_ACCOUNT
    ;;
remote)
    unset OP_ACCOUNT
    OP_CA_FILE=$OP_UPSTREAM_CA_FILE
    export OP_CA_FILE
    ;;
*) net_world_fail "NET_OWNER is remote or file (not $NET_OWNER)" ;;
esac

# NET_OWNER=file: op with this world's upstream in the credentials it
# writes. (Signed in to the account server, op names it and its pin by
# itself: NET_OWNER=remote runs op as it is.)
if [ "$NET_OWNER" = file ]; then
    mkdir -p "$NET/bin"
    cat >"$NET/bin/op" <<EOF
#!/bin/sh
# op, adding the network world's upstream to "connect server create"
# (tests/lib/networld.sh).
if [ \$# -ge 3 ] && [ "\$1" = connect ] && [ "\$2" = server ] && [ "\$3" = create ]; then
    for a in "\$@"; do
        case \$a in --upstream | --upstream=*) exec "$OP" "\$@" ;; esac
    done
    exec "$OP" "\$@" --upstream "$NET_URL" --upstream-pin "$NET_PIN"
fi
exec "$OP" "\$@"
EOF
    chmod 755 "$NET/bin/op"
    OP="$NET/bin/op"
fi

# NET_OWNER=remote: the account made and signed in through the account
# server, started first.
if [ "$NET_OWNER" = remote ]; then
    account_create() {
        upstream_account_ready
        printf '%s\n' "$1" | setsid -w "$OP" account create --address "$NET_URL" \
            --email owner@example.com --password-stdin >"$T/acct.out" 2>"$T/acct.err" ||
            { fail "op account create --address" "$(cat "$T/acct.err")"; exit 1; }
        env OP_PASSWORD="$1" setsid -w "$OP" signin --address "$NET_URL" >"$T/signin" \
            2>"$T/signin.err" </dev/null ||
            { fail "op signin --address" "$(cat "$T/signin.err")"; exit 1; }
        eval "$(cat "$T/signin")"
        NET_OWNER_PW=$1
    }
    account_file() { echo "$NET_DATA/accounts/$(op account get --format json | jq -r .id).db"; }
fi

# Started by account_create (lib.sh) once the account file exists, or
# before it makes the account (NET_OWNER=remote).
upstream_account_ready() {
    [ -z "$ACCTD_PID" ] || return 0
    net_server_start ACCTD_PID "$NET_DATA" "$NET/srv1" "$OP_UPSTREAM_CA_FILE" "$ACCT_PORT" acctd ||
        { fail "op-account-server answers /heartbeat over HTTPS" "$(tail -n 5 "$T/acctd.err")"; exit 1; }
}

# On exit (lib.sh's cleanup): the suite really ran over the network, i.e.
# the Connect servers opened sessions with op-account-server (the
# credentials named it, not the account file).
upstream_world_check() {
    if [ "$NET_STORE" = pg ]; then
        pg_stop
        rm -rf "$NET_PG_DIR"
    fi
    [ -n "$ACCTD_PID" ] || [ -s "$T/acctd.log" ] || return 0 # never started: failed already
    _ns=$(grep -c 'session opened' "$T/acctd.log" 2>/dev/null || true)
    if [ "${_ns:-0}" -gt 0 ]; then
        pass "the daemons reached the account through op-account-server ($_ns sessions)"
    else
        fail "the daemons reached the account through op-account-server" "no session in $T/acctd.log"
        return 1
    fi
}

# upstream_down / upstream_up: stop op-account-server, and start it again
# on the same port (both 0 on success).
upstream_down() {
    stop_pid ACCTD_PID
    [ "$STOP_RC" = 0 ]
}
# On the SQLite store the owner's session lives in the server's memory:
# after a restart op signs in again (NET_OWNER=remote; on PostgreSQL the
# session survives and this second sign-in is merely harmless); Connect
# servers open new sessions by themselves.
upstream_up() {
    net_server_start ACCTD_PID "$NET_DATA" "$NET/srv1" "$OP_UPSTREAM_CA_FILE" "$ACCT_PORT" acctd ||
        return 1
    [ "$NET_OWNER" = remote ] || return 0
    env OP_PASSWORD="$NET_OWNER_PW" setsid -w "$OP" signin --address "$NET_URL" >"$T/signin" \
        2>"$T/signin.err" </dev/null && eval "$(cat "$T/signin")"
}
