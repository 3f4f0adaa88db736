/*
 * account/rows.c - the table of named statements (rows.h) and the checks a
 * store runs on a request before it runs it. The table is the whole of
 * what the owner's code may ask of a store; docs/protocol.md lists it.
 * Statements are added module by module as each is converted (the order is
 * in docs/protocol.md).
 */
#include "internal.h"

#include <string.h>

#include "account/account_int.h"
#include "account/rows.h"
#include "core/json.h"

/* The columns of a token row, as token.get and token.list give them. */
#define TOKEN_COLS "jti, server_id, name, scopes, created, expires, state, seq"
#define TOKEN_TYPES "ttttiIti"

/* vault.get and vault.list's row (below); ?1: the owner. */
#define VAULT_SELECT                                                                               \
    "SELECT v.id, v.type, v.key_sn, v.attr_version, v.content_version, v.items, v.created, "       \
    "v.updated, v.attrs, v.seq, g.key_sn, g.enc_key, g.acl, g.granted, g.grant_sig FROM vaults "   \
    "v LEFT JOIN vault_access g ON g.vault_id = v.id AND g.accessor_type = 'owner' AND "           \
    "g.accessor_id = ?1"
#define VAULT_TYPES "ttiiiiiitiItIIT"

/* A write to a vault's items: vault.touch (vault.c) and item.vault_touch (item.c). */
#define VAULT_TOUCH                                                                                \
    "UPDATE vaults SET content_version = content_version + 1, items = items + ?, updated = ?, "    \
    "seq = ? WHERE id = ?"

