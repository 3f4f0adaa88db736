/*
 * cache/cache_write.c - the cache's writers (cache.h): rows put and
 * deleted by connect-sync, the monotonic rule for items and vaults, and the
 * write-through of connect-api's item writes.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "core/json.h"

#define WRITE(c, id, eb, ...)                                                                      \
    do {                                                                                           \
        sqlite3_stmt *st_ = NULL;                                                                  \
        opc_err rc_ = opc__cache_stmt((c), (id), &st_, (eb), __VA_ARGS__);                         \
        return rc_ == OPC_OK ? opc__cache_run((c), st_, (eb)) : rc_;                               \
    } while (0)

/*
 * A put or delete of a verified row (cache.h, "Verified rows"): the
 * statement stmt_id bound by fmt, in a transaction marked for sealing (its
 * own when the caller has none). A put binds the row's MAC (ROW_MAC) as
 * its last parameter.
 */
static opc_err sealed_write(opc__cache *c, int stmt_id, opc__ebuf *eb, const char *fmt, ...)
{
    bool own = false;
    opc_err rc = opc__cache_sealed_begin(c, &own, eb);
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        va_list ap;
        va_start(ap, fmt);
        rc = opc__db_stmt(c->db, (size_t)stmt_id, &st, eb, "");
        if (rc == OPC_OK) {
            rc = opc__db_vbind(c->db, st, eb, fmt, ap);
        }
        va_end(ap);
        if (rc != OPC_OK) {
            opc__cache_done(st);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    return opc__cache_sealed_end(c, own, rc, eb);
}

/* The row's MAC into mac (*len 32), or an empty one (*len 0) without a key. */
#define ROW_MAC(c, fn, row, mac, len, rc)                                                         \
    do {                                                                                           \
        *(len) = 0;                                                                                \
        (rc) = OPC_OK;                                                                             \
        if ((c)->keyed) {                                                                          \
            (rc) = fn((c)->key, (row), (mac));                                                     \
            *(len) = OPC_CACHE_MAC_LEN;                                                            \
        }                                                                                          \
    } while (0)

/* Delete the rows of one id with statement stmt_id; `what` names the id. */
static opc_err delete_id(opc__cache *c, int stmt_id, const char *id, const char *what,
                         opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(id)) {
        return opc__cache_bad_id(eb, what);
    }
    WRITE(c, stmt_id, eb, "t", id);
}

static bool text_ok(const char *s)
{
    return s != NULL;
}

opc_err opc__cache_issuer_key_put(opc__cache *c, const opc__cache_issuer_key *k, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (k == NULL || k->kid[0] == '\0' || !text_ok(k->jwk)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: incomplete issuer key row");
    }
    uint8_t mac[OPC_CACHE_MAC_LEN] = {0};
    size_t mac_len = 0;
    ROW_MAC(c, opc__cache_mac_issuer_key, k, mac, &mac_len, rc);
    if (rc == OPC_OK) {
        rc = sealed_write(c, S_IK_PUT, eb, "ttib", k->kid, k->jwk, k->seq, mac, mac_len);
    }
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

opc_err opc__cache_issuer_key_delete(opc__cache *c, const char *kid, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (kid == NULL) {
        return opc__cache_bad_id(eb, "key");
    }
    return sealed_write(c, S_IK_DEL, eb, "t", kid);
}

opc_err opc__cache_access_put(opc__cache *c, const opc__cache_access *a, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (a == NULL || !opc__id_valid_str(a->vault) || !text_ok(a->enc_key) ||
        !text_ok(a->grant_sig)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: incomplete vault grant row");
    }
    uint8_t mac[OPC_CACHE_MAC_LEN] = {0};
    size_t mac_len = 0;
    ROW_MAC(c, opc__cache_mac_access, a, mac, &mac_len, rc);
    if (rc == OPC_OK) {
        rc = sealed_write(c, S_AC_PUT, eb, "titiitib", a->vault, a->key_sn, a->enc_key, a->acl,
                          a->granted, a->grant_sig, a->seq, mac, mac_len);
    }
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

opc_err opc__cache_access_delete(opc__cache *c, const char *vault, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(vault)) {
        return opc__cache_bad_id(eb, "vault");
    }
    return sealed_write(c, S_AC_DEL, eb, "t", vault);
}

/* Step a monotonic put: *written (may be NULL) tells whether the row was stored. */
static opc_err run_put(opc__cache *c, sqlite3_stmt *st, bool *written, opc__ebuf *eb)
{
    opc_err rc = opc__cache_run(c, st, eb);
    if (written != NULL) {
        *written = rc == OPC_OK && opc__db_changes(c->db) > 0;
    }
    return rc;
}

opc_err opc__cache_vault_put(opc__cache *c, const opc__cache_vault *v, bool *written, opc__ebuf *eb)
{
    if (written != NULL) {
        *written = false;
    }
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (v == NULL || !opc__id_valid_str(v->id) || !text_ok(v->type) || !text_ok(v->attrs)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: incomplete vault row");
    }
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_V_PUT, &st, eb, "ttitiiiiii", v->id, v->type, v->key_sn, v->attrs,
                         v->attr_version, v->content_version, v->items, v->created, v->updated,
                         v->seq);
    return rc == OPC_OK ? run_put(c, st, written, eb) : rc;
}

