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

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "core/alloc.h"

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

/*
 * v2: the local change sequence (cache.h, "Changes"). Every insert, update or
 * delete of an item row bumps meta.change_seq; a put stamps the row's lseq
 * with the number it gets (S_I_PUT), a delete leaves a row in `gone`. Gone
 * rows older than OPC_CACHE_GONE_KEEP changes are pruned and gone_floor says
 * up to where: a reader positioned below it must read everything again.
 */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define GONE_KEEP_SQL STRINGIFY(OPC_CACHE_GONE_KEEP)
static const char schema_v2[] =
    "ALTER TABLE meta ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE meta ADD COLUMN gone_floor INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE items ADD COLUMN lseq INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX items_lseq ON items(lseq);"
    "CREATE TABLE gone ("
    " lseq INTEGER NOT NULL,"
    " vault_id TEXT NOT NULL,"
    " id TEXT NOT NULL) STRICT;"
    "CREATE INDEX gone_lseq ON gone(lseq);"
    "CREATE TRIGGER items_added AFTER INSERT ON items BEGIN"
    " UPDATE meta SET change_seq = change_seq + 1 WHERE one = 1; END;"
    "CREATE TRIGGER items_changed AFTER UPDATE ON items BEGIN"
    " UPDATE meta SET change_seq = change_seq + 1 WHERE one = 1; END;"
    "CREATE TRIGGER items_gone AFTER DELETE ON items BEGIN"
    " UPDATE meta SET change_seq = change_seq + 1,"
    "  gone_floor = MAX(gone_floor, change_seq + 1 - " GONE_KEEP_SQL ") WHERE one = 1;"
    " INSERT INTO gone (lseq, vault_id, id) SELECT change_seq, OLD.vault_id, OLD.id FROM meta"
    "  WHERE one = 1;"
    " DELETE FROM gone WHERE lseq <= (SELECT gone_floor FROM meta WHERE one = 1); END;";

/*
 * v3: verified rows (cache.h). The rows that decide access carry a MAC and
 * meta a seal; rows of an older cache have an empty one, fail, and the
 * sync fetches them again.
 */
static const char schema_v3[] = "ALTER TABLE issuer_keys ADD COLUMN mac BLOB NOT NULL DEFAULT x'';"
                                "ALTER TABLE vault_access ADD COLUMN mac BLOB NOT NULL DEFAULT x'';"
                                "ALTER TABLE tokens ADD COLUMN mac BLOB NOT NULL DEFAULT x'';"
                                "ALTER TABLE meta ADD COLUMN seal BLOB NOT NULL DEFAULT x'';";

/* migrations[i] takes the schema from version i to i + 1 (0 -> 1 is creation). */
static const char *const migrations[] = {
    schema_v1,
    schema_v2,
    schema_v3,
};

#define V_COLS                                                                                     \
    "id, type, key_sn, attrs, attr_version, content_version, items, created, updated, seq"
#define I_COLS_NO_DETAILS                                                                          \
    "id, vault_id, version, state, key_sn, overview, NULL, created, updated, last_edited_by, seq"
#define I_COLS                                                                                     \
    "id, vault_id, version, state, key_sn, overview, details, created, updated, last_edited_by, "  \
    "seq"
/* The change number an item put takes (the trigger then moves change_seq to it). */
#define NEXT_LSEQ "(SELECT change_seq + 1 FROM meta WHERE one = 1)"
#define T_COLS "jti, server_id, name, scopes, created, expires, state, updated, seq"
#define AC_COLS "vault_id, key_sn, enc_key, acl, granted, grant_sig, seq"
/* The verified rows' columns, their MAC last (cache.h, "Verified rows"). */
#define IK_SEL "kid, jwk, seq, mac"
#define IK_MAC_COL 3
#define T_SEL T_COLS ", mac"
#define T_MAC_COL 9
#define AC_SEL AC_COLS ", mac"
#define AC_MAC_COL 7

