/*
 * bench/bench_crypto.c - ns/op of the cryptographic steps on a request's path
 * and of the owner's key derivation. Each figure is the median of 5 rounds.
 * A benchmark, not a test: it asserts nothing about speed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opconnect/opconnect.h>

#include "core/rand.h"
#include "crypto/ecdsa.h"
#include "crypto/gcm.h"
#include "crypto/jwt.h"
#include "crypto/kdf.h"
#include "crypto/key.h"
#include "crypto/twoskd.h"

#define ROUNDS 5

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx);

static void run(const char *name, bench_fn fn, void *ctx, long iters)
{
    double per[ROUNDS];
    fn(ctx); /* warm-up */
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            fn(ctx);
        }
        per[r] = (now_ns() - t0) / (double)iters;
    }
    qsort(per, ROUNDS, sizeof per[0], cmp_double);
    printf("%-34s %12.0f ns/op  (median of %d x %ld; min %.0f, max %.0f)\n", name, per[ROUNDS / 2],
           ROUNDS, iters, per[0], per[ROUNDS - 1]);
}

static void check(opc_err rc, const char *what)
{
    if (rc != OPC_OK) {
        fprintf(stderr, "bench: %s failed: %s\n", what, opc_strerror(rc));
        exit(1);
    }
}

/* ---- ES256 verify of a token-sized signing input ---- */
typedef struct {
    opc__key *pub;
    char input[700];
    uint8_t sig[OPC_ES256_SIG_LEN];
} es256_ctx;

static void bench_es256(void *p)
{
    es256_ctx *c = p;
    check(opc__ecdsa_verify(c->pub, c->input, sizeof c->input, c->sig, sizeof c->sig, NULL),
          "ES256 verify");
}

/* ---- full token validation (parse, verify, claims) ---- */
typedef struct {
    const opc__key *keys[1];
    opc__jwt_expect expect;
    char *token;
    opc__jwt_claims claims;
} jwt_ctx;

static void bench_jwt(void *p)
{
    jwt_ctx *c = p;
    check(opc__jwt_verify(c->token, strlen(c->token), &c->expect, &c->claims, NULL),
          "JWT verify");
}

/* ---- AES-256-GCM open of a 2 KiB item ---- */
typedef struct {
    uint8_t key[32], iv[12], tag[16];
    uint8_t ct[2048], pt[2048];
} gcm_ctx;

static void bench_gcm(void *p)
{
    gcm_ctx *c = p;
    check(opc__gcm_open(c->key, c->iv, "v1|vault|item|details|1", 23, c->ct, sizeof c->ct, c->tag,
                        c->pt),
          "GCM open");
}

/* ---- HKDF-SHA256, 32 bytes out ---- */
static void bench_hkdf(void *p)
{
    uint8_t out[32];
    check(opc__hkdf_sha256(p, 64, "0123456789abcdef", 16, "connect/credentials/v2", 22, out, 32),
          "HKDF");
}

/* ---- 2SKD at the production iteration count ---- */
typedef struct {
    opc__secret_key sk;
    uint8_t salt[16];
} twoskd_ctx;

static void bench_2skd(void *p)
{
    twoskd_ctx *c = p;
    uint8_t out[32];
    check(opc__2skd("correct horse battery staple", "owner@example.com", &c->sk, c->salt,
                    OPC_2SKD_LABEL_AUK, OPC_2SKD_DEFAULT_ITERATIONS, out, NULL),
          "2SKD");
}

int main(void)
{
    check(opc_global_init(OPC_GLOBAL_DEFAULT), "init");
    printf("libopconnect %s crypto micro-benchmarks\n", opc_version());

    es256_ctx es = {0};
    opc__key *priv = NULL;
    check(opc__key_generate_ec("benchissuer", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &priv), "keygen");
    check(opc__key_public(priv, &es.pub), "public key");
    memset(es.input, 'a', sizeof es.input);
    check(opc__ecdsa_sign(priv, es.input, sizeof es.input, es.sig), "sign");
    run("ES256 verify (700-byte input)", bench_es256, &es, 2000);

    jwt_ctx jw = {0};
    jw.keys[0] = es.pub;
    jw.expect = (opc__jwt_expect){.keys = jw.keys, .n_keys = 1, .audience = OPC_JWT_AUDIENCE,
                                  .now = 1800000000, .leeway = OPC_JWT_LEEWAY_S};
    const char *payload =
        "{\"1password.com/auuid\":\"benchaccountaaaaaaaaaaaaa\","
        "\"1password.com/token\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
        "\"1password.com/fts\":[\"vaultaccess\"],"
        "\"1password.com/vts\":[{\"u\":\"benchvaultaaaaaaaaaaaaaaaa\",\"a\":3}],"
        "\"aud\":[\"com.1password.connect\"],\"sub\":\"benchserveraaaaaaaaaaaaaaa\","
        "\"iat\":1799990000,\"iss\":\"com.1password.b5\",\"jti\":\"benchtokenaaaaaaaaaaaaaaaa\"}";
    check(opc__jws_sign_es256(priv, "{\"alg\":\"ES256\",\"kid\":\"benchissuer\",\"typ\":\"JWT\"}",
                              payload, &jw.token),
          "token");
    run("JWT validate (parse+ES256+claims)", bench_jwt, &jw, 2000);

    gcm_ctx g;
    check(opc__rand_bytes(&g, sizeof g), "rand");
    check(opc__gcm_seal(g.key, g.iv, "v1|vault|item|details|1", 23, g.pt, sizeof g.pt, g.ct, g.tag),
          "GCM seal");
    run("AES-256-GCM open, 2 KiB", bench_gcm, &g, 200000);

    uint8_t ikm[64];
    check(opc__rand_bytes(ikm, sizeof ikm), "rand");
    run("HKDF-SHA256 (32-byte output)", bench_hkdf, ikm, 100000);

    twoskd_ctx t;
    char skstr[OPC_SECRET_KEY_STRLEN + 1];
    check(opc__secret_key_generate(skstr), "secret key");
    check(opc__secret_key_parse(skstr, &t.sk, NULL), "secret key parse");
    check(opc__rand_bytes(t.salt, sizeof t.salt), "rand");
    run("2SKD (650,000 PBKDF2 iterations)", bench_2skd, &t, 3);

    opc_free(jw.token);
    opc__key_free(es.pub);
    opc__key_free(priv);
    opc_global_cleanup();
    return 0;
}
