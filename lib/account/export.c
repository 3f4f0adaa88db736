/*
 * account/export.c - raw state rows for a Connect server (export.h).
 */
#include "internal.h"

#include <string.h>

#include "account/account_int.h"
#include "account/export.h"
#include "wire/rows.h"

/* A vault the server ?1 holds a grant for. */
#define GRANTED(col)                                                                               \
    "EXISTS (SELECT 1 FROM vault_access g WHERE g.vault_id = " col                                 \
    " AND g.accessor_type = 'server' AND g.accessor_id = ?1)"

#define ITEM_COLS                                                                                  \
    "i.id, i.vault_id, i.version, i.state, i.key_sn, i.overview, i.details, i.created,"            \
    " i.updated, upper(COALESCE(i.editor, (SELECT id FROM account))) AS last_edited_by, i.seq"
#define VAULT_COLS                                                                                 \
    "v.id, v.type, v.key_sn, v.attrs, v.attr_version, v.content_version, v.items, v.created,"      \
    " v.updated, v.seq"
#define FILE_COLS "f.file_id, f.idx, f.item_id, i.vault_id, f.blob"

/*
 * The statements, prepared once per handle (the account's statement table,
 * opc__acct_stmt): connect-sync reads an item and its files per feed entry,
 * and preparing them anew each time cost more than running them.
 */
const char *const opc__acct_export_sql[OPC__ACCT_EXPORT_N] = {
    [OPC__AX_ISSUER_KEY] = "SELECT kid, jwk, seq FROM issuer_keys WHERE kid = ?1",
    [OPC__AX_ACCESS] =
        "SELECT vault_id, key_sn, enc_key, acl, granted, grant_sig, seq FROM vault_access"
        " WHERE accessor_type = 'server' AND accessor_id = ?1 AND vault_id = ?2",
    [OPC__AX_VAULT] = "SELECT " VAULT_COLS " FROM vaults v WHERE v.id = ?2 AND " GRANTED("v.id"),
    [OPC__AX_ITEM] = "SELECT " ITEM_COLS " FROM items i WHERE i.id = ?2"
               " AND i.state = 'active' AND " GRANTED("i.vault_id"),
    /*
     * Pages: keyset paging by the order's key (:after, :idx), at most :limit
     * rows. A vault's items walk the primary key from :after (the unary +
     * keeps SQLite off items_vault, which is not in id order: through it
     * every page read and sorted all the vault's rows, quadratic in its size).
     * Named parameters take the next free number where they first appear:
     * ?1 and ?2 must come first.
     */
    [OPC__AX_VAULT_ITEMS] = "SELECT " ITEM_COLS " FROM items i WHERE +i.vault_id = ?2"
                            " AND i.id > :after AND i.state = 'active' AND " GRANTED("i.vault_id")
                            " ORDER BY i.id LIMIT :limit",
    [OPC__AX_ITEM_FILES] =
        "SELECT " FILE_COLS " FROM files f JOIN items i ON i.id = f.item_id WHERE f.item_id = ?2"
        " AND (f.file_id > :after OR (f.file_id = :after AND f.idx > :idx))"
        " AND i.state = 'active' AND " GRANTED("i.vault_id") " ORDER BY f.file_id, f.idx"
        " LIMIT :limit",
    /* A granted vault's chunks, items :after to :upto, by (item, file, idx). */
    [OPC__AX_VAULT_FILES] =
        "SELECT " FILE_COLS " FROM files f JOIN items i ON i.id = f.item_id WHERE +i.vault_id = ?2"
        " AND f.item_id >= :after AND f.item_id <= :upto"
        " AND (f.item_id > :after OR f.file_id > :file OR (f.file_id = :file AND f.idx > :idx))"
        " AND i.state = 'active' AND " GRANTED("i.vault_id")
        " ORDER BY f.item_id, f.file_id, f.idx LIMIT :limit",
    /* Unscoped, any state: rows a server write returns (the caller checked the grant). */
    [OPC__AX_VAULT_ROW] = "SELECT " VAULT_COLS " FROM vaults v WHERE v.id = ?1",
    [OPC__AX_ITEM_ROW] = "SELECT " ITEM_COLS " FROM items i WHERE i.id = ?1",
    [OPC__AX_TOKEN] =
        "SELECT jti, server_id, name, scopes, created, COALESCE(expires, 0) AS expires, state,"
        " updated, seq FROM tokens WHERE server_id = ?1 AND jti = ?2",
    [OPC__AX_DEVICE_KEY] = "SELECT device_pub FROM servers WHERE id = ?1 AND state = 'active'",
};