static const char *const stmt_sql[S_COUNT] = {
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_META_GET] =
        "SELECT server_id, account_id, feed_cursor, initial_sync_complete,"
        " last_attempt_ms, last_success_ms, failures, last_error, change_seq, gone_floor"
        " FROM meta WHERE one = 1",
    [S_SET_IDS] = "UPDATE meta SET server_id = ?1, account_id = ?2 WHERE one = 1",
    [S_SET_CURSOR] = "UPDATE meta SET feed_cursor = ?1 WHERE one = 1",
    [S_SET_INITIAL] = "UPDATE meta SET initial_sync_complete = ?1 WHERE one = 1",
    [S_HEALTH_OK] = "UPDATE meta SET last_attempt_ms = ?1, last_success_ms = ?1, failures = 0,"
                    " last_error = '' WHERE one = 1",
    [S_HEALTH_FAIL] = "UPDATE meta SET last_attempt_ms = ?1, failures = failures + 1,"
                      " last_error = ?2 WHERE one = 1",
    [S_IK_ALL] = "SELECT " IK_SEL " FROM issuer_keys ORDER BY kid",
    [S_IK_GET] = "SELECT " IK_SEL " FROM issuer_keys WHERE kid = ?1",
    [S_IK_PUT] = "INSERT OR REPLACE INTO issuer_keys (" IK_SEL ") VALUES (?1, ?2, ?3, ?4)",
    [S_IK_DEL] = "DELETE FROM issuer_keys WHERE kid = ?1",
    [S_AC_ALL] = "SELECT " AC_SEL " FROM vault_access ORDER BY vault_id",
    [S_AC_GET] = "SELECT " AC_SEL " FROM vault_access WHERE vault_id = ?1",
    [S_AC_PUT] = "INSERT OR REPLACE INTO vault_access (" AC_SEL ")"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
    [S_I_PUT] = "INSERT INTO items (" I_COLS ", lseq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                " ?10, ?11, " NEXT_LSEQ ") ON CONFLICT (id) DO UPDATE SET"
                " vault_id = excluded.vault_id, lseq = excluded.lseq,"
                " version = excluded.version, state = excluded.state, key_sn = excluded.key_sn,"
                " overview = excluded.overview, details = excluded.details,"
                " created = excluded.created, updated = excluded.updated,"
                " last_edited_by = excluded.last_edited_by, seq = excluded.seq"
                " WHERE excluded.version >= items.version",
    [S_I_CHANGED] = "SELECT " I_COLS_NO_DETAILS " FROM items WHERE lseq > ?1 ORDER BY lseq",
    [S_GONE] = "SELECT vault_id, id FROM gone WHERE lseq > ?1 ORDER BY lseq",
    [S_I_DEL] = "DELETE FROM items WHERE id = ?1",
    [S_I_DEL_VAULT] = "DELETE FROM items WHERE vault_id = ?1",
    [S_I_DEL_UPTO] = "DELETE FROM items WHERE id = ?1 AND version <= ?2",
    [S_I_VERSION] = "SELECT version FROM items WHERE id = ?1",
    [S_F_ITEM_DEL] = "DELETE FROM files WHERE item_id = ?1",
    [S_F_ITEM_DEL_UPTO] = "DELETE FROM files WHERE item_id = ?1 AND NOT EXISTS"
                          " (SELECT 1 FROM items WHERE id = ?1 AND version > ?2)",
    [S_F_VAULT_DEL] = "DELETE FROM files WHERE vault_id = ?1",
    /* A vault's cached items (and their files) strictly between two ids. */
    [S_F_GAP_DEL] = "DELETE FROM files WHERE item_id > ?2 AND item_id < ?3 AND vault_id = ?1",
    [S_I_GAP_DEL] = "DELETE FROM items WHERE vault_id = ?1 AND id > ?2 AND id < ?3",
    [S_F_CHUNKS] = "SELECT file_id, item_id, vault_id, idx, blob FROM files WHERE file_id = ?1"
                   " ORDER BY idx",
    [S_F_PUT] = "INSERT OR REPLACE INTO files (file_id, idx, item_id, vault_id, blob)"
                " VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_T_GET] = "SELECT " T_SEL " FROM tokens WHERE jti = ?1",
    [S_T_ALL] = "SELECT " T_SEL " FROM tokens ORDER BY jti",
    [S_T_PUT] = "INSERT OR REPLACE INTO tokens (" T_SEL ")"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_T_DEL] = "DELETE FROM tokens WHERE jti = ?1",
    /* The seal's input (cache_mac.c): every verified row's key and MAC, by key. */
    [S_IK_MACS] = "SELECT kid, mac FROM issuer_keys ORDER BY kid",
    [S_T_MACS] = "SELECT jti, mac FROM tokens ORDER BY jti",
    [S_AC_MACS] = "SELECT vault_id, mac FROM vault_access ORDER BY vault_id",
    [S_SEAL_GET] = "SELECT seal FROM meta WHERE one = 1",
    [S_SET_SEAL] = "UPDATE meta SET seal = ?1 WHERE one = 1",
};

