/*
 * cache/cache.c - 1password.sqlite (design and tables: cache.h): opening,
 * schema, transactions, meta and the readers; the writers are in
 * cache_write.c.
 *
 * SQL is only ever run with bound parameters. Statements are prepared once
 * per handle (SQLITE_PREPARE_PERSISTENT) and reset after every use, so no
 * statement keeps a read transaction open between calls.
 */
#include "internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "core/alloc.h"
#include "core/file.h"

static const char schema_v1[] = "CREATE TABLE meta ("
                                " one INTEGER PRIMARY KEY CHECK (one = 1),"
                                " server_id TEXT NOT NULL DEFAULT '',"
                                " account_id TEXT NOT NULL DEFAULT '',"
                                " feed_cursor INTEGER NOT NULL DEFAULT 0,"
                                " initial_sync_complete INTEGER NOT NULL DEFAULT 0,"
                                " last_attempt_ms INTEGER NOT NULL DEFAULT 0,"
                                " last_success_ms INTEGER NOT NULL DEFAULT 0,"
                                " failures INTEGER NOT NULL DEFAULT 0,"
                                " last_error TEXT NOT NULL DEFAULT '') STRICT;"
                                "INSERT INTO meta (one) VALUES (1);"
                                "CREATE TABLE issuer_keys ("
                                " kid TEXT PRIMARY KEY,"
                                " jwk TEXT NOT NULL,"
                                " seq INTEGER NOT NULL) STRICT;"
                                "CREATE TABLE vault_access ("
                                " vault_id TEXT PRIMARY KEY,"
                                " key_sn INTEGER NOT NULL,"
                                " enc_key TEXT NOT NULL,"
                                " acl INTEGER NOT NULL,"
                                " granted INTEGER NOT NULL,"
                                " grant_sig TEXT NOT NULL,"
                                " seq INTEGER NOT NULL) STRICT;"
                                "CREATE TABLE vaults ("
                                " id TEXT PRIMARY KEY,"
                                " type TEXT NOT NULL,"
                                " key_sn INTEGER NOT NULL,"
                                " attrs TEXT NOT NULL,"
                                " attr_version INTEGER NOT NULL,"
                                " content_version INTEGER NOT NULL,"
                                " items INTEGER NOT NULL,"
                                " created INTEGER NOT NULL,"
                                " updated INTEGER NOT NULL,"
                                " seq INTEGER NOT NULL) STRICT;"
                                "CREATE TABLE items ("
                                " id TEXT PRIMARY KEY,"
                                " vault_id TEXT NOT NULL,"
                                " version INTEGER NOT NULL,"
                                " state TEXT NOT NULL,"
                                " key_sn INTEGER NOT NULL,"
                                " overview TEXT NOT NULL,"
                                " details TEXT NOT NULL,"
                                " created INTEGER NOT NULL,"
                                " updated INTEGER NOT NULL,"
                                " last_edited_by TEXT NOT NULL,"
                                " seq INTEGER NOT NULL) STRICT;"
                                "CREATE INDEX items_vault ON items(vault_id, id);"
                                "CREATE TABLE files ("
                                " file_id TEXT NOT NULL,"
                                " idx INTEGER NOT NULL,"
                                " item_id TEXT NOT NULL,"
                                " vault_id TEXT NOT NULL,"
                                " blob BLOB NOT NULL,"
                                " PRIMARY KEY (file_id, idx)) STRICT;"
                                "CREATE INDEX files_item ON files(item_id);"
                                "CREATE INDEX files_vault ON files(vault_id);"
                                "CREATE TABLE tokens ("
                                " jti TEXT PRIMARY KEY,"
                                " server_id TEXT NOT NULL,"
                                " name TEXT NOT NULL,"
                                " scopes TEXT NOT NULL,"
                                " created INTEGER NOT NULL,"
                                " expires INTEGER NOT NULL,"
                                " state TEXT NOT NULL,"
                                " updated INTEGER NOT NULL,"
                                " seq INTEGER NOT NULL) STRICT;";

/* migrations[i] takes the schema from version i to i + 1 (0 -> 1 is creation). */
static const char *const migrations[] = {
    schema_v1,
};

#define V_COLS                                                                                     \
    "id, type, key_sn, attrs, attr_version, content_version, items, created, updated, seq"
#define I_COLS_NO_DETAILS                                                                          \
    "id, vault_id, version, state, key_sn, overview, NULL, created, updated, last_edited_by, seq"
#define I_COLS                                                                                     \
    "id, vault_id, version, state, key_sn, overview, details, created, updated, last_edited_by, "  \
    "seq"
#define T_COLS "jti, server_id, name, scopes, created, expires, state, updated, seq"
#define AC_COLS "vault_id, key_sn, enc_key, acl, granted, grant_sig, seq"