static const opc__rows_stmt table[] = {
    /* ---- the account (owner.c): its one row, written once, by create ---- */
    {"account.get", OPC__ROWS_READ, "", "tttttittt",
     "SELECT id, email, skid, kdf_alg, kdf_salt, kdf_iterations, keyset_id, issuer_kid, pub_key "
     "FROM account WHERE one = 1"},
    {"account.keyset", OPC__ROWS_READ, "", "ttttt",
     "SELECT enc_sym_key, enc_pri_key, enc_spri_key, spub_key, pub_key FROM account WHERE one = 1"},
    /* The statements below are the store's own (owner.c refuses them in a
     * request: opc__account_rows_read / _batch): the SRP row is read by
     * sign-in, and the rest are the batch of create. */
    {"account.srp", OPC__ROWS_READ, "", "tt", "SELECT salt, verifier FROM owner_srp WHERE one = 1"},
    {"account.insert", OPC__ROWS_WRITE, "tttttittttttti", "",
     "INSERT INTO account (one, id, email, skid, kdf_alg, kdf_salt, kdf_iterations, keyset_id, "
     "enc_sym_key, pub_key, enc_pri_key, issuer_kid, spub_key, enc_spri_key, created) VALUES (1, "
     "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    {"account.issuer_key_insert", OPC__ROWS_WRITE, "ttiq", "",
     "INSERT INTO issuer_keys (kid, jwk, created, seq) VALUES (?, ?, ?, ?)"},
    {"account.srp_insert", OPC__ROWS_WRITE, "tti", "",
     "INSERT INTO owner_srp (one, salt, verifier, created) VALUES (1, ?, ?, ?)"},
    /* The re-key of an account made before passwords were normalised
     * (owner.c): the keyset's envelope under the new AUK, guarded by the
     * old one, and the verifier of the normalised password. */
    {"account.rekey", OPC__ROWS_WRITE, "tt", "",
     "UPDATE account SET enc_sym_key = ? WHERE one = 1 AND enc_sym_key = ?"},
    {"account.srp_rekey", OPC__ROWS_WRITE, "t", "",
     "UPDATE owner_srp SET verifier = ? WHERE one = 1"},

    /* ---- the change feed (feed.h): seq comes from the store ---- */
    {"change.append", OPC__ROWS_CHANGE, "tTTTTTTIi", "",
     "INSERT INTO changes (kind, vault_id, item_id, file_id, server_id, jti, kid, version, at) "
     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},

    /* ---- preconditions on other modules' rows (guards of token.c's batches) ---- */
    {"server.is_active", OPC__ROWS_READ, "t", "t",
     "SELECT id FROM servers WHERE id = ? AND state = 'active'"},
    {"access.server_vault", OPC__ROWS_READ, "tt", "t",
     "SELECT vault_id FROM vault_access WHERE vault_id = ? AND accessor_type = 'server' AND "
     "accessor_id = ?"},

    /* ---- tokens (token.c) ---- */
    {"token.get", OPC__ROWS_READ, "t", TOKEN_TYPES,
     "SELECT " TOKEN_COLS " FROM tokens WHERE jti = ?"},
    {"token.list", OPC__ROWS_READ, "T", TOKEN_TYPES,
     "SELECT " TOKEN_COLS " FROM tokens WHERE ?1 IS NULL OR server_id = ?1 "
     "ORDER BY name COLLATE NOCASE, name, created, jti"},
    {"token.find_jti", OPC__ROWS_READ, "tT", "t",
     "SELECT jti FROM tokens WHERE jti = ?1 AND (?2 IS NULL OR server_id = ?2)"},
    {"token.find_active_name", OPC__ROWS_READ, "tT", "t",
     "SELECT jti FROM tokens WHERE name = ?1 COLLATE NOCASE AND state = 'active' AND "
     "(?2 IS NULL OR server_id = ?2) ORDER BY jti"},
    {"token.find_name", OPC__ROWS_READ, "tT", "t",
     "SELECT jti FROM tokens WHERE name = ?1 COLLATE NOCASE AND (?2 IS NULL OR server_id = ?2) "
     "ORDER BY jti"},
    {"token.name_taken", OPC__ROWS_READ, "ttT", "t",
     "SELECT jti FROM tokens WHERE server_id = ? AND state = 'active' AND name = ? COLLATE NOCASE "
     "AND jti IS NOT ?"},
    {"token.active_by_server", OPC__ROWS_READ, "t", "ti",
     "SELECT jti, seq FROM tokens WHERE server_id = ? AND state = 'active' ORDER BY jti"},
    {"token.insert", OPC__ROWS_WRITE, "ttttiIiq", "",
     "INSERT INTO tokens (jti, server_id, name, scopes, created, expires, state, updated, seq) "
     "VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)"},
    {"token.rename", OPC__ROWS_WRITE, "tiqti", "",
     "UPDATE tokens SET name = ?, updated = ?, seq = ? WHERE jti = ? AND seq = ?"},
    {"token.revoke", OPC__ROWS_WRITE, "iqti", "",
     "UPDATE tokens SET state = 'revoked', updated = ?, seq = ? WHERE jti = ? AND seq = ? AND "
     "state = 'active'"},

    /* ---- servers (server.c) ---- */
    {"server.find_name", OPC__ROWS_READ, "t", "t",
     "SELECT id FROM servers WHERE state = 'active' AND name = ? COLLATE NOCASE ORDER BY id"},
    {"server.name_taken", OPC__ROWS_READ, "tT", "t",
     "SELECT id FROM servers WHERE state = 'active' AND name = ? COLLATE NOCASE AND id IS NOT ?"},
    /* one row per (active server, granted vault): list, get, rename and delete's version */
    {"server.show", OPC__ROWS_READ, "T", "ttiiiT",
     "SELECT s.id, s.name, s.created, s.updated, s.seq, g.vault_id FROM servers s LEFT JOIN "
     "vault_access g ON g.accessor_type = 'server' AND g.accessor_id = s.id WHERE s.state = "
     "'active' AND (?1 IS NULL OR s.id = ?1) ORDER BY s.name COLLATE NOCASE, s.name, s.id, "
     "g.vault_id"},
    {"server.record", OPC__ROWS_READ, "t", "t",
     "SELECT record FROM servers WHERE id = ? AND record IS NOT NULL"},
    {"server.enc_key", OPC__ROWS_READ, "t", "tt",
     "SELECT enc_pub, enc_sig FROM servers WHERE id = ? AND enc_pub IS NOT NULL AND enc_sig IS "
     "NOT NULL"},
    {"server.insert", OPC__ROWS_WRITE, "tttttttiiq", "",
     "INSERT INTO servers (id, name, state, device_pub, device_sig, enc_pub, enc_sig, record, "
     "created, updated, seq) VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)"},
    {"server.rename", OPC__ROWS_WRITE, "ttiqti", "",
     "UPDATE servers SET name = ?, record = ?, updated = ?, seq = ? WHERE id = ? AND seq = ? AND "
     "state = 'active'"},
    {"server.delete", OPC__ROWS_WRITE, "iqti", "",
     "UPDATE servers SET state = 'deleted', device_pub = NULL, device_sig = NULL, enc_pub = NULL, "
     "enc_sig = NULL, record = NULL, updated = ?, seq = ? WHERE id = ? AND seq = ? AND state = "
     "'active'"},
    {"access.server_grant", OPC__ROWS_READ, "tt", "i",
     "SELECT seq FROM vault_access WHERE vault_id = ? AND accessor_type = 'server' AND "
     "accessor_id = ?"},
    {"access.server_grants", OPC__ROWS_READ, "TT", "tt",
     "SELECT vault_id, accessor_id FROM vault_access WHERE accessor_type = 'server' AND (?1 IS "
     "NULL OR vault_id = ?1) AND (?2 IS NULL OR accessor_id = ?2) ORDER BY vault_id, "
     "accessor_id"},
    /* inserts only while the vault's key is still at the serial wrapped (0 rows otherwise) */
    {"access.grant_server", OPC__ROWS_WRITE, "ttitiitq", "",
     "INSERT INTO vault_access (vault_id, accessor_type, accessor_id, key_sn, enc_key, acl, "
     "granted, grant_sig, seq) SELECT v.id, 'server', ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM vaults v "
     "WHERE v.id = ?1 AND v.key_sn = ?3"},
    {"access.revoke_server", OPC__ROWS_WRITE, "tti", "",
     "DELETE FROM vault_access WHERE vault_id = ? AND accessor_type = 'server' AND accessor_id = "
     "? AND seq = ?"},
    {"access.revoke_all_server", OPC__ROWS_WRITE, "t", "",
     "DELETE FROM vault_access WHERE accessor_type = 'server' AND accessor_id = ?"},

    /* ---- vaults (vault.c) ---- */
    /* vault.get, vault.list: a vault row with the owner's grant of it (null
     * when there is none): one read gives what opens its attributes. */
    {"vault.get", OPC__ROWS_READ, "tt", VAULT_TYPES, VAULT_SELECT " WHERE v.id = ?2"},
    {"vault.list", OPC__ROWS_READ, "t", VAULT_TYPES, VAULT_SELECT " ORDER BY v.id"},
    {"vault.feed_head", OPC__ROWS_READ, "", "i", "SELECT coalesce(max(seq), 0) FROM changes"},
    {"vault.names_since", OPC__ROWS_READ, "i", "i",
     "SELECT seq FROM changes WHERE seq > ? AND kind IN ('vault_create', 'vault_update')"},
    {"vault.grants_since", OPC__ROWS_READ, "ti", "i",
     "SELECT seq FROM changes WHERE vault_id = ?1 AND seq > ?2 AND kind IN ('grant', "
     "'grant_revoke')"},
    {"vault.server_grants", OPC__ROWS_READ, "t", "t",
     "SELECT accessor_id FROM vault_access WHERE vault_id = ? AND accessor_type = 'server' "
     "ORDER BY accessor_id"},
    {"vault.insert", OPC__ROWS_WRITE, "ttitiiq", "",
     "INSERT INTO vaults (id, type, key_sn, attrs, attr_version, content_version, items, "
     "created, updated, seq) VALUES (?, ?, ?, ?, 1, 1, 0, ?, ?, ?)"},
    {"vault.grant_put", OPC__ROWS_WRITE, "tttitiitq", "",
     "INSERT OR REPLACE INTO vault_access (vault_id, accessor_type, accessor_id, key_sn, "
     "enc_key, acl, granted, grant_sig, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    {"vault.set_attrs", OPC__ROWS_WRITE, "tiqti", "",
     "UPDATE vaults SET attrs = ?, attr_version = attr_version + 1, updated = ?, seq = ? "
     "WHERE id = ? AND seq = ?"},
    {"vault.touch", OPC__ROWS_WRITE, "iiqt", "", VAULT_TOUCH},
    {"vault.delete", OPC__ROWS_WRITE, "t", "", "DELETE FROM vaults WHERE id = ?"},

    /* ---- items (item.c; server_write.c's batches too) ---- */
    {"item.get", OPC__ROWS_READ, "tt", "iittiiTi",
     "SELECT version, key_sn, overview, details, created, updated, editor, seq FROM items WHERE "
     "id = ? AND vault_id = ? AND state = 'active'"},
    {"item.list", OPC__ROWS_READ, "t", "tiitiiTi",
     "SELECT id, version, key_sn, overview, created, updated, editor, seq FROM items WHERE "
     "vault_id = ? AND state = 'active' ORDER BY id"},
    {"item.is_active", OPC__ROWS_READ, "tt", "t",
     "SELECT id FROM items WHERE id = ? AND vault_id = ? AND state = 'active'"},
    {"item.chunk_count", OPC__ROWS_READ, "t", "i", "SELECT COUNT(*) FROM files WHERE item_id = ?"},
    {"item.vault_sn", OPC__ROWS_READ, "ti", "t",
     "SELECT id FROM vaults WHERE id = ? AND key_sn = ?"},
    {"item.insert", OPC__ROWS_WRITE, "ttittiiqT", "",
     "INSERT INTO items (id, vault_id, version, state, key_sn, overview, details, created, "
     "updated, seq, editor) VALUES (?, ?, 1, 'active', ?, ?, ?, ?, ?, ?, ?)"},
    {"item.update", OPC__ROWS_WRITE, "ittiqTttii", "",
     "UPDATE items SET version = version + 1, key_sn = ?, overview = ?, details = ?, updated = ?, "
     "seq = ?, editor = ? WHERE id = ? AND vault_id = ? AND state = 'active' AND version = ? AND "
     "seq = ?"},
    {"item.tombstone", OPC__ROWS_WRITE, "iqTttii", "",
     "UPDATE items SET state = 'deleted', version = version + 1, overview = NULL, details = NULL, "
     "updated = ?, seq = ?, editor = ? WHERE id = ? AND vault_id = ? AND state = 'active' AND "
     "version = ? AND seq = ?"},
    {"item.files_delete", OPC__ROWS_WRITE, "t", "", "DELETE FROM files WHERE item_id = ?"},
    {"item.vault_touch", OPC__ROWS_WRITE, "iiqt", "", VAULT_TOUCH},

    /* ---- files (file.c) ---- */
    {"file.chunk_insert", OPC__ROWS_WRITE, "ttib", "",
     "INSERT INTO files (item_id, file_id, idx, blob) VALUES (?, ?, ?, ?)"},
    {"file.chunks", OPC__ROWS_READ, "ttii", "ib",
     "SELECT idx, blob FROM files WHERE item_id = ? AND file_id = ? AND idx >= ? ORDER BY idx "
     "LIMIT ?"},
    {"file.chunks_delete", OPC__ROWS_WRITE, "tt", "",
     "DELETE FROM files WHERE item_id = ? AND file_id = ?"},
};

