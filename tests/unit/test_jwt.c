#include "harness.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/base64.h"
#include "crypto/ecdsa.h"
#include "crypto/jwt.h"
#include "crypto/kdf.h"
#include "crypto/key.h"

/* ---- fixed test identities (obviously fake) ---- */

#define KID "kidkidkidkidkidkidkidkid22"
#define KID2 "kidtwokidtwokidtwokidtwo22"
#define SERVER "serverserverserverserver22"
#define ACCOUNT "accountaccountaccountacc22"
#define VAULT1 "vaultonevaultonevaultone22"
#define VAULT2_UPPER "VAULTTWOVAULTTWOVAULTTWO33"
#define VAULT2 "vaulttwovaulttwovaulttwo33"
#define JTI "jtijtijtijtijtijtijtijti22"
#define NOW 1700000000
/* The verifier's leeway in these tests (the api's default is OPC_JWT_LEEWAY_S). */
#define TEST_LEEWAY_S 60
#define J8 "jjjjjjjj"
#define J64 J8 J8 J8 J8 J8 J8 J8 J8
#define NOW_S "1700000000"
/* Bytes 0..31, and 31 / 33 byte variants. */
#define TOKEN_SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define TOKEN_SECRET_31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg"
#define TOKEN_SECRET_33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"

#define STD_HEADER "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"typ\":\"JWT\"}"
#define HDR(alg_kid_typ) "{" alg_kid_typ "}"

/* P-256 group order n. */
static const char p256_n_hex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/* The standard payload, member by member (name, JSON value). */
static const struct {
    const char *name;
    const char *value;
} std_claims[] = {
    {"aud", "[\"" OPC_JWT_AUDIENCE "\"]"},
    {"sub", "\"" SERVER "\""},
    {"1password.com/auuid", "\"" ACCOUNT "\""},
    {"1password.com/token", "\"" TOKEN_SECRET_B64 "\""},
    {"1password.com/fts", "[\"vaultaccess\"]"},
    {"1password.com/vts", "[{\"u\":\"" VAULT1 "\",\"a\":1},{\"u\":\"" VAULT2_UPPER "\",\"a\":3}]"},
    {"iss", "\"" OPC_JWT_ISSUER "\""},
    {"iat", "1699999990"},
    {"exp", "1700003600"},
    {"jti", "\"" JTI "\""},
};

/* ---- fixture ---- */

struct jcase;

typedef struct fixture {
    opc__key *priv;  /* signs; kid KID */
    opc__key *pub;   /* its public half, pinned */
    opc__key *other; /* another private key with the same kid, not pinned */
    const opc__key *pinned[1];
    opc__jwt_expect expect;
    const struct jcase *jc; /* for the per-case matrix tests */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    f->jc = *state;
    if (opc__key_generate_ec(KID, OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &f->priv) != OPC_OK ||
        opc__key_public(f->priv, &f->pub) != OPC_OK ||
        opc__key_generate_ec(KID, OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &f->other) != OPC_OK) {
        opc__key_free(f->priv);
        opc__key_free(f->pub);
        opc__key_free(f->other);
        free(f);
        return -1;
    }
    f->pinned[0] = f->pub;
    f->expect.keys = f->pinned;
    f->expect.n_keys = 1;
    f->expect.audience = OPC_JWT_AUDIENCE;
    f->expect.sub = SERVER;
    f->expect.auuid = ACCOUNT;
    f->expect.now = NOW;
    f->expect.leeway = TEST_LEEWAY_S;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    opc__key_free(f->priv);
    opc__key_free(f->pub);
    opc__key_free(f->other);
    free(f);
    return 0;
}

/* ---- token building ---- */

/* A growable string on plain malloc. */
typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
} sbuf;

static void sb_add_n(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_add(sbuf *b, const char *s)
{
    sb_add_n(b, s, strlen(s));
}

/*
 * The standard payload with member `name` set to `value` (NULL removes it;
 * a name not in the standard set is appended), then `raw` appended inside
 * the object. Returns a malloc'ed string.
 */
static char *payload_with(const char *name, const char *value, const char *raw)
{
    sbuf b = {0};
    bool replaced = false;
    bool first = true;
    sb_add(&b, "{");
    for (size_t i = 0; i < OPC_ARRAY_LEN(std_claims); i++) {
        const char *v = std_claims[i].value;
        if (name != NULL && strcmp(name, std_claims[i].name) == 0) {
            replaced = true;
            v = value;
        }
        if (v == NULL) {
            continue;
        }
        sb_add(&b, first ? "\"" : ",\"");
        sb_add(&b, std_claims[i].name);
        sb_add(&b, "\":");
        sb_add(&b, v);
        first = false;
    }
    if (name != NULL && !replaced && value != NULL) {
        sb_add(&b, first ? "\"" : ",\"");
        sb_add(&b, name);
        sb_add(&b, "\":");
        sb_add(&b, value);
    }
    if (raw != NULL) {
        sb_add(&b, raw);
    }
    sb_add(&b, "}");
    return b.p;
}

/* base64url of n bytes, malloc'ed. */
static char *b64(const void *p, size_t n)
{
    char *enc = NULL;
    size_t enc_len = 0;
    assert_int_equal(opc__b64_encode(p, n, OPC_B64URL, &enc, &enc_len), OPC_OK);
    char *copy = strdup(enc);
    assert_non_null(copy);
    opc__free(enc);
    return copy;
}

/* Sign with opc__jws_sign_es256; returns a malloc'ed copy. */
static char *sign_with(const opc__key *k, const char *header, const char *payload)
{
    char *tok = NULL;
    assert_int_equal(opc__jws_sign_es256(k, header, payload, &tok), OPC_OK);
    assert_non_null(tok);
    char *copy = strdup(tok);
    assert_non_null(copy);
    opc__free(tok);
    return copy;
}

/* The raw 64-byte signature of a compact token. */
static void raw_signature(const char *tok, uint8_t sig[64])
{
    const char *dot = strrchr(tok, '.');
    assert_non_null(dot);
    size_t n = 0;
    assert_int_equal(opc__b64_decode_to(dot + 1, strlen(dot + 1), OPC_B64URL, sig, 64, &n, NULL),
                     OPC_OK);
    assert_int_equal(n, 64);
}

/* tok's "header.payload" followed by "." and b64url(sig[0..n)). */
static char *with_signature(const char *tok, const void *sig, size_t n)
{
    const char *dot = strrchr(tok, '.');
    assert_non_null(dot);
    sbuf b = {0};
    sb_add_n(&b, tok, (size_t)(dot - tok) + 1);
    if (n > 0) {
        char *s = b64(sig, n);
        sb_add(&b, s);
        free(s);
    }
    return b.p;
}

static void hex32(const char *hex, uint8_t out[32])
{
    size_t n = 0;
    unsigned char *raw = opc_test_unhex(hex, &n);
    assert_int_equal(n, 32);
    memcpy(out, raw, 32);
    free(raw);
}

/* Replace s of a raw signature by n - s (OpenSSL's P-256 order): the twin
 * that verifies as well. Our signer writes low-S, so the twin is high-S. */
static void high_s_twin(uint8_t sig[64])
{
    assert_int_equal(opc__ecdsa_is_low_s(sig), 1);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    assert_non_null(g);
    BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
    BIGNUM *t = BN_new();
    assert_true(s != NULL && t != NULL);
    assert_int_equal(BN_sub(t, EC_GROUP_get0_order(g), s), 1);
    assert_int_equal(BN_bn2binpad(t, sig + 32, 32), 32);
    assert_int_equal(opc__ecdsa_is_low_s(sig), 0);
    BN_free(s);
    BN_free(t);
    EC_GROUP_free(g);
}

/* DER encoding of a raw signature, never 64 bytes long (re-signs if needed). */
static char *der_signature_token(const fixture *f, const char *header, const char *payload)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        char *tok = sign_with(f->priv, header, payload);
        uint8_t raw[64];
        raw_signature(tok, raw);
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(raw, 32, NULL);
        BIGNUM *s = BN_bin2bn(raw + 32, 32, NULL);
        assert_true(es != NULL && r != NULL && s != NULL);
        assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
        unsigned char *der = NULL;
        int der_len = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        assert_true(der_len > 0);
        /* Sanity: the DER form verifies with OpenSSL (so only the format is wrong). */
        const char *dot = strrchr(tok, '.');
        assert_int_equal(
            opc__ecdsa_verify_der(f->pub, tok, (size_t)(dot - tok), der, (size_t)der_len, NULL),
            OPC_OK);
        char *out = NULL;
        if (der_len != 64) {
            out = with_signature(tok, der, (size_t)der_len);
        }
        OPENSSL_free(der);
        free(tok);
        if (out != NULL) {
            return out;
        }
    }
    fail_msg("could not make a DER signature of a length other than 64");
    return NULL;
}

