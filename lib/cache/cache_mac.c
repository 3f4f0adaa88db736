/*
 * cache/cache_mac.c - the MACs of the rows that decide access, and the
 * seal over the server state (cache.h, "Verified rows").
 *
 * Encoding. A MAC is HMAC-SHA256(K, m) where m is a label and then the
 * fields in order, each as a tag byte and its value: 'i' and an int64 as
 * 8 bytes big-endian, 't' and a text as its length (4 bytes big-endian)
 * and its bytes, 'n' for a NULL text, 'b' and a blob as a text. So no two
 * rows encode alike, whatever their contents.
 *
 *   issuer_keys  "opconnect/cache-row/v1" t"issuer_keys" t kid t jwk i seq
 *   tokens       "opconnect/cache-row/v1" t"tokens" t jti t server_id t name
 *                t scopes i created i expires t state i updated i seq
 *   vault_access "opconnect/cache-row/v1" t"vault_access" t vault_id
 *                i key_sn t enc_key i acl i granted t grant_sig i seq
 *   seal         "opconnect/cache-seal/v1" t server_id t account_id
 *                i feed_cursor i initial_sync_complete, then for each table
 *                above (in that order) t<table>, every row by key as
 *                t key b mac, and i <row count>
 *
 * The seal covers the MACs of every row, so it changes when a row is
 * rolled back to an older MAC of its own, deleted, or added; the row MACs
 * cover every column. The key is the caller's (opc__cache_set_key), never
 * stored; it is wiped when the handle closes.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "crypto/kdf.h"

#define ROW_LABEL "opconnect/cache-row/v1"
#define SEAL_LABEL "opconnect/cache-seal/v1"

static void put_i64(opc__buf *b, int64_t v)
{
    unsigned char x[9];
    uint64_t u = (uint64_t)v;
    x[0] = 'i';
    for (int i = 0; i < 8; i++) {
        x[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    }
    (void)opc__buf_append(b, x, sizeof x);
}

static void put_bytes(opc__buf *b, char tag, const void *p, size_t n)
{
    if (p == NULL) {
        (void)opc__buf_append_char(b, 'n');
        return;
    }
    unsigned char x[5];
    uint32_t u = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    x[0] = (unsigned char)tag;
    for (int i = 0; i < 4; i++) {
        x[1 + i] = (unsigned char)(u >> (24 - 8 * i));
    }
    (void)opc__buf_append(b, x, sizeof x);
    (void)opc__buf_append(b, p, u);
}

static void put_text(opc__buf *b, const char *s)
{
    put_bytes(b, 't', s, s == NULL ? 0 : strlen(s));
}

/* HMAC of the buffer under the handle's key; frees the buffer. */
static opc_err finish(const uint8_t key[OPC_CACHE_MAC_LEN], opc__buf *b,
                      uint8_t out[OPC_CACHE_MAC_LEN])
{
    opc_err rc = opc__buf_err(b);
    if (rc == OPC_OK) {
        rc = opc__hmac_sha256(key, OPC_CACHE_MAC_LEN, b->data, b->len, out);
    }
    opc__buf_free(b);
    return rc;
}

static void row_start(opc__buf *b, const char *table)
{
    opc__buf_init(b, false);
    (void)opc__buf_append_str(b, ROW_LABEL);
    put_text(b, table);
}

opc_err opc__cache_mac_issuer_key(const uint8_t key[OPC_CACHE_MAC_LEN],
                                  const opc__cache_issuer_key *k, uint8_t out[OPC_CACHE_MAC_LEN])
{
    opc__buf b;
    row_start(&b, "issuer_keys");
    put_text(&b, k->kid);
    put_text(&b, k->jwk);
    put_i64(&b, k->seq);
    return finish(key, &b, out);
}

opc_err opc__cache_mac_token(const uint8_t key[OPC_CACHE_MAC_LEN], const opc__cache_token *t,
                             uint8_t out[OPC_CACHE_MAC_LEN])
{
    opc__buf b;
    row_start(&b, "tokens");
    put_text(&b, t->jti);
    put_text(&b, t->server);
    put_text(&b, t->name);
    put_text(&b, t->scopes);
    put_i64(&b, t->created);
    put_i64(&b, t->expires);
    put_text(&b, t->state);
    put_i64(&b, t->updated);
    put_i64(&b, t->seq);
    return finish(key, &b, out);
}

