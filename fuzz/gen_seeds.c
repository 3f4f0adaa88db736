/*
 * fuzz/gen_seeds.c - writes the seed files that need real cryptography
 * (tokens signed by FUZZ_ISSUER_JWK, an envelope under the fuzz vault key,
 * credentials files) into fuzz/corpus/, and the seeds of fuzz_patch (the
 * patch shapes the SDKs and the Connect docs send, for the item in
 * fuzz/fuzz_patch.c), fuzz_filter (the query strings clients send) and
 * fuzz_srp (the honest exchange of fuzz/fuzz_srp.h and its near misses). Run
 * by `make fuzz-corpus`; the output is committed, so the fuzzers do not
 * depend on this program.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "fuzz_srp.h"

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

typedef struct {
    const char *name;
    const char *text;
} text_seed;

/* For the item of fuzz/fuzz_patch.c (fields username, password, notesPlain,
 * otp1, "a/b~c"; sections "linked items", sec1). */
static const text_seed patch_seeds[] = {
    {"empty", "[]"},
    /* The JS and Go SDKs. */
    {"sdk_title", "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"x\"}]"},
    /* connect#58: how to change a password. */
    {"password_value",
     "[{\"op\":\"replace\",\"path\":\"/fields/password/value\",\"value\":\"fake-new\"}]"},
    {"notes_value", "[{\"op\":\"add\",\"path\":\"/fields/notesPlain/value\",\"value\":\"n\"}]"},
    /* The Connect docs: add a field on /fields, with the spec's lower-case type. */
    {"add_field",
     "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":{\"label\":\"New\",\"type\":\"string\","
     "\"value\":\"v\",\"section\":{\"id\":\"sec1\"}}}]"},
    {"add_field_end", "[{\"op\":\"add\",\"path\":\"/fields/-\",\"value\":{\"id\":\"\","
                      "\"type\":\"\",\"purpose\":\"\",\"label\":\"l\"}}]"},
    {"field_by_id", "[{\"op\":\"replace\",\"path\":\"/fields/otp1\",\"value\":{\"type\":\"OTP\","
                    "\"value\":\"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP\"}},"
                    "{\"op\":\"remove\",\"path\":\"/fields/username\"}]"},
    {"field_attrs", "[{\"op\":\"add\",\"path\":\"/fields/a~1b~0c/label\",\"value\":\"L\"},"
                    "{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/type\",\"value\":\"date\"},"
                    "{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/value\","
                    "\"value\":\"2024-02-29\"},"
                    "{\"op\":\"remove\",\"path\":\"/fields/otp1/section\"}]"},
    {"generate", "[{\"op\":\"remove\",\"path\":\"/fields/password/value\"},"
                 "{\"op\":\"add\",\"path\":\"/fields/password/generate\",\"value\":true},"
                 "{\"op\":\"add\",\"path\":\"/fields/password/recipe/length\",\"value\":12},"
                 "{\"op\":\"add\",\"path\":\"/fields/password/recipe/characterSets/-\","
                 "\"value\":\"DIGITS\"}]"},
    {"second_password", "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":{\"type\":\"CONCEALED\","
                        "\"purpose\":\"PASSWORD\",\"value\":\"p\"}}]"},
    {"sections", "[{\"op\":\"add\",\"path\":\"/sections/-\",\"value\":{\"id\":\"s2\","
                 "\"label\":\"Two\"}},"
                 "{\"op\":\"replace\",\"path\":\"/sections/linked items/label\",\"value\":\"R\"},"
                 "{\"op\":\"add\",\"path\":\"/fields/username/section/id\",\"value\":\"s2\"}]"},
    {"tags_urls", "[{\"op\":\"add\",\"path\":\"/tags/1\",\"value\":\"x\"},"
                  "{\"op\":\"remove\",\"path\":\"/tags/0\"},"
                  "{\"op\":\"add\",\"path\":\"/urls/-\",\"value\":{\"href\":\"https://b.example\","
                  "\"label\":\"b\"}},"
                  "{\"op\":\"replace\",\"path\":\"/urls/0/primary\",\"value\":false},"
                  "{\"op\":\"replace\",\"path\":\"/favorite\",\"value\":true}]"},
    {"whole_item", "[{\"op\":\"replace\",\"path\":\"/\",\"value\":{\"title\":\"t\","
                   "\"category\":\"LOGIN\",\"fields\":[{\"id\":\"username\",\"value\":\"u\"}]}}]"},
    {"read_only", "[{\"op\":\"replace\",\"path\":\"/vault/id\",\"value\":\"v\"}]"},
    {"move", "[{\"op\":\"move\",\"from\":\"/title\",\"path\":\"/tags/0\"}]"},
};

/* Filters one level past the nesting limit, and right at it. */
#define OPEN11 "((((((((((("
#define OPEN33 OPEN11 OPEN11 OPEN11
#define CLOSE11 ")))))))))))"
#define CLOSE33 CLOSE11 CLOSE11 CLOSE11
#define NOT8 "not+not+not+not+not+not+not+not+"
#define NOT32 NOT8 NOT8 NOT8 NOT8

static const text_seed filter_seeds[] = {
    {"go_title", "filter=title+eq+%22Kubernetes%22"},
    {"python_name", "filter=name%20eq%20%22Demo%20Vault%22"},
    {"js_title_co", "filter=title%20co%20%22data%22"},
    {"tag", "filter=tag+eq+%22banking%22"},
    {"escaped", "filter=title+eq+%22a%5C%22b%5C%5Cc%22"},
    {"raw_quote", "filter=title eq \"x y\""},
    {"other_params", "inline_files=true&filter=TITLE+EQ+%22x%22&filter=tag+eq+%22y%22"},
    {"utf8", "filter=title+eq+%22%C3%A9t%C3%A9%22"},
    {"single_quote", "filter=title+eq+%27x%27"},
    {"category", "filter=category+eq+%22LOGIN%22"},
    {"or", "filter=title+eq+%22a%22+or+tag+eq+%22b%22"},
    {"no_value", "filter"},
    {"bad_escape", "filter=%2G"},
    {"and_or_not", "filter=title+co+%22web%22+and+not+tag+eq+%22old%22+or+category+eq+%22LOGIN%22"},
    {"parens", "filter=(title+eq+%22a%22+or+title+eq+%22b%22)+and+(tag+co+%22x%22)"},
    {"not_paren", "filter=NOT(tag+eq+%22a%22)OR(tag+eq+%22b%22)"},
    {"tag_co", "filter=tag%20co%20%22bank%22"},
    {"updated_gt", "filter=updatedAt+gt+%222024-01-31T12:00:00.5%2B01:00%22"},
    {"updated_lt", "filter=updatedAt lt \"2024-01-31T12:00:00Z\" and "
                   "updatedAt gt \"2023-01-01T00:00:00-05:30\""},
    {"bad_time", "filter=updatedAt+gt+%222024-02-30T00:00:00Z%22"},
    {"deep", "filter=" OPEN33 "title+eq+%22x%22" CLOSE33},
    {"not_chain", "filter=" NOT32 "tag+eq+%22x%22"},
    {"unclosed", "filter=(title+eq+%22a%22+or+tag+eq+%22b%22"},
    {"vault_expr", "filter=name+eq+%22a%22+or+not+title+eq+%22b%22"},
};

static void text_seeds(const char *dir, const text_seed *seeds, size_t n)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_seeds: cannot create %s\n", dir);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        write_file(path, seeds[i].text, strlen(seeds[i].text));
    }
}