static const char *const stmt_sql[S_COUNT] = {
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_META_GET] =
        "SELECT server_id, account_id, feed_cursor, initial_sync_complete,"
        " last_attempt_ms, last_success_ms, failures, last_error FROM meta WHERE one = 1",
    [S_SET_IDS] = "UPDATE meta SET server_id = ?1, account_id = ?2 WHERE one = 1",
    [S_SET_CURSOR] = "UPDATE meta SET feed_cursor = ?1 WHERE one = 1",
    [S_SET_INITIAL] = "UPDATE meta SET initial_sync_complete = ?1 WHERE one = 1",
    [S_HEALTH_OK] = "UPDATE meta SET last_attempt_ms = ?1, last_success_ms = ?1, failures = 0,"
                    " last_error = '' WHERE one = 1",
    [S_HEALTH_FAIL] = "UPDATE meta SET last_attempt_ms = ?1, failures = failures + 1,"
                      " last_error = ?2 WHERE one = 1",
    [S_IK_ALL] = "SELECT kid, jwk, seq FROM issuer_keys ORDER BY kid",
    [S_IK_GET] = "SELECT kid, jwk, seq FROM issuer_keys WHERE kid = ?1",
    [S_IK_PUT] = "INSERT OR REPLACE INTO issuer_keys (kid, jwk, seq) VALUES (?1, ?2, ?3)",
    [S_IK_DEL] = "DELETE FROM issuer_keys WHERE kid = ?1",
    [S_AC_ALL] = "SELECT " AC_COLS " FROM vault_access ORDER BY vault_id",
    [S_AC_GET] = "SELECT " AC_COLS " FROM vault_access WHERE vault_id = ?1",
    [S_AC_PUT] =
        "INSERT OR REPLACE INTO vault_access (" AC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_AC_DEL] = "DELETE FROM vault_access WHERE vault_id = ?1",
    [S_V_ALL] = "SELECT " V_COLS " FROM vaults ORDER BY id",
    [S_V_GET] = "SELECT " V_COLS " FROM vaults WHERE id = ?1",
    /* Monotonic (cache.h): a row older in either version leaves the cached one. */
    [S_V_PUT] = "INSERT INTO vaults (" V_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                " ON CONFLICT (id) DO UPDATE SET type = excluded.type, key_sn = excluded.key_sn,"
                " attrs = excluded.attrs, attr_version = excluded.attr_version,"
                " content_version = excluded.content_version, items = excluded.items,"
                " created = excluded.created, updated = excluded.updated, seq = excluded.seq"
                " WHERE excluded.attr_version >= vaults.attr_version"
                " AND excluded.content_version >= vaults.content_version",
    [S_V_DEL] = "DELETE FROM vaults WHERE id = ?1",
    [S_I_ALL] = "SELECT " I_COLS_NO_DETAILS " FROM items WHERE vault_id = ?1 ORDER BY id",
    [S_I_ALL_DETAILS] = "SELECT " I_COLS " FROM items WHERE vault_id = ?1 ORDER BY id",
    [S_I_GET] = "SELECT " I_COLS " FROM items WHERE id = ?1 AND vault_id = ?2",
    [S_I_COUNT] = "SELECT COUNT(*) FROM items WHERE vault_id = ?1",
    [S_I_COUNT_ALL] = "SELECT COUNT(*) FROM items",
    /* Monotonic (cache.h): an older version leaves the cached row. */
    [S_I_PUT] = "INSERT INTO items (" I_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                " ?11) ON CONFLICT (id) DO UPDATE SET vault_id = excluded.vault_id,"
                " version = excluded.version, state = excluded.state, key_sn = excluded.key_sn,"
                " overview = excluded.overview, details = excluded.details,"
                " created = excluded.created, updated = excluded.updated,"
                " last_edited_by = excluded.last_edited_by, seq = excluded.seq"
                " WHERE excluded.version >= items.version",
    [S_I_DEL] = "DELETE FROM items WHERE id = ?1",
    [S_I_DEL_VAULT] = "DELETE FROM items WHERE vault_id = ?1",
    [S_I_DEL_UPTO] = "DELETE FROM items WHERE id = ?1 AND version <= ?2",
    [S_I_VERSION] = "SELECT version FROM items WHERE id = ?1",
    [S_F_ITEM_DEL] = "DELETE FROM files WHERE item_id = ?1",
    [S_F_ITEM_DEL_UPTO] = "DELETE FROM files WHERE item_id = ?1 AND NOT EXISTS"
                          " (SELECT 1 FROM items WHERE id = ?1 AND version > ?2)",
    [S_F_VAULT_DEL] = "DELETE FROM files WHERE vault_id = ?1",
    [S_F_CHUNKS] = "SELECT file_id, item_id, vault_id, idx, blob FROM files WHERE file_id = ?1"
                   " ORDER BY idx",
    [S_F_PUT] = "INSERT OR REPLACE INTO files (file_id, idx, item_id, vault_id, blob)"
                " VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_F_DEL] = "DELETE FROM files WHERE file_id = ?1",
    [S_T_GET] = "SELECT " T_COLS " FROM tokens WHERE jti = ?1",
    [S_T_ALL] = "SELECT " T_COLS " FROM tokens ORDER BY jti",
    [S_T_PUT] =
        "INSERT OR REPLACE INTO tokens (" T_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_T_DEL] = "DELETE FROM tokens WHERE jti = ?1",
};

