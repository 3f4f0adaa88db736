# tests/lib/pg.sh - a throwaway PostgreSQL 15 cluster for the tests of the
# PostgreSQL store (issue 14; sourced, not a test itself).
#
#   pg_start DIR   initdb a cluster in DIR (trust authentication, 127.0.0.1
#                  only, a free port), start it with pg_ctl and wait until it
#                  answers; sets PG_PORT, PG_URL (a libpq connection string
#                  for database "opc", created) and PG_PID (the postmaster).
#   pg_stop        stop it (pg_ctl stop -m fast, then SIGKILL by PID).
#   pg_restart     pg_ctl restart -m fast (same port and options); PG_PID
#                  updated.
#   pg_start_again start the stopped cluster again (same port and options),
#                  e.g. after its postmaster was killed with SIGKILL:
#                  retries for up to 30 s while its old backends exit;
#                  PG_PID updated.
#
# PG_TLS_DIR (optional, before pg_start): a directory holding cert.pem and
# key.pem (tests/lib/certs.sh's net_cert): the cluster also serves TLS with
# them (ssl = on; plain connections stay allowed).
#
# PostgreSQL refuses to run as root: when the tests run as root (CI does),
# the cluster runs as the system user opc-pgtest, made on first use, which
# owns DIR. Needs Debian's postgresql-15 (tools/install-deps) and the
# helpers free_port and poll_until of tests/lib/connect.sh.

PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=opc-pgtest
PG_PID=

# pg_as CMD...: run CMD as the cluster's owner.
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    [ -x "$PG_BIN/initdb" ] || { echo "pg.sh: $PG_BIN/initdb missing (postgresql-15)" >&2; return 1; }
    if [ "$(id -u)" -eq 0 ] && ! id "$PG_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER" || return 1
    fi
    mkdir -p "$1" && chmod 700 "$1" || return 1
    [ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$1" || return 1
    PG_DIR=$1
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --no-sync \
        --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || return 1
    PG_PORT=$(free_port)
    _tls=
    if [ -n "${PG_TLS_DIR:-}" ]; then
        cp "$PG_TLS_DIR/cert.pem" "$PG_TLS_DIR/key.pem" "$PG_DIR/data/" &&
            chmod 600 "$PG_DIR/data/key.pem" || return 1
        [ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$PG_DIR/data/cert.pem" "$PG_DIR/data/key.pem" ||
            return 1
        _tls="-c ssl=on -c ssl_cert_file=cert.pem -c ssl_key_file=key.pem"
    fi
    PG_OPTS="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='$PG_DIR' -c fsync=off -c full_page_writes=off $_tls"
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 -o "$PG_OPTS" \
        start >"$PG_DIR/pg_ctl.log" 2>&1 || return 1
    PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    pg_as "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres opc >>"$PG_DIR/pg_ctl.log" 2>&1 ||
        return 1
    PG_URL="host=127.0.0.1 port=$PG_PORT user=postgres dbname=opc"
    export PG_PORT PG_URL
}

pg_restart() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -m fast -w -t 30 \
        -o "$PG_OPTS" restart >>"$PG_DIR/pg_ctl.log" 2>&1 || return 1
    PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

pg_start_again() {
    _pg_n=0
    until pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "$PG_OPTS" start >>"$PG_DIR/pg_ctl.log" 2>&1; do
        _pg_n=$((_pg_n + 1))
        [ "$_pg_n" -lt 60 ] || return 1
        sleep 0.5
    done
    PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
    if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then
        kill -KILL "$PG_PID" 2>/dev/null || true
    fi
    PG_PID=
}
