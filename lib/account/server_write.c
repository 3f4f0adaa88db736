/*
 * account/server_write.c - item writes by a Connect server on a locked
 * handle (import.h; design: schema.c). This is the store's side (the
 * account server runs it): its checks read the account file directly in
 * ONE write transaction; the write itself is the owner's batch
 * (opc__acct_item_batch_write, opc__acct_item_batch_tombstone in item.c:
 * the same named statements, rows.c), run inside that transaction as a
 * savepoint (rows.h), at the version and seq the transaction read.
 */
#include "internal.h"

#include <string.h>

#include "account/account_int.h"
#include "account/import.h"
#include "core/json.h"
#include "crypto/envelope.h"
#include "crypto/jwt.h"

/* Largest envelope text: the base64url of the largest data member plus the other members. */
#define ENVELOPE_TEXT_MAX ((((size_t)OPC_ENVELOPE_MAX_PLAINTEXT + 16u + 2u) / 3u) * 4u + 1024u)

/* One part (overview or details) must be an envelope under the vault's key. */
static opc_err check_envelope(const char *text, const char *vault_id, const char *item_id,
                              const char *part, opc__ebuf *eb)
{
    if (text == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "item %s: the %s is missing", item_id, part);
    }
    opc__json_limits lim = {ENVELOPE_TEXT_MAX, 2};
    opc__ebuf inner;
    opc__ebuf_clear(&inner);
    cJSON *env = NULL;
    opc_err rc = opc__json_parse(text, strlen(text), &lim, &env, &inner);
    if (rc == OPC_OK) {
        rc = opc__envelope_check(env, vault_id, &inner);
    }
    cJSON_Delete(env);
    if (rc == OPC_OK || rc == OPC_ERR_NOMEM) {
        return rc;
    }
    if (rc == OPC_ERR_TOO_LARGE) {
        return opc__fail(eb, rc, "item %s: the %s is too large", item_id, part);
    }
    return opc__fail(eb, OPC_ERR_PARSE,
                     "item %s: the %s is not an envelope sealed under vault %s's key: %s", item_id,
                     part, vault_id, inner.msg[0] != '\0' ? inner.msg : opc_strerror(rc));
}

/* The state the write depends on, read inside its transaction. */
static opc_err read_state(opc_account *a, const char *server_id, const opc__item_write *w,
                          bool remove, opc__item_write_state *st, opc__ebuf *eb)
{
    memset(st, 0, sizeof *st);
    bool found = false;
    int64_t v = 0;
    opc_err rc = opc__acct_query_int(a, &st->server_active, &v, eb,
                                     "SELECT 1 FROM servers WHERE id = ? AND state = 'active'", "t",
                                     server_id);
    if (rc == OPC_OK) {
        rc = opc__acct_query_int(a, &st->vault_found, &st->key_sn, eb,
                                 "SELECT key_sn FROM vaults WHERE id = ?", "t", w->vault_id);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_query_int(a, &st->granted, &st->acl, eb,
                                 "SELECT acl FROM vault_access WHERE vault_id = ? AND "
                                 "accessor_type = 'server' AND accessor_id = ?",
                                 "tt", w->vault_id, server_id);
    }
    sqlite3_stmt *q = NULL;
    if (rc == OPC_OK) {
        rc = opc__acct_query_row(
            a, &q, &st->item_found, eb,
            "SELECT vault_id = ?, state = 'active', version, seq FROM items WHERE id = ?", "tt",
            w->vault_id, w->item_id);
    }
    if (rc == OPC_OK && st->item_found) {
        st->item_in_vault = sqlite3_column_int64(q, 0) != 0;
        st->item_active = sqlite3_column_int64(q, 1) != 0;
        st->version = sqlite3_column_int64(q, 2);
        st->seq = sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);
    if (rc == OPC_OK && remove) {
        rc = opc__acct_query_int(a, &found, &st->chunks, eb,
                                 "SELECT COUNT(*) FROM files WHERE item_id = ?", "t", w->item_id);
    }
    return rc;
}

opc_err opc__item_write_plan(const char *server_id, const opc__item_write *w, bool remove,
                             const opc__item_write_state *st, int64_t now, opc__rows_batch *b,
                             opc__ebuf *eb)
{
    bool create = !remove && w->expected_version == 0;
    if (!st->server_active) {
        return opc__fail(eb, OPC_ERR_PERMISSION,
                         "server %s is not an active Connect server of this account", server_id);
    }
    if (!st->vault_found) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s not found", w->vault_id);
    }
    if (!st->granted) {
        return opc__fail(eb, OPC_ERR_PERMISSION, "server %s holds no grant for vault %s", server_id,
                         w->vault_id);
    }
    if (((uint64_t)st->acl & OPC_ACL_WRITE) == 0) {
        return opc__fail(eb, OPC_ERR_PERMISSION, "server %s may only read vault %s", server_id,
                         w->vault_id);
    }
    if (!remove && st->key_sn != w->key_sn) {
        return opc__fail(eb, OPC_ERR_CONFLICT,
                         "vault %s is sealed under key serial %lld, not %lld: reload its key",
                         w->vault_id, (long long)st->key_sn, (long long)w->key_sn);
    }
    if (create && st->item_found) {
        return opc__fail(eb, OPC_ERR_EXISTS, "item %s already exists", w->item_id);
    }
    if (!create && !(st->item_found && st->item_active && st->item_in_vault)) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "item %s not found in vault %s", w->item_id,
                         w->vault_id);
    }
    if (!create && w->expected_version != 0 && st->version != w->expected_version) {
        return opc__fail(eb, OPC_ERR_CONFLICT, "item %s was changed (version %lld, expected %lld)",
                         w->item_id, (long long)st->version, (long long)w->expected_version);
    }
    if (remove) {
        opc__acct_item_batch_tombstone(b, w->vault_id, w->item_id, st->version, st->seq, server_id,
                                       st->chunks, now);
    } else {
        opc__sealed_item it = {w->vault_id, w->item_id, st->key_sn, w->overview, w->details,
                               server_id};
        (void)opc__acct_item_batch_write(b, &it, create, st->version, st->seq, now);
    }
    return b->rc;
}