/* ---- the current row as its message (wire/rows.h), column by column ---- */

typedef opc_err (*row_enc)(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb);

/* A text column, borrowed (NULL for SQL NULL; valid until the next step). */
static char *col_text(sqlite3_stmt *st, int i)
{
    return (char *)(uintptr_t)sqlite3_column_text(st, i);
}

/* An id-sized text column ("" when NULL or longer: the encoder refuses it). */
static void col_id(sqlite3_stmt *st, int i, char out[OPC_ID_LEN + 1])
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    size_t n = v == NULL ? 0 : strlen(v);
    n = n > OPC_ID_LEN ? 0 : n;
    if (n > 0) {
        memcpy(out, v, n);
    }
    out[n] = '\0';
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

/* kid, jwk, seq */
static opc_err enc_issuer_key(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb)
{
    opc__wire_issuer_key r = {.jwk = col_text(st, 1), .seq = col_int(st, 2)};
    col_id(st, 0, r.kid);
    return opc__wire_issuer_key_encode(&r, out, eb);
}

/* vault_id, key_sn, enc_key, acl, granted, grant_sig, seq */
static opc_err enc_access(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb)
{
    opc__wire_access r = {.key_sn = col_int(st, 1),
                          .enc_key = col_text(st, 2),
                          .acl = col_int(st, 3),
                          .granted = col_int(st, 4),
                          .grant_sig = col_text(st, 5),
                          .seq = col_int(st, 6)};
    col_id(st, 0, r.vault);
    return opc__wire_access_encode(&r, out, eb);
}

/* VAULT_COLS */
static opc_err enc_vault(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb)
{
    opc__wire_vault r = {.type = col_text(st, 1),
                         .key_sn = col_int(st, 2),
                         .attrs = col_text(st, 3),
                         .attr_version = col_int(st, 4),
                         .content_version = col_int(st, 5),
                         .items = col_int(st, 6),
                         .created = col_int(st, 7),
                         .updated = col_int(st, 8),
                         .seq = col_int(st, 9)};
    col_id(st, 0, r.id);
    return opc__wire_vault_encode(&r, out, eb);
}

/* ITEM_COLS */
static opc_err enc_item(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb)
{
    opc__wire_item r = {.version = col_int(st, 2),
                        .state = col_text(st, 3),
                        .key_sn = col_int(st, 4),
                        .overview = col_text(st, 5),
                        .details = col_text(st, 6),
                        .created = col_int(st, 7),
                        .updated = col_int(st, 8),
                        .seq = col_int(st, 10)};
    col_id(st, 0, r.id);
    col_id(st, 1, r.vault);
    col_id(st, 9, r.last_edited_by);
    return opc__wire_item_encode(&r, out, eb);
}

/* FILE_COLS */
static opc_err enc_chunk(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb)
{
    opc__wire_chunk r = {.idx = col_int(st, 1),
                         .blob = sqlite3_column_blob(st, 4),
                         .len = (size_t)sqlite3_column_bytes(st, 4)};
    col_id(st, 0, r.file);
    col_id(st, 2, r.item);
    col_id(st, 3, r.vault);
    return opc__wire_chunk_encode(&r, out, eb);
}

/* jti, server_id, name, scopes, created, expires, state, updated, seq */
static opc_err enc_token(sqlite3_stmt *st, cJSON **out, opc__ebuf *eb)
{
    opc__wire_token r = {.name = col_text(st, 2),
                         .scopes = col_text(st, 3),
                         .created = col_int(st, 4),
                         .expires = col_int(st, 5),
                         .state = col_text(st, 6),
                         .updated = col_int(st, 7),
                         .seq = col_int(st, 8)};
    col_id(st, 0, r.jti);
    col_id(st, 1, r.server);
    return opc__wire_token_encode(&r, out, eb);
}

/*
 * A page of a many-row query: the rows after (after, idx) in its order, at
 * most limit; a vault's chunks: after (after, file, idx), items up to upto.
 */
