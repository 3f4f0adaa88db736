/*
 * tests/unit/test_wire_proto.c - lib/wire/proto_session.c and
 * proto_msg.c, the account protocol's messages besides the rows: a full
 * session handshake in memory (both ends derive the same keys, the
 * transcripts T1/T2 and the key derivation recomputed here from
 * docs/protocol.md), each refusal of the handshake, the MACs pinned by an
 * independent HMAC over the documented text, the error table for every
 * opc_err, and the page envelopes with their malformed forms.
 */
#include "harness.h"

#include <inttypes.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "crypto/base64.h"
#include "crypto/ecdh.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "wire/proto.h"

#define A1 "aaaaaaaaaaaaaaaaaaaaaaaaaq"
#define S1 "ssssssssssssssssssssssssaq"
#define NOW_MS INT64_C(1700000000000)
#define EXPIRES INT64_C(1700000600)

/* ---- helpers ---- */

/* Print j, parse it back (as the peer would) and delete j. */
static cJSON *reparse(cJSON *j)
{
    assert_non_null(j);
    char *s = cJSON_PrintUnformatted(j);
    assert_non_null(s);
    cJSON_Delete(j);
    cJSON *p = cJSON_Parse(s);
    cJSON_free(s);
    assert_non_null(p);
    return p;
}

static cJSON *parse(const char *s)
{
    cJSON *p = cJSON_Parse(s);
    assert_non_null(p);
    return p;
}

static void b64(const void *in, size_t n, char *out, size_t cap)
{
    assert_int_equal(opc__b64_encode_to(in, n, OPC_B64URL, out, cap, NULL), OPC_OK);
}

static void unb64(const char *s, void *out, size_t n)
{
    size_t got = 0;
    assert_int_equal(opc__b64_decode_to(s, strlen(s), OPC_B64URL, out, n, &got, NULL), OPC_OK);
    assert_int_equal(got, n);
}

typedef struct party {
    opc__key *device;     /* the Connect server's device key (private) */
    opc__key *device_pub; /* as the account server registered it */
    opc__key *server;     /* the account server's key (private) */
    char pin[OPC_PROTO_HASH_B64 + 1];
} party;

static void party_init(party *p)
{
    assert_int_equal(opc__key_generate_ec("dev", OPC_KEYOP_ALL, &p->device), OPC_OK);
    assert_int_equal(opc__key_public(p->device, &p->device_pub), OPC_OK);
    assert_int_equal(opc__key_generate_ec("srv", OPC_KEYOP_ALL, &p->server), OPC_OK);
    assert_int_equal(opc__proto_pin(p->server, p->pin), OPC_OK);
    assert_int_equal(strlen(p->pin), OPC_PROTO_HASH_B64);
}

static void party_free(party *p)
{
    opc__key_free(p->device);
    opc__key_free(p->device_pub);
    opc__key_free(p->server);
}

/* A hello made by the client, sent and decoded by the server. */
static void hello_over_wire(party *p, opc__proto_hello *h, opc__key **eph)
{
    opc__proto_hello made;
    assert_int_equal(opc__proto_hello_make(A1, S1, p->device, NOW_MS, &made, eph, NULL), OPC_OK);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_hello_encode(&made, &j), OPC_OK);
    j = reparse(j);
    assert_int_equal(opc__proto_hello_decode(j, h, NULL), OPC_OK);
    cJSON_Delete(j);
    assert_memory_equal(h, &made, sizeof made);
}

/* A new party, and its hello over the wire. */
static void party_hello(party *p, opc__proto_hello *h, opc__key **eph)
{
    party_init(p);
    hello_over_wire(p, h, eph);
}

/* A welcome made by the server for h, sent and decoded by the client. */
static void welcome_over_wire(party *p, const opc__proto_hello *h, opc__proto_welcome *w,
                              opc__proto_keys *server_keys)
{
    opc__proto_welcome made;
    assert_int_equal(opc__proto_welcome_make(h, p->server, EXPIRES, &made, server_keys, NULL),
                     OPC_OK);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_welcome_encode(&made, &j), OPC_OK);
    j = reparse(j);
    assert_int_equal(opc__proto_welcome_decode(j, w, NULL), OPC_OK);
    cJSON_Delete(j);
    assert_string_equal(w->session, made.session);
    assert_int_equal(w->expires, EXPIRES);
    assert_string_equal(w->eph, made.eph);
    assert_string_equal(w->sig, made.sig);
    assert_true(opc__key_equal_public(w->key, p->server));
    opc__proto_welcome_clear(&made);
    assert_null(made.key);
}

/* T1 and T2 as docs/protocol.md writes them. */
static void t1_text(const opc__proto_hello *h, char *out, size_t cap)
{
    int n = snprintf(out, cap, "opconnect/connect-session/v1\n%s\n%s\n%" PRId64 "\n%s\n%s",
                     h->account, h->server, h->ts_ms, h->nonce, h->eph);
    assert_true(n > 0 && (size_t)n < cap);
}

static void t2_text(const opc__proto_hello *h, const opc__proto_welcome *w, char *out, size_t cap)
{
    char t1[512];
    t1_text(h, t1, sizeof t1);
    int n = snprintf(out, cap, "%s\n%s\n%" PRId64 "\n%s", t1, w->session, w->expires, w->eph);
    assert_true(n > 0 && (size_t)n < cap);
}

/* ---- the handshake ---- */

