/*
 * accountd/owner.c - the parts of the owner's sign-up and sign-in that
 * need no socket (accountd.h; docs/protocol.md, "Owner sign-in"): the
 * table of pending sign-ins, the answer for an unknown email, the limiter
 * key of an email and the checks of a sign-up.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <opconnect/account.h>

#include "accountd/accountd.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/rand.h"
#include "crypto/base64.h"
#include "crypto/kdf.h"
#include "crypto/key.h"
#include "crypto/srp.h"

/* ---- pending sign-ins: a small table, swept on every add ---- */

typedef struct pend {
    bool used;
    char id[OPC_PROTO_NONCE_B64 + 1];
    int64_t born_ms; /* monotonic */
    opc__ad_signin s;
} pend;

struct opc__ad_pending {
    pthread_mutex_t mu;
    pend *e;
    size_t max;
};

void opc__ad_signin_clear(opc__ad_signin *s)
{
    if (s != NULL) {
        opc__srp_server_free(s->srp);
        OPENSSL_cleanse(s, sizeof *s);
    }
}

opc_err opc__ad_pending_create(size_t max, opc__ad_pending **out)
{
    *out = NULL;
    if (max == 0) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ad_pending *p = opc__calloc(1, sizeof *p);
    if (p == NULL || (p->e = opc__calloc(max, sizeof *p->e)) == NULL) {
        opc__free(p);
        return OPC_ERR_NOMEM;
    }
    p->max = max;
    (void)pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return OPC_OK;
}

void opc__ad_pending_free(opc__ad_pending *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->max; i++) {
        opc__ad_signin_clear(&p->e[i].s);
    }
    opc__free(p->e);
    (void)pthread_mutex_destroy(&p->mu);
    opc__free(p);
}

static bool expired(const pend *e, int64_t now_ms)
{
    return now_ms - e->born_ms >= (int64_t)OPC_PROTO_OWNER_PENDING_S * 1000;
}

opc_err opc__ad_pending_add(opc__ad_pending *p, opc__ad_signin *in, int64_t now_ms,
                            char id[OPC_PROTO_NONCE_B64 + 1])
{
    uint8_t raw[16];
    opc_err rc = opc__rand_bytes(raw, sizeof raw);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(raw, sizeof raw, OPC_B64URL, id, OPC_PROTO_NONCE_B64 + 1, NULL);
    }
    if (rc != OPC_OK) {
        opc__ad_signin_clear(in);
        return rc;
    }
    (void)pthread_mutex_lock(&p->mu);
    pend *slot = NULL;
    pend *oldest = NULL;
    for (size_t i = 0; i < p->max; i++) {
        pend *e = &p->e[i];
        if (e->used && expired(e, now_ms)) {
            opc__ad_signin_clear(&e->s);
            memset(e, 0, sizeof *e);
        }
        if (!e->used) {
            slot = slot != NULL ? slot : e;
        } else if (oldest == NULL || e->born_ms < oldest->born_ms) {
            oldest = e;
        }
    }
    if (slot == NULL && oldest == NULL) { /* not reached: max >= 1 */
        (void)pthread_mutex_unlock(&p->mu);
        opc__ad_signin_clear(in);
        return OPC_ERR_INVALID_ARG;
    }
    if (slot == NULL) {
        opc__ad_signin_clear(&oldest->s);
        memset(oldest, 0, sizeof *oldest);
        slot = oldest;
    }
    slot->used = true;
    memcpy(slot->id, id, OPC_PROTO_NONCE_B64 + 1);
    slot->born_ms = now_ms;
    slot->s = *in;
    memset(in, 0, sizeof *in); /* the SRP state moved */
    (void)pthread_mutex_unlock(&p->mu);
    return OPC_OK;
}

opc_err opc__ad_pending_take(opc__ad_pending *p, const char *id, int64_t now_ms,
                             opc__ad_signin *out)
{
    memset(out, 0, sizeof *out);
    if (id == NULL || strlen(id) != OPC_PROTO_NONCE_B64) {
        return OPC_ERR_NOT_FOUND;
    }
    opc_err rc = OPC_ERR_NOT_FOUND;
    (void)pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->max; i++) {
        pend *e = &p->e[i];
        if (e->used && CRYPTO_memcmp(e->id, id, OPC_PROTO_NONCE_B64) == 0) {
            if (!expired(e, now_ms)) {
                *out = e->s;
                rc = OPC_OK;
            } else {
                opc__ad_signin_clear(&e->s);
            }
            memset(e, 0, sizeof *e);
            break;
        }
    }
    (void)pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ---- unknown emails ---- */

/* HMAC-SHA256(secret, label LF email) into out. */
static opc_err derive(const uint8_t secret[32], const char *label, const char *email,
                      uint8_t out[32])
{
    char msg[OPC_PROTO_MAX_EMAIL + 32];
    int n = snprintf(msg, sizeof msg, "%s\n%s", label, email);
    if (n < 0 || (size_t)n >= sizeof msg) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc__hmac_sha256(secret, 32, msg, (size_t)n, out);
}