/* ---- small helpers ---- */

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
    bool found = false;
    return opc__db_query_int(c->db, &found, out, eb, sql, "");
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
        rc = opc__db_exec(c->db, migrations[v], eb);
    }
    if (rc == OPC_OK && version < OPC_CACHE_SCHEMA_VERSION) {
        char pragma[96];
        (void)snprintf(pragma, sizeof pragma,
                       "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                       OPC_CACHE_APPLICATION_ID, OPC_CACHE_SCHEMA_VERSION);
        rc = opc__db_exec(c->db, pragma, eb);
    }
    return opc__cache_end(c, rc, eb);
}

opc_err opc__cache_set_page_cache_kib(opc__cache *c, int kib, opc__ebuf *eb)
{
    if (c == NULL || kib < 1 || kib > 1048576) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: page cache size out of range");
    }
    char sql[48];
    (void)snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", kib);
    return opc__db_exec(c->db, sql, eb);
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
    if (mode != OPC_CACHE_CREATE && access(path, F_OK) != 0) {
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
    opc__db_config cfg = {
        .path = path,
        .label = "cache file",
        .flags = OPC_DB_NOFOLLOW | (c->writable ? OPC_DB_PRIVATE : OPC_DB_READONLY) |
                 (mode == OPC_CACHE_CREATE ? OPC_DB_CREATE : 0),
        .busy_timeout_ms = OPC_CACHE_BUSY_TIMEOUT_MS,
        .pragmas = "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;",
        .stmts = stmt_sql,
        .n_stmts = S_COUNT,
    };
    opc_err rc = opc__db_open(&cfg, &c->db, eb);
    if (rc == OPC_OK && c->writable) {
        rc = opc__db_wal(c->db, eb);
    }
    /*
     * The cache is a mirror that the feed can always rebuild (a lost commit
     * leaves its cursor behind with it, and the page replays): in WAL mode
     * NORMAL syncs at checkpoints only, and a commit stays atomic
     * (docs/decisions.md).
     */
    if (rc == OPC_OK && c->writable) {
        rc = opc__db_exec(c->db, "PRAGMA synchronous = NORMAL", eb);
    }
    if (rc == OPC_OK) {
        rc = schema(c, eb);
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
    opc__db_close(c->db);
    opc__free(c->path);
    opc__wipe(c->key, sizeof c->key);
    opc__free(c);
}

/* ---- the file under a running handle (cache.h) ---- */

bool opc__cache_moved(opc__cache *c)
{
    if (c == NULL || c->db == NULL) {
        return false;
    }
    int moved = 0;
    if (sqlite3_file_control(opc__db_sqlite(c->db), "main", SQLITE_FCNTL_HAS_MOVED, &moved) !=
        SQLITE_OK) {
        return false; /* a VFS that cannot tell: the header check still runs */
    }
    return moved != 0;
}

/* The first 16 bytes of every SQLite database file. */
static const char sqlite_magic[16] = "SQLite format 3";

opc_err opc__cache_file_check(opc__cache *c, opc__ebuf *eb)
{
    if (c == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    struct stat st;
    if (lstat(c->path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return opc__fail(eb, OPC_ERR_NOT_FOUND, "cache file %s was deleted", c->path);
        }
        return opc__fail(eb, OPC_ERR_IO, "cache file %s cannot be looked at: %s", c->path,
                         strerror(errno));
    }
    if (opc__cache_moved(c) || !S_ISREG(st.st_mode)) {
        return opc__fail(eb, OPC_ERR_PARSE, "cache file %s was replaced by another file", c->path);
    }
    /*
     * The header through SQLite's own descriptor (the path names the same
     * inode: not moved). Never open() and close() the file here: closing
     * any descriptor of a file drops every POSIX lock the process holds on
     * it, SQLite's included (seen: "disk I/O error" on the next reads).
     */
    sqlite3_file *f = NULL;
    char head[sizeof sqlite_magic];
    int src = sqlite3_file_control(opc__db_sqlite(c->db), "main", SQLITE_FCNTL_FILE_POINTER, &f);
    if (src != SQLITE_OK || f == NULL || f->pMethods == NULL) {
        return opc__fail(eb, OPC_ERR_IO, "cache file %s cannot be read", c->path);
    }
    src = f->pMethods->xRead(f, head, (int)sizeof head, 0);
    if (src != SQLITE_OK || memcmp(head, sqlite_magic, sizeof head) != 0) {
        /* SQLITE_IOERR_SHORT_READ: shorter than a header (the rest zeroed). */
        return opc__fail(eb, OPC_ERR_PARSE, "cache file %s was truncated or overwritten", c->path);
    }
    return OPC_OK;
}

bool opc__cache_damaged(const opc__cache *c)
{
    int src = c == NULL ? SQLITE_OK : opc__db_last_error(c->db) & 0xff;
    return src == SQLITE_CORRUPT || src == SQLITE_NOTADB;
}

bool opc__cache_full(const opc__cache *c)
{
    return c != NULL && (opc__db_last_error(c->db) & 0xff) == SQLITE_FULL;
}

void opc__cache_close_lost(opc__cache *c)
{
    if (c != NULL && c->db != NULL) {
        (void)sqlite3_db_config(opc__db_sqlite(c->db), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
                                (int *)NULL);
    }
    opc__cache_close(c);
}

opc_err opc__cache_remove(const char *path, opc__ebuf *eb)
{
    if (path == NULL || path[0] == '\0') {
        return OPC_ERR_INVALID_ARG;
    }
    static const char *const suffix[] = {"-wal", "-shm", "-journal", ""};
    char name[PATH_MAX];
    /* The side files first: a main file without them is a plain old file. */
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        int n = snprintf(name, sizeof name, "%s%s", path, suffix[i]);
        if (n < 0 || (size_t)n >= sizeof name) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: path too long");
        }
        if (unlink(name) != 0 && errno != ENOENT && errno != ENOTDIR) {
            return opc__fail(eb, OPC_ERR_IO, "cannot remove %s: %s", name, strerror(errno));
        }
    }
    return OPC_OK;
}