/* ---- SQL helpers ---- */

opc_err opc__cache_sqlerr(const opc__cache *c, int rc, const char *what, opc__ebuf *eb)
{
    const char *msg = (c != NULL && c->db != NULL) ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return opc__fail(eb, OPC_ERR_NOMEM, "%s: out of memory", what);
    case SQLITE_NOTADB:
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an opconnect cache file", what);
    case SQLITE_CORRUPT:
        return opc__fail(eb, OPC_ERR_PARSE, "%s: the cache file is corrupt", what);
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_ERROR:
        return opc__fail(eb, OPC_ERR_INTERNAL, "%s: %s", what, msg);
    default:
        return opc__fail(eb, OPC_ERR_IO, "%s: %s", what, msg);
    }
}

static opc_err exec(opc__cache *c, const char *sql, opc__ebuf *eb)
{
    int src = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        return opc__cache_sqlerr(c, src, "cache file", eb);
    }
    return OPC_OK;
}

void opc__cache_done(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/*
 * Get statement id, bound by fmt: 't' text (NULL binds NULL), 'i' int64_t,
 * 'b' blob (const void *, size_t). Bound SQLITE_STATIC: keep the values
 * alive until opc__cache_done().
 */
opc_err opc__cache_stmt(opc__cache *c, int id, sqlite3_stmt **out, opc__ebuf *eb, const char *fmt,
                        ...)
{
    *out = NULL;
    if (c->st[id] == NULL) {
        int src = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                                     NULL);
        if (src != SQLITE_OK) {
            sqlite3_finalize(c->st[id]);
            c->st[id] = NULL;
            return opc__cache_sqlerr(c, src, "cache file", eb);
        }
    }
    sqlite3_stmt *st = c->st[id];
    va_list ap;
    va_start(ap, fmt);
    int idx = 1;
    int src = SQLITE_OK;
    for (const char *f = fmt; *f != '\0' && src == SQLITE_OK; f++, idx++) {
        if (*f == 't') {
            const char *s = va_arg(ap, const char *);
            src = (s == NULL) ? sqlite3_bind_null(st, idx)
                              : sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
        } else if (*f == 'i') {
            src = sqlite3_bind_int64(st, idx, (sqlite3_int64)va_arg(ap, int64_t));
        } else {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            if (n > (size_t)INT_MAX) {
                src = SQLITE_TOOBIG;
            } else {
                src = sqlite3_bind_blob(st, idx, n == 0 ? "" : p, (int)n, SQLITE_STATIC);
            }
        }
    }
    va_end(ap);
    if (src != SQLITE_OK) {
        opc_err rc = opc__cache_sqlerr(c, src, "cache file", eb);
        opc__cache_done(st);
        return rc;
    }
    *out = st;
    return OPC_OK;
}

/* Step: *row true for a row, false when done. */
opc_err opc__cache_step(opc__cache *c, sqlite3_stmt *st, bool *row, opc__ebuf *eb)
{
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *row = true;
        return OPC_OK;
    }
    *row = false;
    if (src == SQLITE_DONE) {
        return OPC_OK;
    }
    return opc__cache_sqlerr(c, src, "cache file", eb);
}

/* Run a statement that returns no rows. */
opc_err opc__cache_run(opc__cache *c, sqlite3_stmt *st, opc__ebuf *eb)
{
    bool row = false;
    opc_err rc = opc__cache_step(c, st, &row, eb);
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_need_write(const opc__cache *c, opc__ebuf *eb)
{
    if (c == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!c->writable) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache opened read-only");
    }
    return OPC_OK;
}

opc_err opc__cache_bad_id(opc__ebuf *eb, const char *what)
{
    return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: invalid %s id", what);
}

static const char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    return p == NULL ? NULL : (const char *)p;
}

/* A borrowed column as the row structs' char * (never written through). */
static char *col_borrow(sqlite3_stmt *st, int i)
{
    return (char *)(uintptr_t)col_str(st, i);
}