opc_err opc__cache_vault_clear_items(opc__cache *c, const char *vault, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(vault)) {
        return opc__cache_bad_id(eb, "vault");
    }
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_F_VAULT_DEL, &st, eb, "t", vault);
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_I_DEL_VAULT, &st, eb, "t", vault);
    }
    return rc == OPC_OK ? opc__cache_run(c, st, eb) : rc;
}

opc_err opc__cache_vault_delete(opc__cache *c, const char *vault, opc__ebuf *eb)
{
    opc_err rc = opc__cache_vault_clear_items(c, vault, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_access_delete(c, vault, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    WRITE(c, S_V_DEL, eb, "t", vault);
}

opc_err opc__cache_item_put(opc__cache *c, const opc__cache_item *it, bool *written, opc__ebuf *eb)
{
    if (written != NULL) {
        *written = false;
    }
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (it == NULL || !opc__id_valid_str(it->id) || !opc__id_valid_str(it->vault) ||
        !text_ok(it->overview) || !text_ok(it->details)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: incomplete item row");
    }
    const char *state = it->state == NULL ? "active" : it->state;
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_I_PUT, &st, eb, "ttitittiiti", it->id, it->vault, it->version, state,
                         it->key_sn, it->overview, it->details, it->created, it->updated,
                         it->last_edited_by, it->seq);
    return rc == OPC_OK ? run_put(c, st, written, eb) : rc;
}

/* Open a write transaction unless the caller has one (*own tells). */
static opc_err tx_begin(opc__cache *c, bool *own, opc__ebuf *eb)
{
    *own = !opc__db_in_tx(c->db);
    return *own ? opc__cache_begin(c, true, eb) : OPC_OK;
}

static opc_err tx_end(opc__cache *c, bool own, opc_err rc, opc__ebuf *eb)
{
    return own ? opc__cache_end(c, rc, eb) : rc;
}

opc_err opc__cache_item_delete_upto(opc__cache *c, const char *item, int64_t version, bool *deleted,
                                    opc__ebuf *eb)
{
    if (deleted != NULL) {
        *deleted = false;
    }
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(item)) {
        return opc__cache_bad_id(eb, "item");
    }
    bool own = false;
    rc = tx_begin(c, &own, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    /* Files first: their statement asks whether a newer item row stays. */
    sqlite3_stmt *st = NULL;
    rc = opc__cache_stmt(c, S_F_ITEM_DEL_UPTO, &st, eb, "ti", item, version);
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_I_DEL_UPTO, &st, eb, "ti", item, version);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    bool newer = false;
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_I_VERSION, &st, eb, "t", item);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &newer, eb);
        opc__cache_done(st);
    }
    rc = tx_end(c, own, rc, eb);
    if (rc == OPC_OK && deleted != NULL) {
        *deleted = !newer;
    }
    return rc;
}

opc_err opc__cache_item_delete(opc__cache *c, const char *item, opc__ebuf *eb)
{
    return opc__cache_item_delete_upto(c, item, INT64_MAX, NULL, eb);
}

opc_err opc__cache_item_files_delete(opc__cache *c, const char *item, opc__ebuf *eb)
{
    return delete_id(c, S_F_ITEM_DEL, item, "item", eb);
}