/* The kinds a change may have (feed.h); a store refuses any other. */
static const char *const change_kinds[] = {
    OPC_CHANGE_ISSUER_KEY,    OPC_CHANGE_VAULT_CREATE,  OPC_CHANGE_VAULT_UPDATE,
    OPC_CHANGE_VAULT_DELETE,  OPC_CHANGE_GRANT,         OPC_CHANGE_GRANT_REVOKE,
    OPC_CHANGE_ITEM_UPSERT,   OPC_CHANGE_ITEM_DELETE,   OPC_CHANGE_FILE_ADD,
    OPC_CHANGE_SERVER_CREATE, OPC_CHANGE_SERVER_UPDATE, OPC_CHANGE_SERVER_DELETE,
    OPC_CHANGE_TOKEN_CREATE,  OPC_CHANGE_TOKEN_UPDATE,  OPC_CHANGE_TOKEN_REVOKE,
};

static bool change_kind_known(const cJSON *args)
{
    const cJSON *kind = cJSON_GetArrayItem(args, 0);
    for (size_t i = 0; cJSON_IsString(kind) && i < OPC_ARRAY_LEN(change_kinds); i++) {
        if (strcmp(kind->valuestring, change_kinds[i]) == 0) {
            return true;
        }
    }
    return false;
}