/* fuzz_srp's layout (fuzz_srp.h): flags, a 2-byte length, the public value, the proof. */
static void srp_seed(const char *name, uint8_t flags, const uint8_t *pub, size_t pub_len,
                     const uint8_t *proof, size_t proof_len)
{
    uint8_t buf[3 + 2 * OPC_SRP_MAX_LEN];
    if (pub_len > OPC_SRP_MAX_LEN || proof_len > OPC_SRP_MAX_LEN) {
        fprintf(stderr, "gen_seeds: srp seed %s too long\n", name);
        exit(1);
    }
    buf[0] = flags;
    buf[1] = (uint8_t)(pub_len >> 8);
    buf[2] = (uint8_t)pub_len;
    memcpy(buf + 3, pub, pub_len);
    memcpy(buf + 3 + pub_len, proof, proof_len);
    char path[256];
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_srp/%s", name);
    write_file(path, buf, 3 + pub_len + proof_len);
}

static void srp_seeds(void)
{
    if (mkdir("fuzz/corpus/fuzz_srp", 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_seeds: cannot create fuzz/corpus/fuzz_srp\n");
        exit(1);
    }
    static const struct {
        unsigned bits;
        const char *tag;
    } groups[] = {{4096, "4096"}, {3072, "3072"}};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        fuzz_srp_ref r;
        if (!fuzz_srp_reference(groups[i].bits, &r)) {
            fprintf(stderr, "gen_seeds: the SRP reference exchange failed\n");
            exit(1);
        }
        uint8_t g = groups[i].bits == 3072 ? FUZZ_SRP_GROUP_3072 : 0;
        uint8_t cl = (uint8_t)(g | FUZZ_SRP_SIDE_CLIENT);
        uint8_t bad[OPC_SRP_MAX_LEN];
        char name[64];
#define SRP_SEED(what, flags, pub, pub_len, proof, proof_len)                                      \
    snprintf(name, sizeof name, "%s_%s", what, groups[i].tag);                                     \
    srp_seed(name, flags, pub, pub_len, proof, proof_len)
        SRP_SEED("server_honest", g, r.A, r.len, r.M1, r.hlen);
        SRP_SEED("client_honest", cl, r.B, r.len, r.M2, r.hlen);
        memcpy(bad, r.M1, r.hlen);
        bad[0] ^= 1;
        SRP_SEED("server_wrong_m1", g, r.A, r.len, bad, r.hlen);
        SRP_SEED("server_short_m1", g, r.A, r.len, r.M1, r.hlen - 1);
        SRP_SEED("server_short_a", g, r.A, r.len - 1, r.M1, r.hlen);
        memset(bad, 0, r.len);
        SRP_SEED("server_a_zero", g, bad, r.len, r.M1, r.hlen);
        SRP_SEED("client_b_zero", cl, bad, r.len, r.M2, r.hlen);
        memset(bad, 0xff, r.len);
        SRP_SEED("server_a_max", g, bad, r.len, r.M1, r.hlen);
        memcpy(bad, r.M2, r.hlen);
        bad[r.hlen - 1] ^= 0x80;
        SRP_SEED("client_wrong_m2", cl, r.B, r.len, bad, r.hlen);
#undef SRP_SEED
    }
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
    token_seed(issuer, "valid_activitylog", hdr,
               "{\"1password.com/auuid\":\"fuzzaccountaaaaaaaaaaaaaaa\","
               "\"1password.com/token\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
               "\"1password.com/fts\":[\"vaultaccess\",\"activitylog\"],"
               "\"1password.com/vts\":[{\"u\":\"fuzzvaultaaaaaaaaaaaaaaaaa\",\"a\":1}],"
               "\"aud\":[\"com.1password.connect\"],\"sub\":\"fuzzserveraaaaaaaaaaaaaaaa\","
               "\"iat\":1799990000,\"iss\":\"com.1password.b5\","
               "\"jti\":\"fuzztokenbbbbbbbbbbbbbbbbb\"}");
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
    static const uint8_t raw[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
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

    text_seeds("fuzz/corpus/fuzz_patch", patch_seeds, sizeof patch_seeds / sizeof patch_seeds[0]);
    text_seeds("fuzz/corpus/fuzz_filter", filter_seeds,
               sizeof filter_seeds / sizeof filter_seeds[0]);
    srp_seeds();
    opc_global_cleanup();
    puts("gen_seeds: wrote fuzz/corpus/{fuzz_jwt,fuzz_envelope,fuzz_credentials,fuzz_patch,"
         "fuzz_filter,fuzz_srp}");
    return 0;
}