typedef struct page {
    const char *after;
    int64_t idx;
    int64_t limit;
    const char *file;
    const char *upto;
} page;

/* Bind the page's named parameters the statement has (:after, :file, :idx, :upto, :limit). */
static int bind_page(sqlite3_stmt *st, const page *pg)
{
    int i = sqlite3_bind_parameter_index(st, ":after");
    int src = i > 0 ? sqlite3_bind_text(st, i, pg->after, -1, SQLITE_STATIC) : SQLITE_OK;
    i = sqlite3_bind_parameter_index(st, ":file");
    if (src == SQLITE_OK && i > 0) {
        src = sqlite3_bind_text(st, i, pg->file != NULL ? pg->file : "", -1, SQLITE_STATIC);
    }
    i = sqlite3_bind_parameter_index(st, ":upto");
    if (src == SQLITE_OK && i > 0) {
        src = sqlite3_bind_text(st, i, pg->upto != NULL ? pg->upto : "", -1, SQLITE_STATIC);
    }
    i = sqlite3_bind_parameter_index(st, ":idx");
    if (src == SQLITE_OK && i > 0) {
        src = sqlite3_bind_int64(st, i, pg->idx);
    }
    i = sqlite3_bind_parameter_index(st, ":limit");
    if (src == SQLITE_OK && i > 0) {
        src = sqlite3_bind_int64(st, i, pg->limit);
    }
    return src;
}

/*
 * Inside the caller's transaction: run sql with ?1 = p1 and ?2 = p2 (either
 * may be NULL: not bound). many: *out is an array of every row of page pg;
 * else the one row (none: OPC_ERR_NOT_FOUND naming `what`).
 */
static opc_err rows(opc_account *a, opc__acct_export_id sql, row_enc enc, const char *p1,
                    const char *p2, const page *pg, const char *what, cJSON **out, opc__ebuf *eb)
{
    *out = NULL;
    bool many = pg != NULL;
    sqlite3_stmt *st = NULL;
    cJSON *arr = many ? cJSON_CreateArray() : NULL;
    cJSON *one = NULL;
    opc_err rc = (many && arr == NULL) ? OPC_ERR_NOMEM : opc__acct_stmt(a, sql, &st, eb);
    if (rc == OPC_OK && p1 != NULL) {
        int src = sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
        rc = src == SQLITE_OK ? OPC_OK : opc__acct_sqlerr(a, src, "account file", eb);
    }
    if (rc == OPC_OK && p2 != NULL) {
        int src = sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
        rc = src == SQLITE_OK ? OPC_OK : opc__acct_sqlerr(a, src, "account file", eb);
    }
    if (rc == OPC_OK && many) {
        int src = bind_page(st, pg);
        rc = src == SQLITE_OK ? OPC_OK : opc__acct_sqlerr(a, src, "account file", eb);
    }
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        cJSON *o = NULL;
        opc__ebuf why;
        opc__ebuf_clear(&why);
        rc = enc(st, &o, &why);
        if (rc != OPC_OK) {
            /* A row the protocol cannot carry is the file's fault, not the caller's. */
            rc = opc__fail(eb, rc == OPC_ERR_INVALID_ARG ? OPC_ERR_PARSE : rc, "account file: %s",
                           why.msg[0] != '\0' ? why.msg : opc_strerror(rc));
            break;
        }
        if (!many) {
            one = o;
            break;
        }
        cJSON_AddItemToArray(arr, o);
    }
    opc__db_done(st);
    if (rc == OPC_OK && !many && one == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such %s", what);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(arr);
        cJSON_Delete(one);
        return rc;
    }
    *out = many ? arr : one;
    return OPC_OK;
}