opc_err opc__cache_mac_access(const uint8_t key[OPC_CACHE_MAC_LEN], const opc__cache_access *a,
                              uint8_t out[OPC_CACHE_MAC_LEN])
{
    opc__buf b;
    row_start(&b, "vault_access");
    put_text(&b, a->vault);
    put_i64(&b, a->key_sn);
    put_text(&b, a->enc_key);
    put_i64(&b, a->acl);
    put_i64(&b, a->granted);
    put_text(&b, a->grant_sig);
    put_i64(&b, a->seq);
    return finish(key, &b, out);
}

bool opc__cache_mac_equal(const uint8_t want[OPC_CACHE_MAC_LEN], const void *got, size_t got_len)
{
    return got != NULL && got_len == OPC_CACHE_MAC_LEN &&
           CRYPTO_memcmp(want, got, OPC_CACHE_MAC_LEN) == 0;
}

/* ---- the key ---- */

void opc__cache_set_key(opc__cache *c, const uint8_t key[OPC_CACHE_MAC_LEN])
{
    if (c == NULL) {
        return;
    }
    if (key == NULL) {
        opc__wipe(c->key, sizeof c->key);
        c->keyed = false;
        return;
    }
    memcpy(c->key, key, sizeof c->key);
    c->keyed = true;
}

bool opc__cache_keyed(const opc__cache *c)
{
    return c != NULL && c->keyed;
}

/* ---- the seal ---- */

static const struct {
    const char *table;
    int stmt;
} sealed_tables[] = {
    {"issuer_keys", S_IK_MACS},
    {"tokens", S_T_MACS},
    {"vault_access", S_AC_MACS},
};

/* The seal of the meta row m and the rows the handle sees now. */
static opc_err seal_compute(opc__cache *c, const opc__cache_meta *m,
                            uint8_t out[OPC_CACHE_MAC_LEN], opc__ebuf *eb)
{
    opc__buf b;
    opc__buf_init(&b, false);
    (void)opc__buf_append_str(&b, SEAL_LABEL);
    put_text(&b, m->server_id);
    put_text(&b, m->account_id);
    put_i64(&b, m->cursor);
    put_i64(&b, m->initial_sync_complete ? 1 : 0);
    opc_err rc = OPC_OK;
    for (size_t t = 0; rc == OPC_OK && t < sizeof sealed_tables / sizeof sealed_tables[0]; t++) {
        put_text(&b, sealed_tables[t].table);
        sqlite3_stmt *st = NULL;
        rc = opc__cache_stmt(c, sealed_tables[t].stmt, &st, eb, "");
        int64_t n = 0;
        bool row = true;
        while (rc == OPC_OK) {
            rc = opc__cache_step(c, st, &row, eb);
            if (rc != OPC_OK || !row) {
                break;
            }
            put_text(&b, (const char *)sqlite3_column_text(st, 0));
            put_bytes(&b, 'b', sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
            n++;
        }
        opc__cache_done(st);
        put_i64(&b, n);
    }
    if (rc != OPC_OK) {
        opc__buf_free(&b);
        return rc;
    }
    return finish(c->key, &b, out);
}

opc_err opc__cache_seal(opc__cache *c, opc__ebuf *eb)
{
    if (c == NULL || !c->keyed) {
        return OPC_OK;
    }
    opc__cache_meta m;
    uint8_t mac[OPC_CACHE_MAC_LEN];
    opc_err rc = opc__cache_meta_get(c, &m, eb);
    if (rc == OPC_OK) {
        rc = seal_compute(c, &m, mac, eb);
    }
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_SET_SEAL, &st, eb, "b", mac, sizeof mac);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_run(c, st, eb);
    }
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

