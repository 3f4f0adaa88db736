/*
 * account/store.c - column helpers, the change log and the small crypto
 * helpers shared by the files of lib/account (design: schema.c); SQL and
 * transactions are core/sqlite.h's.
 *
 * SQL is only ever run with bound parameters. SQLite's messages name tables
 * and constraints, never bound values, so they are safe in error messages.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/ecdsa.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"

/* ---- SQL (the rest is core/sqlite.h, through the macros of account_int.h) ---- */

const char *opc__acct_col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s == NULL ? "" : (const char *)s;
}

/* ---- change log ---- */

int opc__acct_batch_change(opc__rows_batch *b, const opc__change *c, int64_t at)
{
    int k = (int)b->n_changes;
    if (c->version > 0) {
        opc__rows_batch_add(b, "change.append", 1, "tttttttii", c->kind, c->vault, c->item, c->file,
                            c->server, c->jti, c->kid, c->version, at);
    } else {
        opc__rows_batch_add(b, "change.append", 1, "tttttttni", c->kind, c->vault, c->item, c->file,
                            c->server, c->jti, c->kid, at);
    }
    return k;
}

/* ---- shared helpers ---- */

opc_err opc__acct_finish(opc_account *a, opc_err rc, const opc__ebuf *eb)
{
    if (a == NULL) {
        return rc;
    }
    if (rc == OPC_OK) {
        a->errmsg[0] = '\0';
    } else if (eb != NULL && eb->msg[0] != '\0') {
        (void)snprintf(a->errmsg, sizeof a->errmsg, "%s", eb->msg);
    } else {
        (void)snprintf(a->errmsg, sizeof a->errmsg, "%s", opc_strerror(rc));
    }
    return rc;
}

opc_err opc__acct_show(opc_account *a, const char *ref, opc__acct_resolve_fn resolve,
                       char **out_json, opc__acct_show_fn fn)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_UNLOCKED, out_json != NULL && (ref != NULL || resolve == NULL),
                        out_json, NULL, &eb);
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, false, &eb);
    }
    if (rc == OPC_OK) {
        char id[OPC_ID_LEN + 1];
        rc = resolve == NULL ? fn(a, ref, out_json, &eb) : resolve(a, ref, id, &eb);
        if (rc == OPC_OK && resolve != NULL) {
            rc = fn(a, id, out_json, &eb);
        }
        rc = opc__acct_end(a, rc, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc__acct_print_json(opc_account *a, const char *id, opc__acct_json_fn fn, char **out_json,
                             opc__ebuf *eb)
{
    cJSON *o = NULL;
    opc_err rc = fn(a, id, &o, eb);
    if (rc == OPC_OK) {
        rc = opc__json_print(o, out_json, NULL);
    }
    cJSON_Delete(o);
    return rc;
}

opc_err opc__acct_print_ids(opc_account *a, sqlite3_stmt *st, opc__acct_json_fn fn, char **out_json,
                            opc__ebuf *eb)
{
    cJSON *arr = cJSON_CreateArray();
    opc_err rc = arr == NULL ? OPC_ERR_NOMEM : OPC_OK;
    while (rc == OPC_OK && st != NULL) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char id[OPC_ID_LEN + 1];
        (void)snprintf(id, sizeof id, "%s", opc__acct_col_str(st, 0));
        cJSON *o = NULL;
        rc = fn(a, id, &o, eb);
        if (rc == OPC_OK) {
            cJSON_AddItemToArray(arr, o);
        }
    }
    sqlite3_finalize(st);
    if (rc == OPC_OK) {
        rc = opc__json_print(arr, out_json, NULL);
    }
    cJSON_Delete(arr);
    return rc;
}

opc_err opc__acct_need_unlocked(const opc_account *a, opc__ebuf *eb)
{
    if (!a->unlocked) {
        return opc__fail(eb, OPC_ERR_LOCKED, "account is locked: unlock it first");
    }
    return OPC_OK;
}

opc_err opc__acct_check_name(const char *s, size_t max, const char *what, opc__ebuf *eb)
{
    size_t n = strlen(s);
    if (n == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s must not be empty", what);
    }
    if (n > max) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "%s is longer than %zu bytes", what, max);
    }
    if (!opc__utf8_valid(s, n)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s is not valid UTF-8", what);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return opc__fail(eb, OPC_ERR_PARSE, "%s contains a control character", what);
        }
    }
    return OPC_OK;
}