static void test_proto_handshake_agrees(void **state)
{
    (void)state;
    party p;
    opc__proto_hello h;
    opc__key *eph = NULL;
    party_hello(&p, &h, &eph);
    assert_string_equal(h.account, A1);
    assert_string_equal(h.server, S1);
    assert_int_equal(h.ts_ms, NOW_MS);
    assert_int_equal(strlen(h.nonce), OPC_PROTO_NONCE_B64);
    assert_int_equal(strlen(h.eph), OPC_PROTO_POINT_B64);
    assert_int_equal(strlen(h.sig), OPC_PROTO_SIG_B64);
    assert_int_equal(opc__proto_hello_verify(&h, p.device_pub, NOW_MS, NULL), OPC_OK);

    /* the hello's signature is ES256 over the documented T1 */
    char t1[512];
    t1_text(&h, t1, sizeof t1);
    uint8_t sig[OPC_ES256_SIG_LEN];
    unb64(h.sig, sig, sizeof sig);
    assert_int_equal(opc__ecdsa_verify(p.device_pub, t1, strlen(t1), sig, sizeof sig, NULL),
                     OPC_OK);
    /* its eph is the client's ephemeral public point */
    uint8_t point[OPC_ECDH_POINT_LEN];
    uint8_t sent[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_point(eph, point), OPC_OK);
    unb64(h.eph, sent, sizeof sent);
    assert_memory_equal(point, sent, sizeof point);

    opc__proto_welcome w;
    opc__proto_keys sk;
    welcome_over_wire(&p, &h, &w, &sk);
    opc__proto_keys ck;
    memset(&ck, 0, sizeof ck);
    assert_int_equal(opc__proto_welcome_verify(&h, &w, p.pin, eph, &ck, NULL), OPC_OK);
    assert_memory_equal(&ck, &sk, sizeof ck);
    assert_memory_not_equal(ck.k_req, ck.k_res, sizeof ck.k_req);

    /* the welcome's signature is ES256 by the server key over T2 */
    char t2[1024];
    t2_text(&h, &w, t2, sizeof t2);
    unb64(w.sig, sig, sizeof sig);
    assert_int_equal(opc__ecdsa_verify(p.server, t2, strlen(t2), sig, sizeof sig, NULL), OPC_OK);

    /* K = HKDF-SHA256(Z, SHA-256(T2), "opconnect/session-keys/v1", 64) */
    uint8_t peer[OPC_ECDH_POINT_LEN];
    uint8_t z[OPC_ECDH_SECRET_LEN];
    unb64(w.eph, peer, sizeof peer);
    assert_int_equal(opc__ecdh_derive(eph, peer, sizeof peer, z, NULL), OPC_OK);
    uint8_t salt[32];
    unsigned sl = 0;
    assert_int_equal(EVP_Digest(t2, strlen(t2), salt, &sl, EVP_sha256(), NULL), 1);
    char info[] = "opconnect/session-keys/v1";
    char md[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, sizeof z),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof salt),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    assert_non_null(kdf);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    assert_non_null(kctx);
    uint8_t k[64];
    assert_int_equal(EVP_KDF_derive(kctx, k, sizeof k, params), 1);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    assert_memory_equal(ck.k_req, k, 32);
    assert_memory_equal(ck.k_res, k + 32, 32);

    /* a second handshake: fresh nonce, eph, session and keys */
    opc__proto_hello h2;
    opc__key *eph2 = NULL;
    hello_over_wire(&p, &h2, &eph2);
    assert_string_not_equal(h2.nonce, h.nonce);
    assert_string_not_equal(h2.eph, h.eph);
    opc__proto_welcome w2;
    opc__proto_keys sk2;
    welcome_over_wire(&p, &h2, &w2, &sk2);
    assert_string_not_equal(w2.session, w.session);
    assert_memory_not_equal(sk2.k_req, sk.k_req, 32);

    opc__proto_welcome_clear(&w);
    opc__proto_welcome_clear(&w2);
    opc__key_free(eph);
    opc__key_free(eph2);
    party_free(&p);
}

static void test_proto_welcome_encoding(void **state)
{
    (void)state;
    party p;
    opc__proto_hello h;
    opc__key *eph = NULL;
    party_hello(&p, &h, &eph);
    opc__proto_welcome w;
    opc__proto_keys sk;
    assert_int_equal(opc__proto_welcome_make(&h, p.server, EXPIRES, &w, &sk, NULL), OPC_OK);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_welcome_encode(&w, &j), OPC_OK);
    /* member order pinned; the key is public */
    const cJSON *it = j->child;
    const char *names[] = {"v", "session", "expires", "eph", "key", "sig"};
    for (size_t i = 0; i < 6; i++) {
        assert_non_null(it);
        assert_string_equal(it->string, names[i]);
        it = it->next;
    }
    assert_null(it);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
    assert_null(cJSON_GetObjectItemCaseSensitive(key, "d"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(key, "kty")->valuestring, "EC");
    cJSON_Delete(j);
    /* the hello's exact form */
    assert_int_equal(opc__proto_hello_encode(&h, &j), OPC_OK);
    char *s = cJSON_PrintUnformatted(j);
    char want[512];
    snprintf(want, sizeof want,
             "{\"v\":1,\"account\":\"" A1 "\",\"server\":\"" S1 "\",\"ts\":%" PRId64
             ",\"nonce\":\"%s\",\"eph\":\"%s\",\"sig\":\"%s\"}",
             NOW_MS, h.nonce, h.eph, h.sig);
    assert_string_equal(s, want);
    cJSON_free(s);
    cJSON_Delete(j);
    /* the pin is the RFC 7638 thumbprint */
    char tp[OPC_JWK_THUMBPRINT_LEN + 1];
    assert_int_equal(opc__jwk_thumbprint(p.server, tp), OPC_OK);
    assert_string_equal(tp, p.pin);
    opc__proto_welcome_clear(&w);
    opc__key_free(eph);
    party_free(&p);
}