/* rows() in a read snapshot of its own, as a public call (errmsg on the handle). */
static opc_err query(opc_account *a, opc__acct_export_id sql, row_enc enc, const char *p1, const char *p2,
                     const page *pg, const char *what, cJSON **out)
{
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out == NULL || (p1 == NULL && p2 == NULL)) {
        return opc__acct_finish(a, opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument"), &eb);
    }
    if (pg != NULL && (pg->limit < 1 || pg->limit > OPC_EXPORT_MAX_LIMIT)) {
        return opc__acct_finish(a, opc__fail(&eb, OPC_ERR_RANGE, "page size out of range"), &eb);
    }
    *out = NULL;
    opc_err rc = opc__acct_begin(a, false, &eb);
    if (rc != OPC_OK) {
        return opc__acct_finish(a, rc, &eb);
    }
    cJSON *res = NULL;
    rc = opc__acct_end(a, rows(a, sql, enc, p1, p2, pg, what, &res, &eb), &eb);
    if (rc != OPC_OK) {
        cJSON_Delete(res);
        return opc__acct_finish(a, rc, &eb);
    }
    *out = res;
    return opc__acct_finish(a, OPC_OK, &eb);
}

opc_err opc__acct_export_item_row(opc_account *a, const char *item_id, cJSON **out, opc__ebuf *eb)
{
    return rows(a, OPC__AX_ITEM_ROW, enc_item, item_id, NULL, NULL, "item", out, eb);
}

opc_err opc__acct_export_vault_row(opc_account *a, const char *vault_id, cJSON **out, opc__ebuf *eb)
{
    return rows(a, OPC__AX_VAULT_ROW, enc_vault, vault_id, NULL, NULL, "vault", out, eb);
}

opc_err opc__account_open_export(const char *path, opc_account **out, opc__ebuf *eb)
{
    opc_err rc = opc__account_open_ex(path, 1, out, eb);
    if (rc == OPC_OK) {
        (*out)->min_iterations = UINT32_MAX;
    }
    return rc;
}

opc_err opc__account_export_issuer_key(opc_account *a, const char *kid, cJSON **out)
{
    return query(a, OPC__AX_ISSUER_KEY, enc_issuer_key, kid, NULL, NULL, "issuer key", out);
}

opc_err opc__account_export_access(opc_account *a, const char *server_id, const char *vault_id,
                                   cJSON **out)
{
    if (server_id == NULL || vault_id == NULL) {
        return query(a, OPC__AX_ACCESS, enc_access, NULL, NULL, NULL, "grant", out);
    }
    return query(a, OPC__AX_ACCESS, enc_access, server_id, vault_id, NULL, "grant", out);
}

opc_err opc__account_export_vault(opc_account *a, const char *server_id, const char *vault_id,
                                  cJSON **out)
{
    if (server_id == NULL || vault_id == NULL) {
        return query(a, OPC__AX_VAULT, enc_vault, NULL, NULL, NULL, "vault", out);
    }
    return query(a, OPC__AX_VAULT, enc_vault, server_id, vault_id, NULL, "vault", out);
}

opc_err opc__account_export_item(opc_account *a, const char *server_id, const char *item_id,
                                 cJSON **out)
{
    if (server_id == NULL || item_id == NULL) {
        return query(a, OPC__AX_ITEM, enc_item, NULL, NULL, NULL, "item", out);
    }
    return query(a, OPC__AX_ITEM, enc_item, server_id, item_id, NULL, "item", out);
}

opc_err opc__account_export_vault_items(opc_account *a, const char *server_id, const char *vault_id,
                                        const char *after_id, size_t limit, cJSON **out)
{
    page pg = {after_id == NULL ? "" : after_id, 0, (int64_t)limit, NULL, NULL};
    if (server_id == NULL || vault_id == NULL) {
        return query(a, OPC__AX_VAULT_ITEMS, enc_item, NULL, NULL, &pg, "vault", out);
    }
    return query(a, OPC__AX_VAULT_ITEMS, enc_item, server_id, vault_id, &pg, "vault", out);
}

opc_err opc__account_export_item_files(opc_account *a, const char *server_id, const char *item_id,
                                       const char *after_file, int64_t after_idx, size_t limit,
                                       cJSON **out)
{
    page pg = {after_file == NULL ? "" : after_file, after_idx, (int64_t)limit, NULL, NULL};
    if (server_id == NULL || item_id == NULL) {
        return query(a, OPC__AX_ITEM_FILES, enc_chunk, NULL, NULL, &pg, "item", out);
    }
    return query(a, OPC__AX_ITEM_FILES, enc_chunk, server_id, item_id, &pg, "item", out);
}