opc_err opc__acct_add_time(cJSON *obj, const char *key, int64_t unix_s)
{
    char t[OPC_TIME_STRLEN];
    opc_err rc = opc__time_format(unix_s, t);
    if (rc != OPC_OK) {
        return rc;
    }
    return cJSON_AddStringToObject(obj, key, t) == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

void opc__acct_editor(const opc_account *a, const char *server, char out[OPC_ID_LEN + 1])
{
    const char *id = (server != NULL && opc__id_valid_str(server)) ? server : a->id;
    for (size_t i = 0; i <= OPC_ID_LEN; i++) {
        char c = id[i];
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - ('a' - 'A'));
        }
        out[i] = c;
    }
}

opc_err opc__acct_seal(const opc__key *k, const char *aad, const void *pt, size_t len, char **out)
{
    *out = NULL;
    cJSON *env = NULL;
    opc_err rc = opc__envelope_seal(k, aad, strlen(aad), pt, len, &env);
    if (rc == OPC_OK) {
        rc = opc__json_print(env, out, NULL);
    }
    cJSON_Delete(env);
    return rc;
}

opc_err opc__acct_seal_json(const opc__key *k, const char *aad, const cJSON *pt, char **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    opc_err rc = opc__json_print(pt, &text, &len);
    if (rc == OPC_OK) {
        rc = opc__acct_seal(k, aad, text, len, out);
    }
    opc__secret_free(text, len);
    return rc;
}

opc_err opc__acct_open(const opc__key *k, const char *aad, const char *env_text, const char *what,
                       opc_secret **out, opc__ebuf *eb)
{
    *out = NULL;
    if (env_text == NULL) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "%s: ciphertext is missing", what);
    }
    cJSON *env = NULL;
    opc__ebuf inner;
    opc__ebuf_clear(&inner);
    opc_err rc = opc__json_parse(env_text, strlen(env_text), NULL, &env, &inner);
    if (rc == OPC_OK) {
        rc = opc__envelope_open(env, k, aad, strlen(aad), out, &inner);
    }
    cJSON_Delete(env);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "%s: out of memory", what);
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, OPC_ERR_DECRYPT,
                         "%s does not decrypt (the account file was tampered with or "
                         "ciphertext was moved): %s",
                         what, inner.msg[0] != '\0' ? inner.msg : opc_strerror(rc));
    }
    return OPC_OK;
}

opc_err opc__acct_open_json(const opc__key *k, const char *aad, const char *env_text,
                            const char *what, cJSON **out, opc__ebuf *eb)
{
    *out = NULL;
    opc_secret *pt = NULL;
    opc_err rc = opc__acct_open(k, aad, env_text, what, &pt, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__json_limits lim = {0, 48};
    opc__ebuf inner;
    opc__ebuf_clear(&inner);
    rc = opc__json_parse(opc_secret_data(pt), opc_secret_len(pt), &lim, out, &inner);
    opc_secret_free(pt);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "%s: out of memory", what);
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "%s: decrypted content is not valid JSON", what);
    }
    return OPC_OK;
}

opc_err opc__acct_jwk_text(const opc__key *k, bool include_private, char **out)
{
    *out = NULL;
    cJSON *jwk = NULL;
    opc_err rc = opc__jwk_export(k, include_private, &jwk);
    if (rc == OPC_OK) {
        rc = opc__json_print(jwk, out, NULL);
    }
    opc__json_delete_secret(jwk);
    return rc;
}

opc_err opc__acct_sign(opc_account *a, const char *msg, char **out)
{
    *out = NULL;
    uint8_t sig[OPC_ES256_SIG_LEN];
    opc_err rc = opc__ecdsa_sign(a->sign, msg, strlen(msg), sig);
    if (rc == OPC_OK) {
        rc = opc__b64_encode(sig, sizeof sig, OPC_B64URL, out, NULL);
    }
    opc__wipe(sig, sizeof sig);
    return rc;
}

opc_err opc__acct_verify(opc_account *a, const char *msg, const char *sig_b64, const char *what,
                         opc__ebuf *eb)
{
    uint8_t sig[OPC_ES256_SIG_LEN];
    size_t n = 0;
    if (sig_b64 == NULL ||
        opc__b64_decode_to(sig_b64, strlen(sig_b64), OPC_B64URL, sig, sizeof sig, &n, NULL) !=
            OPC_OK ||
        n != sizeof sig ||
        opc__ecdsa_verify(a->sign_pub, msg, strlen(msg), sig, sizeof sig, NULL) != OPC_OK) {
        return opc__fail(eb, OPC_ERR_SIGNATURE,
                         "%s: the owner's signature does not verify (the account file was "
                         "tampered with)",
                         what);
    }
    return OPC_OK;
}

opc_err opc__acct_hash_b64(const void *data, size_t len, char out[44])
{
    uint8_t h[OPC_SHA256_LEN];
    opc_err rc = opc__sha256(data, len, h);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(h, sizeof h, OPC_B64URL, out, 44, NULL);
    }
    return rc;
}