static void col_id(sqlite3_stmt *st, int i, char out[OPC_ID_LEN + 1])
{
    const char *s = col_str(st, i);
    size_t n = s == NULL ? 0 : strlen(s);
    if (n > OPC_ID_LEN) {
        n = OPC_ID_LEN;
    }
    if (n > 0) {
        memcpy(out, s, n);
    }
    out[n] = '\0';
}

/* ---- files and opening ---- */

opc_err opc__cache_default_path(const char *xdg_data_home, const char *home, char **out,
                                opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    const char *base = xdg_data_home;
    if (base == NULL || base[0] == '\0') {
        base = home;
    }
    if (base == NULL || base[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "cache: neither a data home nor a home directory is set");
    }
    size_t need = strlen(base) + sizeof "/.op/data/" OPC_CACHE_FILE_NAME;
    if (need > PATH_MAX) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: data directory path too long");
    }
    char *p = opc__malloc(need);
    if (p == NULL) {
        return OPC_ERR_NOMEM;
    }
    (void)snprintf(p, need, "%s/.op/data/%s", base, OPC_CACHE_FILE_NAME);
    *out = p;
    return OPC_OK;
}

static opc_err pragma_int(opc__cache *c, const char *sql, int64_t *out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            src = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (src != SQLITE_OK) {
        return opc__cache_sqlerr(c, src, "cache file", eb);
    }
    return OPC_OK;
}

static opc_err set_wal(opc__cache *c, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    bool ok = false;
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            const char *mode = col_str(st, 0);
            ok = mode != NULL && strcmp(mode, "wal") == 0;
            src = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (src != SQLITE_OK) {
        return opc__cache_sqlerr(c, src, "cache file", eb);
    }
    if (!ok) {
        return opc__fail(eb, OPC_ERR_IO, "cache file: cannot switch to WAL journal mode");
    }
    return OPC_OK;
}

/* Check application_id / user_version; create or migrate when writable. */
static opc_err schema(opc__cache *c, opc__ebuf *eb)
{
    int64_t app = 0;
    int64_t version = 0;
    opc_err rc = pragma_int(c, "PRAGMA application_id", &app, eb);
    if (rc == OPC_OK) {
        rc = pragma_int(c, "PRAGMA user_version", &version, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    if (version == OPC_CACHE_SCHEMA_VERSION && app == OPC_CACHE_APPLICATION_ID) {
        return OPC_OK;
    }
    if (app != 0 && app != OPC_CACHE_APPLICATION_ID) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s is not an opconnect cache file", c->path);
    }
    if (version > OPC_CACHE_SCHEMA_VERSION) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED,
                         "cache file has schema version %lld; this library knows up to %d",
                         (long long)version, OPC_CACHE_SCHEMA_VERSION);
    }
    if (!c->writable) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "cache file %s is not initialized yet", c->path);
    }
    /* Another process may be creating it at the same time: re-check under the lock. */
    rc = opc__cache_begin(c, true, eb);
    if (rc == OPC_OK) {
        rc = pragma_int(c, "PRAGMA application_id", &app, eb);
    }
    if (rc == OPC_OK) {
        rc = pragma_int(c, "PRAGMA user_version", &version, eb);
    }
    if (rc == OPC_OK && version == 0) {
        /* An empty application id on a non-empty database is someone else's file. */
        int64_t tables = 0;
        rc = pragma_int(c, "SELECT COUNT(*) FROM sqlite_schema", &tables, eb);
        if (rc == OPC_OK && (tables != 0 || app != 0)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s is not an opconnect cache file", c->path);
        }
    }
    for (int64_t v = version; rc == OPC_OK && v < OPC_CACHE_SCHEMA_VERSION; v++) {
        rc = exec(c, migrations[v], eb);
    }
    if (rc == OPC_OK && version < OPC_CACHE_SCHEMA_VERSION) {
        char pragma[96];
        (void)snprintf(pragma, sizeof pragma,
                       "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                       OPC_CACHE_APPLICATION_ID, OPC_CACHE_SCHEMA_VERSION);
        rc = exec(c, pragma, eb);
    }
    return opc__cache_end(c, rc, eb);
}