opc_err opc__account_export_vault_files(opc_account *a, const char *server_id,
                                        const char *vault_id, const char *after_item,
                                        const char *after_file, int64_t after_idx,
                                        const char *last_item, size_t limit, cJSON **out)
{
    page pg = {after_item == NULL ? "" : after_item, after_idx, (int64_t)limit,
               after_file == NULL ? "" : after_file, last_item == NULL ? "" : last_item};
    if (server_id == NULL || vault_id == NULL) {
        return query(a, OPC__AX_VAULT_FILES, enc_chunk, NULL, NULL, &pg, "vault", out);
    }
    return query(a, OPC__AX_VAULT_FILES, enc_chunk, server_id, vault_id, &pg, "vault", out);
}

opc_err opc__account_export_token(opc_account *a, const char *server_id, const char *jti,
                                  cJSON **out)
{
    if (server_id == NULL || jti == NULL) {
        return query(a, OPC__AX_TOKEN, enc_token, NULL, NULL, NULL, "token", out);
    }
    return query(a, OPC__AX_TOKEN, enc_token, server_id, jti, NULL, "token", out);
}

opc_err opc__account_device_key_parse(const char *jwk, const char *server_id, opc__key **out,
                                      opc__ebuf *eb)
{
    *out = NULL;
    opc__key *k = NULL;
    opc_err rc = opc__jwk_parse(jwk, strlen(jwk), OPC_JWK_PUBLIC_ONLY, &k, NULL);
    if (rc == OPC_OK && (opc__key_type(k) != OPC_KTY_EC ||
                         opc__key_check(k, OPC_KTY_EC, OPC_KEYOP_VERIFY, NULL) != OPC_OK)) {
        rc = OPC_ERR_KEY;
    }
    if (rc != OPC_OK) {
        opc__key_free(k);
        return rc == OPC_ERR_NOMEM
                   ? rc
                   : opc__fail(eb, OPC_ERR_KEY, "server %s: malformed device key", server_id);
    }
    *out = k;
    return OPC_OK;
}

opc_err opc__account_export_device_key(opc_account *a, const char *server_id, opc__key **out)
{
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (server_id == NULL || out == NULL) {
        return opc__acct_finish(a, opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument"), &eb);
    }
    *out = NULL;
    sqlite3_stmt *st = NULL;
    bool row = false;
    opc_err rc = opc__acct_begin(a, false, &eb);
    if (rc != OPC_OK) {
        return opc__acct_finish(a, rc, &eb);
    }
    rc = opc__acct_stmt(a, OPC__AX_DEVICE_KEY, &st, &eb);
    if (rc == OPC_OK) {
        int src = sqlite3_bind_text(st, 1, server_id, -1, SQLITE_STATIC);
        rc = src == SQLITE_OK ? OPC_OK : opc__acct_sqlerr(a, src, "account file", &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_step(a, st, &row, &eb);
    }
    const char *jwk = rc == OPC_OK && row ? opc__acct_col_str(st, 0) : NULL;
    if (rc == OPC_OK && (!row || jwk == NULL || jwk[0] == '\0')) {
        rc = opc__fail(&eb, OPC_ERR_NOT_FOUND, "server %s is not an active server", server_id);
    }
    opc__key *k = NULL;
    if (rc == OPC_OK && jwk != NULL) {
        rc = opc__account_device_key_parse(jwk, server_id, &k, &eb);
    }
    opc__db_done(st);
    rc = opc__acct_end(a, rc, &eb);
    if (rc != OPC_OK) {
        opc__key_free(k);
        return opc__acct_finish(a, rc, &eb);
    }
    *out = k;
    return opc__acct_finish(a, OPC_OK, &eb);
}

opc_err opc__account_upstream_code(opc_err rc, bool write)
{
    switch (rc) {
    case OPC_OK:
    case OPC_ERR_NOT_FOUND:
    case OPC_ERR_NOMEM:
    case OPC_ERR_INVALID_ARG:
        return rc;
    case OPC_ERR_CONFLICT:
    case OPC_ERR_EXISTS:
    case OPC_ERR_PERMISSION:
    case OPC_ERR_PARSE:
    case OPC_ERR_TOO_LARGE:
    case OPC_ERR_RANGE:
        return write ? rc : OPC_ERR_IO;
    default:
        return OPC_ERR_IO;
    }
}