opc_err opc__cache_chunk_put(opc__cache *c, const opc__cache_chunk *ch, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (ch == NULL || !opc__id_valid_str(ch->file) || !opc__id_valid_str(ch->item) ||
        !opc__id_valid_str(ch->vault) || ch->idx < 0 || (ch->blob == NULL && ch->len != 0)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: incomplete file chunk row");
    }
    WRITE(c, S_F_PUT, eb, "tittb", ch->file, ch->idx, ch->item, ch->vault, ch->blob, ch->len);
}

opc_err opc__cache_token_put(opc__cache *c, const opc__cache_token *t, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (t == NULL || !opc__id_valid_str(t->jti) || !opc__id_valid_str(t->server) ||
        !text_ok(t->name) || !text_ok(t->scopes) || !text_ok(t->state)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: incomplete token row");
    }
    uint8_t mac[OPC_CACHE_MAC_LEN] = {0};
    size_t mac_len = 0;
    ROW_MAC(c, opc__cache_mac_token, t, mac, &mac_len, rc);
    if (rc == OPC_OK) {
        rc = sealed_write(c, S_T_PUT, eb, "ttttiitiib", t->jti, t->server, t->name, t->scopes,
                          t->created, t->expires, t->state, t->updated, t->seq, mac, mac_len);
    }
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

opc_err opc__cache_token_delete(opc__cache *c, const char *jti, opc__ebuf *eb)
{
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(jti)) {
        return opc__cache_bad_id(eb, "token");
    }
    return sealed_write(c, S_T_DEL, eb, "t", jti);
}

/* Whether the cache holds this server's grant for the vault. */
static opc_err granted(opc__cache *c, const char *vault, bool *out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, S_AC_GET, &st, eb, "t", vault);
    if (rc == OPC_OK) {
        rc = opc__cache_step(c, st, out, eb);
        opc__cache_done(st);
    }
    return rc;
}

opc_err opc__cache_write_through(opc__cache *c, const cJSON *item_row, const cJSON *vault_row,
                                 bool *out_applied, opc__ebuf *eb)
{
    if (out_applied != NULL) {
        *out_applied = false;
    }
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (item_row == NULL || vault_row == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: write-through needs both rows");
    }
    opc__cache_item it;
    opc__cache_vault v;
    rc = opc__wire_item_decode(item_row, &it, eb);
    if (rc == OPC_OK) {
        rc = opc__wire_vault_decode(vault_row, &v, eb);
    }
    if (rc == OPC_OK && strcmp(it.vault, v.id) != 0) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: item %s is not in vault %s", it.id, v.id);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    bool own = false;
    rc = tx_begin(c, &own, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    /* A vault the sync dropped (grant revoked after the write) stays dropped. */
    bool in_scope = false;
    bool applied = false;
    rc = granted(c, v.id, &in_scope, eb);
    if (rc == OPC_OK && in_scope && strcmp(it.state, "deleted") == 0) {
        rc = opc__cache_item_delete_upto(c, it.id, it.version, &applied, eb);
    } else if (rc == OPC_OK && in_scope) {
        rc = opc__cache_item_put(c, &it, &applied, eb);
    }
    if (rc == OPC_OK && in_scope) {
        rc = opc__cache_vault_put(c, &v, NULL, eb);
    }
    rc = tx_end(c, own, rc, eb);
    if (rc == OPC_OK && out_applied != NULL) {
        *out_applied = applied;
    }
    return rc;
}

opc_err opc__cache_vault_clear_between(opc__cache *c, const char *vault, const char *after,
                                       const char *before, opc__ebuf *eb)
{
    static const enum opc__cache_stmt_id del[] = {S_F_GAP_DEL, S_I_GAP_DEL};
    opc_err rc = opc__cache_need_write(c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(vault)) {
        return opc__cache_bad_id(eb, "vault");
    }
    /* Ids are base32: "" sorts before every id, "~" after. */
    const char *lo = after == NULL ? "" : after;
    const char *hi = before == NULL || before[0] == '\0' ? "~" : before;
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = NULL;
        rc = opc__cache_stmt(c, del[i], &st, eb, "ttt", vault, lo, hi);
        if (rc == OPC_OK) {
            rc = opc__db_run(c->db, st, eb);
        }
        if (rc != OPC_OK) {
            return rc;
        }
    }
    return OPC_OK;
}
