/*
 * wire/proto_owner.c - the owner's messages of the account protocol
 * (proto.h; docs/protocol.md, "Owner sign-in"): the account row, sign-up,
 * the two steps of the SRP sign-in and the transcript of an owner session.
 */
#include "internal.h"

#include <inttypes.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "wire/proto.h"

#define MAX_ITERATIONS INT64_C(100000000)

static const char owner_label[] = "opconnect/owner-session/v1";

static opc_err as_parse(opc_err rc)
{
    return (rc == OPC_OK || rc == OPC_ERR_NOMEM) ? rc : OPC_ERR_PARSE;
}

static opc_err get_version(const cJSON *j, const char *what, opc__ebuf *eb)
{
    int64_t v = 0;
    opc_err rc = opc__json_get_int(j, "v", true, what, 0, INT64_C(9007199254740991), &v, eb);
    if (rc == OPC_OK && v != OPC_PROTO_VERSION) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"v\" must be %d", what, OPC_PROTO_VERSION);
    }
    return as_parse(rc);
}

/* A member of exactly n bytes in b64url (no padding). */
static opc_err get_bytes(const cJSON *j, const char *name, const char *what, uint8_t *out, size_t n,
                         opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(j, name, true, what, &s, eb);
    if (rc != OPC_OK) {
        return as_parse(rc);
    }
    size_t got = 0;
    size_t want_b64 = (n * 4 + 2) / 3;
    if (strlen(s) != want_b64 ||
        opc__b64_decode_to(s, want_b64, OPC_B64URL, out, n, &got, NULL) != OPC_OK || got != n) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be base64url of %zu bytes", what, name,
                         n);
    }
    return OPC_OK;
}

static opc_err add_bytes(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    opc_err rc = opc__b64_encode(p, n, OPC_B64URL, &text, &len);
    if (rc == OPC_OK && cJSON_AddStringToObject(o, name, text) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    opc__free(text);
    return rc;
}

/* A string member of 1..max bytes copied into out[max + 1]. */
static opc_err get_fixed(const cJSON *j, const char *name, const char *what, char *out, size_t max,
                         opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(j, name, true, what, &s, eb);
    if (rc != OPC_OK) {
        return as_parse(rc);
    }
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" has a bad length", what, name);
    }
    memcpy(out, s, n + 1);
    return OPC_OK;
}

static opc_err get_id(const cJSON *j, const char *name, const char *what, char out[OPC_ID_LEN + 1],
                      opc__ebuf *eb)
{
    opc_err rc = get_fixed(j, name, what, out, OPC_ID_LEN, eb);
    if (rc == OPC_OK && !opc__id_valid_str(out)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be an id", what, name);
    }
    return rc;
}

/* A name@host in UTF-8 without spaces, control characters or ASCII capitals. */
static opc_err get_email(const cJSON *j, const char *what, char out[OPC_PROTO_MAX_EMAIL + 1],
                         opc__ebuf *eb)
{
    opc_err rc = get_fixed(j, "email", what, out, OPC_PROTO_MAX_EMAIL, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const char *at = strchr(out, '@');
    bool ok = at != NULL && at != out && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
              opc__utf8_valid(out, strlen(out));
    for (const char *p = out; ok && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        ok = c > ' ' && c != 0x7f && !(c >= 'A' && c <= 'Z');
    }
    return ok ? OPC_OK
              : opc__fail(eb, OPC_ERR_PARSE, "%s: \"email\" must be a lower-case address", what);
}

/* An owned copy of a text member of 1..OPC_PROTO_MAX_KEY_TEXT bytes. */
static opc_err get_text(const cJSON *j, const char *name, const char *what, char **out,
                        opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(j, name, true, what, &s, eb);
    if (rc != OPC_OK) {
        return as_parse(rc);
    }
    size_t n = strlen(s);
    if (n == 0 || n > OPC_PROTO_MAX_KEY_TEXT) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" has a bad length", what, name);
    }
    *out = opc__strdup(s);
    return *out != NULL ? OPC_OK : OPC_ERR_NOMEM;
}