opc_err opc__cache_open(const char *path, opc__cache_mode mode, opc__cache **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (path == NULL || path[0] == '\0' ||
        (mode != OPC_CACHE_READ && mode != OPC_CACHE_WRITE && mode != OPC_CACHE_CREATE)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: missing path or bad mode");
    }
    opc_err rc = OPC_OK;
    if (mode == OPC_CACHE_CREATE) {
        rc = opc__file_make_parent("cache", path, eb);
        if (rc == OPC_OK) {
            rc = opc__file_create_private("cache", path, eb);
        }
        if (rc != OPC_OK) {
            return rc;
        }
    } else if (access(path, F_OK) != 0) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "cache file %s does not exist", path);
    }
    opc__cache *c = opc__calloc(1, sizeof *c);
    if (c == NULL) {
        return OPC_ERR_NOMEM;
    }
    c->path = opc__strdup(path);
    c->writable = (mode != OPC_CACHE_READ);
    if (c->path == NULL) {
        opc__cache_close(c);
        return OPC_ERR_NOMEM;
    }
    int flags = (c->writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX |
                SQLITE_OPEN_NOFOLLOW;
    int src = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (src != SQLITE_OK) {
        rc = opc__cache_sqlerr(c, src, "cannot open the cache file", eb);
        opc__cache_close(c);
        return rc;
    }
    sqlite3_extended_result_codes(c->db, 1);
    src = sqlite3_busy_timeout(c->db, OPC_CACHE_BUSY_TIMEOUT_MS);
    if (src != SQLITE_OK) {
        rc = opc__cache_sqlerr(c, src, "cache file", eb);
    }
    if (rc == OPC_OK) {
        rc = exec(c, "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;", eb);
    }
    if (rc == OPC_OK && c->writable) {
        rc = set_wal(c, eb);
    }
    if (rc == OPC_OK) {
        rc = schema(c, eb);
    }
    if (rc == OPC_OK && c->writable) {
        opc__file_tighten_sidecars(path);
    }
    if (rc != OPC_OK) {
        opc__cache_close(c);
        return rc;
    }
    *out = c;
    return OPC_OK;
}

void opc__cache_close(opc__cache *c)
{
    if (c == NULL) {
        return;
    }
    if (c->in_tx) {
        opc__cache_rollback(c);
    }
    for (size_t i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(c->st[i]);
    }
    sqlite3_close_v2(c->db);
    opc__free(c->path);
    opc__free(c);
}

const char *opc__cache_path(const opc__cache *c)
{
    return c == NULL ? NULL : c->path;
}

/* ---- transactions ---- */

opc_err opc__cache_begin(opc__cache *c, bool write, opc__ebuf *eb)
{
    if (c == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (c->in_tx) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: transaction already open");
    }
    if (write && !c->writable) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache opened read-only");
    }
    opc_err rc = exec(c, write ? "BEGIN IMMEDIATE" : "BEGIN", eb);
    if (rc == OPC_OK) {
        c->in_tx = true;
    }
    return rc;
}

opc_err opc__cache_commit(opc__cache *c, opc__ebuf *eb)
{
    if (c == NULL || !c->in_tx) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: no transaction open");
    }
    opc_err rc = exec(c, "COMMIT", eb);
    if (rc != OPC_OK) {
        opc__cache_rollback(c);
        return rc;
    }
    c->in_tx = false;
    if (c->writable) {
        opc__file_tighten_sidecars(c->path);
    }
    return OPC_OK;
}

void opc__cache_rollback(opc__cache *c)
{
    if (c == NULL || !c->in_tx) {
        return;
    }
    if (sqlite3_get_autocommit(c->db) == 0) {
        (void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    c->in_tx = false;
}

opc_err opc__cache_end(opc__cache *c, opc_err rc, opc__ebuf *eb)
{
    if (rc == OPC_OK) {
        return opc__cache_commit(c, eb);
    }
    opc__cache_rollback(c);
    return rc;
}

/* One-row integer query on a cached statement. */
static opc_err query_int(opc__cache *c, sqlite3_stmt *st, int64_t *out, opc__ebuf *eb)
{
    bool row = false;
    opc_err rc = opc__cache_step(c, st, &row, eb);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_INTERNAL, "cache: query returned nothing");
    }
    if (rc == OPC_OK) {
        *out = sqlite3_column_int64(st, 0);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_data_version(opc__cache *c, int64_t *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_DATA_VERSION, &st, eb, "");
    return rc == OPC_OK ? query_int(c, st, out, eb) : rc;
}

/* ---- meta ---- */

opc_err opc__cache_meta_get(opc__cache *c, opc__cache_meta *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_META_GET, &st, eb, "");
    if (rc != OPC_OK) {
        return rc;
    }
    bool row = false;
    rc = opc__cache_step(c, st, &row, eb);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "cache file has no meta row");
    }
    if (rc == OPC_OK) {
        col_id(st, 0, out->server_id);
        col_id(st, 1, out->account_id);
        out->cursor = sqlite3_column_int64(st, 2);
        out->initial_sync_complete = sqlite3_column_int64(st, 3) != 0;
        out->last_attempt_ms = sqlite3_column_int64(st, 4);
        out->last_success_ms = sqlite3_column_int64(st, 5);
        out->failures = sqlite3_column_int64(st, 6);
        const char *e = col_str(st, 7);
        (void)snprintf(out->last_error, sizeof out->last_error, "%s", e == NULL ? "" : e);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_cursor(opc__cache *c, int64_t *out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__cache_meta m;
    opc_err rc = opc__cache_meta_get(c, &m, eb);
    *out = rc == OPC_OK ? m.cursor : 0;
    return rc;
}

opc_err opc__cache_initial_sync_complete(opc__cache *c, bool *out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__cache_meta m;
    opc_err rc = opc__cache_meta_get(c, &m, eb);
    *out = rc == OPC_OK && m.initial_sync_complete;
    return rc;
}

opc_err opc__cache_set_ids(opc__cache *c, const char *server_id, const char *account_id,
                           opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(server_id) || !opc__id_valid_str(account_id)) {
        return opc__cache_bad_id(eb, "server or account");
    }
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_SET_IDS, &st, eb, "tt", server_id, account_id);
    return rc == OPC_OK ? opc__cache_run(c, st, eb) : rc;
}