/* ---- transactions ---- */

opc_err opc__cache_begin(opc__cache *c, bool write, opc__ebuf *eb)
{
    if (c == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (write && !c->writable) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache opened read-only");
    }
    return opc__db_begin(c->db, write, eb);
}

opc_err opc__cache_commit(opc__cache *c, opc__ebuf *eb)
{
    if (c == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: no transaction open");
    }
    /* A transaction that changed sealed state seals it before it ends. */
    if (c->seal_due && opc__db_in_tx(c->db)) {
        opc_err rc = opc__cache_seal(c, eb);
        if (rc != OPC_OK) {
            opc__cache_rollback(c);
            return rc;
        }
    }
    c->seal_due = false;
    return opc__db_commit(c->db, eb);
}

void opc__cache_rollback(opc__cache *c)
{
    if (c != NULL) {
        c->seal_due = false;
        opc__db_rollback(c->db);
    }
}

opc_err opc__cache_sealed_begin(opc__cache *c, bool *own, opc__ebuf *eb)
{
    *own = false;
    if (!c->keyed) {
        return OPC_OK;
    }
    if (!opc__db_in_tx(c->db)) {
        opc_err rc = opc__cache_begin(c, true, eb);
        if (rc != OPC_OK) {
            return rc;
        }
        *own = true;
    }
    c->seal_due = true;
    return OPC_OK;
}