static const cJSON *get_object(const cJSON *j, const char *name, const char *what, opc__ebuf *eb)
{
    const cJSON *o = opc__json_member(j, name);
    if (!cJSON_IsObject(o)) {
        (void)opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be an object", what, name);
        return NULL;
    }
    return o;
}

static cJSON *new_message(void)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL && cJSON_AddNumberToObject(o, "v", OPC_PROTO_VERSION) == NULL) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

/* ---- the account row ---- */

/* A key pin: 43 b64url characters, 32 bytes. */
static bool pin_valid(const char *s)
{
    uint8_t raw[32];
    size_t got = 0;
    return strlen(s) == OPC_PROTO_HASH_B64 &&
           opc__b64_decode_to(s, OPC_PROTO_HASH_B64, OPC_B64URL, raw, sizeof raw, &got, NULL) ==
               OPC_OK &&
           got == sizeof raw;
}

void opc__proto_account_clear(opc__proto_account *a)
{
    if (a == NULL) {
        return;
    }
    opc__free(a->enc_sym_key);
    opc__free(a->pub_key);
    opc__free(a->enc_pri_key);
    opc__free(a->spub_key);
    opc__free(a->enc_spri_key);
    memset(a, 0, sizeof *a);
}

opc_err opc__proto_account_encode(const opc__proto_account *a, cJSON **out)
{
    *out = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *kdf = o != NULL ? cJSON_AddObjectToObject(o, "kdf") : NULL;
    opc_err rc = kdf != NULL ? OPC_OK : OPC_ERR_NOMEM;
    if (rc == OPC_OK &&
        (cJSON_AddStringToObject(o, "id", a->id) == NULL ||
         cJSON_AddStringToObject(o, "email", a->email) == NULL ||
         cJSON_AddStringToObject(o, "skid", a->skid) == NULL ||
         cJSON_AddStringToObject(kdf, "alg", a->kdf_alg) == NULL ||
         cJSON_AddNumberToObject(kdf, "iterations", (double)a->iterations) == NULL ||
         cJSON_AddStringToObject(o, "keysetId", a->keyset_id) == NULL ||
         cJSON_AddStringToObject(o, "encSymKey", a->enc_sym_key) == NULL ||
         cJSON_AddStringToObject(o, "pubKey", a->pub_key) == NULL ||
         cJSON_AddStringToObject(o, "encPriKey", a->enc_pri_key) == NULL ||
         cJSON_AddStringToObject(o, "issuerKid", a->issuer_kid) == NULL ||
         cJSON_AddStringToObject(o, "spubKey", a->spub_key) == NULL ||
         cJSON_AddStringToObject(o, "encSpriKey", a->enc_spri_key) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_bytes(kdf, "salt", a->kdf_salt, sizeof a->kdf_salt);
    }
    if (rc == OPC_OK && a->server_pin[0] != '\0') {
        rc = pin_valid(a->server_pin) ? OPC_OK : OPC_ERR_INVALID_ARG;
        if (rc == OPC_OK && cJSON_AddStringToObject(o, "serverPin", a->server_pin) == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

/* The row's members; with_pin: the answer of GET /v1/owner/account. */
static opc_err account_decode(const cJSON *j, bool with_pin, opc__proto_account *out, opc__ebuf *eb)
{
    static const char what[] = "malformed account";
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(j)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an object", what);
    }
    const cJSON *kdf = get_object(j, "kdf", what, eb);
    opc_err rc = kdf != NULL ? OPC_OK : OPC_ERR_PARSE;
    int64_t it = 0;
    if (rc == OPC_OK) {
        rc = get_id(j, "id", what, out->id, eb);
    }
    if (rc == OPC_OK) {
        rc = get_email(j, what, out->email, eb);
    }
    if (rc == OPC_OK) {
        rc = get_fixed(j, "skid", what, out->skid, sizeof out->skid - 1, eb);
        if (rc == OPC_OK && strlen(out->skid) != 6) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"skid\" must be 6 characters", what);
        }
    }
    if (rc == OPC_OK) {
        rc = get_fixed(kdf, "alg", what, out->kdf_alg, sizeof out->kdf_alg - 1, eb);
    }
    if (rc == OPC_OK) {
        rc = get_bytes(kdf, "salt", what, out->kdf_salt, sizeof out->kdf_salt, eb);
    }
    if (rc == OPC_OK) {
        rc = as_parse(opc__json_get_int(kdf, "iterations", true, what, 1, MAX_ITERATIONS, &it, eb));
        out->iterations = (uint32_t)it;
    }
    if (rc == OPC_OK) {
        rc = get_id(j, "keysetId", what, out->keyset_id, eb);
    }
    if (rc == OPC_OK) {
        rc = get_id(j, "issuerKid", what, out->issuer_kid, eb);
    }
    if (rc == OPC_OK) {
        rc = get_text(j, "encSymKey", what, &out->enc_sym_key, eb);
    }
    if (rc == OPC_OK) {
        rc = get_text(j, "pubKey", what, &out->pub_key, eb);
    }
    if (rc == OPC_OK) {
        rc = get_text(j, "encPriKey", what, &out->enc_pri_key, eb);
    }
    if (rc == OPC_OK) {
        rc = get_text(j, "spubKey", what, &out->spub_key, eb);
    }
    if (rc == OPC_OK) {
        rc = get_text(j, "encSpriKey", what, &out->enc_spri_key, eb);
    }
    if (rc == OPC_OK && with_pin) {
        rc = get_fixed(j, "serverPin", what, out->server_pin, OPC_PROTO_HASH_B64, eb);
        if (rc == OPC_OK && !pin_valid(out->server_pin)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"serverPin\" must be base64url of 32 bytes",
                           what);
        }
    }
    if (rc != OPC_OK) {
        opc__proto_account_clear(out);
    }
    return rc;
}