/* HS256 over the signing input, keyed with the public key's JWK or PEM text. */
static char *hmac_token(const fixture *f, const char *header, const char *payload, bool pem)
{
    char *key_text = NULL;
    size_t key_len = 0;
    if (pem) {
        BIO *bio = BIO_new(BIO_s_mem());
        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, opc__key_pkey(f->pub)), 1);
        char *mem = NULL;
        long n = BIO_get_mem_data(bio, &mem);
        assert_true(n > 0);
        key_text = strndup(mem, (size_t)n);
        key_len = (size_t)n;
        BIO_free(bio);
    } else {
        cJSON *jwk = NULL;
        assert_int_equal(opc__jwk_export(f->pub, false, &jwk), OPC_OK);
        key_text = cJSON_PrintUnformatted(jwk);
        cJSON_Delete(jwk);
        assert_non_null(key_text);
        key_len = strlen(key_text);
    }
    char *h = b64(header, strlen(header));
    char *p = b64(payload, strlen(payload));
    sbuf b = {0};
    sb_add(&b, h);
    sb_add(&b, ".");
    sb_add(&b, p);
    uint8_t mac[32];
    assert_int_equal(opc__hmac_sha256(key_text, key_len, b.p, b.len, mac), OPC_OK);
    char *m = b64(mac, sizeof mac);
    sb_add(&b, ".");
    sb_add(&b, m);
    free(m);
    free(h);
    free(p);
    free(key_text);
    return b.p;
}

/* ---- verification helpers ---- */

static opc_err verify(const fixture *f, const char *tok, opc__jwt_claims *claims, opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    return opc__jwt_verify(tok, strlen(tok), &f->expect, claims, eb);
}

