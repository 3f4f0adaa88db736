/*
 * store/pg_sql.h - every SQL text of the PostgreSQL store (store/pg.c): the
 * schema's migrations and a table of named statements. pg.c runs these and
 * nothing else.
 *
 * One database holds every account (docs/postgres.md, "One database, every
 * account"): each table of the account file's schema (account/schema.c)
 * gains `account_id` as the first column of its primary key, of every
 * index and of every foreign key. Text columns are COLLATE "C" (byte order,
 * as SQLite's BINARY); NOCASE becomes lower(x) under "C" (ASCII folding
 * only, as SQLite's NOCASE); integers are bigint, BLOBs bytea.
 *
 * Parameters (pg.c sends every parameter as text, except bytea in binary,
 * with no paramTypes: each text casts its parameters to their types):
 *   - a statement of the owner's table (account/rows.c, same name): $1 the
 *     account id (from the session, never from a request), then the
 *     statement's parameters in order as $2, $3, ... (one per character of
 *     its `params`: 't'/'T' text, 'i'/'I'/'q' bigint, 'b' bytea); its result
 *     columns are exactly its `columns`, integers as bigint.
 *     change.append alone takes the seq pg.c gives the change as $2
 *     (bigint) and its 9 parameters as $3 .. $11.
 *   - the store's own statements ("store.<x>"), the Connect server's side
 *     (replacing account/export.c's and feed.c's SQL): parameters and
 *     result columns as listed with each in pg_sql.c; in short (parameters
 *     -> columns, types as rows.h's):
 *       store.changes       t i t i   -> i i t T T T T T T I   (see pg_sql.c)
 *       store.account       t         -> i
 *       store.count         (none)    -> i   (the one without an account)
 *       store.device_key    t t       -> t
 *       store.issuer_key    t t       -> t t i
 *       store.access        t t t     -> t i t i i t i
 *       store.vault         t t t     -> VAULT_COLS  t t i t i i i i i i
 *       store.item          t t t     -> ITEM_COLS   t t i t i T T i i t i
 *       store.vault_items   t t t t i -> ITEM_COLS
 *       store.item_files    t t t t i i     -> t i t t b
 *       store.vault_files   t t t t t i t i -> t i t t b
 *       store.vault_row     t t       -> VAULT_COLS
 *       store.item_row      t t       -> ITEM_COLS
 *       store.token         t t t     -> t t t t i i t i i
 *       store.write_auth    t t t     -> i I I   (always one row)
 *       store.item_state    t t t     -> i i i i (FOR UPDATE)
 *       store.lock          t         -> i       (FOR UPDATE)
 *       store.set_seq       t i       -> (a write)
 *       store.owner_lookup  t         -> t t t t i
 *     and the account servers' shared state (store/pg_state.c):
 *       store.session_put   t i t t b i i i -> (a write)
 *       store.session_get   t i       -> i t t b i i i i
 *       store.session_use   t i i     -> i
 *       store.session_end   t         -> (a write)
 *       store.nonce_take    t i i     -> i
 *       store.limit_hit     t i i i   -> (a write)
 *       store.limit_until   t i i     -> i
 *       store.pending_put   t b i     -> (a write)
 *       store.pending_take  t         -> b i
 *       store.sweep_sessions, _nonces, _limits, _pending  i -> (a write)
 *
 * Migrations: step i takes the database from schema version i to i + 1, a
 * string of statements separated by ';' that pg.c runs with PQexec in one
 * transaction, keeping the version in its own table opc_schema.
 */
#ifndef OPC_STORE_PG_SQL_H
#define OPC_STORE_PG_SQL_H

#include <stddef.h>

/* The number of migration steps (the newest schema version). */
#define OPC_PG_SCHEMA_VERSION 2

extern const char *const opc__pg_migrations[OPC_PG_SCHEMA_VERSION];

typedef struct opc__pg_sql {
    const char *name; /* a statement name of account/rows.c, or "store.<x>" */
    const char *sql;
} opc__pg_sql;

/* Every statement, *n of them. */
const opc__pg_sql *opc__pg_sql_table(size_t *n);
/* The text of the statement called name; NULL when there is none. */
const char *opc__pg_sql_find(const char *name);

#endif