opc_err opc__proto_account_decode(const cJSON *j, opc__proto_account *out, opc__ebuf *eb)
{
    return account_decode(j, true, out, eb);
}

/* ---- sign-up ---- */

void opc__proto_signup_clear(opc__proto_signup *s)
{
    if (s != NULL) {
        opc__proto_account_clear(&s->account);
        OPENSSL_cleanse(s, sizeof *s);
    }
}

opc_err opc__proto_signup_encode(const opc__proto_signup *s, cJSON **out)
{
    *out = NULL;
    cJSON *acct = NULL;
    opc_err rc = opc__proto_account_encode(&s->account, &acct);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *o = new_message();
    cJSON *ik = o != NULL ? cJSON_AddObjectToObject(o, "issuerKey") : NULL;
    cJSON *srp = o != NULL ? cJSON_AddObjectToObject(o, "srp") : NULL;
    if (ik == NULL || srp == NULL || !cJSON_AddItemToObject(o, "account", acct)) {
        cJSON_Delete(acct);
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    if (cJSON_AddStringToObject(ik, "kid", s->account.issuer_kid) == NULL ||
        cJSON_AddStringToObject(ik, "jwk", s->account.spub_key) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_bytes(srp, "salt", s->srp_salt, sizeof s->srp_salt);
    }
    if (rc == OPC_OK) {
        rc = add_bytes(srp, "verifier", s->verifier, sizeof s->verifier);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_signup_decode(const cJSON *j, opc__proto_signup *out, opc__ebuf *eb)
{
    static const char what[] = "malformed sign-up";
    memset(out, 0, sizeof *out);
    opc_err rc = get_version(j, what, eb);
    const cJSON *acct = rc == OPC_OK ? get_object(j, "account", what, eb) : NULL;
    const cJSON *ik = acct != NULL ? get_object(j, "issuerKey", what, eb) : NULL;
    const cJSON *srp = ik != NULL ? get_object(j, "srp", what, eb) : NULL;
    if (rc == OPC_OK && srp == NULL) {
        rc = OPC_ERR_PARSE;
    }
    if (rc == OPC_OK) {
        rc = account_decode(acct, false, &out->account, eb);
    }
    if (rc == OPC_OK) {
        rc = get_bytes(srp, "salt", what, out->srp_salt, sizeof out->srp_salt, eb);
    }
    if (rc == OPC_OK) {
        rc = get_bytes(srp, "verifier", what, out->verifier, sizeof out->verifier, eb);
    }
    if (rc == OPC_OK) {
        const char *kid = NULL;
        const char *jwk = NULL;
        rc = as_parse(opc__json_get_str(ik, "kid", true, what, &kid, eb));
        if (rc == OPC_OK) {
            rc = as_parse(opc__json_get_str(ik, "jwk", true, what, &jwk, eb));
        }
        if (rc == OPC_OK && (strcmp(kid, out->account.issuer_kid) != 0 ||
                             strcmp(jwk, out->account.spub_key) != 0)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: the issuer key is not the account's", what);
        }
    }
    if (rc != OPC_OK) {
        opc__proto_signup_clear(out);
    }
    return rc;
}

/* ---- sign-in ---- */

/* A message of one text member and one bytes member (both sign-in requests). */
static opc_err text_bytes_message(const char *tkey, const char *text, const char *bkey,
                                  const uint8_t *bytes, size_t n, cJSON **out)
{
    *out = NULL;
    cJSON *o = new_message();
    opc_err rc =
        o != NULL && cJSON_AddStringToObject(o, tkey, text) != NULL ? OPC_OK : OPC_ERR_NOMEM;
    if (rc == OPC_OK) {
        rc = add_bytes(o, bkey, bytes, n);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_auth_start_encode(const opc__proto_auth_start *m, cJSON **out)
{
    return text_bytes_message("email", m->email, "A", m->A, sizeof m->A, out);
}

opc_err opc__proto_auth_start_decode(const cJSON *j, opc__proto_auth_start *out, opc__ebuf *eb)
{
    static const char what[] = "malformed sign-in";
    memset(out, 0, sizeof *out);
    opc_err rc = get_version(j, what, eb);
    if (rc == OPC_OK) {
        rc = get_email(j, what, out->email, eb);
    }
    if (rc == OPC_OK) {
        rc = get_bytes(j, "A", what, out->A, sizeof out->A, eb);
    }
    return rc;
}

opc_err opc__proto_auth_challenge_encode(const opc__proto_auth_challenge *m, cJSON **out)
{
    *out = NULL;
    cJSON *o = new_message();
    cJSON *srp = o != NULL ? cJSON_AddObjectToObject(o, "srp") : NULL;
    cJSON *kdf = o != NULL ? cJSON_AddObjectToObject(o, "kdf") : NULL;
    opc_err rc = srp != NULL && kdf != NULL && cJSON_AddStringToObject(o, "id", m->id) != NULL &&
                         cJSON_AddStringToObject(kdf, "alg", "PBES2g-HS256") != NULL &&
                         cJSON_AddNumberToObject(kdf, "iterations", (double)m->iterations) != NULL
                     ? OPC_OK
                     : OPC_ERR_NOMEM;
    if (rc == OPC_OK) {
        rc = add_bytes(srp, "salt", m->srp_salt, sizeof m->srp_salt);
    }
    if (rc == OPC_OK) {
        rc = add_bytes(kdf, "salt", m->kdf_salt, sizeof m->kdf_salt);
    }
    if (rc == OPC_OK) {
        rc = add_bytes(o, "B", m->B, sizeof m->B);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_auth_challenge_decode(const cJSON *j, opc__proto_auth_challenge *out,
                                         opc__ebuf *eb)
{
    static const char what[] = "malformed sign-in challenge";
    memset(out, 0, sizeof *out);
    opc_err rc = get_version(j, what, eb);
    const cJSON *srp = rc == OPC_OK ? get_object(j, "srp", what, eb) : NULL;
    const cJSON *kdf = srp != NULL ? get_object(j, "kdf", what, eb) : NULL;
    if (rc == OPC_OK && kdf == NULL) {
        rc = OPC_ERR_PARSE;
    }
    if (rc == OPC_OK) {
        rc = get_fixed(j, "id", what, out->id, OPC_PROTO_NONCE_B64, eb);
        if (rc == OPC_OK && strlen(out->id) != OPC_PROTO_NONCE_B64) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"id\" has a bad length", what);
        }
    }
    if (rc == OPC_OK) {
        const char *alg = NULL;
        rc = as_parse(opc__json_get_str(kdf, "alg", true, what, &alg, eb));
        if (rc == OPC_OK && strcmp(alg, "PBES2g-HS256") != 0) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: unknown key derivation", what);
        }
    }
    int64_t it = 0;
    if (rc == OPC_OK) {
        rc = as_parse(opc__json_get_int(kdf, "iterations", true, what, 1, MAX_ITERATIONS, &it, eb));
        out->iterations = (uint32_t)it;
    }
    if (rc == OPC_OK) {
        rc = get_bytes(srp, "salt", what, out->srp_salt, sizeof out->srp_salt, eb);
    }
    if (rc == OPC_OK) {
        rc = get_bytes(kdf, "salt", what, out->kdf_salt, sizeof out->kdf_salt, eb);
    }
    if (rc == OPC_OK) {
        rc = get_bytes(j, "B", what, out->B, sizeof out->B, eb);
    }
    return rc;
}

opc_err opc__proto_auth_verify_encode(const opc__proto_auth_verify *m, cJSON **out)
{
    return text_bytes_message("id", m->id, "M1", m->M1, sizeof m->M1, out);
}

opc_err opc__proto_auth_verify_decode(const cJSON *j, opc__proto_auth_verify *out, opc__ebuf *eb)
{
    static const char what[] = "malformed sign-in proof";
    memset(out, 0, sizeof *out);
    opc_err rc = get_version(j, what, eb);
    if (rc == OPC_OK) {
        rc = get_fixed(j, "id", what, out->id, OPC_PROTO_NONCE_B64, eb);
        if (rc == OPC_OK && strlen(out->id) != OPC_PROTO_NONCE_B64) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"id\" has a bad length", what);
        }
    }
    if (rc == OPC_OK) {
        rc = get_bytes(j, "M1", what, out->M1, sizeof out->M1, eb);
    }
    return rc;
}

opc_err opc__proto_auth_session_encode(const opc__proto_auth_session *m, cJSON **out)
{
    *out = NULL;
    cJSON *o = new_message();
    opc_err rc = o != NULL && cJSON_AddStringToObject(o, "account", m->account) != NULL &&
                         cJSON_AddStringToObject(o, "session", m->session) != NULL &&
                         cJSON_AddNumberToObject(o, "expires", (double)m->expires) != NULL &&
                         cJSON_AddNumberToObject(o, "idle", (double)m->idle_s) != NULL
                     ? OPC_OK
                     : OPC_ERR_NOMEM;
    if (rc == OPC_OK) {
        rc = add_bytes(o, "M2", m->M2, sizeof m->M2);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_auth_session_decode(const cJSON *j, opc__proto_auth_session *out, opc__ebuf *eb)
{
    static const char what[] = "malformed sign-in answer";
    memset(out, 0, sizeof *out);
    opc_err rc = get_version(j, what, eb);
    if (rc == OPC_OK) {
        rc = get_bytes(j, "M2", what, out->M2, sizeof out->M2, eb);
    }
    if (rc == OPC_OK) {
        rc = get_id(j, "account", what, out->account, eb);
    }
    if (rc == OPC_OK) {
        rc = get_fixed(j, "session", what, out->session, OPC_PROTO_NONCE_B64, eb);
        if (rc == OPC_OK && strlen(out->session) != OPC_PROTO_NONCE_B64) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"session\" has a bad length", what);
        }
    }
    if (rc == OPC_OK) {
        rc = as_parse(opc__json_get_int(j, "expires", true, what, 0, INT64_C(9007199254740991),
                                        &out->expires, eb));
    }
    if (rc == OPC_OK) {
        rc = as_parse(
            opc__json_get_int(j, "idle", true, what, 1, OPC_PROTO_OWNER_TTL_S, &out->idle_s, eb));
    }
    return rc;
}

opc_err opc__proto_owner_transcript(const char *pending_id, const char *account, const char *sid,
                                    int64_t expires, char **out, size_t *out_len)
{
    opc__buf b;
    opc__buf_init(&b, false);
    (void)opc__buf_appendf(&b, "%s\n%s\n%s\n%s\n%" PRId64, owner_label, pending_id, account, sid,
                           expires);
    opc_err rc = opc__buf_err(&b);
    if (rc != OPC_OK) {
        opc__buf_free(&b);
        return rc;
    }
    *out = opc__buf_detach(&b, out_len);
    return OPC_OK;
}