const opc__rows_stmt *opc__rows_table(size_t *n)
{
    *n = OPC_ARRAY_LEN(table);
    return table;
}

const opc__rows_stmt *opc__rows_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(table); i++) {
        if (strcmp(table[i].name, name) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

static const char *type_text(char t)
{
    switch (t) {
    case 't':
        return "text";
    case 'T':
        return "text or null";
    case 'i':
        return "an integer";
    case 'I':
        return "an integer or null";
    case 'b':
        return "bytes (base64url)";
    default:
        return "a seq placeholder";
    }
}

/* Whether v (a valid argument or cell, wire/rows_rpc.h) has type t. */
static bool has_type(const cJSON *v, char t, size_t n_changes)
{
    int64_t k = 0;
    switch (t) {
    case 'T':
        if (cJSON_IsNull(v)) {
            return true;
        }
        /* fall through */
    case 't':
        return cJSON_IsString(v);
    case 'I':
        if (cJSON_IsNull(v)) {
            return true;
        }
        /* fall through */
    case 'i':
        return cJSON_IsNumber(v);
    case 'q':
        return opc__rpc_arg_seq(v, &k) && (size_t)k < n_changes;
    case 'b':
        return opc__rpc_blob_valid(v);
    default:
        return false;
    }
}

/* The statement called name; NULL (eb filled) when there is none. */
static const opc__rows_stmt *lookup(const char *name, opc__ebuf *eb)
{
    if (!opc__rpc_name_valid(name)) {
        (void)opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: not a statement name");
        return NULL;
    }
    const opc__rows_stmt *s = opc__rows_find(name);
    if (s == NULL) {
        (void)opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: unknown statement \"%s\"", name);
    }
    return s;
}

static opc_err check_args(const opc__rows_stmt *s, const cJSON *args, size_t n_changes,
                          opc__ebuf *eb)
{
    size_t want = strlen(s->params);
    size_t i = 0;
    const cJSON *v = cJSON_IsArray(args) ? args->child : NULL;
    if (!cJSON_IsArray(args)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s: the arguments are not an array",
                         s->name);
    }
    for (; v != NULL && i < want; v = v->next, i++) {
        if (!opc__rpc_arg_valid(v) || !has_type(v, s->params[i], n_changes)) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s: argument %zu must be %s%s",
                             s->name, i, type_text(s->params[i]),
                             s->params[i] == 'q' ? " of an earlier change of the batch" : "");
        }
    }
    if (v != NULL || i != want) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s takes %zu arguments", s->name, want);
    }
    return OPC_OK;
}