opc_err opc__cache_sealed_end(opc__cache *c, bool own, opc_err rc, opc__ebuf *eb)
{
    return own ? opc__cache_end(c, rc, eb) : rc;
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
        out->change_seq = sqlite3_column_int64(st, 8);
        out->gone_floor = sqlite3_column_int64(st, 9);
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
    bool own = false;
    rc = opc__cache_sealed_begin(c, &own, eb);
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_SET_IDS, &st, eb, "tt", server_id, account_id);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    return opc__cache_sealed_end(c, own, rc, eb);
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
    bool own = false;
    rc = opc__cache_sealed_begin(c, &own, eb);
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_SET_CURSOR, &st, eb, "i", cursor);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    return opc__cache_sealed_end(c, own, rc, eb);
}

opc_err opc__cache_set_initial_sync_complete(opc__cache *c, bool isdone, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    bool own = false;
    rc = opc__cache_sealed_begin(c, &own, eb);
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_SET_INITIAL, &st, eb, "i", (int64_t)(isdone ? 1 : 0));
    }
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    return opc__cache_sealed_end(c, own, rc, eb);
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
    bool own = false;
    rc = opc__cache_sealed_begin(c, &own, eb);
    if (rc == OPC_OK) {
        rc = opc__db_exec(
            c->db,
            "DELETE FROM issuer_keys; DELETE FROM vault_access; DELETE FROM vaults;"
            " DELETE FROM items; DELETE FROM files; DELETE FROM tokens;"
            " UPDATE meta SET feed_cursor = 0, initial_sync_complete = 0 WHERE one = 1;",
            eb);
    }
    return opc__cache_sealed_end(c, own, rc, eb);
}

/* ---- rows ---- */

/*
 * The row readers: borrowed columns into a row struct (its strings valid
 * until the statement is stepped or reset).
 */
static void read_issuer_key(sqlite3_stmt *st, void *row)
{
    opc__cache_issuer_key *k = row;
    col_id(st, 0, k->kid);
    k->jwk = col_borrow(st, 1);
    k->seq = sqlite3_column_int64(st, 2);
}

static void read_access(sqlite3_stmt *st, void *row)
{
    opc__cache_access *a = row;
    col_id(st, 0, a->vault);
    a->key_sn = sqlite3_column_int64(st, 1);
    a->enc_key = col_borrow(st, 2);
    a->acl = sqlite3_column_int64(st, 3);
    a->granted = sqlite3_column_int64(st, 4);
    a->grant_sig = col_borrow(st, 5);
    a->seq = sqlite3_column_int64(st, 6);
}