opc_err opc__cache_set_cursor(opc__cache *c, int64_t cursor, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (cursor < 0) {
        return opc__fail(eb, OPC_ERR_RANGE, "cache: negative cursor");
    }
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_SET_CURSOR, &st, eb, "i", cursor);
    return rc == OPC_OK ? opc__cache_run(c, st, eb) : rc;
}

opc_err opc__cache_set_initial_sync_complete(opc__cache *c, bool isdone, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_SET_INITIAL, &st, eb, "i", (int64_t)(isdone ? 1 : 0));
    return rc == OPC_OK ? opc__cache_run(c, st, eb) : rc;
}

opc_err opc__cache_health_success(opc__cache *c, int64_t now_ms, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_HEALTH_OK, &st, eb, "i", now_ms);
    return rc == OPC_OK ? opc__cache_run(c, st, eb) : rc;
}

opc_err opc__cache_health_failure(opc__cache *c, int64_t now_ms, const char *error, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char msg[OPC_CACHE_MAX_ERROR + 1];
    (void)snprintf(msg, sizeof msg, "%s", error == NULL || error[0] == '\0' ? "error" : error);
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_HEALTH_FAIL, &st, eb, "it", now_ms, msg);
    return rc == OPC_OK ? opc__cache_run(c, st, eb) : rc;
}

opc_err opc__cache_reset(opc__cache *c, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    return exec(c,
                "DELETE FROM issuer_keys; DELETE FROM vault_access; DELETE FROM vaults;"
                " DELETE FROM items; DELETE FROM files; DELETE FROM tokens;"
                " UPDATE meta SET feed_cursor = 0, initial_sync_complete = 0 WHERE one = 1;",
                eb);
}

/* ---- row helpers ---- */

void opc__cache_issuer_key_clear(opc__cache_issuer_key *k)
{
    if (k != NULL) {
        opc__free(k->jwk);
        memset(k, 0, sizeof *k);
    }
}

void opc__cache_access_clear(opc__cache_access *a)
{
    if (a != NULL) {
        opc__free(a->enc_key);
        opc__free(a->grant_sig);
        memset(a, 0, sizeof *a);
    }
}

void opc__cache_vault_clear(opc__cache_vault *v)
{
    if (v != NULL) {
        opc__free(v->type);
        opc__free(v->attrs);
        memset(v, 0, sizeof *v);
    }
}

void opc__cache_item_clear(opc__cache_item *it)
{
    if (it != NULL) {
        opc__free(it->state);
        opc__free(it->overview);
        opc__free(it->details);
        memset(it, 0, sizeof *it);
    }
}

void opc__cache_token_clear(opc__cache_token *t)
{
    if (t != NULL) {
        opc__free(t->name);
        opc__free(t->scopes);
        opc__free(t->state);
        memset(t, 0, sizeof *t);
    }
}

/* Duplicate the borrowed strings of a row (NULL stays NULL). */
static bool own_str(char **p)
{
    if (*p == NULL) {
        return true;
    }
    *p = opc__strdup(*p);
    return *p != NULL;
}

static void read_issuer_key(sqlite3_stmt *st, opc__cache_issuer_key *k)
{
    col_id(st, 0, k->kid);
    k->jwk = col_borrow(st, 1);
    k->seq = sqlite3_column_int64(st, 2);
}

static void read_access(sqlite3_stmt *st, opc__cache_access *a)
{
    col_id(st, 0, a->vault);
    a->key_sn = sqlite3_column_int64(st, 1);
    a->enc_key = col_borrow(st, 2);
    a->acl = sqlite3_column_int64(st, 3);
    a->granted = sqlite3_column_int64(st, 4);
    a->grant_sig = col_borrow(st, 5);
    a->seq = sqlite3_column_int64(st, 6);
}