opc_err opc__rows_check_read(const char *name, const cJSON *args, const opc__rows_stmt **out,
                             opc__ebuf *eb)
{
    const opc__rows_stmt *s = lookup(name, eb);
    *out = s;
    if (s == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (s->kind != OPC__ROWS_READ) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s is not a read", name);
    }
    return check_args(s, args, 0, eb);
}

opc_err opc__rows_check_step(const opc__rpc_step *step, size_t n_changes,
                             const opc__rows_stmt **out, opc__ebuf *eb)
{
    const opc__rows_stmt *s = lookup(step->stmt, eb);
    *out = s;
    if (s == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (step->expect < 0 || step->expect > OPC__RPC_MAX_EXPECT) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s: expectation out of range", s->name);
    }
    if (s->kind == OPC__ROWS_CHANGE && step->expect != 1) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s must expect 1 row", s->name);
    }
    opc_err rc = check_args(s, step->args, n_changes, eb);
    if (rc == OPC_OK && s->kind == OPC__ROWS_CHANGE && !change_kind_known(step->args)) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s: unknown change kind", s->name);
    }
    return rc;
}

opc_err opc__rows_check_result(const opc__rows_stmt *s, const cJSON *rows, opc__ebuf *eb)
{
    size_t want = strlen(s->columns);
    if (!cJSON_IsArray(rows)) {
        return opc__fail(eb, OPC_ERR_PARSE, "rows: %s: the answer is not an array", s->name);
    }
    size_t r = 0;
    for (const cJSON *row = rows->child; row != NULL; row = row->next, r++) {
        size_t c = 0;
        const cJSON *v = cJSON_IsArray(row) ? row->child : NULL;
        for (; v != NULL && c < want; v = v->next, c++) {
            int64_t n = 0;
            bool ok = s->columns[c] == 'i' || s->columns[c] == 'I'
                          ? (cJSON_IsNull(v) ? s->columns[c] == 'I' : opc__json_is_int(v, &n))
                          : has_type(v, s->columns[c], 0);
            if (!ok) {
                return opc__fail(eb, OPC_ERR_PARSE, "rows: %s: row %zu, column %zu must be %s",
                                 s->name, r, c, type_text(s->columns[c]));
            }
        }
        if (!cJSON_IsArray(row) || v != NULL || c != want) {
            return opc__fail(eb, OPC_ERR_PARSE, "rows: %s: row %zu must have %zu columns", s->name,
                             r, want);
        }
    }
    return OPC_OK;
}