static void read_vault(sqlite3_stmt *st, void *row)
{
    opc__cache_vault *v = row;
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

static void read_item(sqlite3_stmt *st, void *row)
{
    opc__cache_item *it = row;
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

static void read_token(sqlite3_stmt *st, void *row)
{
    opc__cache_token *t = row;
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

static void read_chunk(sqlite3_stmt *st, void *row)
{
    opc__cache_chunk *ch = row;
    col_id(st, 0, ch->file);
    col_id(st, 1, ch->item);
    col_id(st, 2, ch->vault);
    ch->idx = sqlite3_column_int64(st, 3);
    ch->blob = sqlite3_column_blob(st, 4);
    ch->len = (size_t)sqlite3_column_bytes(st, 4);
}

/* A table's rows: how one is read, and which of its strings a getter copies. */
typedef struct row_kind {
    const char *what; /* "cache: no such <what>" */
    size_t size;
    void (*read)(sqlite3_stmt *st, void *row);
    size_t n_owned;
    size_t owned[3]; /* offsets of the char * members */
    /* Verified rows (cache.h): the MAC of a row and its column; else NULL. */
    opc_err (*mac)(const uint8_t key[OPC_CACHE_MAC_LEN], const void *row,
                   uint8_t out[OPC_CACHE_MAC_LEN]);
    int mac_col;
} row_kind;

static opc_err mac_issuer_key(const uint8_t key[OPC_CACHE_MAC_LEN], const void *row,
                              uint8_t out[OPC_CACHE_MAC_LEN])
{
    return opc__cache_mac_issuer_key(key, row, out);
}

static opc_err mac_access(const uint8_t key[OPC_CACHE_MAC_LEN], const void *row,
                          uint8_t out[OPC_CACHE_MAC_LEN])
{
    return opc__cache_mac_access(key, row, out);
}

static opc_err mac_token(const uint8_t key[OPC_CACHE_MAC_LEN], const void *row,
                         uint8_t out[OPC_CACHE_MAC_LEN])
{
    return opc__cache_mac_token(key, row, out);
}

static const row_kind issuer_key_rows = {"issuer key",
                                         sizeof(opc__cache_issuer_key),
                                         read_issuer_key,
                                         1,
                                         {offsetof(opc__cache_issuer_key, jwk)},
                                         mac_issuer_key,
                                         IK_MAC_COL};
static const row_kind access_rows = {
    "vault grant",
    sizeof(opc__cache_access),
    read_access,
    2,
    {offsetof(opc__cache_access, enc_key), offsetof(opc__cache_access, grant_sig)},
    mac_access,
    AC_MAC_COL};
static const row_kind vault_rows = {
    "vault",
    sizeof(opc__cache_vault),
    read_vault,
    2,
    {offsetof(opc__cache_vault, type), offsetof(opc__cache_vault, attrs)},
    NULL,
    0};
static const row_kind item_rows = {"item",
                                   sizeof(opc__cache_item),
                                   read_item,
                                   3,
                                   {offsetof(opc__cache_item, state),
                                    offsetof(opc__cache_item, overview),
                                    offsetof(opc__cache_item, details)},
                                   NULL,
                                   0};
static const row_kind token_rows = {"token",
                                    sizeof(opc__cache_token),
                                    read_token,
                                    3,
                                    {offsetof(opc__cache_token, name),
                                     offsetof(opc__cache_token, scopes),
                                     offsetof(opc__cache_token, state)},
                                    mac_token,
                                    T_MAC_COL};
static const row_kind chunk_rows = {
    "file chunk", sizeof(opc__cache_chunk), read_chunk, 0, {0}, NULL, 0};

/*
 * A read row of a verified kind (cache.h, "Verified rows"): true when the
 * handle has no key, the kind is not verified, or its MAC column holds.
 */
static opc_err row_verified(const opc__cache *c, const row_kind *k, sqlite3_stmt *st,
                            const void *row, bool *ok)
{
    *ok = true;
    if (!c->keyed || k->mac == NULL) {
        return OPC_OK;
    }
    uint8_t want[OPC_CACHE_MAC_LEN];
    opc_err rc = k->mac(c->key, row, want);
    if (rc == OPC_OK) {
        *ok = opc__cache_mac_equal(want, sqlite3_column_blob(st, k->mac_col),
                                   (size_t)sqlite3_column_bytes(st, k->mac_col));
    }
    OPENSSL_cleanse(want, sizeof want);
    return rc;
}

static char **member(const row_kind *k, void *row, size_t i)
{
    return (char **)(void *)((unsigned char *)row + k->owned[i]);
}

/* Free a row's owned strings and zero it (NULL is a no-op). */
static void clear_row(const row_kind *k, void *row)
{
    if (row != NULL) {
        for (size_t i = 0; i < k->n_owned; i++) {
            opc__free(*member(k, row, i));
        }
        memset(row, 0, k->size);
    }
}

void opc__cache_issuer_key_clear(opc__cache_issuer_key *k)
{
    clear_row(&issuer_key_rows, k);
}

void opc__cache_access_clear(opc__cache_access *a)
{
    clear_row(&access_rows, a);
}

void opc__cache_vault_clear(opc__cache_vault *v)
{
    clear_row(&vault_rows, v);
}

void opc__cache_item_clear(opc__cache_item *it)
{
    clear_row(&item_rows, it);
}

void opc__cache_token_clear(opc__cache_token *t)
{
    clear_row(&token_rows, t);
}

/*
 * Turn the borrowed strings of a row into owned copies (NULL stays NULL).
 * On failure the strings not copied yet are dropped and the row cleared:
 * no copy leaks, the row is zeroed.
 */
static bool own_row(const row_kind *k, void *row)
{
    for (size_t i = 0; i < k->n_owned; i++) {
        char **f = member(k, row, i);
        if (*f != NULL && (*f = opc__strdup(*f)) == NULL) {
            for (size_t j = i + 1; j < k->n_owned; j++) {
                *member(k, row, j) = NULL;
            }
            clear_row(k, row);
            return false;
        }
    }
    return true;
}

/*
 * Getters: statement id bound by fmt, one row read into out and made owned.
 * No row: OPC_ERR_NOT_FOUND "cache: no such <what>".
 */
static opc_err get_row(opc__cache *c, const row_kind *k, void *out, int id, opc__ebuf *eb,
                       const char *fmt, const char *a1, const char *a2)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, id, &st, eb, fmt, a1, a2);
    bool row = false;
    if (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &row, eb);
    }
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "cache: no such %s", k->what);
    }
    bool verified = true;
    if (rc == OPC_OK) {
        k->read(st, out);
        rc = row_verified(c, k, st, out, &verified);
    }
    if (rc == OPC_OK && !verified) {
        /* A row that fails its MAC is no row (cache.h, "Verified rows"). */
        memset(out, 0, k->size);
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "cache: no such %s", k->what);
    } else if (rc == OPC_OK && !own_row(k, out)) {
        rc = OPC_ERR_NOMEM;
    } else if (rc != OPC_OK) {
        memset(out, 0, k->size);
    }
    opc__cache_done(st);
    return rc;
}