static void read_vault(sqlite3_stmt *st, opc__cache_vault *v)
{
    col_id(st, 0, v->id);
    v->type = col_borrow(st, 1);
    v->key_sn = sqlite3_column_int64(st, 2);
    v->attrs = col_borrow(st, 3);
    v->attr_version = sqlite3_column_int64(st, 4);
    v->content_version = sqlite3_column_int64(st, 5);
    v->items = sqlite3_column_int64(st, 6);
    v->created = sqlite3_column_int64(st, 7);
    v->updated = sqlite3_column_int64(st, 8);
    v->seq = sqlite3_column_int64(st, 9);
}

static void read_item(sqlite3_stmt *st, opc__cache_item *it)
{
    col_id(st, 0, it->id);
    col_id(st, 1, it->vault);
    it->version = sqlite3_column_int64(st, 2);
    it->state = col_borrow(st, 3);
    it->key_sn = sqlite3_column_int64(st, 4);
    it->overview = col_borrow(st, 5);
    it->details = col_borrow(st, 6);
    it->created = sqlite3_column_int64(st, 7);
    it->updated = sqlite3_column_int64(st, 8);
    col_id(st, 9, it->last_edited_by);
    it->seq = sqlite3_column_int64(st, 10);
}

static void read_token(sqlite3_stmt *st, opc__cache_token *t)
{
    col_id(st, 0, t->jti);
    col_id(st, 1, t->server);
    t->name = col_borrow(st, 2);
    t->scopes = col_borrow(st, 3);
    t->created = sqlite3_column_int64(st, 4);
    t->expires = sqlite3_column_int64(st, 5);
    t->state = col_borrow(st, 6);
    t->updated = sqlite3_column_int64(st, 7);
    t->seq = sqlite3_column_int64(st, 8);
}

/*
 * Step a one-row query: a row is read by `reader` into a borrowed struct,
 * then dup_fn makes it owned. No row: OPC_ERR_NOT_FOUND with `what`.
 */
static opc_err get_one(opc__cache *c, sqlite3_stmt *st, void (*reader)(sqlite3_stmt *, void *),
                       bool (*owner)(void *), void *out, const char *what, opc__ebuf *eb)
{
    bool row = false;
    opc_err rc = opc__cache_step(c, st, &row, eb);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "cache: no such %s", what);
    }
    if (rc == OPC_OK) {
        reader(st, out);
        if (!owner(out)) {
            rc = OPC_ERR_NOMEM;
        }
    }
    opc__cache_done(st);
    return rc;
}

/* Adapters with void * signatures for get_one. */
static void rd_ik(sqlite3_stmt *st, void *p)
{
    read_issuer_key(st, p);
}
static void rd_ac(sqlite3_stmt *st, void *p)
{
    read_access(st, p);
}
static void rd_v(sqlite3_stmt *st, void *p)
{
    read_vault(st, p);
}
static void rd_i(sqlite3_stmt *st, void *p)
{
    read_item(st, p);
}
static void rd_t(sqlite3_stmt *st, void *p)
{
    read_token(st, p);
}

/*
 * Turn the borrowed column strings of a row into owned copies. On failure
 * the fields not yet copied are set to NULL, so the row's _clear() frees
 * exactly the copies made so far.
 */
static bool own_fields(char **const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!own_str(fields[i])) {
            for (size_t j = i; j < n; j++) {
                *fields[j] = NULL;
            }
            return false;
        }
    }
    return true;
}

static bool own_ik(void *p)
{
    opc__cache_issuer_key *k = p;
    char **const f[] = {&k->jwk};
    if (!own_fields(f, OPC_ARRAY_LEN(f))) {
        opc__cache_issuer_key_clear(k);
        return false;
    }
    return true;
}

static bool own_ac(void *p)
{
    opc__cache_access *a = p;
    char **const f[] = {&a->enc_key, &a->grant_sig};
    if (!own_fields(f, OPC_ARRAY_LEN(f))) {
        opc__cache_access_clear(a);
        return false;
    }
    return true;
}

static bool own_v(void *p)
{
    opc__cache_vault *v = p;
    char **const f[] = {&v->type, &v->attrs};
    if (!own_fields(f, OPC_ARRAY_LEN(f))) {
        opc__cache_vault_clear(v);
        return false;
    }
    return true;
}

static bool own_i(void *p)
{
    opc__cache_item *it = p;
    char **const f[] = {&it->state, &it->overview, &it->details};
    if (!own_fields(f, OPC_ARRAY_LEN(f))) {
        opc__cache_item_clear(it);
        return false;
    }
    return true;
}

static bool own_t(void *p)
{
    opc__cache_token *t = p;
    char **const f[] = {&t->name, &t->scopes, &t->state};
    if (!own_fields(f, OPC_ARRAY_LEN(f))) {
        opc__cache_token_clear(t);
        return false;
    }
    return true;
}

/* ---- readers ---- */