static void test_proto_hello_refusals(void **state)
{
    (void)state;
    party p;
    opc__proto_hello h;
    opc__key *eph = NULL;
    party_hello(&p, &h, &eph);
    opc__ebuf eb = {0};

    /* the replay window, either side, inclusive at the edge */
    assert_int_equal(opc__proto_hello_verify(&h, p.device_pub, NOW_MS + OPC_PROTO_SKEW_MS, NULL),
                     OPC_OK);
    assert_int_equal(opc__proto_hello_verify(&h, p.device_pub, NOW_MS - OPC_PROTO_SKEW_MS, NULL),
                     OPC_OK);
    assert_int_equal(opc__proto_hello_verify(&h, p.device_pub, NOW_MS + OPC_PROTO_SKEW_MS + 1, &eb),
                     OPC_ERR_RANGE);
    assert_string_equal(eb.msg, "hello of server " S1 ": its time is more than 120 s from ours");
    assert_int_equal(
        opc__proto_hello_verify(&h, p.device_pub, NOW_MS - OPC_PROTO_SKEW_MS - 1, NULL),
        OPC_ERR_RANGE);

    assert_int_equal(opc__proto_hello_verify(&h, p.device_pub, INT64_MIN, NULL),
                     OPC_ERR_INVALID_ARG);

    /* another device key */
    opc__key *other = NULL;
    assert_int_equal(opc__key_generate_ec(NULL, OPC_KEYOP_VERIFY, &other), OPC_OK);
    assert_int_equal(opc__proto_hello_verify(&h, other, NOW_MS, &eb), OPC_ERR_SIGNATURE);
    assert_string_equal(eb.msg, "hello of server " S1
                                ": the signature does not verify under its device key");
    opc__key_free(other);

    /* each signed member altered */
    opc__proto_hello x = h;
    x.ts_ms++;
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_ERR_SIGNATURE);
    x = h;
    memcpy(x.account, "bbbbbbbbbbbbbbbbbbbbbbbbbq", OPC_ID_LEN);
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_ERR_SIGNATURE);
    x = h;
    memcpy(x.server, "tttttttttttttttttttttttttq", OPC_ID_LEN);
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_ERR_SIGNATURE);
    x = h;
    x.nonce[0] = x.nonce[0] == 'A' ? 'B' : 'A';
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_ERR_SIGNATURE);
    /* eph replaced by another valid point */
    opc__key *e2 = NULL;
    uint8_t pt[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_generate(&e2, pt), OPC_OK);
    x = h;
    b64(pt, sizeof pt, x.eph, sizeof x.eph);
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_ERR_SIGNATURE);
    opc__key_free(e2);
    /* the signature altered (one byte of s) */
    x = h;
    uint8_t sig[OPC_ES256_SIG_LEN];
    unb64(x.sig, sig, sizeof sig);
    sig[63] ^= 0x01;
    b64(sig, sizeof sig, x.sig, sizeof x.sig);
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_ERR_SIGNATURE);

    /* a signed hello whose eph is off the curve: the server refuses it */
    x = h;
    unb64(x.eph, pt, sizeof pt);
    pt[64] ^= 0x01;
    b64(pt, sizeof pt, x.eph, sizeof x.eph);
    char t1[512];
    t1_text(&x, t1, sizeof t1);
    assert_int_equal(opc__ecdsa_sign(p.device, t1, strlen(t1), sig), OPC_OK);
    b64(sig, sizeof sig, x.sig, sizeof x.sig);
    assert_int_equal(opc__proto_hello_verify(&x, p.device_pub, NOW_MS, NULL), OPC_OK);
    opc__proto_welcome w;
    opc__proto_keys k;
    assert_int_equal(opc__proto_welcome_make(&x, p.server, EXPIRES, &w, &k, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg, "hello of server " S1 ": EC point: not a point on curve P-256");
    assert_null(w.key);

    /* bad arguments */
    opc__key *e3 = NULL;
    opc__proto_hello m;
    assert_int_equal(opc__proto_hello_make("nope", S1, p.device, NOW_MS, &m, &e3, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_hello_make(A1, S1, p.device_pub, NOW_MS, &m, &e3, NULL),
                     OPC_ERR_KEY);
    assert_int_equal(opc__proto_hello_make(A1, S1, p.device, -1, &m, &e3, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_null(e3);
    assert_int_equal(opc__proto_welcome_make(&h, p.device_pub, EXPIRES, &w, &k, NULL), OPC_ERR_KEY);
    assert_int_equal(opc__proto_welcome_make(&h, p.server, -1, &w, &k, NULL), OPC_ERR_INVALID_ARG);
    cJSON *j = NULL;
    x = h;
    x.sig[0] = '\0';
    assert_int_equal(opc__proto_hello_encode(&x, &j), OPC_ERR_INVALID_ARG);
    assert_null(j);
    opc__key_free(eph);
    party_free(&p);
}

static void test_proto_welcome_refusals(void **state)
{
    (void)state;
    party p;
    opc__proto_hello h;
    opc__key *eph = NULL;
    party_hello(&p, &h, &eph);
    opc__proto_welcome w;
    opc__proto_keys sk;
    welcome_over_wire(&p, &h, &w, &sk);
    opc__proto_keys ck;
    opc__ebuf eb = {0};

    /* a pin of another key */
    opc__key *other = NULL;
    assert_int_equal(opc__key_generate_ec(NULL, OPC_KEYOP_ALL, &other), OPC_OK);
    char pin2[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_pin(other, pin2), OPC_OK);
    assert_int_equal(opc__proto_welcome_verify(&h, &w, pin2, eph, &ck, &eb), OPC_ERR_SIGNATURE);
    assert_string_equal(eb.msg, "the account server's key is not the one the credentials pin");
    assert_int_equal(opc__proto_welcome_verify(&h, &w, "", eph, &ck, NULL), OPC_ERR_SIGNATURE);
    char shorter[OPC_PROTO_HASH_B64 + 1];
    memcpy(shorter, p.pin, sizeof shorter);
    shorter[OPC_PROTO_HASH_B64 - 1] = '\0';
    assert_int_equal(opc__proto_welcome_verify(&h, &w, shorter, eph, &ck, NULL), OPC_ERR_SIGNATURE);

    /* a welcome signed by another key, carrying that key: the pin refuses it */
    opc__proto_welcome forged;
    opc__proto_keys fk;
    assert_int_equal(opc__proto_welcome_make(&h, other, EXPIRES, &forged, &fk, NULL), OPC_OK);
    assert_int_equal(opc__proto_welcome_verify(&h, &forged, p.pin, eph, &ck, &eb),
                     OPC_ERR_SIGNATURE);
    assert_string_equal(eb.msg, "the account server's key is not the one the credentials pin");
    /* ... and carrying the pinned key: the signature refuses it */
    opc__key *tmp = forged.key;
    assert_int_equal(opc__key_public(p.server, &forged.key), OPC_OK);
    assert_int_equal(opc__proto_welcome_verify(&h, &forged, p.pin, eph, &ck, &eb),
                     OPC_ERR_SIGNATURE);
    assert_string_equal(eb.msg, "the account server's handshake signature does not verify");
    opc__key_free(forged.key);
    forged.key = tmp;
    opc__proto_welcome_clear(&forged);
    opc__key_free(other);

    /* each signed member altered: eph, session, expires, sig */
    opc__proto_welcome x = w;
    opc__key *e2 = NULL;
    uint8_t pt[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_generate(&e2, pt), OPC_OK);
    b64(pt, sizeof pt, x.eph, sizeof x.eph);
    assert_int_equal(opc__proto_welcome_verify(&h, &x, p.pin, eph, &ck, NULL), OPC_ERR_SIGNATURE);
    x = w;
    x.session[0] = x.session[0] == 'A' ? 'B' : 'A';
    assert_int_equal(opc__proto_welcome_verify(&h, &x, p.pin, eph, &ck, NULL), OPC_ERR_SIGNATURE);
    x = w;
    x.expires++;
    assert_int_equal(opc__proto_welcome_verify(&h, &x, p.pin, eph, &ck, NULL), OPC_ERR_SIGNATURE);
    x = w;
    uint8_t sig[OPC_ES256_SIG_LEN];
    unb64(x.sig, sig, sizeof sig);
    sig[0] ^= 0x80;
    b64(sig, sizeof sig, x.sig, sizeof x.sig);
    assert_int_equal(opc__proto_welcome_verify(&h, &x, p.pin, eph, &ck, NULL), OPC_ERR_SIGNATURE);
    /* the hello it answers altered (T2 contains T1) */
    opc__proto_hello hx = h;
    hx.ts_ms++;
    assert_int_equal(opc__proto_welcome_verify(&hx, &w, p.pin, eph, &ck, NULL), OPC_ERR_SIGNATURE);
    /* another ephemeral key on the client: keys that differ from the server's */
    assert_int_equal(opc__proto_welcome_verify(&h, &w, p.pin, e2, &ck, NULL), OPC_OK);
    assert_memory_not_equal(&ck, &sk, sizeof ck);
    /* a key that may not derive */
    assert_int_equal(opc__proto_welcome_verify(&h, &w, p.pin, p.device, &ck, NULL), OPC_ERR_KEY);
    opc__key_free(e2);
    /* the right one */
    assert_int_equal(opc__proto_welcome_verify(&h, &w, p.pin, eph, &ck, NULL), OPC_OK);
    assert_memory_equal(&ck, &sk, sizeof ck);
    opc__proto_welcome_clear(&w);
    opc__key_free(eph);
    party_free(&p);
}

/* ---- strict decoders ---- */

static const char good_hello[] =
    "{\"v\":1,\"account\":\"" A1 "\",\"server\":\"" S1 "\",\"ts\":1700000000000,"
    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\","
    "\"eph\":"
    "\"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
    "\"sig\":"
    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
    "\"extra\":true}";

/* good_hello with member name's value text replaced by value (raw JSON),
 * or removed when value is NULL. */
static cJSON *hello_with(const char *name, const char *value)
{
    cJSON *j = parse(good_hello);
    if (value == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, name);
    } else {
        cJSON *v = cJSON_Parse(value);
        assert_non_null(v);
        assert_true(cJSON_ReplaceItemInObjectCaseSensitive(j, name, v));
    }
    return j;
}

static void expect_hello_refused(const char *name, const char *value, const char *msg)
{
    cJSON *j = hello_with(name, value);
    opc__proto_hello h;
    opc__ebuf eb = {0};
    opc_err rc = opc__proto_hello_decode(j, &h, &eb);
    if (rc != OPC_ERR_PARSE) {
        print_error("hello with \"%s\" = %s: got %d\n", name, value ? value : "(none)", rc);
    }
    assert_int_equal(rc, OPC_ERR_PARSE);
    if (msg != NULL) {
        assert_string_equal(eb.msg, msg);
    }
    cJSON_Delete(j);
}

static void test_proto_hello_decode_strict(void **state)
{
    (void)state;
    cJSON *j = parse(good_hello);
    opc__proto_hello h;
    assert_int_equal(opc__proto_hello_decode(j, &h, NULL), OPC_OK);
    assert_int_equal(h.ts_ms, NOW_MS);
    cJSON_Delete(j);

    expect_hello_refused("v", "2", "malformed hello: \"v\" must be 1");
    expect_hello_refused("v", "0", "malformed hello: \"v\" must be 1");
    expect_hello_refused("v", "\"1\"", "malformed hello: \"v\" must be an integer");
    expect_hello_refused("v", "1.5", NULL);
    expect_hello_refused("v", NULL, "malformed hello: missing \"v\"");
    expect_hello_refused("account", "\"nope\"", "malformed hello: \"account\" must be an id");
    expect_hello_refused("account", "\"AAAAAAAAAAAAAAAAAAAAAAAAAQ\"", NULL);
    expect_hello_refused("account", "7", "malformed hello: \"account\" must be a string");
    expect_hello_refused("server", NULL, "malformed hello: missing \"server\"");
    expect_hello_refused("ts", "-1", NULL);
    expect_hello_refused("ts", "1.5", "malformed hello: \"ts\" must be an integer");
    expect_hello_refused("ts", "\"1700000000000\"", NULL);
    expect_hello_refused("ts", "1e300", NULL);
    expect_hello_refused("ts", NULL, "malformed hello: missing \"ts\"");
    expect_hello_refused("nonce", "\"AAAAAAAAAAAAAAAAAAAAA\"",
                         "malformed hello: \"nonce\" must be base64url of 16 bytes");
    expect_hello_refused("nonce", "\"AAAAAAAAAAAAAAAAAAAAAAA\"", NULL);
    expect_hello_refused("nonce", "\"AAAAAAAAAAAAAAAAAAAAAA==\"", NULL);
    expect_hello_refused("nonce", "\"AAAAAAAAAAAAAAAAAAAAA+\"", NULL);
    expect_hello_refused("nonce", "\"AAAAAAAAAAAAAAAAAAAAAB\"", NULL); /* trailing bits */
    expect_hello_refused("eph", "\"BAAA\"",
                         "malformed hello: \"eph\" must be base64url of 65 bytes");
    expect_hello_refused("eph",
                         "\"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                         "AAAAAAAAAAAAAAA\"",
                         NULL);
    expect_hello_refused("sig",
                         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", /* 85 */
                         "malformed hello: \"sig\" must be base64url of 64 bytes");
    expect_hello_refused("sig", "null", "malformed hello: \"sig\" must be a string");

    opc__ebuf eb = {0};
    j = parse("[1]");
    assert_int_equal(opc__proto_hello_decode(j, &h, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "malformed hello: not an object");
    cJSON_Delete(j);
    assert_int_equal(opc__proto_hello_decode(NULL, &h, NULL), OPC_ERR_PARSE);
}

static void test_proto_welcome_decode_strict(void **state)
{
    (void)state;
    party p;
    opc__proto_hello h;
    opc__key *eph = NULL;
    party_hello(&p, &h, &eph);
    opc__proto_welcome w;
    opc__proto_keys sk;
    assert_int_equal(opc__proto_welcome_make(&h, p.server, EXPIRES, &w, &sk, NULL), OPC_OK);
    cJSON *good = NULL;
    assert_int_equal(opc__proto_welcome_encode(&w, &good), OPC_OK);
    opc__proto_welcome_clear(&w);

    static const struct {
        const char *name;
        const char *value; /* NULL: removed */
        const char *msg;
    } cases[] = {
        {"v", "2", "malformed welcome: \"v\" must be 1"},
        {"v", NULL, "malformed welcome: missing \"v\""},
        {"session", "\"AAAAAAAAAAAAAAAAAAAAA\"",
         "malformed welcome: \"session\" must be base64url of 16 bytes"},
        {"session", "1", "malformed welcome: \"session\" must be a string"},
        {"expires", "-1", NULL},
        {"expires", "1.5", "malformed welcome: \"expires\" must be an integer"},
        {"expires", NULL, "malformed welcome: missing \"expires\""},
        {"eph", "\"AAAA\"", "malformed welcome: \"eph\" must be base64url of 65 bytes"},
        {"sig", "\"AAAA\"", "malformed welcome: \"sig\" must be base64url of 64 bytes"},
        {"key", NULL, "malformed welcome: missing \"key\""},
        {"key", "\"jwk\"", "malformed welcome: \"key\" must be a public P-256 verification JWK"},
        {"key", "{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
         "malformed welcome: \"key\" must be a public P-256 verification JWK"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Duplicate(good, 1);
        if (cases[i].value == NULL) {
            cJSON_DeleteItemFromObjectCaseSensitive(j, cases[i].name);
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(j, cases[i].name, parse(cases[i].value));
        }
        opc__ebuf eb = {0};
        assert_int_equal(opc__proto_welcome_decode(j, &w, &eb), OPC_ERR_PARSE);
        assert_null(w.key);
        if (cases[i].msg != NULL) {
            assert_string_equal(eb.msg, cases[i].msg);
        }
        cJSON_Delete(j);
    }
    /* a private key in the welcome is refused */
    cJSON *priv = NULL;
    assert_int_equal(opc__jwk_export(p.server, true, &priv), OPC_OK);
    cJSON *j = cJSON_Duplicate(good, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "key", priv);
    assert_int_equal(opc__proto_welcome_decode(j, &w, NULL), OPC_ERR_PARSE);
    cJSON_Delete(j);
    /* a key that may only derive cannot verify */
    opc__key *e2 = NULL;
    uint8_t pt[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_generate(&e2, pt), OPC_OK);
    cJSON *dj = NULL;
    assert_int_equal(opc__jwk_export(e2, false, &dj), OPC_OK);
    j = cJSON_Duplicate(good, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "key", dj);
    assert_int_equal(opc__proto_welcome_decode(j, &w, NULL), OPC_ERR_PARSE);
    cJSON_Delete(j);
    opc__key_free(e2);
    /* unknown members are ignored */
    j = cJSON_Duplicate(good, 1);
    cJSON_AddStringToObject(j, "later", "x");
    assert_int_equal(opc__proto_welcome_decode(j, &w, NULL), OPC_OK);
    opc__proto_welcome_clear(&w);
    cJSON_Delete(j);
    cJSON_Delete(good);
    opc__key_free(eph);
    party_free(&p);
}

/* ---- MACs ---- */

static const char sid[] = "c2Vzc2lvbi1pZC0xMjM0NQ";

static void keys_fixed(opc__proto_keys *k)
{
    for (size_t i = 0; i < 32; i++) {
        k->k_req[i] = (uint8_t)i;
        k->k_res[i] = (uint8_t)(0x80 + i);
    }
}

/* b64url(HMAC-SHA256(key, text)) with OpenSSL's HMAC(). */
static void hmac_b64(const uint8_t key[32], const char *text, char out[OPC_PROTO_HASH_B64 + 1])
{
    unsigned char m[32];
    unsigned ml = 0;
    assert_non_null(HMAC(EVP_sha256(), key, 32, (const unsigned char *)text, strlen(text), m, &ml));
    assert_int_equal(ml, 32);
    b64(m, 32, out, OPC_PROTO_HASH_B64 + 1);
}

static void body_hash(const char *body, char out[OPC_PROTO_HASH_B64 + 1])
{
    unsigned char h[32];
    unsigned hl = 0;
    assert_int_equal(EVP_Digest(body, strlen(body), h, &hl, EVP_sha256(), NULL), 1);
    b64(h, 32, out, OPC_PROTO_HASH_B64 + 1);
}

static void test_proto_mac_known_answers(void **state)
{
    (void)state;
    opc__proto_keys k;
    keys_fixed(&k);
    char got[OPC_PROTO_HASH_B64 + 1];
    char want[OPC_PROTO_HASH_B64 + 1];
    char text[512];
    char bh[OPC_PROTO_HASH_B64 + 1];

    /* empty body: the hash of the empty string */
    body_hash("", bh);
    assert_string_equal(bh, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    snprintf(text, sizeof text, "req\n%s\n7\nGET\n/v1/connect/changes?since=1&wait=30000\n%s", sid,
             bh);
    hmac_b64(k.k_req, text, want);
    assert_int_equal(opc__proto_mac_request(&k, sid, 7, "GET",
                                            "/v1/connect/changes?since=1&wait=30000", NULL, 0, got),
                     OPC_OK);
    assert_string_equal(got, want);
    assert_int_equal(opc__proto_mac_request(&k, sid, 7, "GET",
                                            "/v1/connect/changes?since=1&wait=30000", "", 0, got),
                     OPC_OK);
    assert_string_equal(got, want);

    /* a body; the counter in decimal, large */
    const char *body = "{\"vault_id\":\"x\"}";
    body_hash(body, bh);
    snprintf(text, sizeof text,
             "req\n%s\n18446744073709551615\nPUT\n/v1/connect/vaults/V/items/I\n%s", sid, bh);
    hmac_b64(k.k_req, text, want);
    assert_int_equal(opc__proto_mac_request(&k, sid, UINT64_MAX, "PUT",
                                            "/v1/connect/vaults/V/items/I", body, strlen(body),
                                            got),
                     OPC_OK);
    assert_string_equal(got, want);

    /* an answer */
    const char *ans = "{\"changes\":[],\"next\":4}";
    body_hash(ans, bh);
    snprintf(text, sizeof text, "res\n%s\n7\n200\n%s", sid, bh);
    hmac_b64(k.k_res, text, want);
    assert_int_equal(opc__proto_mac_answer(&k, sid, 7, 200, ans, strlen(ans), got), OPC_OK);
    assert_string_equal(got, want);
    body_hash("", bh);
    snprintf(text, sizeof text, "res\n%s\n1\n404\n%s", sid, bh);
    hmac_b64(k.k_res, text, want);
    assert_int_equal(opc__proto_mac_answer(&k, sid, 1, 404, NULL, 0, got), OPC_OK);
    assert_string_equal(got, want);
}

static void test_proto_mac_changes_with_every_input(void **state)
{
    (void)state;
    opc__proto_keys k;
    keys_fixed(&k);
    char base[OPC_PROTO_HASH_B64 + 1];
    char m[OPC_PROTO_HASH_B64 + 1];
    const char *body = "abc";
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x?a=1", body, 3, base), OPC_OK);
    assert_int_equal(strlen(base), OPC_PROTO_HASH_B64);
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x?a=1", body, 3, m), OPC_OK);
    assert_true(opc__proto_mac_equal(base, m));

    assert_int_equal(
        opc__proto_mac_request(&k, "c2Vzc2lvbi1pZC0xMjM0NR", 5, "GET", "/v1/x?a=1", body, 3, m),
        OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    assert_int_equal(opc__proto_mac_request(&k, sid, 6, "GET", "/v1/x?a=1", body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "PUT", "/v1/x?a=1", body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x?a=2", body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x?a=1", "abd", 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x?a=1", body, 2, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    opc__proto_keys k2 = k;
    k2.k_req[31] ^= 1;
    assert_int_equal(opc__proto_mac_request(&k2, sid, 5, "GET", "/v1/x?a=1", body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));
    /* k_res does not take part in requests */
    k2 = k;
    k2.k_res[0] ^= 1;
    assert_int_equal(opc__proto_mac_request(&k2, sid, 5, "GET", "/v1/x?a=1", body, 3, m), OPC_OK);
    assert_true(opc__proto_mac_equal(base, m));

    char ab[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_mac_answer(&k, sid, 5, 200, body, 3, ab), OPC_OK);
    assert_false(opc__proto_mac_equal(base, ab));
    assert_int_equal(opc__proto_mac_answer(&k, sid, 5, 201, body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(ab, m));
    assert_int_equal(opc__proto_mac_answer(&k, sid, 4, 200, body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(ab, m));
    assert_int_equal(opc__proto_mac_answer(&k, sid, 5, 200, "abd", 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(ab, m));
    assert_int_equal(opc__proto_mac_answer(&k2, sid, 5, 200, body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(ab, m));
    /* the request and answer texts differ even with the same key */
    opc__proto_keys same = k;
    memcpy(same.k_res, same.k_req, 32);
    assert_int_equal(opc__proto_mac_answer(&same, sid, 5, 200, body, 3, m), OPC_OK);
    assert_false(opc__proto_mac_equal(base, m));

    /* refusals of the arguments */
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x\nY", body, 3, m),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_mac_request(&k, NULL, 5, "GET", "/v1/x", body, 3, m),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_mac_request(&k, sid, 5, "GET", "/v1/x", NULL, 3, m),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_mac_answer(&k, sid, 5, 42, body, 3, m), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_mac_answer(NULL, sid, 5, 200, body, 3, m), OPC_ERR_INVALID_ARG);

    /* the comparison */
    char other[OPC_PROTO_HASH_B64 + 2];
    memcpy(other, base, sizeof base);
    other[OPC_PROTO_HASH_B64 - 1] = other[OPC_PROTO_HASH_B64 - 1] == 'A' ? 'B' : 'A';
    assert_false(opc__proto_mac_equal(base, other));
    memcpy(other, base, sizeof base);
    assert_true(opc__proto_mac_equal(base, other));
    other[OPC_PROTO_HASH_B64] = 'A'; /* one more character */
    other[OPC_PROTO_HASH_B64 + 1] = '\0';
    assert_false(opc__proto_mac_equal(base, other));
    assert_false(opc__proto_mac_equal(other, base));
    memcpy(other, base, sizeof base);
    other[OPC_PROTO_HASH_B64 - 1] = '\0';
    assert_false(opc__proto_mac_equal(other, other));
    assert_false(opc__proto_mac_equal(NULL, base));
    assert_false(opc__proto_mac_equal(base, NULL));
    assert_false(opc__proto_mac_equal("", ""));
}

/* ---- errors ---- */

static void test_proto_errors_every_code(void **state)
{
    (void)state;
    const char *code = "x";
    const char *detail = "x";
    assert_int_equal(opc__proto_status(OPC_OK, &code, &detail), 200);
    assert_null(code);
    assert_null(detail);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_error_encode(OPC_OK, "m", &j), OPC_ERR_INVALID_ARG);
    assert_null(j);

    /* The codes with their own status; every other one is a 500 "internal"
     * that reads back as OPC_ERR_IO. */
    static const struct {
        opc_err rc;
        int status;
        const char *code;
        const char *detail;
        opc_err back;
    } mapped[] = {
        {OPC_ERR_PARSE, 400, "bad_request", "parse", OPC_ERR_PARSE},
        {OPC_ERR_INVALID_ARG, 400, "bad_request", "invalid_arg", OPC_ERR_INVALID_ARG},
        {OPC_ERR_RANGE, 400, "bad_request", "range", OPC_ERR_RANGE},
        {OPC_ERR_TOKEN, 401, "unauthorized", NULL, OPC_ERR_PERMISSION},
        {OPC_ERR_PERMISSION, 403, "forbidden", NULL, OPC_ERR_PERMISSION},
        {OPC_ERR_NOT_FOUND, 404, "not_found", NULL, OPC_ERR_NOT_FOUND},
        {OPC_ERR_CONFLICT, 409, "conflict", NULL, OPC_ERR_CONFLICT},
        {OPC_ERR_EXISTS, 409, "exists", NULL, OPC_ERR_EXISTS},
        {OPC_ERR_TOO_LARGE, 413, "too_large", NULL, OPC_ERR_TOO_LARGE},
        {OPC_ERR_IO, 503, "unavailable", NULL, OPC_ERR_IO},
    };
    for (int i = 1; i < OPC_ERR_LAST; i++) {
        opc_err rc = (opc_err)i;
        int want_status = 500;
        const char *want_code = "internal";
        const char *want_detail = NULL;
        opc_err want_back = OPC_ERR_IO; /* a 5xx is the upstream unavailable */
        for (size_t k = 0; k < sizeof mapped / sizeof mapped[0]; k++) {
            if (mapped[k].rc == rc) {
                want_status = mapped[k].status;
                want_code = mapped[k].code;
                want_detail = mapped[k].detail;
                want_back = mapped[k].back;
            }
        }
        int status = opc__proto_status(rc, &code, &detail);
        assert_int_equal(status, want_status);
        assert_string_equal(code, want_code);
        if (want_detail == NULL) {
            assert_null(detail);
        } else {
            assert_string_equal(detail, want_detail);
        }
        assert_int_equal(opc__proto_error_encode(rc, "item iiii: gone", &j), OPC_OK);
        char *s = cJSON_PrintUnformatted(j);
        char want[256];
        if (want_detail != NULL) {
            snprintf(want, sizeof want,
                     "{\"error\":{\"code\":\"%s\",\"message\":\"item iiii: gone\","
                     "\"detail\":\"%s\"}}",
                     want_code, want_detail);
        } else {
            snprintf(want, sizeof want,
                     "{\"error\":{\"code\":\"%s\",\"message\":\"item iiii: gone\"}}", want_code);
        }
        assert_string_equal(s, want);
        cJSON_free(s);
        j = reparse(j);
        opc__ebuf eb = {0};
        assert_int_equal(opc__proto_error_decode(status, j, &eb), want_back);
        char msg[128];
        snprintf(msg, sizeof msg, "upstream: item iiii: gone (HTTP %d)", status);
        assert_string_equal(eb.msg, msg);
        cJSON_Delete(j);
    }
    /* no message: the code's description */
    assert_int_equal(opc__proto_error_encode(OPC_ERR_NOT_FOUND, NULL, &j), OPC_OK);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring,
                        opc_strerror(OPC_ERR_NOT_FOUND));
    cJSON_Delete(j);
}

static void expect_decode(int status, const char *body, opc_err want, const char *msg)
{
    cJSON *j = body == NULL ? NULL : parse(body);
    opc__ebuf eb = {0};
    assert_int_equal(opc__proto_error_decode(status, j, &eb), want);
    if (msg != NULL) {
        assert_string_equal(eb.msg, msg);
    }
    cJSON_Delete(j);
}

static void test_proto_error_decode_by_status(void **state)
{
    (void)state;
    /* not an error object: the status alone */
    expect_decode(400, NULL, OPC_ERR_PARSE, "upstream answered HTTP 400");
    expect_decode(401, "[]", OPC_ERR_PERMISSION, NULL);
    expect_decode(403, "{\"error\":\"x\"}", OPC_ERR_PERMISSION, NULL);
    expect_decode(404, "{\"error\":{\"code\":\"not_found\"}}", OPC_ERR_NOT_FOUND,
                  "upstream answered HTTP 404");
    expect_decode(409, "{}", OPC_ERR_CONFLICT, NULL);
    expect_decode(413, NULL, OPC_ERR_TOO_LARGE, NULL);
    expect_decode(429, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}",
                  OPC_ERR_IO, "upstream: slow down (HTTP 429)");
    expect_decode(500, NULL, OPC_ERR_IO, NULL);
    expect_decode(502, NULL, OPC_ERR_IO, NULL);
    expect_decode(418, NULL, OPC_ERR_IO, NULL);
    /* a code that does not fit the status: the status wins */
    expect_decode(404, "{\"error\":{\"code\":\"exists\",\"message\":\"m\"}}", OPC_ERR_NOT_FOUND,
                  NULL);
    expect_decode(409, "{\"error\":{\"code\":\"exists\",\"message\":\"m\"}}", OPC_ERR_EXISTS, NULL);
    /* a 400 without detail or with an unknown one is a parse error */
    expect_decode(400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"m\"}}", OPC_ERR_PARSE,
                  NULL);
    expect_decode(400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"m\",\"detail\":\"x\"}}",
                  OPC_ERR_PARSE, NULL);
    expect_decode(400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"m\",\"detail\":7}}",
                  OPC_ERR_PARSE, "upstream answered HTTP 400");
    /* the server's text is untrusted: control characters are replaced */
    expect_decode(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"a\\nb\\u001bc\"}}",
                  OPC_ERR_NOT_FOUND, "upstream: a?b?c (HTTP 404)");
    /* not an error status */
    expect_decode(200, NULL, OPC_ERR_INVALID_ARG, NULL);
    expect_decode(302, NULL, OPC_ERR_INVALID_ARG, NULL);
    expect_decode(600, NULL, OPC_ERR_INVALID_ARG, NULL);
}

/* ---- pages ---- */

static void test_proto_pages_round_trip(void **state)
{
    (void)state;
    cJSON *out = NULL;
    assert_int_equal(opc__proto_changes_encode(parse("[{\"seq\":1},{\"seq\":2}]"), 9, &out),
                     OPC_OK);
    out = reparse(out);
    char *s = cJSON_PrintUnformatted(out);
    assert_string_equal(s, "{\"changes\":[{\"seq\":1},{\"seq\":2}],\"next\":9}");
    cJSON_free(s);
    cJSON *arr = NULL;
    int64_t next = -1;
    assert_int_equal(opc__proto_changes_decode(out, &arr, &next, NULL), OPC_OK);
    assert_int_equal(next, 9);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(out, "changes"));
    cJSON_Delete(arr);
    cJSON_Delete(out);
    assert_int_equal(opc__proto_changes_encode(cJSON_CreateArray(), 0, &out), OPC_OK);
    s = cJSON_PrintUnformatted(out);
    assert_string_equal(s, "{\"changes\":[],\"next\":0}");
    cJSON_free(s);
    cJSON_Delete(out);

    const char *members[] = {"items", "chunks"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(opc__proto_page_encode(members[i], parse("[{\"id\":\"a\"}]"), &out),
                         OPC_OK);
        out = reparse(out);
        char want[64];
        snprintf(want, sizeof want, "{\"%s\":[{\"id\":\"a\"}]}", members[i]);
        s = cJSON_PrintUnformatted(out);
        assert_string_equal(s, want);
        cJSON_free(s);
        assert_int_equal(opc__proto_page_decode(out, members[i], &arr, NULL), OPC_OK);
        assert_int_equal(cJSON_GetArraySize(arr), 1);
        cJSON_Delete(arr);
        cJSON_Delete(out);
    }

    assert_int_equal(
        opc__proto_write_result_encode(parse("{\"id\":\"i\"}"), parse("{\"id\":\"v\"}"), &out),
        OPC_OK);
    out = reparse(out);
    s = cJSON_PrintUnformatted(out);
    assert_string_equal(s, "{\"item\":{\"id\":\"i\"},\"vault\":{\"id\":\"v\"}}");
    cJSON_free(s);
    cJSON *item = NULL;
    cJSON *vault = NULL;
    assert_int_equal(opc__proto_write_result_decode(out, &item, &vault, NULL), OPC_OK);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring, "i");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(vault, "id")->valuestring, "v");
    cJSON_Delete(item);
    cJSON_Delete(vault);
    cJSON_Delete(out);
}

static void test_proto_pages_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *msg;
    } changes[] = {
        {"[]", "malformed changes: not an object"},
        {"{\"next\":1}", "malformed changes: missing \"changes\""},
        {"{\"changes\":{},\"next\":1}",
         "malformed changes: \"changes\" must be an array of objects"},
        {"{\"changes\":[1],\"next\":1}",
         "malformed changes: \"changes\" must be an array of objects"},
        {"{\"changes\":[]}", "malformed changes: missing \"next\""},
        {"{\"changes\":[],\"next\":-1}", NULL},
        {"{\"changes\":[],\"next\":1.5}", "malformed changes: \"next\" must be an integer"},
        {"{\"changes\":[],\"next\":\"1\"}", NULL},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        cJSON *j = parse(changes[i].json);
        cJSON *arr = (cJSON *)(uintptr_t)1;
        int64_t next = 0;
        opc__ebuf eb = {0};
        assert_int_equal(opc__proto_changes_decode(j, &arr, &next, &eb), OPC_ERR_PARSE);
        assert_null(arr);
        if (changes[i].msg != NULL) {
            assert_string_equal(eb.msg, changes[i].msg);
        }
        cJSON_Delete(j);
    }
    static const char *const pages[] = {"[]", "{}", "{\"items\":null}", "{\"items\":[[]]}",
                                        "{\"chunks\":[{}]}"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        cJSON *j = parse(pages[i]);
        cJSON *arr = NULL;
        assert_int_equal(opc__proto_page_decode(j, "items", &arr, NULL), OPC_ERR_PARSE);
        assert_null(arr);
        cJSON_Delete(j);
    }
    cJSON *j = parse("{\"items\":[]}");
    cJSON *arr = NULL;
    assert_int_equal(opc__proto_page_decode(j, "vaults", &arr, NULL), OPC_ERR_INVALID_ARG);
    cJSON_Delete(j);
    static const char *const writes[] = {"[]", "{\"item\":{}}", "{\"vault\":{}}",
                                         "{\"item\":[],\"vault\":{}}",
                                         "{\"item\":{},\"vault\":\"v\"}"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        j = parse(writes[i]);
        cJSON *item = NULL;
        cJSON *vault = NULL;
        assert_int_equal(opc__proto_write_result_decode(j, &item, &vault, NULL), OPC_ERR_PARSE);
        assert_null(item);
        assert_null(vault);
        cJSON_Delete(j);
    }
    /* encoders refuse what decoders would, and own their arguments */
    cJSON *out = NULL;
    assert_int_equal(opc__proto_changes_encode(parse("[1]"), 1, &out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_changes_encode(cJSON_CreateArray(), -1, &out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_changes_encode(NULL, 1, &out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_page_encode("vaults", cJSON_CreateArray(), &out),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_page_encode("items", parse("{}"), &out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_write_result_encode(parse("{}"), NULL, &out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__proto_write_result_encode(parse("[]"), parse("{}"), &out),
                     OPC_ERR_INVALID_ARG);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_handshake_agrees),
        cmocka_unit_test(test_proto_welcome_encoding),
        cmocka_unit_test(test_proto_hello_refusals),
        cmocka_unit_test(test_proto_welcome_refusals),
        cmocka_unit_test(test_proto_hello_decode_strict),
        cmocka_unit_test(test_proto_welcome_decode_strict),
        cmocka_unit_test(test_proto_mac_known_answers),
        cmocka_unit_test(test_proto_mac_changes_with_every_input),
        cmocka_unit_test(test_proto_errors_every_code),
        cmocka_unit_test(test_proto_error_decode_by_status),
        cmocka_unit_test(test_proto_pages_round_trip),
        cmocka_unit_test(test_proto_pages_malformed),
    };
    return cmocka_run_group_tests_name("wire_proto", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