static void expect_ok(const fixture *f, const char *tok, opc__jwt_claims *claims)
{
    opc__ebuf eb;
    opc_err rc = verify(f, tok, claims, &eb);
    if (rc != OPC_OK) {
        fail_msg("expected OK, got %s reason %s (%s)", opc_errname(rc),
                 opc__jwt_reason_name((opc__jwt_reason)eb.reason), eb.msg);
    }
    assert_int_equal(eb.reason, OPC_JWT_OK);
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Verify must fail with OPC_ERR_TOKEN and `want`; claims wiped; message safe. */
static void expect_reject_msg(const fixture *f, const char *tok, opc__jwt_reason want,
                              char *msg_out, size_t msg_cap)
{
    opc__jwt_claims *claims = malloc(sizeof *claims);
    assert_non_null(claims);
    memset(claims, 0xa5, sizeof *claims);
    opc__ebuf eb;
    opc_err rc = verify(f, tok, claims, &eb);
    if (rc != OPC_ERR_TOKEN || eb.reason != (int)want) {
        fail_msg("expected reason %s, got %s reason %s (%s)", opc__jwt_reason_name(want),
                 opc_errname(rc), opc__jwt_reason_name((opc__jwt_reason)eb.reason), eb.msg);
    }
    assert_true(all_zero(claims, sizeof *claims));
    free(claims);
    assert_true(eb.msg[0] != '\0');
    assert_null(strstr(eb.msg, TOKEN_SECRET_B64));
    assert_null(strstr(eb.msg, "AAECAwQF"));
    if (strlen(tok) > 40) {
        char head[41];
        memcpy(head, tok, 40);
        head[40] = '\0';
        assert_null(strstr(eb.msg, head));
    }
    if (msg_out != NULL) {
        snprintf(msg_out, msg_cap, "%s", eb.msg);
    }
}

static void expect_reject(const fixture *f, const char *tok, opc__jwt_reason want)
{
    expect_reject_msg(f, tok, want, NULL, 0);
}

/* ---- the forgery matrix ---- */

typedef enum sigmode {
    S_VALID = 0, /* signed by the pinned key */
    S_EMPTY,     /* no signature: "header.payload." */
    S_HMAC_JWK,  /* HS256 keyed with the public JWK text */
    S_HMAC_PEM,  /* HS256 keyed with the public PEM text */
    S_DER,       /* the valid signature, DER-encoded */
    S_63,        /* valid signature minus its last byte */
    S_65,        /* valid signature plus a zero byte */
    S_R_ZERO,    /* r = 0, s valid */
    S_S_ZERO,    /* r valid, s = 0 */
    S_R_N,       /* r = n */
    S_S_N,       /* s = n */
    S_HIGH_S,    /* the valid signature's twin (r, n - s): verifies, high-S form */
    S_OTHER_KEY, /* signed by another key with the same kid */
    S_GARBAGE64  /* 64 random-looking bytes in range */
} sigmode;

typedef enum mutation {
    M_NONE = 0,
    M_TOO_LONG,      /* a validly signed token over 8 KiB */
    M_TWO_SEGMENTS,  /* drop ".signature" */
    M_FOUR_SEGMENTS, /* append ".AAAA" */
    M_EMPTY_PAYLOAD, /* header..signature */
    M_PAD_SIG,       /* signature followed by "==" */
    M_PAD_HEADER,    /* header segment with a '=' inserted before the dot */
    M_BAD_CHAR,      /* '*' in the payload segment */
    M_STD_ALPHABET,  /* '+' in the signature segment */
    M_NONCANONICAL,  /* signature's last character with non-zero unused bits */
    M_SPACE          /* a space inside the header segment */
} mutation;

typedef struct jcase {
    const char *name; /* test_jwt_verify_rejects_<name> */
    const char *cls;  /* cases of one class expect the same reason */
    opc__jwt_reason want;
    const char *header;  /* NULL: STD_HEADER */
    const char *claim;   /* claim to replace or add (NULL: none) */
    const char *value;   /* its JSON value (NULL: remove the claim) */
    const char *raw;     /* raw text appended inside the payload object */
    const char *payload; /* whole payload (overrides the above) */
    sigmode sig;
    mutation mut;
} jcase;

#define H_KID "\"kid\":\"" KID "\""

static const jcase cases[] = {
    /* step 1: size, segments, base64url */
    {"over_8kib", "too_long", OPC_JWT_TOO_LONG, NULL, NULL, NULL, NULL, NULL, S_VALID, M_TOO_LONG},
    {"two_segments", "segments", OPC_JWT_SEGMENTS, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_TWO_SEGMENTS},
    {"four_segments", "segments", OPC_JWT_SEGMENTS, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_FOUR_SEGMENTS},
    {"empty_payload_segment", "segments", OPC_JWT_SEGMENTS, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_EMPTY_PAYLOAD},
    {"unsigned_es256", "segments", OPC_JWT_SEGMENTS, NULL, NULL, NULL, NULL, NULL, S_EMPTY, M_NONE},
    {"b64_padding_signature", "base64", OPC_JWT_BASE64, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_PAD_SIG},
    {"b64_padding_header", "base64", OPC_JWT_BASE64, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_PAD_HEADER},
    {"b64_invalid_char", "base64", OPC_JWT_BASE64, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_BAD_CHAR},
    {"b64_std_alphabet", "base64", OPC_JWT_BASE64, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_STD_ALPHABET},
    {"b64_noncanonical_bits", "base64", OPC_JWT_BASE64, NULL, NULL, NULL, NULL, NULL, S_VALID,
     M_NONCANONICAL},
    {"b64_space", "base64", OPC_JWT_BASE64, NULL, NULL, NULL, NULL, NULL, S_VALID, M_SPACE},
    /* step 2: header */
    {"header_not_json", "header_json", OPC_JWT_HEADER_JSON, "alg=ES256", NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_array", "header_json", OPC_JWT_HEADER_JSON, "[\"ES256\"]", NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_trailing_data", "header_json", OPC_JWT_HEADER_JSON, STD_HEADER "x", NULL, NULL, NULL,
     NULL, S_VALID, M_NONE},
    {"header_duplicate_alg", "header_dup", OPC_JWT_HEADER_DUPLICATE,
     HDR("\"alg\":\"ES256\",\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_case_variant_alg", "header_dup", OPC_JWT_HEADER_DUPLICATE,
     HDR("\"alg\":\"ES256\",\"ALG\":\"none\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_case_variant_kid", "header_dup", OPC_JWT_HEADER_DUPLICATE,
     HDR("\"alg\":\"ES256\"," H_KID ",\"Kid\":\"x\",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"alg_none_signed", "alg_none", OPC_JWT_ALG_NONE,
     HDR("\"alg\":\"none\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"alg_none_unsigned", "alg_none", OPC_JWT_ALG_NONE,
     HDR("\"alg\":\"none\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_EMPTY, M_NONE},
    {"alg_none_mixed_case", "alg_none", OPC_JWT_ALG_NONE, HDR("\"alg\":\"NoNe\",\"typ\":\"JWT\""),
     NULL, NULL, NULL, NULL, S_EMPTY, M_NONE},
    {"alg_hs256_public_jwk", "alg_hmac", OPC_JWT_ALG_HMAC,
     HDR("\"alg\":\"HS256\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_HMAC_JWK,
     M_NONE},
    {"alg_hs256_public_pem", "alg_hmac", OPC_JWT_ALG_HMAC,
     HDR("\"alg\":\"HS256\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_HMAC_PEM,
     M_NONE},
    {"alg_hs512_lower", "alg_hmac", OPC_JWT_ALG_HMAC,
     HDR("\"alg\":\"hs512\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_HMAC_JWK,
     M_NONE},
    {"alg_es256_lower", "alg_case", OPC_JWT_ALG_CASE,
     HDR("\"alg\":\"es256\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"alg_es256_mixed", "alg_case", OPC_JWT_ALG_CASE,
     HDR("\"alg\":\"Es256\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"alg_es384", "alg_other", OPC_JWT_ALG_UNSUPPORTED,
     HDR("\"alg\":\"ES384\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"alg_rs256", "alg_other", OPC_JWT_ALG_UNSUPPORTED,
     HDR("\"alg\":\"RS256\"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"alg_es256_padded", "alg_other", OPC_JWT_ALG_UNSUPPORTED,
     HDR("\"alg\":\"ES256 \"," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"alg_missing", "alg_other", OPC_JWT_ALG_UNSUPPORTED, HDR(H_KID ",\"typ\":\"JWT\""), NULL, NULL,
     NULL, NULL, S_VALID, M_NONE},
    {"alg_not_string", "alg_other", OPC_JWT_ALG_UNSUPPORTED,
     HDR("\"alg\":[\"ES256\"]," H_KID ",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"typ_lower_case", "typ", OPC_JWT_TYP, HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"jwt\""), NULL,
     NULL, NULL, NULL, S_VALID, M_NONE},
    {"typ_missing", "typ", OPC_JWT_TYP, HDR("\"alg\":\"ES256\"," H_KID), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"typ_other", "typ", OPC_JWT_TYP, HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"at+jwt\""), NULL,
     NULL, NULL, NULL, S_VALID, M_NONE},
    {"header_jku", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"jku\":\"https://evil.example/k\""), NULL,
     NULL, NULL, NULL, S_VALID, M_NONE},
    {"header_x5u", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"x5u\":\"https://evil.example/c\""), NULL,
     NULL, NULL, NULL, S_VALID, M_NONE},
    {"header_x5c", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"x5c\":[\"MIIB\"]"), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_jwk", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\","
         "\"x\":\"AA\",\"y\":\"AA\"}"),
     NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"header_crit", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"crit\":[\"exp\"]"), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_zip", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"zip\":\"DEF\""), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"header_jku_upper", "forbidden", OPC_JWT_FORBIDDEN_HEADER,
     HDR("\"alg\":\"ES256\"," H_KID ",\"typ\":\"JWT\",\"JKU\":\"https://evil.example/k\""), NULL,
     NULL, NULL, NULL, S_VALID, M_NONE},
    {"kid_missing", "kid_missing", OPC_JWT_KID_MISSING, HDR("\"alg\":\"ES256\",\"typ\":\"JWT\""),
     NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"kid_empty", "kid_missing", OPC_JWT_KID_MISSING,
     HDR("\"alg\":\"ES256\",\"kid\":\"\",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID,
     M_NONE},
    {"kid_not_string", "kid_missing", OPC_JWT_KID_MISSING,
     HDR("\"alg\":\"ES256\",\"kid\":7,\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID, M_NONE},
    {"kid_unknown", "kid_unknown", OPC_JWT_KID_UNKNOWN,
     HDR("\"alg\":\"ES256\",\"kid\":\"" KID2 "\",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL, S_VALID,
     M_NONE},
    {"kid_case_variant", "kid_unknown", OPC_JWT_KID_UNKNOWN,
     HDR("\"alg\":\"ES256\",\"kid\":\"KIDKIDKIDKIDKIDKIDKIDKID22\",\"typ\":\"JWT\""), NULL, NULL,
     NULL, NULL, S_VALID, M_NONE},
    {"kid_path_traversal", "kid_unknown", OPC_JWT_KID_UNKNOWN,
     HDR("\"alg\":\"ES256\",\"kid\":\"../../etc/passwd\",\"typ\":\"JWT\""), NULL, NULL, NULL, NULL,
     S_VALID, M_NONE},
    /* step 3: signature */
    {"sig_der", "sig_der", OPC_JWT_SIG_DER, NULL, NULL, NULL, NULL, NULL, S_DER, M_NONE},
    {"sig_63_bytes", "sig_length", OPC_JWT_SIG_LENGTH, NULL, NULL, NULL, NULL, NULL, S_63, M_NONE},
    {"sig_65_bytes", "sig_length", OPC_JWT_SIG_LENGTH, NULL, NULL, NULL, NULL, NULL, S_65, M_NONE},
    {"sig_r_zero", "r_zero", OPC_JWT_SIG_R_ZERO, NULL, NULL, NULL, NULL, NULL, S_R_ZERO, M_NONE},
    {"sig_s_zero", "s_zero", OPC_JWT_SIG_S_ZERO, NULL, NULL, NULL, NULL, NULL, S_S_ZERO, M_NONE},
    {"sig_r_equals_n", "r_range", OPC_JWT_SIG_R_RANGE, NULL, NULL, NULL, NULL, NULL, S_R_N, M_NONE},
    {"sig_s_equals_n", "s_range", OPC_JWT_SIG_S_RANGE, NULL, NULL, NULL, NULL, NULL, S_S_N, M_NONE},
    {"sig_high_s", "high_s", OPC_JWT_SIG_HIGH_S, NULL, NULL, NULL, NULL, NULL, S_HIGH_S, M_NONE},
    {"sig_other_key_same_kid", "sig_invalid", OPC_JWT_SIG_INVALID, NULL, NULL, NULL, NULL, NULL,
     S_OTHER_KEY, M_NONE},
    {"sig_garbage", "sig_invalid", OPC_JWT_SIG_INVALID, NULL, NULL, NULL, NULL, NULL, S_GARBAGE64,
     M_NONE},
    /* step 4: payload (validly signed) */
    {"payload_not_json", "payload_json", OPC_JWT_PAYLOAD_JSON, NULL, NULL, NULL, NULL, "exp=never",
     S_VALID, M_NONE},
    {"payload_array", "payload_json", OPC_JWT_PAYLOAD_JSON, NULL, NULL, NULL, NULL, "[]", S_VALID,
     M_NONE},
    {"payload_duplicate_jti", "payload_dup", OPC_JWT_PAYLOAD_DUPLICATE, NULL, NULL, NULL,
     ",\"jti\":\"second\"", NULL, S_VALID, M_NONE},
    {"payload_case_variant_exp", "payload_dup", OPC_JWT_PAYLOAD_DUPLICATE, NULL, NULL, NULL,
     ",\"EXP\":9999999999", NULL, S_VALID, M_NONE},
    {"payload_nested_duplicate", "payload_dup", OPC_JWT_PAYLOAD_DUPLICATE, NULL,
     "1password.com/vts", "[{\"u\":\"" VAULT1 "\",\"a\":1,\"a\":3}]", NULL, NULL, S_VALID, M_NONE},
    {"claim_exp_fraction", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "exp", "1700003600.5", NULL,
     NULL, S_VALID, M_NONE},
    {"claim_exp_2_pow_53", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "exp", "9007199254740992", NULL,
     NULL, S_VALID, M_NONE},
    {"claim_exp_negative", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "exp", "-1", NULL, NULL, S_VALID,
     M_NONE},
    {"claim_exp_string", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "exp", "\"1700003600\"", NULL,
     NULL, S_VALID, M_NONE},
    {"claim_iat_huge", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "iat", "1e300", NULL, NULL, S_VALID,
     M_NONE},
    {"claim_aud_number_in_array", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "aud",
     "[\"" OPC_JWT_AUDIENCE "\",1]", NULL, NULL, S_VALID, M_NONE},
    {"claim_jti_too_long", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "jti", "\"" J64 "j\"", NULL,
     NULL, S_VALID, M_NONE},
    {"claim_vts_bad_vault_id", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/vts",
     "[{\"u\":\"vault1vault1vault1vault1vv\",\"a\":1}]", NULL, NULL, S_VALID, M_NONE},
    {"claim_vts_short_vault_id", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/vts",
     "[{\"u\":\"vault\",\"a\":1}]", NULL, NULL, S_VALID, M_NONE},
    {"claim_vts_unknown_acl_bits", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/vts",
     "[{\"u\":\"" VAULT1 "\",\"a\":5}]", NULL, NULL, S_VALID, M_NONE},
    {"claim_vts_extra_member", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/vts",
     "[{\"u\":\"" VAULT1 "\",\"a\":1,\"x\":0}]", NULL, NULL, S_VALID, M_NONE},
    {"claim_vts_duplicate_vault", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/vts",
     "[{\"u\":\"" VAULT2 "\",\"a\":1},{\"u\":\"" VAULT2_UPPER "\",\"a\":2}]", NULL, NULL, S_VALID,
     M_NONE},
    {"claim_vts_not_array", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/vts",
     "{\"u\":\"" VAULT1 "\",\"a\":1}", NULL, NULL, S_VALID, M_NONE},
    {"claim_fts_not_strings", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/fts", "[1]",
     NULL, NULL, S_VALID, M_NONE},
    {"claim_token_secret_31_bytes", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/token",
     "\"" TOKEN_SECRET_31 "\"", NULL, NULL, S_VALID, M_NONE},
    {"claim_token_secret_33_bytes", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/token",
     "\"" TOKEN_SECRET_33 "\"", NULL, NULL, S_VALID, M_NONE},
    {"claim_token_secret_padded", "claim_type", OPC_JWT_CLAIM_TYPE, NULL, "1password.com/token",
     "\"" TOKEN_SECRET_B64 "=\"", NULL, NULL, S_VALID, M_NONE},
    {"claim_jti_missing", "claim_missing", OPC_JWT_CLAIM_MISSING, NULL, "jti", NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"claim_iat_missing", "claim_missing", OPC_JWT_CLAIM_MISSING, NULL, "iat", NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"claim_sub_missing", "claim_missing", OPC_JWT_CLAIM_MISSING, NULL, "sub", NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"claim_aud_missing", "claim_missing", OPC_JWT_CLAIM_MISSING, NULL, "aud", NULL, NULL, NULL,
     S_VALID, M_NONE},
    {"aud_wrong", "aud", OPC_JWT_AUD, NULL, "aud", "[\"com.1password.other\"]", NULL, NULL, S_VALID,
     M_NONE},
    {"aud_wrong_string", "aud", OPC_JWT_AUD, NULL, "aud", "\"com.1password.connect \"", NULL, NULL,
     S_VALID, M_NONE},
    {"aud_empty_array", "aud", OPC_JWT_AUD, NULL, "aud", "[]", NULL, NULL, S_VALID, M_NONE},
    {"sub_wrong", "sub", OPC_JWT_SUB, NULL, "sub", "\"otherserverotherserverothe\"", NULL, NULL,
     S_VALID, M_NONE},
    {"auuid_wrong", "auuid", OPC_JWT_AUUID, NULL, "1password.com/auuid",
     "\"otheraccountotheraccountot\"", NULL, NULL, S_VALID, M_NONE},
    {"expired", "expired", OPC_JWT_EXPIRED, NULL, "exp", "1699999000", NULL, NULL, S_VALID, M_NONE},
    {"expired_at_leeway_edge", "expired", OPC_JWT_EXPIRED, NULL, "exp", "1699999940", NULL, NULL,
     S_VALID, M_NONE},
    {"nbf_future", "nbf", OPC_JWT_NOT_YET_VALID, NULL, "nbf", "1700000061", NULL, NULL, S_VALID,
     M_NONE},
    {"iat_future", "iat", OPC_JWT_IAT_FUTURE, NULL, "iat", "1700000061", NULL, NULL, S_VALID,
     M_NONE},
};

/* Apply a textual mutation to a compact token (malloc'ed in, malloc'ed out). */
static char *mutate(char *tok, mutation m)
{
    size_t len = strlen(tok);
    char *d1 = strchr(tok, '.');
    char *d2 = strrchr(tok, '.');
    assert_true(d1 != NULL && d2 != NULL && d1 != d2);
    sbuf b = {0};
    switch (m) {
    case M_NONE:
    case M_TOO_LONG:
        return tok;
    case M_TWO_SEGMENTS:
        *d2 = '\0';
        return tok;
    case M_FOUR_SEGMENTS:
        sb_add(&b, tok);
        sb_add(&b, ".AAAA");
        break;
    case M_EMPTY_PAYLOAD:
        sb_add_n(&b, tok, (size_t)(d1 - tok) + 1);
        sb_add(&b, d2);
        break;
    case M_PAD_SIG:
        /* 64 bytes -> 86 characters, which padded base64 would end with "==". */
        assert_int_equal(strlen(d2 + 1), 86);
        sb_add(&b, tok);
        sb_add(&b, "==");
        break;
    case M_PAD_HEADER:
        sb_add_n(&b, tok, (size_t)(d1 - tok));
        sb_add(&b, "=");
        sb_add(&b, d1);
        break;
    case M_BAD_CHAR:
        d1[1] = '*';
        return tok;
    case M_STD_ALPHABET:
        d2[1] = '+';
        return tok;
    case M_NONCANONICAL:
        /* 86 characters carry 516 bits for 512: the last one is A, Q, g or w. */
        assert_non_null(strchr("AQgw", tok[len - 1]));
        tok[len - 1] = (char)(tok[len - 1] + 1);
        return tok;
    case M_SPACE:
        tok[2] = ' ';
        return tok;
    default:
        fail_msg("unknown mutation");
    }
    free(tok);
    return b.p;
}

/* Build the token of a matrix case (malloc'ed). */
static char *build_case(const fixture *f, const jcase *c)
{
    const char *header = c->header != NULL ? c->header : STD_HEADER;
    char *payload = NULL;
    if (c->payload != NULL) {
        payload = strdup(c->payload);
    } else if (c->mut == M_TOO_LONG) {
        char *pad = malloc(6400);
        assert_non_null(pad);
        memset(pad, 'x', 6399);
        pad[0] = '"';
        pad[6398] = '"';
        pad[6399] = '\0';
        payload = payload_with("pad", pad, NULL);
        free(pad);
    } else {
        payload = payload_with(c->claim, c->value, c->raw);
    }
    assert_non_null(payload);

    char *tok = NULL;
    uint8_t sig[65];
    uint8_t n[32];
    hex32(p256_n_hex, n);
    switch (c->sig) {
    case S_VALID:
        tok = sign_with(f->priv, header, payload);
        break;
    case S_OTHER_KEY:
        tok = sign_with(f->other, header, payload);
        break;
    case S_EMPTY: {
        char *t = sign_with(f->priv, header, payload);
        tok = with_signature(t, NULL, 0);
        free(t);
        break;
    }
    case S_HMAC_JWK:
    case S_HMAC_PEM:
        tok = hmac_token(f, header, payload, c->sig == S_HMAC_PEM);
        break;
    case S_DER:
        tok = der_signature_token(f, header, payload);
        break;
    default: {
        char *t = sign_with(f->priv, header, payload);
        raw_signature(t, sig);
        size_t sig_len = 64;
        if (c->sig == S_63) {
            sig_len = 63;
        } else if (c->sig == S_65) {
            sig[64] = 0;
            sig_len = 65;
        } else if (c->sig == S_R_ZERO) {
            memset(sig, 0, 32);
        } else if (c->sig == S_S_ZERO) {
            memset(sig + 32, 0, 32);
        } else if (c->sig == S_R_N) {
            memcpy(sig, n, 32);
        } else if (c->sig == S_S_N) {
            memcpy(sig + 32, n, 32);
        } else if (c->sig == S_HIGH_S) {
            high_s_twin(sig);
        } else if (c->sig == S_GARBAGE64) {
            for (size_t i = 0; i < 64; i++) {
                sig[i] = (uint8_t)(0x11 + i * 3);
            }
        }
        tok = with_signature(t, sig, sig_len);
        free(t);
        break;
    }
    }
    free(payload);
    return mutate(tok, c->mut);
}

static void run_case(const fixture *f, const jcase *c, char *msg, size_t cap)
{
    char *tok = build_case(f, c);
    expect_reject_msg(f, tok, c->want, msg, cap);
    free(tok);
}

/* One cmocka test per matrix case (named test_jwt_verify_rejects_<case>). */
static void test_jwt_verify_rejects_case(void **state)
{
    fixture *f = *state;
    run_case(f, f->jc, NULL, 0);
}

/*
 * The whole matrix at once: each case gets its expected reason, cases of
 * different classes get different reasons and different messages, and
 * every reason code the verifier has is produced by some case.
 */
static void test_jwt_verify_matrix_reasons_distinct(void **state)
{
    fixture *f = *state;
    enum { N = OPC_ARRAY_LEN(cases) };
    static char msgs[N][OPC_ERRBUF_SIZE];
    bool seen[OPC_JWT_REASON_COUNT] = {false};
    for (size_t i = 0; i < N; i++) {
        run_case(f, &cases[i], msgs[i], sizeof msgs[i]);
        seen[cases[i].want] = true;
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            bool same_class = strcmp(cases[i].cls, cases[j].cls) == 0;
            if (same_class && cases[i].want != cases[j].want) {
                fail_msg("cases %s and %s share a class but not a reason", cases[i].name,
                         cases[j].name);
            }
            if (!same_class && cases[i].want == cases[j].want) {
                fail_msg("cases %s and %s differ but share reason %s", cases[i].name, cases[j].name,
                         opc__jwt_reason_name(cases[i].want));
            }
            if (!same_class && strcmp(msgs[i], msgs[j]) == 0) {
                fail_msg("cases %s and %s differ but share the message \"%s\"", cases[i].name,
                         cases[j].name, msgs[i]);
            }
        }
    }
    for (int r = 1; r < OPC_JWT_REASON_COUNT; r++) {
        if (!seen[r]) {
            fail_msg("no matrix case produces reason %s", opc__jwt_reason_name((opc__jwt_reason)r));
        }
    }
}

/* ---- positive and boundary tests ---- */

static char *std_token(const fixture *f, const char *claim, const char *value)
{
    char *payload = payload_with(claim, value, NULL);
    char *tok = sign_with(f->priv, STD_HEADER, payload);
    free(payload);
    return tok;
}

/*
 * tok (freed here) is accepted (want OPC_JWT_OK; its claims in *c unless c
 * is NULL) or refused with want.
 */
static void expect_verdict(const fixture *f, char *tok, opc__jwt_reason want, opc__jwt_claims *c)
{
    if (want == OPC_JWT_OK) {
        opc__jwt_claims mine;
        expect_ok(f, tok, c != NULL ? c : &mine);
    } else {
        expect_reject(f, tok, want);
    }
    free(tok);
}

/* The standard token with claim set to value: accepted (OPC_JWT_OK) or refused with want. */
static void expect_claim(const fixture *f, const char *claim, const char *value,
                         opc__jwt_reason want)
{
    expect_verdict(f, std_token(f, claim, value), want, NULL);
}

static void test_jwt_verify_accepts_valid_token(void **state)
{
    fixture *f = *state;
    char *tok = std_token(f, "nbf", "1699999990");
    opc__jwt_claims *c = malloc(sizeof *c);
    assert_non_null(c);
    expect_ok(f, tok, c);
    assert_string_equal(c->kid, KID);
    assert_string_equal(c->jti, JTI);
    assert_string_equal(c->sub, SERVER);
    assert_string_equal(c->auuid, ACCOUNT);
    assert_string_equal(c->iss, OPC_JWT_ISSUER);
    assert_int_equal(c->iat, 1699999990);
    assert_int_equal(c->nbf, 1699999990);
    assert_int_equal(c->exp, 1700003600);
    assert_true(c->has_exp);
    assert_true(c->has_token_secret);
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(c->token_secret[i], i);
    }
    assert_int_equal(c->n_vaults, 2);
    assert_string_equal(c->vaults[0].vault, VAULT1);
    assert_int_equal(c->vaults[0].acl, OPC_ACL_READ);
    assert_string_equal(c->vaults[1].vault, VAULT2); /* lower-cased */
    assert_int_equal(c->vaults[1].acl, OPC_ACL_READ | OPC_ACL_WRITE);
    const char *dot = strrchr(tok, '.');
    uint8_t h[32];
    SHA256((const unsigned char *)dot + 1, strlen(dot + 1), h);
    assert_memory_equal(c->sig_hash, h, 32);
    free(c);
    free(tok);
}

static void test_jwt_verify_accepts_minimal_token(void **state)
{
    fixture *f = *state;
    const char *payload = "{\"aud\":\"" OPC_JWT_AUDIENCE "\",\"sub\":\"" SERVER
                          "\",\"1password.com/auuid\":\"" ACCOUNT "\",\"jti\":\"j\",\"iat\":0}";
    char *tok = sign_with(f->priv, STD_HEADER, payload);
    opc__jwt_claims c;
    expect_ok(f, tok, &c);
    assert_false(c.has_exp);
    assert_int_equal(c.exp, 0);
    assert_false(c.has_token_secret);
    assert_true(all_zero(c.token_secret, sizeof c.token_secret));
    assert_int_equal(c.n_vaults, 0);
    assert_string_equal(c.iss, "");
    assert_string_equal(c.jti, "j");
    free(tok);
}

/* 1password.com/fts: "activitylog", spelt exactly, is the full-log
 * permission; other strings (and none) give no feature. */
static void test_jwt_verify_features(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *fts;
        unsigned want;
    } fts_cases[] = {
        {"[\"vaultaccess\"]", 0},
        {"[]", 0},
        {NULL, 0},
        {"[\"vaultaccess\",\"activitylog\"]", OPC_JWT_FT_ACTIVITY_LOG},
        {"[\"activitylog\"]", OPC_JWT_FT_ACTIVITY_LOG},
        {"[\"activitylog\",\"activitylog\"]", OPC_JWT_FT_ACTIVITY_LOG},
        {"[\"ActivityLog\"]", 0},
        {"[\"activitylog \"]", 0},
        {"[\"activity\"]", 0},
        {"[\"activitylogs\"]", 0},
    };
    opc__jwt_claims *c = malloc(sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < OPC_ARRAY_LEN(fts_cases); i++) {
        char *tok = std_token(f, "1password.com/fts", fts_cases[i].fts); /* NULL: no claim */
        expect_verdict(f, tok, OPC_JWT_OK, c);
        if (c->features != fts_cases[i].want) {
            fail_msg("fts %s: features 0x%x, want 0x%x",
                     fts_cases[i].fts != NULL ? fts_cases[i].fts : "(none)", c->features,
                     fts_cases[i].want);
        }
    }
    free(c);
    /* A feature that is not a string is refused like any other. */
    expect_claim(f, "1password.com/fts", "[\"activitylog\",true]", OPC_JWT_CLAIM_TYPE);
}

static void test_jwt_verify_aud_string_and_array(void **state)
{
    fixture *f = *state;
    const char *auds[] = {
        "\"" OPC_JWT_AUDIENCE "\"",
        "[\"" OPC_JWT_AUDIENCE "\"]",
        "[\"com.1password.other\",\"" OPC_JWT_AUDIENCE "\"]",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(auds); i++) {
        expect_claim(f, "aud", auds[i], OPC_JWT_OK);
    }
}

static void test_jwt_verify_leeway_boundaries(void **state)
{
    fixture *f = *state;
    /* exp must be later than now - leeway: now-59 passes, now-60 fails. */
    expect_claim(f, "exp", "1699999941", OPC_JWT_OK);
    expect_claim(f, "exp", "1699999940", OPC_JWT_EXPIRED);
    /* nbf <= now + leeway: now+60 passes, now+61 fails. */
    expect_claim(f, "nbf", "1700000060", OPC_JWT_OK);
    expect_claim(f, "nbf", "1700000061", OPC_JWT_NOT_YET_VALID);
    /* iat <= now + leeway: now+60 passes, now+61 fails. */
    expect_claim(f, "iat", "1700000060", OPC_JWT_OK);
    expect_claim(f, "iat", "1700000061", OPC_JWT_IAT_FUTURE);
    /* Without leeway: exp == now is expired, exp == now + 1 is not. */
    f->expect.leeway = 0;
    expect_claim(f, "exp", NOW_S, OPC_JWT_EXPIRED);
    expect_claim(f, "exp", "1700000001", OPC_JWT_OK);
    expect_claim(f, "nbf", "1700000001", OPC_JWT_NOT_YET_VALID);
    expect_claim(f, "nbf", NOW_S, OPC_JWT_OK);
}

static void test_jwt_verify_accepts_largest_exp(void **state)
{
    fixture *f = *state;
    opc__jwt_claims c;
    /* 2^53 - 1 is the largest accepted NumericDate (2^53 is in the matrix). */
    char *tok = std_token(f, "exp", "9007199254740991");
    expect_ok(f, tok, &c);
    assert_int_equal(c.exp, INT64_C(9007199254740991));
    free(tok);
    /* An integral value written with an exponent is still an integer. */
    tok = std_token(f, "exp", "1.70001e9");
    expect_ok(f, tok, &c);
    assert_int_equal(c.exp, 1700010000);
    free(tok);
}

static void test_jwt_verify_length_boundary(void **state)
{
    fixture *f = *state;
    /* Find header/payload paddings that give tokens of exactly 8192 and 8193 bytes. */
    bool done_ok = false;
    bool done_long = false;
    for (size_t hp = 0; hp < 4 && !(done_ok && done_long); hp++) {
        char header[128];
        snprintf(header, sizeof header,
                 "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"typ\":\"JWT\",\"p\":\"%.*s\"}", (int)hp,
                 "hhhh");
        size_t h64 = opc__b64_encoded_len(strlen(header), OPC_B64URL);
        for (size_t pp = 5500; pp < 6300 && !(done_ok && done_long); pp++) {
            char *pad = malloc(pp + 3);
            assert_non_null(pad);
            pad[0] = '"';
            memset(pad + 1, 'y', pp);
            pad[pp + 1] = '"';
            pad[pp + 2] = '\0';
            char *payload = payload_with("pad", pad, NULL);
            free(pad);
            size_t total = h64 + 1 + opc__b64_encoded_len(strlen(payload), OPC_B64URL) + 1 + 86;
            if ((total == OPC_JWT_MAX_LEN && !done_ok) ||
                (total == OPC_JWT_MAX_LEN + 1 && !done_long)) {
                char *tok = sign_with(f->priv, header, payload);
                assert_int_equal(strlen(tok), total);
                bool at_max = total == OPC_JWT_MAX_LEN;
                expect_verdict(f, tok, at_max ? OPC_JWT_OK : OPC_JWT_TOO_LONG, NULL);
                done_ok = done_ok || at_max;
                done_long = done_long || !at_max;
            }
            free(payload);
        }
    }
    assert_true(done_ok);
    assert_true(done_long);
}

static void test_jwt_verify_unchecked_expectations(void **state)
{
    fixture *f = *state;
    /* NULL audience/sub/auuid: those claims may be absent or anything. */
    f->expect.audience = NULL;
    f->expect.sub = NULL;
    f->expect.auuid = NULL;
    const char *payload = "{\"aud\":\"elsewhere\",\"jti\":\"j\",\"iat\":1}";
    char *tok = sign_with(f->priv, STD_HEADER, payload);
    opc__jwt_claims c;
    expect_ok(f, tok, &c);
    assert_string_equal(c.sub, "");
    free(tok);
    /* ...but their types are still checked. */
    expect_verdict(f, sign_with(f->priv, STD_HEADER, "{\"sub\":1,\"jti\":\"j\",\"iat\":1}"),
                   OPC_JWT_CLAIM_TYPE, NULL);
}

static void test_jwt_verify_picks_key_by_kid(void **state)
{
    fixture *f = *state;
    opc__key *priv2 = NULL;
    opc__key *pub2 = NULL;
    assert_int_equal(opc__key_generate_ec(KID2, OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &priv2), OPC_OK);
    assert_int_equal(opc__key_public(priv2, &pub2), OPC_OK);
    const opc__key *pinned[2] = {f->pub, pub2};
    f->expect.keys = pinned;
    f->expect.n_keys = 2;
    char *payload = payload_with(NULL, NULL, NULL);
    const char *hdr2 = "{\"alg\":\"ES256\",\"kid\":\"" KID2 "\",\"typ\":\"JWT\"}";
    opc__jwt_claims c;

    expect_verdict(f, sign_with(priv2, hdr2, payload), OPC_JWT_OK, &c);
    assert_string_equal(c.kid, KID2);
    expect_verdict(f, sign_with(f->priv, STD_HEADER, payload), OPC_JWT_OK, &c);
    assert_string_equal(c.kid, KID);
    /* Signed by key 2 but naming key 1. */
    expect_verdict(f, sign_with(priv2, STD_HEADER, payload), OPC_JWT_SIG_INVALID, NULL);
    /* No pinned keys at all. */
    f->expect.n_keys = 0;
    expect_verdict(f, sign_with(priv2, hdr2, payload), OPC_JWT_KID_UNKNOWN, NULL);

    free(payload);
    opc__key_free(priv2);
    opc__key_free(pub2);
}

static void test_jwt_verify_rejects_non_ec_pinned_key(void **state)
{
    fixture *f = *state;
    /* An oct key pinned under the token's kid must never be used (key confusion). */
    opc__key *oct = NULL;
    assert_int_equal(opc__key_generate_oct(KID, OPC_KEYOP_ALL, &oct), OPC_OK);
    const opc__key *pinned[1] = {oct};
    f->expect.keys = pinned;
    char *tok = std_token(f, NULL, NULL);
    expect_reject(f, tok, OPC_JWT_KID_UNKNOWN);
    free(tok);
    opc__key_free(oct);
}

static void test_jwt_verify_tampered_payload_fails_signature(void **state)
{
    fixture *f = *state;
    char *tok = std_token(f, NULL, NULL);
    /* Re-encode the payload with the sub changed, keep the signature. */
    char *p2 = payload_with("sub", "\"otherserverotherserverothe\"", NULL);
    char *h = b64(STD_HEADER, strlen(STD_HEADER));
    char *p = b64(p2, strlen(p2));
    sbuf b = {0};
    sb_add(&b, h);
    sb_add(&b, ".");
    sb_add(&b, p);
    sb_add(&b, strrchr(tok, '.'));
    /* The signature is checked before the claims: SIG_INVALID, not SUB. */
    expect_reject(f, b.p, OPC_JWT_SIG_INVALID);
    free(b.p);
    free(h);
    free(p);
    free(p2);
    free(tok);
}

/*
 * Issue 15 point 4: one token, one spelling. The high-S twin of a token's
 * signature verifies as ECDSA (so the refusal is the low-S rule, not a bad
 * signature), and is refused by the token verifier; every token that
 * opc__jws_sign_es256 makes is low-S, so none of ours is ever refused
 * (without normalising, half of 64 would be high-S).
 */
static void test_jwt_verify_refuses_high_s_twin(void **state)
{
    fixture *f = *state;
    opc__key *pub = NULL;
    assert_int_equal(opc__key_public(f->priv, &pub), OPC_OK);
    for (int i = 0; i < 64; i++) {
        char *tok = std_token(f, NULL, NULL); /* random k: a new signature each time */
        uint8_t sig[64];
        raw_signature(tok, sig);
        assert_int_equal(opc__ecdsa_is_low_s(sig), 1);
        opc__jwt_claims c;
        expect_ok(f, tok, &c);
        opc__wipe(&c, sizeof c);

        high_s_twin(sig);
        const char *dot = strrchr(tok, '.');
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__ecdsa_verify(pub, tok, (size_t)(dot - tok), sig, 64, &eb), OPC_OK);
        char *twin = with_signature(tok, sig, 64);
        expect_reject(f, twin, OPC_JWT_SIG_HIGH_S);
        free(twin);
        free(tok);
    }
    opc__key_free(pub);
}

static void test_jwt_verify_claims_wiped_on_failure(void **state)
{
    fixture *f = *state;
    /* Everything parses and the token secret decodes, then exp fails last. */
    char *tok = std_token(f, "exp", "1600000000");
    opc__jwt_claims c;
    memset(&c, 0x5a, sizeof c);
    opc__ebuf eb;
    assert_int_equal(verify(f, tok, &c, &eb), OPC_ERR_TOKEN);
    assert_int_equal(eb.reason, OPC_JWT_EXPIRED);
    assert_true(all_zero(&c, sizeof c));
    free(tok);
}

static void test_jwt_verify_null_args(void **state)
{
    fixture *f = *state;
    char *tok = std_token(f, NULL, NULL);
    opc__jwt_claims c;
    opc__ebuf eb;
    assert_int_equal(opc__jwt_verify(NULL, 0, &f->expect, &c, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__jwt_verify(tok, strlen(tok), NULL, &c, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__jwt_verify(tok, strlen(tok), &f->expect, NULL, &eb), OPC_ERR_INVALID_ARG);
    f->expect.keys = NULL;
    assert_int_equal(opc__jwt_verify(tok, strlen(tok), &f->expect, &c, &eb), OPC_ERR_INVALID_ARG);
    f->expect.keys = f->pinned;
    f->expect.leeway = -1;
    assert_int_equal(opc__jwt_verify(tok, strlen(tok), &f->expect, &c, &eb), OPC_ERR_INVALID_ARG);
    f->expect.leeway = OPC_JWT_LEEWAY_S;
    /* A NULL error buffer is fine. */
    assert_int_equal(opc__jwt_verify(tok, strlen(tok), &f->expect, &c, NULL), OPC_OK);
    assert_int_equal(opc__jwt_verify(tok, strlen(tok) - 1, &f->expect, &c, NULL), OPC_ERR_TOKEN);
    free(tok);
}

static void test_jwt_verify_uses_only_len_bytes(void **state)
{
    fixture *f = *state;
    char *tok = std_token(f, NULL, NULL);
    size_t len = strlen(tok);
    char *longer = malloc(len + 8);
    assert_non_null(longer);
    memcpy(longer, tok, len);
    memcpy(longer + len, "garbage", 8);
    opc__jwt_claims c;
    opc__ebuf eb;
    assert_int_equal(opc__jwt_verify(longer, len, &f->expect, &c, &eb), OPC_OK);
    free(longer);
    free(tok);
}

static void test_jwt_reason_name_stable(void **state)
{
    (void)state;
    assert_string_equal(opc__jwt_reason_name(OPC_JWT_OK), "ok");
    assert_string_equal(opc__jwt_reason_name(OPC_JWT_ALG_NONE), "alg_none");
    assert_string_equal(opc__jwt_reason_name(OPC_JWT_SIG_DER), "sig_der");
    assert_string_equal(opc__jwt_reason_name(OPC_JWT_IAT_FUTURE), "iat_future");
    assert_string_equal(opc__jwt_reason_name(OPC_JWT_REASON_COUNT), "unknown");
    assert_string_equal(opc__jwt_reason_name((opc__jwt_reason)-1), "unknown");
    for (int i = 0; i < OPC_JWT_REASON_COUNT; i++) {
        const char *a = opc__jwt_reason_name((opc__jwt_reason)i);
        assert_string_not_equal(a, "unknown");
        for (const char *p = a; *p != '\0'; p++) {
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        }
        for (int j = i + 1; j < OPC_JWT_REASON_COUNT; j++) {
            assert_string_not_equal(a, opc__jwt_reason_name((opc__jwt_reason)j));
        }
    }
}

static void test_jwt_jws_sign_es256_layout(void **state)
{
    fixture *f = *state;
    const char *payload = "{\"x\":\"\xc3\xa9\",\"n\":1}";
    char *tok = NULL;
    assert_int_equal(opc__jws_sign_es256(f->priv, STD_HEADER, payload, &tok), OPC_OK);
    const char *d1 = strchr(tok, '.');
    const char *d2 = strrchr(tok, '.');
    assert_true(d1 != NULL && d2 != NULL && d1 != d2);
    assert_true(strchr(d1 + 1, '.') == d2);
    assert_int_equal(strlen(d2 + 1), 86);
    /* The segments are the exact input bytes (no re-serialisation). */
    unsigned char *dec = NULL;
    size_t n = 0;
    assert_int_equal(opc__b64_decode(tok, (size_t)(d1 - tok), OPC_B64URL, &dec, &n, NULL), OPC_OK);
    assert_int_equal(n, strlen(STD_HEADER));
    assert_memory_equal(dec, STD_HEADER, n);
    opc__free(dec);
    assert_int_equal(opc__b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), OPC_B64URL, &dec, &n, NULL),
                     OPC_OK);
    assert_int_equal(n, strlen(payload));
    assert_memory_equal(dec, payload, n);
    opc__free(dec);
    /* The signature verifies over "header.payload" with the public key. */
    uint8_t sig[64];
    raw_signature(tok, sig);
    assert_int_equal(opc__ecdsa_verify(f->pub, tok, (size_t)(d2 - tok), sig, 64, NULL), OPC_OK);
    opc__free(tok);
}

static void test_jwt_jws_sign_es256_rejects_bad_keys(void **state)
{
    fixture *f = *state;
    char *tok = (char *)1;
    assert_int_equal(opc__jws_sign_es256(f->pub, STD_HEADER, "{}", &tok), OPC_ERR_KEY);
    assert_null(tok);
    opc__key *oct = NULL;
    assert_int_equal(opc__key_generate_oct(KID, OPC_KEYOP_ALL, &oct), OPC_OK);
    assert_int_equal(opc__jws_sign_es256(oct, STD_HEADER, "{}", &tok), OPC_ERR_KEY);
    opc__key_free(oct);
    opc__key *verify_only = NULL;
    assert_int_equal(opc__key_generate_ec(KID, OPC_KEYOP_VERIFY, &verify_only), OPC_OK);
    assert_int_equal(opc__jws_sign_es256(verify_only, STD_HEADER, "{}", &tok), OPC_ERR_KEY);
    opc__key_free(verify_only);
    assert_int_equal(opc__jws_sign_es256(NULL, STD_HEADER, "{}", &tok), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__jws_sign_es256(f->priv, NULL, "{}", &tok), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__jws_sign_es256(f->priv, STD_HEADER, NULL, &tok), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__jws_sign_es256(f->priv, STD_HEADER, "{}", NULL), OPC_ERR_INVALID_ARG);
    assert_null(tok);
}

/* ---- runner ---- */

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest fixed_tests[] = {
    T(test_jwt_verify_accepts_valid_token),
    T(test_jwt_verify_accepts_minimal_token),
    T(test_jwt_verify_features),
    T(test_jwt_verify_aud_string_and_array),
    T(test_jwt_verify_leeway_boundaries),
    T(test_jwt_verify_accepts_largest_exp),
    T(test_jwt_verify_length_boundary),
    T(test_jwt_verify_unchecked_expectations),
    T(test_jwt_verify_picks_key_by_kid),
    T(test_jwt_verify_rejects_non_ec_pinned_key),
    T(test_jwt_verify_tampered_payload_fails_signature),
    T(test_jwt_verify_refuses_high_s_twin),
    T(test_jwt_verify_claims_wiped_on_failure),
    T(test_jwt_verify_null_args),
    T(test_jwt_verify_uses_only_len_bytes),
    T(test_jwt_verify_matrix_reasons_distinct),
    T(test_jwt_reason_name_stable),
    T(test_jwt_jws_sign_es256_layout),
    T(test_jwt_jws_sign_es256_rejects_bad_keys),
};

static struct CMUnitTest tests[OPC_ARRAY_LEN(fixed_tests) + OPC_ARRAY_LEN(cases)];
static char case_names[OPC_ARRAY_LEN(cases)][96];

int main(void)
{
    size_t k = 0;
    for (size_t i = 0; i < OPC_ARRAY_LEN(fixed_tests); i++) {
        tests[k++] = fixed_tests[i];
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(cases); i++) {
        snprintf(case_names[i], sizeof case_names[i], "test_jwt_verify_rejects_%s", cases[i].name);
        struct CMUnitTest t = {case_names[i], test_jwt_verify_rejects_case, setup, teardown,
                               (void *)(uintptr_t)&cases[i]};
        tests[k++] = t;
    }
    return cmocka_run_group_tests_name("jwt", tests, opc_test_group_setup, opc_test_group_teardown);
}