opc_err opc__cache_issuer_keys_foreach(opc__cache *c, opc__cache_issuer_key_fn fn, void *ud,
                                       opc__ebuf *eb)
{
    if (c == NULL || fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_IK_ALL, &st, eb, "");
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_issuer_key k = {0};
        read_issuer_key(st, &k);
        rc = fn(&k, ud);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_issuer_key_get(opc__cache *c, const char *kid, opc__cache_issuer_key *out,
                                  opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (kid == NULL) {
        return opc__cache_bad_id(eb, "key");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_IK_GET, &st, eb, "t", kid);
    return rc == OPC_OK ? get_one(c, st, rd_ik, own_ik, out, "issuer key", eb) : rc;
}

opc_err opc__cache_access_get(opc__cache *c, const char *vault, opc__cache_access *out,
                              opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!opc__id_valid_str(vault)) {
        return opc__cache_bad_id(eb, "vault");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_AC_GET, &st, eb, "t", vault);
    return rc == OPC_OK ? get_one(c, st, rd_ac, own_ac, out, "vault grant", eb) : rc;
}

opc_err opc__cache_access_foreach(opc__cache *c, opc__cache_access_fn fn, void *ud, opc__ebuf *eb)
{
    if (c == NULL || fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_AC_ALL, &st, eb, "");
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_access a = {0};
        read_access(st, &a);
        rc = fn(&a, ud);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_vaults_foreach(opc__cache *c, opc__cache_vault_fn fn, void *ud, opc__ebuf *eb)
{
    if (c == NULL || fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_V_ALL, &st, eb, "");
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_vault v = {0};
        read_vault(st, &v);
        rc = fn(&v, ud);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_vault_get(opc__cache *c, const char *vault, opc__cache_vault *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!opc__id_valid_str(vault)) {
        return opc__cache_bad_id(eb, "vault");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_V_GET, &st, eb, "t", vault);
    return rc == OPC_OK ? get_one(c, st, rd_v, own_v, out, "vault", eb) : rc;
}

opc_err opc__cache_items_foreach(opc__cache *c, const char *vault, bool with_details,
                                 opc__cache_item_fn fn, void *ud, opc__ebuf *eb)
{
    if (c == NULL || fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!opc__id_valid_str(vault)) {
        return opc__cache_bad_id(eb, "vault");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, with_details ? S_I_ALL_DETAILS : S_I_ALL, &st, eb, "t", vault);
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_item it = {0};
        read_item(st, &it);
        rc = fn(&it, ud);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_item_get(opc__cache *c, const char *vault, const char *item,
                            opc__cache_item *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!opc__id_valid_str(vault) || !opc__id_valid_str(item)) {
        return opc__cache_bad_id(eb, "vault or item");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_I_GET, &st, eb, "tt", item, vault);
    return rc == OPC_OK ? get_one(c, st, rd_i, own_i, out, "item", eb) : rc;
}

opc_err opc__cache_item_count(opc__cache *c, const char *vault, int64_t *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = 0;
    sqlite3_stmt *st = NULL;
    opc_err rc = (vault == NULL) ? opc__cache_stmt(c, S_I_COUNT_ALL, &st, eb, "")
                                 : opc__cache_stmt(c, S_I_COUNT, &st, eb, "t", vault);
    return rc == OPC_OK ? query_int(c, st, out, eb) : rc;
}

opc_err opc__cache_file_chunks(opc__cache *c, const char *file, opc__cache_chunk_fn fn, void *ud,
                               opc__ebuf *eb)
{
    if (c == NULL || fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!opc__id_valid_str(file)) {
        return opc__cache_bad_id(eb, "file");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_F_CHUNKS, &st, eb, "t", file);
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_chunk ch = {0};
        col_id(st, 0, ch.file);
        col_id(st, 1, ch.item);
        col_id(st, 2, ch.vault);
        ch.idx = sqlite3_column_int64(st, 3);
        ch.blob = sqlite3_column_blob(st, 4);
        ch.len = (size_t)sqlite3_column_bytes(st, 4);
        rc = fn(&ch, ud);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_token_get(opc__cache *c, const char *jti, opc__cache_token *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!opc__id_valid_str(jti)) {
        return opc__cache_bad_id(eb, "token");
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_T_GET, &st, eb, "t", jti);
    return rc == OPC_OK ? get_one(c, st, rd_t, own_t, out, "token", eb) : rc;
}

opc_err opc__cache_tokens_foreach(opc__cache *c, opc__cache_token_fn fn, void *ud, opc__ebuf *eb)
{
    if (c == NULL || fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_T_ALL, &st, eb, "");
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_token t = {0};
        read_token(st, &t);
        rc = fn(&t, ud);
    }
    opc__cache_done(st);
    return rc;
}