/* The walkers' callback, whichever its row type. */
typedef struct walker {
    const row_kind *kind;
    union {
        opc__cache_issuer_key_fn issuer_key;
        opc__cache_access_fn access;
        opc__cache_vault_fn vault;
        opc__cache_item_fn item;
        opc__cache_chunk_fn chunk;
        opc__cache_token_fn token;
    } fn;
    void *ud;
} walker;

/* Hand one row (borrowed) to the walker's callback. */
static opc_err visit(const walker *w, const void *row)
{
    if (w->kind == &issuer_key_rows) {
        return w->fn.issuer_key(row, w->ud);
    }
    if (w->kind == &access_rows) {
        return w->fn.access(row, w->ud);
    }
    if (w->kind == &vault_rows) {
        return w->fn.vault(row, w->ud);
    }
    if (w->kind == &item_rows) {
        return w->fn.item(row, w->ud);
    }
    if (w->kind == &chunk_rows) {
        return w->fn.chunk(row, w->ud);
    }
    return w->fn.token(row, w->ud);
}

/*
 * Walkers: statement id bound by fmt (at most one text argument), each row
 * read (borrowed) and handed to the callback until it returns an error.
 */
static opc_err walk(opc__cache *c, const walker *w, int id, opc__ebuf *eb, const char *fmt,
                    const char *arg)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, id, &st, eb, fmt, arg);
    bool row = true;
    while (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        union {
            opc__cache_issuer_key k;
            opc__cache_access a;
            opc__cache_vault v;
            opc__cache_item it;
            opc__cache_chunk ch;
            opc__cache_token t;
        } r;
        memset(&r, 0, sizeof r);
        w->kind->read(st, &r);
        bool verified = true;
        rc = row_verified(c, w->kind, st, &r, &verified);
        if (rc == OPC_OK && verified) {
            rc = visit(w, &r);
        }
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_row_check(opc__cache *c, int stmt, sqlite3_stmt *st, bool *ok,
                             char id[OPC_ID_LEN + 1])
{
    const row_kind *k = NULL;
    if (stmt == S_IK_ALL || stmt == S_IK_GET) {
        k = &issuer_key_rows;
    } else if (stmt == S_T_ALL || stmt == S_T_GET) {
        k = &token_rows;
    } else if (stmt == S_AC_ALL || stmt == S_AC_GET) {
        k = &access_rows;
    } else {
        return OPC_ERR_INTERNAL;
    }
    union {
        opc__cache_issuer_key k;
        opc__cache_access a;
        opc__cache_token t;
    } r;
    memset(&r, 0, sizeof r);
    k->read(st, &r);
    /* Every verified kind starts with its key. */
    col_id(st, 0, id);
    return row_verified(c, k, st, &r, ok);
}

/* ---- readers ---- */

opc_err opc__cache_issuer_keys_foreach(opc__cache *c, opc__cache_issuer_key_fn fn, void *ud,
                                       opc__ebuf *eb)
{
    walker w = {&issuer_key_rows, {.issuer_key = fn}, ud};
    return c == NULL || fn == NULL ? OPC_ERR_INVALID_ARG : walk(c, &w, S_IK_ALL, eb, "", NULL);
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
    return get_row(c, &issuer_key_rows, out, S_IK_GET, eb, "t", kid, NULL);
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
    return get_row(c, &access_rows, out, S_AC_GET, eb, "t", vault, NULL);
}

opc_err opc__cache_access_foreach(opc__cache *c, opc__cache_access_fn fn, void *ud, opc__ebuf *eb)
{
    walker w = {&access_rows, {.access = fn}, ud};
    return c == NULL || fn == NULL ? OPC_ERR_INVALID_ARG : walk(c, &w, S_AC_ALL, eb, "", NULL);
}

opc_err opc__cache_vaults_foreach(opc__cache *c, opc__cache_vault_fn fn, void *ud, opc__ebuf *eb)
{
    walker w = {&vault_rows, {.vault = fn}, ud};
    return c == NULL || fn == NULL ? OPC_ERR_INVALID_ARG : walk(c, &w, S_V_ALL, eb, "", NULL);
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
    return get_row(c, &vault_rows, out, S_V_GET, eb, "t", vault, NULL);
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
    walker w = {&item_rows, {.item = fn}, ud};
    return walk(c, &w, with_details ? S_I_ALL_DETAILS : S_I_ALL, eb, "t", vault);
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
    return get_row(c, &item_rows, out, S_I_GET, eb, "tt", item, vault);
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
    walker w = {&chunk_rows, {.chunk = fn}, ud};
    return walk(c, &w, S_F_CHUNKS, eb, "t", file);
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
    return get_row(c, &token_rows, out, S_T_GET, eb, "t", jti, NULL);
}

opc_err opc__cache_tokens_foreach(opc__cache *c, opc__cache_token_fn fn, void *ud, opc__ebuf *eb)
{
    walker w = {&token_rows, {.token = fn}, ud};
    return c == NULL || fn == NULL ? OPC_ERR_INVALID_ARG : walk(c, &w, S_T_ALL, eb, "", NULL);
}

opc_err opc__cache_items_changed_foreach(opc__cache *c, int64_t since, opc__cache_item_fn fn,
                                         void *ud, opc__ebuf *eb)
{
    if (c == NULL || fn == NULL || since < 0) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_I_CHANGED, &st, eb, "i", since);
    bool row = true;
    while (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        opc__cache_item it;
        memset(&it, 0, sizeof it);
        read_item(st, &it);
        rc = fn(&it, ud);
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_gone_foreach(opc__cache *c, int64_t since, opc__cache_gone_fn fn, void *ud,
                                opc__ebuf *eb)
{
    if (c == NULL || fn == NULL || since < 0) {
        return OPC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_GONE, &st, eb, "i", since);
    bool row = true;
    while (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char vault[OPC_ID_LEN + 1];
        char id[OPC_ID_LEN + 1];
        col_id(st, 0, vault);
        col_id(st, 1, id);
        rc = fn(vault, id, ud);
    }
    opc__cache_done(st);
    return rc;
}