/* The item and vault rows after the write (export.h). */
static opc_err outputs(opc_account *a, const char *vault_id, const char *item_id, cJSON **out_item,
                       cJSON **out_vault, opc__ebuf *eb)
{
    opc_err rc = opc__acct_export_item_row(a, item_id, out_item, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_export_vault_row(a, vault_id, out_vault, eb);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(*out_item);
        *out_item = NULL;
    }
    return rc;
}

/* Checks 3-7 of import.h and the effects; remove: a delete (w's envelopes unused). */
static opc_err write_tx(opc_account *a, const char *server_id, const opc__item_write *w,
                        bool remove, int64_t now, cJSON **out_item, cJSON **out_vault,
                        opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__item_write_state st;
    rc = read_state(a, server_id, w, remove, &st, eb);
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        rc = opc__item_write_plan(server_id, w, remove, &st, now, &b, eb);
        if (rc == OPC_OK) {
            rc = opc__rows_batch_run(a->rows, &b, eb);
        }
        opc__rows_batch_free(&b);
    }
    /* Built before the commit: a call that fails has changed nothing. */
    if (rc == OPC_OK) {
        rc = outputs(a, w->vault_id, w->item_id, out_item, out_vault, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        cJSON_Delete(*out_item);
        cJSON_Delete(*out_vault);
        *out_item = NULL;
        *out_vault = NULL;
    }
    /* What SQLite reports (a corrupt or read-only file, a lock held too
     * long) is the upstream's failure, not the caller's: OPC_ERR_PARSE is
     * kept for bad envelopes. */
    if (rc == OPC_ERR_PARSE || rc == OPC_ERR_INTERNAL) {
        rc = OPC_ERR_IO;
    }
    return rc;
}

static opc_err check_args(const char *server_id, const opc__item_write *w, opc__ebuf *eb)
{
    if (!opc__id_valid_str(server_id) || !opc__id_valid_str(w->vault_id) ||
        !opc__id_valid_str(w->item_id)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "server write: invalid server, vault or item id");
    }
    if (w->expected_version < 0) {
        return opc__fail(eb, OPC_ERR_RANGE, "expected version must not be negative");
    }
    return OPC_OK;
}

opc_err opc__item_write_check(const char *server_id, const opc__item_write *w, bool remove,
                              opc__ebuf *eb)
{
    opc_err rc = check_args(server_id, w, eb);
    if (rc == OPC_OK && !remove && w->key_sn < 1) {
        rc = opc__fail(eb, OPC_ERR_RANGE, "key serial must be at least 1");
    }
    if (rc == OPC_OK && !remove) {
        rc = check_envelope(w->overview, w->vault_id, w->item_id, "overview", eb);
    }
    if (rc == OPC_OK && !remove) {
        rc = check_envelope(w->details, w->vault_id, w->item_id, "details", eb);
    }
    return rc;
}

/* Hand the message to eb and the handle. */
static opc_err finish(opc_account *a, opc_err rc, const opc__ebuf *local, opc__ebuf *eb)
{
    if (eb != NULL) {
        *eb = *local;
    }
    return opc__acct_finish(a, rc, local);
}

/* Both writes: arguments, envelopes (put), then the transaction. */
static opc_err server_write(opc_account *a, const char *server_id, const opc__item_write *w,
                            bool remove, int64_t now, cJSON **out_item, cJSON **out_vault,
                            opc__ebuf *eb)
{
    if (out_item != NULL) {
        *out_item = NULL;
    }
    if (out_vault != NULL) {
        *out_vault = NULL;
    }
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf local;
    opc__ebuf_clear(&local);
    if (w == NULL || out_item == NULL || out_vault == NULL) {
        return finish(a, opc__fail(&local, OPC_ERR_INVALID_ARG, "missing argument"), &local, eb);
    }
    opc_err rc = opc__item_write_check(server_id, w, remove, &local);
    if (rc == OPC_OK) {
        rc = write_tx(a, server_id, w, remove, now, out_item, out_vault, &local);
    }
    return finish(a, rc, &local, eb);
}

opc_err opc__account_server_item_put(opc_account *a, const char *server_id,
                                     const opc__item_write *w, int64_t now, cJSON **out_item,
                                     cJSON **out_vault, opc__ebuf *eb)
{
    return server_write(a, server_id, w, false, now, out_item, out_vault, eb);
}

opc_err opc__account_server_item_delete(opc_account *a, const char *server_id, const char *vault_id,
                                        const char *item_id, int64_t expected_version, int64_t now,
                                        cJSON **out_item, cJSON **out_vault, opc__ebuf *eb)
{
    opc__item_write w = {vault_id, item_id, expected_version, 0, NULL, NULL};
    return server_write(a, server_id, &w, true, now, out_item, out_vault, eb);
}