/* Note one row that failed its MAC in the report. */
static void note_bad(opc__cache_check *out, const char *table, const char *id)
{
    if (out->n_bad < OPC_CACHE_CHECK_MAX_BAD) {
        opc__cache_bad_row *r = &out->bad[out->n_bad];
        (void)snprintf(r->table, sizeof r->table, "%s", table);
        (void)snprintf(r->id, sizeof r->id, "%s", id == NULL ? "" : id);
        out->n_bad++;
    }
    out->bad_rows++;
}

/* Walk one sealed table and check every row's MAC. */
static opc_err check_rows(opc__cache *c, int stmt, const char *table, opc__cache_check *out,
                          opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__cache_stmt(c, stmt, &st, eb, "");
    bool row = true;
    while (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char id[OPC_ID_LEN + 1];
        bool ok = false;
        rc = opc__cache_row_check(c, stmt, st, &ok, id);
        if (rc == OPC_OK && !ok) {
            note_bad(out, table, id);
        }
    }
    opc__cache_done(st);
    return rc;
}

opc_err opc__cache_verify(opc__cache *c, opc__cache_check *out, opc__ebuf *eb)
{
    if (c == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!c->keyed) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cache: no key to check the rows with");
    }
    bool own = !opc__db_in_tx(c->db);
    opc_err rc = own ? opc__cache_begin(c, false, eb) : OPC_OK;
    if (rc != OPC_OK) {
        return rc;
    }
    opc__cache_meta m;
    rc = opc__cache_meta_get(c, &m, eb);
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__cache_stmt(c, S_SEAL_GET, &st, eb, "");
    }
    bool row = false;
    if (rc == OPC_OK) {
        rc = opc__cache_step(c, st, &row, eb);
    }
    uint8_t want[OPC_CACHE_MAC_LEN];
    if (rc == OPC_OK && row) {
        out->sealed = sqlite3_column_bytes(st, 0) != 0;
        rc = seal_compute(c, &m, want, eb);
        if (rc == OPC_OK) {
            /* The statement's blob stays valid: seal_compute used other statements. */
            out->seal_ok = opc__cache_mac_equal(want, sqlite3_column_blob(st, 0),
                                                (size_t)sqlite3_column_bytes(st, 0));
        }
    }
    opc__cache_done(st);
    OPENSSL_cleanse(want, sizeof want);
    if (rc == OPC_OK) {
        rc = check_rows(c, S_IK_ALL, "issuer_keys", out, eb);
    }
    if (rc == OPC_OK) {
        rc = check_rows(c, S_T_ALL, "tokens", out, eb);
    }
    if (rc == OPC_OK) {
        rc = check_rows(c, S_AC_ALL, "vault_access", out, eb);
    }
    out->ok = rc == OPC_OK && out->seal_ok && out->bad_rows == 0;
    if (own) {
        opc__cache_rollback(c);
    }
    return rc;
}

size_t opc__cache_check_describe(const opc__cache_check *chk, char *out, size_t cap)
{
    if (out == NULL || cap == 0) {
        return 0;
    }
    out[0] = '\0';
    if (chk == NULL || chk->ok) {
        return 0;
    }
    opc__buf b;
    opc__buf_init(&b, false);
    for (size_t i = 0; i < chk->n_bad; i++) {
        (void)opc__buf_appendf(&b, "%s%s %s", i == 0 ? "" : ", ", chk->bad[i].table,
                               chk->bad[i].id);
    }
    if (chk->bad_rows > chk->n_bad) {
        (void)opc__buf_appendf(&b, " and %zu more", chk->bad_rows - chk->n_bad);
    }
    if (!chk->seal_ok) {
        (void)opc__buf_appendf(&b, "%s%s", chk->bad_rows > 0 ? "; " : "",
                               chk->sealed ? "the seal over the server state and the rows (a row "
                                             "deleted, added or rolled back, or meta edited)"
                                           : "no seal (a cache not yet sealed by this server)");
    }
    /* Never "" for a failed check, even without memory for the names. */
    const char *text = opc__buf_err(&b) == OPC_OK && b.data != NULL ? b.data : "rows";
    int n = snprintf(out, cap, "%s", text);
    opc__buf_free(&b);
    return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}
