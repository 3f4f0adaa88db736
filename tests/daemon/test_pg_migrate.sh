#!/bin/sh
# tests/daemon/test_pg_migrate.sh - the PostgreSQL schema is applied at
# start, once, even when several account servers start at the same moment
# on an empty database (the advisory lock of store/pg.c), and on an empty
# data directory they end up with one server key; a database whose schema
# is newer than the program is refused with one line saying so.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=oppgmig
PID_VARS="P1 P2 P3 P4"
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib/pg.sh
. "$(dirname "$0")/../lib/pg.sh"
ACCTD="$BUILDDIR/op-account-server"
PSQL="$PG_BIN/psql"
PGD=$(mktemp -d "${TMPDIR:-/tmp}/opc-pgmig.XXXXXX")
trap 'pg_stop; rm -rf "$PGD"; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if pg_start "$PGD"; then
    pass "a PostgreSQL cluster on 127.0.0.1:$PG_PORT"
else
    fail "a PostgreSQL cluster" "$(tail -n 5 "$PGD"/*.log 2>/dev/null)"
    exit 1
fi
DATA="$T/acct"
mkdir -p "$DATA" && chmod 700 "$DATA"
# start VAR NAME: an account server on a free loopback port (its port in NAME_PORT).
start() {
    _p=$(free_port)
    env OP_ACCOUNT_DATA_DIR="$DATA" OP_ACCOUNT_DATABASE_URL="$PG_URL" OP_HTTP_PORT="$_p" \
        OP_BIND_ADDRESS=127.0.0.1 OP_LOG_LEVEL=debug "$ACCTD" >"$T/$2.log" 2>"$T/$2.err" </dev/null &
    eval "$1=\$!"
    eval "$2_PORT=$_p"
}
start P1 s1
start P2 s2
start P3 s3
for n in 1 2 3; do
    eval "_port=\$s${n}_PORT"
    check "server $n of 3 started at once answers /heartbeat" \
        poll_until 15000 curl -sf "http://127.0.0.1:$_port/heartbeat"
done
# They also started on an empty data directory: one made the server key,
# the others read it (a key file is linked in whole, never replaced).
# The log is written by a thread a moment after the line is made: wait for it.
pins_logged() { [ "$(grep -l 'server key pin' "$T"/s1.log "$T"/s2.log "$T"/s3.log | wc -l)" -eq 3 ]; }
check "the three servers logged their pins" poll_until 5000 pins_logged
PINS=$(sed -n 's/.*server key pin \([A-Za-z0-9_-]*\).*/\1/p' "$T"/s1.log "$T"/s2.log "$T"/s3.log | sort -u)
check "the three serve one server key ($(echo "$PINS" | wc -l) pin)" [ "$(echo "$PINS" | wc -l)" -eq 1 -a -n "$PINS" ]
q() { "$PSQL" "$PG_URL" -At -c "$1" 2>>"$T/psql.err"; }
ROWS=$(q "SELECT count(*) || ' ' || max(version) FROM opc_schema")
WANT=$(sed -n 's/^#define OPC_PG_SCHEMA_VERSION \([0-9]*\).*/\1/p' "$(dirname "$0")/../../lib/store/pg_sql.h")
check "the schema is at version $WANT, recorded once ($ROWS)" [ "$ROWS" = "1 $WANT" ]
STEPS=$(cat "$T"/s*.log | grep -c "database schema now at version" || true)
check "each migration step was applied by one server only ($STEPS lines for $WANT steps)" \
    [ "$STEPS" -eq "$WANT" ]
for v in P1 P2 P3; do stop_pid "$v"; done

# A database from a newer program.
q "UPDATE opc_schema SET version = 999" >/dev/null
start P4 s4
exited() { ! kill -0 "$P4" 2>/dev/null; }
check "a server on a database of schema version 999 does not start" poll_until 10000 exited
set +e
wait "$P4"
RC=$?
set -e
P4=
check "... exits non-zero ($RC)" [ "$RC" -ne 0 ]
check "... saying the schema is newer than the program" grep -q "schema version 999" "$T/s4.err"

echo "pg-migrate: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