opc_err opc__rows_check_batch(const opc__rpc_step *steps, size_t n, size_t n_seqs,
                              const opc__rows_stmt **stmts, opc__ebuf *eb)
{
    if (n == 0 || n > OPC__RPC_MAX_STEPS) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: a batch has 1 to %d statements",
                         OPC__RPC_MAX_STEPS);
    }
    size_t n_changes = 0;
    size_t n_blob = 0;
    for (size_t i = 0; i < n; i++) {
        opc_err rc = opc__rows_check_step(&steps[i], n_changes, &stmts[i], eb);
        if (rc != OPC_OK) {
            return rc;
        }
        n_changes += stmts[i]->kind == OPC__ROWS_CHANGE;
        n_blob += strchr(stmts[i]->params, 'b') != NULL;
    }
    if (n_blob > OPC__RPC_MAX_BLOB_STEPS || n - n_blob > OPC__RPC_MAX_PLAIN_STEPS) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "rows: a batch has at most %d statements without bytes and %d with",
                         OPC__RPC_MAX_PLAIN_STEPS, OPC__RPC_MAX_BLOB_STEPS);
    }
    if (n_changes > OPC__RPC_MAX_CHANGES) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: a batch has at most %d changes",
                         OPC__RPC_MAX_CHANGES);
    }
    if (n_changes != n_seqs) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: the batch has %zu changes, not %zu",
                         n_changes, n_seqs);
    }
    return OPC_OK;
}

/*
 * The statements a request may not name: the store runs them on its own
 * (sign-in reads the SRP row; create writes the account's first rows; the
 * owner's unlock of a local file re-keys it). An owner reads their account
 * row (account.get, account.keyset), never the verifier, and writes it
 * never through a request.
 */
const char *opc__rows_store_own(const char *name)
{
    static const char *const names[] = {
        "account.srp",        "account.insert", "account.issuer_key_insert",
        "account.srp_insert", "account.rekey",  "account.srp_rekey"};
    for (size_t i = 0; name != NULL && i < OPC_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0) {
            return names[i];
        }
    }
    return NULL;
}

opc_err opc__rows_conflict(const opc__rows_stmt *s, size_t i, int64_t count, int64_t expect,
                           opc__ebuf *eb)
{
    return opc__fail(eb, OPC_ERR_CONFLICT,
                     "conflict: %s (statement %zu of the batch) %s %lld rows, expected %lld; "
                     "nothing was changed",
                     s->name, i, s->kind == OPC__ROWS_READ ? "matched" : "changed",
                     (long long)count, (long long)expect);
}