opc_err opc__ad_owner_fake(const uint8_t secret[32], const char *email,
                           uint8_t srp_salt[OPC_PROTO_SRP_SALT_LEN],
                           uint8_t kdf_salt[OPC_PROTO_SRP_SALT_LEN],
                           uint8_t verifier[OPC_PROTO_SRP_LEN], opc__ebuf *eb)
{
    uint8_t h[32];
    uint8_t x[32];
    opc_err rc = derive(secret, "opconnect/fake-srp-salt/v1", email, h);
    if (rc == OPC_OK) {
        memcpy(srp_salt, h, OPC_PROTO_SRP_SALT_LEN);
        rc = derive(secret, "opconnect/fake-kdf-salt/v1", email, h);
    }
    if (rc == OPC_OK) {
        memcpy(kdf_salt, h, OPC_PROTO_SRP_SALT_LEN);
        rc = derive(secret, "opconnect/fake-srp-x/v1", email, x);
    }
    if (rc == OPC_OK) {
        rc = opc__srp_verifier(opc__srp_group_get(OPC_SRP_GROUP_BITS), x, sizeof x, verifier,
                               OPC_PROTO_SRP_LEN, eb);
    }
    OPENSSL_cleanse(h, sizeof h);
    OPENSSL_cleanse(x, sizeof x);
    return rc;
}

opc_err opc__ad_email_key(const char *email, char out[OPC_PROTO_HASH_B64 + 1])
{
    char msg[OPC_PROTO_MAX_EMAIL + 8];
    int n = snprintf(msg, sizeof msg, "email\n%s", email);
    if (n < 0 || (size_t)n >= sizeof msg) {
        return OPC_ERR_INVALID_ARG;
    }
    uint8_t h[OPC_SHA256_LEN];
    opc_err rc = opc__sha256(msg, (size_t)n, h);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(h, sizeof h, OPC_B64URL, out, OPC_PROTO_HASH_B64 + 1, NULL);
    }
    return rc;
}

/* ---- sign-up checks ---- */

static opc_err public_jwk(const char *text, opc__kty kty, const char *what, opc__ebuf *eb)
{
    opc__key *k = NULL;
    opc_err rc = opc__jwk_parse(text, strlen(text), OPC_JWK_PUBLIC_ONLY, &k, NULL);
    if (rc == OPC_OK && opc__key_type(k) != kty) {
        rc = OPC_ERR_KEY;
    }
    opc__key_free(k);
    if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "malformed sign-up: %s is not a public key", what);
    }
    return rc;
}

static opc_err envelope_text(const char *text, const char *what, opc__ebuf *eb)
{
    cJSON *j = NULL;
    opc__json_limits lim = {.max_size = OPC_PROTO_MAX_KEY_TEXT, .max_depth = 2};
    opc_err rc = opc__json_parse(text, strlen(text), &lim, &j, NULL);
    bool ok = rc == OPC_OK && cJSON_IsObject(j) && opc__json_member(j, "kid") != NULL &&
              opc__json_member(j, "data") != NULL && opc__json_member(j, "iv") != NULL;
    cJSON_Delete(j);
    if (rc == OPC_ERR_NOMEM) {
        return rc;
    }
    return ok ? OPC_OK
              : opc__fail(eb, OPC_ERR_PARSE, "malformed sign-up: %s is not an envelope", what);
}

opc_err opc__ad_signup_check(const opc__proto_signup *su, opc__ebuf *eb)
{
    const opc__proto_account *a = &su->account;
    if (strcmp(a->kdf_alg, "PBES2g-HS256") != 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "malformed sign-up: unknown key derivation");
    }
    if (a->iterations < OPC_ACCOUNT_MIN_ITERATIONS) {
        return opc__fail(eb, OPC_ERR_RANGE, "sign-up: fewer than %u 2SKD iterations",
                         OPC_ACCOUNT_MIN_ITERATIONS);
    }
    opc_err rc = public_jwk(a->pub_key, OPC_KTY_RSA, "pubKey", eb);
    if (rc == OPC_OK) {
        rc = public_jwk(a->spub_key, OPC_KTY_EC, "spubKey", eb);
    }
    if (rc == OPC_OK) {
        rc = envelope_text(a->enc_sym_key, "encSymKey", eb);
    }
    if (rc == OPC_OK) {
        rc = envelope_text(a->enc_pri_key, "encPriKey", eb);
    }
    if (rc == OPC_OK) {
        rc = envelope_text(a->enc_spri_key, "encSpriKey", eb);
    }
    if (rc == OPC_OK) {
        /* The verifier must be a value in 1..N-1: what the sign-in will use. */
        uint8_t B[OPC_PROTO_SRP_LEN];
        opc__srp_server *srv = NULL;
        rc = opc__srp_server_start(opc__srp_group_get(OPC_SRP_GROUP_BITS), a->email,
                                   strlen(a->email), su->srp_salt, sizeof su->srp_salt,
                                   su->verifier, sizeof su->verifier, B, sizeof B, &srv, NULL);
        opc__srp_server_free(srv);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc =
                opc__fail(eb, OPC_ERR_PARSE, "malformed sign-up: the SRP verifier is out of range");
        }
    }
    return rc;
}
