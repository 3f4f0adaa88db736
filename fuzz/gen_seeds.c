/*
 * fuzz/gen_seeds.c - writes the seed files that need real cryptography
 * (tokens signed by FUZZ_ISSUER_JWK, an envelope under the fuzz vault key,
 * credentials files) into fuzz/corpus/. Run by `make fuzz-corpus`; the
 * output is committed, so the fuzzers do not depend on this program.
 */
#include "internal.h"

#include <stdio.h>

#include "fuzz_common.h"

#include "core/alloc.h"
#include "core/json.h"
#include "crypto/envelope.h"
#include "crypto/jwt.h"
#include "crypto/key.h"
#include "credentials/credentials.h"

static void check(opc_err rc, const char *what)
{
    if (rc != OPC_OK) {
        fprintf(stderr, "gen_seeds: %s: %s\n", what, opc_strerror(rc));
        exit(1);
    }
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void token_seed(const opc__key *k, const char *name, const char *header, const char *payload)
{
    char *tok = NULL;
    check(opc__jws_sign_es256(k, header, payload, &tok), name);
    char path[256];
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_jwt/%s", name);
    write_file(path, tok, strlen(tok));
    opc_free(tok);
}

int main(void)
{
    check(opc_global_init(OPC_GLOBAL_DEFAULT), "init");
    opc__key *issuer = NULL;
    check(opc__jwk_parse(FUZZ_ISSUER_JWK, strlen(FUZZ_ISSUER_JWK), 0, &issuer, NULL), "issuer");

    const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"fuzzissuerkeyaaaaaaaaaaaaa\",\"typ\":\"JWT\"}";
    token_seed(issuer, "valid_full", hdr,
               "{\"1password.com/auuid\":\"fuzzaccountaaaaaaaaaaaaaaa\","
               "\"1password.com/token\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
               "\"1password.com/fts\":[\"vaultaccess\"],"
               "\"1password.com/vts\":[{\"u\":\"fuzzvaultaaaaaaaaaaaaaaaaa\",\"a\":3},"
               "{\"u\":\"FUZZVAULTBBBBBBBBBBBBBBBBB\",\"a\":1}],"
               "\"aud\":[\"com.1password.connect\"],\"sub\":\"fuzzserveraaaaaaaaaaaaaaaa\","
               "\"iat\":1799990000,\"nbf\":1799990000,\"exp\":1899990000,"
               "\"iss\":\"com.1password.b5\",\"jti\":\"fuzztokenaaaaaaaaaaaaaaaaa\"}");
    token_seed(issuer, "valid_minimal", hdr,
               "{\"aud\":\"com.1password.connect\",\"iat\":1799990000,\"jti\":\"j\","
               "\"sub\":\"fuzzserveraaaaaaaaaaaaaaaa\","
               "\"1password.com/auuid\":\"fuzzaccountaaaaaaaaaaaaaaa\"}");
    token_seed(issuer, "expired", hdr,
               "{\"aud\":[\"com.1password.connect\"],\"iat\":1700000000,\"exp\":1700000001,"
               "\"jti\":\"j\",\"sub\":\"fuzzserveraaaaaaaaaaaaaaaa\","
               "\"1password.com/auuid\":\"fuzzaccountaaaaaaaaaaaaaaa\"}");
    token_seed(issuer, "dup_claims", hdr,
               "{\"aud\":[\"com.1password.connect\"],\"iat\":1799990000,\"jti\":\"j\","
               "\"JTI\":\"k\",\"sub\":\"fuzzserveraaaaaaaaaaaaaaaa\"}");
    token_seed(issuer, "alg_none_header", "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{}");

    /* An envelope under the fuzz vault key with AAD "fuzz". */
    static const uint8_t raw[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    opc__key *vk = NULL;
    check(opc__key_from_oct(raw, sizeof raw, "fuzzvaultkey", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT,
                            &vk),
          "vault key");
    cJSON *env = NULL;
    check(opc__envelope_seal(vk, "fuzz", 4, "{\"title\":\"seed\"}", 16, &env), "envelope");
    char *text = NULL;
    size_t len = 0;
    check(opc__json_print(env, &text, &len), "print");
    write_file("fuzz/corpus/fuzz_envelope/valid", text, len);
    opc_free(text);
    cJSON_Delete(env);

    /* A credentials file; the fuzz target uses the input's first 32 bytes as T. */
    opc__key *dev = NULL, *rsa = NULL, *sym = NULL, *pub = NULL;
    check(opc__key_generate_ec("device", OPC_KEYOP_ALL, &dev), "device key");
    check(opc__key_generate_rsa("enckey", OPC_KEYOP_ALL, &rsa), "rsa key");
    check(opc__key_generate_oct("symkey", OPC_KEYOP_ALL, &sym), "sym key");
    check(opc__key_public(issuer, &pub), "issuer public");
    const opc__key *issuers[1] = {pub};
    opc__credentials_params p = {
        .server_id = "fuzzserveraaaaaaaaaaaaaaaa",
        .account_id = "fuzzaccountaaaaaaaaaaaaaaa",
        .service_url = "/var/lib/opconnect/account.db",
        .device_key = dev,
        .issuer_keys = issuers,
        .n_issuer_keys = 1,
        .enc_key = rsa,
        .sym_key = sym,
    };
    uint8_t T[32];
    for (int i = 0; i < 32; i++) {
        T[i] = (uint8_t)('A' + i % 26);
    }
    char *json = NULL;
    size_t jlen = 0;
    check(opc__credentials_create(&p, T, &json, &jlen, NULL), "credentials");
    char *seed = malloc(32 + jlen);
    memcpy(seed, T, 32);
    memcpy(seed + 32, json, jlen);
    write_file("fuzz/corpus/fuzz_credentials/valid_right_T", seed, 32 + jlen);
    seed[0] ^= 1;
    write_file("fuzz/corpus/fuzz_credentials/valid_wrong_T", seed, 32 + jlen);
    free(seed);
    opc__secret_free(json, jlen);

    opc__key_free(dev);
    opc__key_free(rsa);
    opc__key_free(sym);
    opc__key_free(pub);
    opc__key_free(vk);
    opc__key_free(issuer);
    opc_global_cleanup();
    puts("gen_seeds: wrote fuzz/corpus/{fuzz_jwt,fuzz_envelope,fuzz_credentials}");
    return 0;
}
