#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/id.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "crypto/key.h"

#define SERVER_ID "serverserverserverserver22"
#define ACCOUNT_ID "accountaccountaccountacc22"
#define DEVICE_UUID "devicedevicedevicedevice22"
#define OTHER_UUID "otherotherotherotherother2"
#define SERVICE_URL "https://account.example.test:8443"
#define SERVER_PIN "obviouslyfakepin-obviouslyfakepin_obviously"

/* Keys made once per group (RSA generation is slow). */
static struct {
    opc__key *device;
    opc__key *issuers[2];
    opc__key *enc;
    opc__key *sym;
    uint8_t T[32];
} K;

static int group_setup(void **state)
{
    if (opc_test_group_setup(state) != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof K.T; i++) {
        K.T[i] = (uint8_t)(0xa0 + i); /* obviously fake */
    }
    if (opc__key_generate_ec("device-1", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &K.device) != OPC_OK ||
        opc__key_generate_ec("issuer-1", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &K.issuers[0]) !=
            OPC_OK ||
        opc__key_generate_ec("issuer-2", OPC_KEYOP_SIGN, &K.issuers[1]) != OPC_OK ||
        opc__key_generate_rsa("enc-1", OPC_KEYOP_WRAP | OPC_KEYOP_UNWRAP, &K.enc) != OPC_OK ||
        opc__key_generate_oct("sym-1", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &K.sym) != OPC_OK) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    opc__key_free(K.device);
    opc__key_free(K.issuers[0]);
    opc__key_free(K.issuers[1]);
    opc__key_free(K.enc);
    opc__key_free(K.sym);
    memset(&K, 0, sizeof K);
    return opc_test_group_teardown(state);
}

static opc__credentials_params default_params(void)
{
    opc__credentials_params p = {
        .server_id = SERVER_ID,
        .account_id = ACCOUNT_ID,
        .service_url = SERVICE_URL,
        .account_server_pin = SERVER_PIN,
        .device_key = K.device,
        .issuer_keys = (const opc__key *const *)K.issuers,
        .n_issuer_keys = 2,
        .enc_key = K.enc,
        .sym_key = K.sym,
        .device_uuid = DEVICE_UUID,
    };
    return p;
}

/* A new file as a plain malloc'ed string. */
static char *make_file_with(const opc__credentials_params *p, const uint8_t *T)
{
    char *json = NULL;
    size_t len = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__credentials_create(p, T, &json, &len, &eb);
    if (rc != OPC_OK) {
        fail_msg("create: %s: %s", opc_errname(rc), eb.msg);
    }
    assert_int_equal(strlen(json), len);
    char *copy = strdup(json);
    opc__secret_free(json, len);
    return copy;
}

static char *make_file(void)
{
    opc__credentials_params p = default_params();
    return make_file_with(&p, K.T);
}

static opc_credentials *parse_ok(const char *json)
{
    opc_credentials *c = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_parse(json, strlen(json), &c, err, sizeof err);
    if (rc != OPC_OK) {
        fail_msg("parse: %s: %s", opc_errname(rc), err);
    }
    assert_non_null(c);
    return c;
}

static void expect_parse(const char *json, size_t len, opc_err want, const char *substr)
{
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_parse(json, len, &c, err, sizeof err);
    if (rc != want || strstr(err, substr) == NULL) {
        fail_msg("expected %s with \"%s\", got %s: \"%s\"", opc_errname(want), substr,
                 opc_errname(rc), err);
    }
    assert_null(c);
}

static void expect_parse_str(const char *json, opc_err want, const char *substr)
{
    expect_parse(json, strlen(json), want, substr);
}

/*
 * The public functions are declared nonnull; calling them through plain
 * pointers lets the tests check the run-time NULL handling without compiler
 * warnings or UBSan's nonnull-attribute check firing in the caller.
 */
typedef opc_err (*parse_fn)(const char *, size_t, opc_credentials **, char *, size_t);
typedef opc_err (*load_fn)(const char *, opc_credentials **, char *, size_t);
typedef opc_err (*unlock_fn)(opc_credentials *, const void *, size_t, char *, size_t);
static parse_fn const parse_p = opc_credentials_parse;
static load_fn const load_p = opc_credentials_load;
static unlock_fn const unlock_p = opc_credentials_unlock;

/* ---- JSON surgery on files ---- */

/* The object holding the last component of a dotted path; *last is that component. */
static cJSON *parent_of(cJSON *root, const char *path, char *last, size_t cap)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *cur = root;
    char *s = buf;
    for (char *dot = strchr(s, '.'); dot != NULL; dot = strchr(s, '.')) {
        *dot = '\0';
        cur = cJSON_GetObjectItemCaseSensitive(cur, s);
        assert_non_null(cur);
        s = dot + 1;
    }
    snprintf(last, cap, "%s", s);
    return cur;
}

/* Replace (or add, or with v NULL delete) the member at path. */
static void set_at(cJSON *root, const char *path, cJSON *v)
{
    char last[128];
    cJSON *parent = parent_of(root, path, last, sizeof last);
    if (v == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, last);
    } else if (cJSON_GetObjectItemCaseSensitive(parent, last) != NULL) {
        cJSON_ReplaceItemInObjectCaseSensitive(parent, last, v);
    } else {
        cJSON_AddItemToObject(parent, last, v);
    }
}

static const char *str_at(cJSON *root, const char *path)
{
    char last[128];
    cJSON *parent = parent_of(root, path, last, sizeof last);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(parent, last);
    assert_true(cJSON_IsString(m));
    return m->valuestring;
}

static char *print_free(cJSON *root)
{
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    assert_non_null(s);
    return s;
}

/* The file with one member replaced (v NULL: removed). Free with free(). */
static char *file_with(const char *file, const char *path, cJSON *v)
{
    cJSON *root = cJSON_Parse(file);
    assert_non_null(root);
    set_at(root, path, v);
    return print_free(root);
}

/* The base64url of n bytes of value `byte`, as a cJSON string. */
static cJSON *b64_bytes(size_t n, uint8_t byte)
{
    uint8_t raw[64];
    char *s = NULL;
    size_t len = 0;
    memset(raw, byte, sizeof raw);
    assert_int_equal(opc__b64_encode(raw, n, OPC_B64_URL, &s, &len), OPC_OK);
    cJSON *v = cJSON_CreateString(s);
    opc__free(s);
    return v;
}

/* Flip one bit in the base64url string at path (decode, flip, encode). */
static char *file_with_flipped(const char *file, const char *path, size_t byte)
{
    cJSON *root = cJSON_Parse(file);
    assert_non_null(root);
    const char *s = str_at(root, path);
    unsigned char *raw = NULL;
    size_t n = 0;
    assert_int_equal(opc__b64_decode(s, strlen(s), OPC_B64URL, &raw, &n, NULL), OPC_OK);
    assert_true(byte < n);
    raw[byte] ^= 0x01;
    char *enc = NULL;
    size_t elen = 0;
    assert_int_equal(opc__b64_encode(raw, n, OPC_B64_URL, &enc, &elen), OPC_OK);
    opc__free(raw);
    set_at(root, path, cJSON_CreateString(enc));
    opc__free(enc);
    return print_free(root);
}

/* Open an envelope in the test, independently of credentials.c. */
static cJSON *open_json(const cJSON *env, const opc__key *k, const char *aad)
{
    opc_secret *pt = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__envelope_open(env, k, aad, strlen(aad), &pt, &eb);
    if (rc != OPC_OK) {
        fail_msg("open: %s", eb.msg);
    }
    cJSON *j = cJSON_ParseWithLength(opc_secret_data(pt), opc_secret_len(pt));
    opc_secret_free(pt);
    assert_non_null(j);
    return j;
}

static cJSON *seal_json(const cJSON *j, const opc__key *k, const char *aad)
{
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(text);
    cJSON *env = NULL;
    assert_int_equal(opc__envelope_seal(k, aad, strlen(aad), text, strlen(text), &env), OPC_OK);
    cJSON_free(text);
    return env;
}

static opc__key *unique_key_of(const cJSON *root)
{
    opc__key *k = NULL;
    assert_int_equal(
        opc__jwk_import(cJSON_GetObjectItemCaseSensitive(root, "uniqueKey"), 0, &k, NULL), OPC_OK);
    return k;
}

static void aad_for(char *out, size_t cap, const char *layer, const char *uuid)
{
    snprintf(out, cap, "opconnect/credentials/v2|%s|%s", layer, uuid);
}

/* CK computed here from the documented formula, not with credentials.c. */
static opc__key *ck_of(const opc__key *uk, const uint8_t *T, const char *uuid)
{
    uint8_t ikm[64], ck[32];
    memcpy(ikm, opc__key_oct(uk), 32);
    memcpy(ikm + 32, T, 32);
    assert_int_equal(opc__hkdf_sha256(ikm, sizeof ikm, uuid, strlen(uuid), "connect/credentials/v2",
                                      22, ck, sizeof ck),
                     OPC_OK);
    opc__key *k = NULL;
    assert_int_equal(
        opc__key_from_oct(ck, sizeof ck, "connect-ck", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &k),
        OPC_OK);
    return k;
}

typedef void (*mutator)(cJSON *j, void *arg);

/*
 * Decrypt the outer layer (and, with inner, the keyset too), let fn change
 * the plaintext, seal again and return the file. Free with free().
 */
static char *rewrite(const char *file, bool inner, mutator fn, void *arg)
{
    cJSON *root = cJSON_Parse(file);
    assert_non_null(root);
    const char *uuid = str_at(root, "deviceUuid");
    char aad_o[96], aad_i[96];
    aad_for(aad_o, sizeof aad_o, "outer", uuid);
    aad_for(aad_i, sizeof aad_i, "inner", uuid);
    opc__key *uk = unique_key_of(root);
    cJSON *outer = open_json(cJSON_GetObjectItemCaseSensitive(root, "encCredentials"), uk, aad_o);
    if (inner) {
        opc__key *ck = ck_of(uk, K.T, uuid);
        cJSON *in = open_json(cJSON_GetObjectItemCaseSensitive(outer, "keyset"), ck, aad_i);
        fn(in, arg);
        cJSON_ReplaceItemInObjectCaseSensitive(outer, "keyset", seal_json(in, ck, aad_i));
        cJSON_Delete(in);
        opc__key_free(ck);
    } else {
        fn(outer, arg);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(root, "encCredentials", seal_json(outer, uk, aad_o));
    cJSON_Delete(outer);
    opc__key_free(uk);
    return print_free(root);
}

typedef struct {
    const char *path;
    const char *value_json; /* NULL: delete */
} edit;

static void apply_edit(cJSON *j, void *arg)
{
    const edit *e = arg;
    set_at(j, e->path, e->value_json == NULL ? NULL : cJSON_Parse(e->value_json));
}

/* Outer (inner false) or inner plaintext with one member changed. */
static char *layer_with(const char *file, bool inner, const char *path, const char *value_json)
{
    edit e = {path, value_json};
    if (value_json != NULL) {
        cJSON *probe = cJSON_Parse(value_json);
        assert_non_null(probe);
        cJSON_Delete(probe);
    }
    return rewrite(file, inner, apply_edit, &e);
}

/* Parse the file, then expect unlock with K.T to fail. */
static void expect_unlock(const char *file, opc_err want, const char *substr)
{
    opc_credentials *c = parse_ok(file);
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_unlock(c, K.T, sizeof K.T, err, sizeof err);
    if (rc != want || strstr(err, substr) == NULL) {
        fail_msg("expected %s with \"%s\", got %s: \"%s\"", opc_errname(want), substr,
                 opc_errname(rc), err);
    }
    assert_false(opc_credentials_is_unlocked(c));
    assert_null(opc__credentials_enc_key(c));
    opc_credentials_free(c);
}

/* parse refuses f with OPC_ERR_CREDENTIALS and a message holding msg; frees f. */
static void expect_refused(char *f, const char *msg)
{
    expect_parse_str(f, OPC_ERR_CREDENTIALS, msg);
    free(f);
}

/* Where an edit_case applies: the file itself, or the outer or inner plaintext. */
typedef enum { AT_FILE, AT_OUTER, AT_INNER } edit_layer;

/* One member changed (value_json NULL: deleted) and the message that must follow. */
typedef struct edit_case {
    const char *path;
    const char *value_json;
    const char *msg;
} edit_case;

/*
 * Each case applied alone to a fresh file: parse refuses it (AT_FILE,
 * AT_OUTER) or unlock does (AT_INNER), with OPC_ERR_CREDENTIALS and msg.
 */
static void expect_edits_refused(edit_layer at, const edit_case *cases, size_t n)
{
    char *file = make_file();
    for (size_t i = 0; i < n; i++) {
        const edit_case *c = &cases[i];
        if (at == AT_FILE) {
            cJSON *v = NULL;
            if (c->value_json != NULL) {
                v = cJSON_Parse(c->value_json);
                assert_non_null(v);
            }
            expect_refused(file_with(file, c->path, v), c->msg);
        } else if (at == AT_OUTER) {
            expect_refused(layer_with(file, false, c->path, c->value_json), c->msg);
        } else {
            char *f = layer_with(file, true, c->path, c->value_json);
            expect_unlock(f, OPC_ERR_CREDENTIALS, c->msg);
            free(f);
        }
    }
    free(file);
}

/* ---- create, parse, getters, unlock ---- */

static void test_credentials_create_round_trip(void **state)
{
    (void)state;
    char *file = make_file();
    opc_credentials *c = parse_ok(file);
    assert_string_equal(opc_credentials_device_uuid(c), DEVICE_UUID);
    assert_string_equal(opc_credentials_server_id(c), SERVER_ID);
    assert_string_equal(opc_credentials_account_id(c), ACCOUNT_ID);
    assert_string_equal(opc_credentials_upstream_url(c), SERVICE_URL);
    assert_string_equal(opc__credentials_account_server_pin(c), SERVER_PIN);
    assert_true(opc__key_equal_public(opc__credentials_device_key(c), K.device));
    assert_true(opc__key_is_private(opc__credentials_device_key(c)));
    assert_int_equal(opc__credentials_issuer_key_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        const opc__key *k = opc__credentials_issuer_key(c, i);
        assert_true(opc__key_equal_public(k, K.issuers[i]));
        assert_false(opc__key_is_private(k));
        assert_int_equal(opc__key_ops(k), OPC_KEYOP_VERIFY);
        assert_string_equal(opc__key_kid(k), opc__key_kid(K.issuers[i]));
    }
    assert_null(opc__credentials_issuer_key(c, 2));
    assert_ptr_equal(opc__credentials_issuer_key_by_kid(c, "issuer-2"),
                     opc__credentials_issuer_key(c, 1));
    assert_null(opc__credentials_issuer_key_by_kid(c, "issuer-3"));

    /* Locked: no inner keys. */
    assert_false(opc_credentials_is_unlocked(c));
    assert_null(opc__credentials_enc_key(c));
    assert_null(opc__credentials_sym_key(c));
    assert_null(opc__credentials_ck(c));

    char err[OPC_ERRBUF_SIZE] = "";
    assert_int_equal(opc_credentials_unlock(c, K.T, sizeof K.T, err, sizeof err), OPC_OK);
    assert_true(opc_credentials_is_unlocked(c));
    assert_true(opc__key_equal_public(opc__credentials_enc_key(c), K.enc));
    assert_true(opc__key_is_private(opc__credentials_enc_key(c)));
    assert_true(opc__key_equal_public(opc__credentials_sym_key(c), K.sym));
    assert_string_equal(opc__key_kid(opc__credentials_sym_key(c)), "sym-1");
    assert_non_null(opc__credentials_ck(c));

    /* Idempotent with the same T. */
    const opc__key *enc = opc__credentials_enc_key(c);
    assert_int_equal(opc_credentials_unlock(c, K.T, sizeof K.T, NULL, 0), OPC_OK);
    assert_ptr_equal(opc__credentials_enc_key(c), enc);

    opc_credentials_lock(c);
    assert_false(opc_credentials_is_unlocked(c));
    assert_null(opc__credentials_enc_key(c));
    assert_null(opc__credentials_sym_key(c));
    assert_null(opc__credentials_ck(c));
    /* The outer layer stays. */
    assert_string_equal(opc_credentials_server_id(c), SERVER_ID);
    assert_int_equal(opc_credentials_unlock(c, K.T, sizeof K.T, NULL, 0), OPC_OK);
    assert_true(opc_credentials_is_unlocked(c));
    opc_credentials_free(c);
    free(file);
}

static void test_credentials_create_layout(void **state)
{
    (void)state;
    char *file = make_file();
    /* 1Password's member order, two-space indent. */
    const char *order[] = {"\n  \"verifier\": {\n    \"salt\": \"",
                           "\n    \"localHash\": \"",
                           "\n  \"encCredentials\": {\n    \"kid\": \"localauthv2keykid\",\n"
                           "    \"enc\": \"A256GCM\",\n    \"cty\": \"b5+jwk+json\",\n"
                           "    \"iv\": \"",
                           "\n    \"data\": \"",
                           "\n  \"version\": \"2\",\n  \"deviceUuid\": \"" DEVICE_UUID "\",\n",
                           "  \"uniqueKey\": {\n    \"alg\": \"A256GCM\",\n    \"ext\": true,\n"
                           "    \"k\": \"",
                           "\",\n    \"key_ops\": [\"encrypt\", \"decrypt\"],\n"
                           "    \"kty\": \"oct\",\n    \"kid\": \"localauthv2keykid\"\n  }\n}\n"};
    const char *at = file;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *p = strstr(at, order[i]);
        if (p == NULL) {
            fail_msg("piece %zu not found in order", i);
        }
        at = p + strlen(order[i]);
    }
    assert_int_equal(*at, '\0');

    cJSON *root = cJSON_Parse(file);
    assert_non_null(root);
    /* Sizes from 1Password's example: 22, 43, 16 and 43 characters. */
    assert_int_equal(strlen(str_at(root, "verifier.salt")), 22);
    assert_int_equal(strlen(str_at(root, "verifier.localHash")), 43);
    assert_int_equal(strlen(str_at(root, "encCredentials.iv")), 16);
    assert_int_equal(strlen(str_at(root, "uniqueKey.k")), 43);

    /* localHash = HKDF(T, salt, "connect/localauth/v2"), computed independently. */
    uint8_t salt[16], want[32], got[32];
    size_t n = 0;
    const char *s = str_at(root, "verifier.salt");
    assert_int_equal(opc__b64_decode_to(s, strlen(s), OPC_B64URL, salt, sizeof salt, &n, NULL),
                     OPC_OK);
    s = str_at(root, "verifier.localHash");
    assert_int_equal(opc__b64_decode_to(s, strlen(s), OPC_B64URL, got, sizeof got, &n, NULL),
                     OPC_OK);
    assert_int_equal(opc__hkdf_sha256(K.T, 32, salt, 16, "connect/localauth/v2", 20, want, 32),
                     OPC_OK);
    assert_memory_equal(got, want, 32);

    /* Both layers open with the documented keys and AADs. */
    char aad[96];
    opc__key *uk = unique_key_of(root);
    aad_for(aad, sizeof aad, "outer", DEVICE_UUID);
    cJSON *outer = open_json(cJSON_GetObjectItemCaseSensitive(root, "encCredentials"), uk, aad);
    assert_string_equal(str_at(outer, "serverUuid"), SERVER_ID);
    assert_string_equal(str_at(outer, "keyset.kid"), "connect-ck");
    opc__key *ck = ck_of(uk, K.T, DEVICE_UUID);
    aad_for(aad, sizeof aad, "inner", DEVICE_UUID);
    cJSON *in = open_json(cJSON_GetObjectItemCaseSensitive(outer, "keyset"), ck, aad);
    assert_string_equal(str_at(in, "encKey.kty"), "RSA");
    assert_string_equal(str_at(in, "symKey.kid"), "sym-1");
    /* The issuer keys carry no private part. */
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(outer, "issuerKeys");
    assert_int_equal(cJSON_GetArraySize(iss), 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(iss->child, "d"));
    cJSON_Delete(in);
    cJSON_Delete(outer);
    opc__key_free(ck);
    opc__key_free(uk);
    cJSON_Delete(root);
    free(file);
}

static void test_credentials_create_generates_randoms(void **state)
{
    (void)state;
    opc__credentials_params p = default_params();
    p.device_uuid = NULL;
    p.account_server_pin = NULL;
    char *a = make_file_with(&p, K.T);
    char *b = make_file_with(&p, K.T);
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    assert_true(opc__id_valid_str(str_at(ja, "deviceUuid")));
    assert_string_not_equal(str_at(ja, "deviceUuid"), str_at(jb, "deviceUuid"));
    assert_string_not_equal(str_at(ja, "uniqueKey.k"), str_at(jb, "uniqueKey.k"));
    assert_string_not_equal(str_at(ja, "verifier.salt"), str_at(jb, "verifier.salt"));
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    opc_credentials *c = parse_ok(a);
    assert_null(opc__credentials_account_server_pin(c));
    opc_credentials_free(c);
    free(a);
    free(b);
}

static void expect_create(const opc__credentials_params *p, const char *substr)
{
    char *json = (char *)1;
    size_t len = 1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__credentials_create(p, K.T, &json, &len, &eb);
    if (rc != OPC_ERR_INVALID_ARG || strstr(eb.msg, substr) == NULL) {
        fail_msg("expected INVALID_ARG with \"%s\", got %s: \"%s\"", substr, opc_errname(rc),
                 eb.msg);
    }
    assert_null(json);
    assert_int_equal(len, 0);
}

static void test_credentials_create_rejects_bad_params(void **state)
{
    (void)state;
    opc__key *pub = NULL, *nokid = NULL;
    assert_int_equal(opc__key_public(K.device, &pub), OPC_OK);
    assert_int_equal(opc__key_generate_oct(NULL, OPC_KEYOP_ENCRYPT, &nokid), OPC_OK);
    const opc__key *dup[2] = {K.issuers[0], K.issuers[0]};
    const opc__key *with_null[2] = {K.issuers[0], NULL};
    const opc__key *with_rsa[1] = {K.enc};
    const opc__key *many[17];
    for (size_t i = 0; i < 17; i++) {
        many[i] = K.issuers[0];
    }
    opc__credentials_params p = default_params();
    p.server_id = "short";
    expect_create(&p, "server_id must be a 26-character id");
    p = default_params();
    p.account_id = NULL;
    expect_create(&p, "account_id must be a 26-character id");
    p = default_params();
    p.device_uuid = "DEVICEDEVICEDEVICEDEVICE22";
    expect_create(&p, "device_uuid must be a 26-character id");
    p = default_params();
    p.service_url = "ftp://account.example.test";
    expect_create(&p, "service_url must be an https:// URL or a file path");
    p.service_url = "";
    expect_create(&p, "service_url is empty");
    p.service_url = "https://";
    expect_create(&p, "service_url has no host");
    p.service_url = NULL;
    expect_create(&p, "service_url is NULL");
    p = default_params();
    p.account_server_pin = "sha256// with spaces";
    expect_create(&p, "account_server_pin must be a key thumbprint: 43 base64url characters");
    p.account_server_pin = "obviouslyfakepin-obviouslyfakepin_obviousl";
    expect_create(&p, "account_server_pin must be a key thumbprint");
    p = default_params();
    p.service_url = "http://192.0.2.1:8443";
    expect_create(&p, "service_url may be http:// for a loopback host only");
    p.service_url = "http://127.0.0.1.example.test";
    expect_create(&p, "service_url may be http:// for a loopback host only");
    p.service_url = "http://user@127.0.0.1";
    expect_create(&p, "service_url may be http:// for a loopback host only");
    p = default_params();
    p.device_key = pub;
    expect_create(&p, "device_key must be a private key");
    p.device_key = K.enc;
    expect_create(&p, "device_key must be an EC P-256 key");
    p = default_params();
    p.n_issuer_keys = 0;
    expect_create(&p, "1 to 16 issuer keys are needed");
    p.issuer_keys = many;
    p.n_issuer_keys = 17;
    expect_create(&p, "1 to 16 issuer keys are needed");
    p.issuer_keys = dup;
    p.n_issuer_keys = 2;
    expect_create(&p, "issuer keys 0 and 1 have the same kid");
    p.issuer_keys = with_null;
    expect_create(&p, "issuer key 1 is NULL");
    p.issuer_keys = with_rsa;
    p.n_issuer_keys = 1;
    expect_create(&p, "issuer key 0 must be an EC P-256 key");
    p = default_params();
    p.enc_key = K.device;
    expect_create(&p, "enc_key must be an RSA key");
    p = default_params();
    p.sym_key = nokid;
    expect_create(&p, "sym_key must have a kid");
    p.sym_key = K.device;
    expect_create(&p, "sym_key must be an oct key");

    char *json = NULL;
    size_t len = 0;
    p = default_params();
    assert_int_equal(opc__credentials_create(NULL, K.T, &json, &len, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__credentials_create(&p, NULL, &json, &len, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__credentials_create(&p, K.T, NULL, &len, NULL), OPC_ERR_INVALID_ARG);
    opc__key_free(pub);
    opc__key_free(nokid);
}

static void test_credentials_check_secret_matches_only_t(void **state)
{
    (void)state;
    char *file = make_file();
    opc_credentials *c = parse_ok(file);
    uint8_t t[32];
    memcpy(t, K.T, sizeof t);
    assert_true(opc_credentials_check_secret(c, t, sizeof t));
    t[31] ^= 0x80;
    assert_false(opc_credentials_check_secret(c, t, sizeof t));
    t[31] ^= 0x80;
    assert_false(opc_credentials_check_secret(c, t, 31));
    assert_false(opc_credentials_check_secret(c, t, 0));
    assert_false(opc_credentials_check_secret(c, NULL, 32));
    assert_false(opc_credentials_check_secret(NULL, t, 32));
    opc_credentials_free(c);
    free(file);
}

static void test_credentials_unlock_rejects_wrong_secret(void **state)
{
    (void)state;
    char *file = make_file();
    opc_credentials *c = parse_ok(file);
    uint8_t t[32];
    memcpy(t, K.T, sizeof t);
    t[0] ^= 1;
    char err[OPC_ERRBUF_SIZE] = "";
    assert_int_equal(opc_credentials_unlock(c, t, sizeof t, err, sizeof err), OPC_ERR_VERIFIER);
    assert_string_equal(err, "token secret does not match this Connect server's credentials");
    assert_false(opc_credentials_is_unlocked(c));
    assert_int_equal(opc_credentials_unlock(c, K.T, 16, err, sizeof err), OPC_ERR_VERIFIER);
    /* Unlocked with T, a different secret is still refused. */
    assert_int_equal(opc_credentials_unlock(c, K.T, sizeof K.T, NULL, 0), OPC_OK);
    assert_int_equal(opc_credentials_unlock(c, t, sizeof t, NULL, 0), OPC_ERR_VERIFIER);
    assert_true(opc_credentials_is_unlocked(c));
    assert_int_equal(unlock_p(NULL, K.T, sizeof K.T, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_int_equal(unlock_p(c, NULL, 32, err, sizeof err), OPC_ERR_INVALID_ARG);
    opc_credentials_free(c);
    free(file);
}

/* ---- malformed files ---- */

static void test_credentials_parse_rejects_truncated(void **state)
{
    (void)state;
    char *file = make_file();
    size_t len = strlen(file);
    /* The file ends in "}\n": len - 1 is still complete. */
    size_t cuts[] = {0, 1, 2, 17, 100, len / 2, len - 40, len - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        expect_parse(file, cuts[i], OPC_ERR_PARSE, "credentials file is not valid JSON: ");
    }
    expect_parse_str("not json", OPC_ERR_PARSE, "credentials file is not valid JSON: ");
    expect_parse_str("[1, 2]", OPC_ERR_CREDENTIALS, "credentials file is not a JSON object");
    free(file);
}

static void test_credentials_parse_rejects_bad_version(void **state)
{
    (void)state;
    char *file = make_file();
    expect_refused(file_with(file, "version", NULL), "credentials file has no \"version\"");
    expect_refused(file_with(file, "version", cJSON_CreateString("1")),
                   "credentials file is not version 2");
    expect_refused(file_with(file, "version", cJSON_CreateNumber(2)),
                   "credentials file is not version 2");
    /* A 1Password document export instead of the file (connect#18). */
    expect_parse_str("{\"title\":\"creds\",\"version\":3}", OPC_ERR_CREDENTIALS,
                     "credentials file is not version 2");
    free(file);
}

static void test_credentials_parse_rejects_missing_members(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "verifier",           "verifier.salt",      "verifier.localHash",
        "encCredentials",     "encCredentials.kid", "encCredentials.enc",
        "encCredentials.cty", "encCredentials.iv",  "encCredentials.data",
        "deviceUuid",         "uniqueKey",          "uniqueKey.alg",
        "uniqueKey.k",        "uniqueKey.key_ops",  "uniqueKey.kty",
        "uniqueKey.kid",
    };
    char *file = make_file();
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "credentials file: missing \"%s\"", paths[i]);
        char *f = file_with(file, paths[i], NULL);
        expect_parse_str(f, OPC_ERR_CREDENTIALS, want);
        free(f);
    }
    /* ext is optional. */
    char *f = file_with(file, "uniqueKey.ext", NULL);
    opc_credentials_free(parse_ok(f));
    free(f);
    free(file);
}

static void test_credentials_parse_rejects_wrong_types(void **state)
{
    (void)state;
    static const edit_case cases[] = {
        {"verifier", "\"x\"", "credentials file: \"verifier\" must be an object"},
        {"verifier.salt", "5", "credentials file: \"verifier.salt\" must be a string"},
        {"verifier.localHash", "null", "\"verifier.localHash\" must be a string"},
        {"encCredentials", "[]", "\"encCredentials\" must be an object"},
        {"encCredentials.iv", "true", "\"encCredentials.iv\" must be a string"},
        {"encCredentials.data", "{}", "\"encCredentials.data\" must be a string"},
        {"deviceUuid", "1", "credentials file: \"deviceUuid\" must be a string"},
        {"uniqueKey", "\"k\"", "\"uniqueKey\" must be an object"},
        {"uniqueKey.k", "[]", "\"uniqueKey.k\" must be a string"},
        {"uniqueKey.key_ops", "\"encrypt\"", "\"uniqueKey.key_ops\" must be an array"},
        {"uniqueKey.ext", "\"yes\"", "\"uniqueKey.ext\" must be a boolean"},
    };
    expect_edits_refused(AT_FILE, cases, sizeof cases / sizeof cases[0]);
}

static void test_credentials_parse_rejects_extra_members(void **state)
{
    (void)state;
    static const char *const paths[] = {"extra", "verifier.extra", "encCredentials.extra",
                                        "uniqueKey.extra"};
    char *file = make_file();
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *f = file_with(file, paths[i], cJSON_CreateNumber(1));
        expect_parse_str(f, OPC_ERR_CREDENTIALS, "unexpected member \"extra\"");
        free(f);
    }
    free(file);
}

static void test_credentials_parse_rejects_bad_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        size_t n; /* bytes of value byte, base64url-encoded */
        uint8_t byte;
        const char *msg;
    } sizes[] = {
        {"verifier.salt", 15, 0x11, "\"verifier.salt\" must be 16 bytes (it is 15)"},
        {"verifier.localHash", 33, 0x11, "\"verifier.localHash\" must be 32 bytes (it is 33)"},
        {"encCredentials.iv", 11, 0x22, "\"encCredentials.iv\" must be 12 bytes (it is 11)"},
        {"encCredentials.data", 15, 0x22, "\"encCredentials.data\" is too short"},
    };
    char *file = make_file();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        expect_refused(file_with(file, sizes[i].path, b64_bytes(sizes[i].n, sizes[i].byte)),
                       sizes[i].msg);
    }
    free(file);
    static const edit_case strings[] = {
        {"verifier.salt", "\"AAAAAAAAAAAAAAAAAAAA+A\"", "\"verifier.salt\" is not valid base64url"},
        {"verifier.salt", "\"AAAAAAAAAAAAAAAAAAAAAA==\"",
         "\"verifier.salt\" is not valid base64url"},
        {"encCredentials.data", "\"abc$\"", "\"encCredentials.data\" is not valid base64url"},
        {"deviceUuid", "\"DEVICEDEVICEDEVICEDEVICE22\"",
         "\"deviceUuid\" must be a 26-character id"},
        {"deviceUuid", "\"device\"", "\"deviceUuid\" must be a 26-character id"},
    };
    expect_edits_refused(AT_FILE, strings, sizeof strings / sizeof strings[0]);
}

static void test_credentials_parse_rejects_bad_unique_key(void **state)
{
    (void)state;
    static const edit_case cases[] = {
        {"uniqueKey.kid", "\"otherkid\"", "\"uniqueKey.kid\" must be \"localauthv2keykid\""},
        {"uniqueKey.alg", "\"A128GCM\"", "\"uniqueKey.alg\" must be \"A256GCM\""},
        {"uniqueKey.kty", "\"EC\"", "\"uniqueKey.kty\" must be \"oct\""},
        {"uniqueKey.key_ops", "[\"encrypt\"]",
         "\"uniqueKey.key_ops\" must be [\"encrypt\", \"decrypt\"]"},
        {"uniqueKey.key_ops", "[\"encrypt\",\"decrypt\",\"encrypt\"]",
         "credentials file: \"uniqueKey\": "},
        {"uniqueKey.k", "\"AAAA\"", "credentials file: \"uniqueKey\": "},
        {"encCredentials.kid", "\"otherkid\"",
         "\"encCredentials.kid\" must equal \"uniqueKey.kid\""},
        {"encCredentials.enc", "\"A128GCM\"", "\"encCredentials.enc\" must be \"A256GCM\""},
        {"encCredentials.cty", "\"jwk+json\"", "\"encCredentials.cty\" must be \"b5+jwk+json\""},
    };
    expect_edits_refused(AT_FILE, cases, sizeof cases / sizeof cases[0]);
    char *file = make_file();
    /* A valid key, but not the one the file was sealed with. */
    expect_refused(file_with(file, "uniqueKey.k", b64_bytes(32, 0x5a)),
                   "credentials file: encCredentials does not decrypt with uniqueKey (file "
                   "corrupt or tampered)");
    free(file);
}

static void test_credentials_parse_detects_tampering(void **state)
{
    (void)state;
    const char *msg = "encCredentials does not decrypt with uniqueKey";
    char *file = make_file();
    size_t offs[] = {0, 100, 300};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        expect_refused(file_with_flipped(file, "encCredentials.data", offs[i]), msg);
    }
    expect_refused(file_with_flipped(file, "encCredentials.iv", 5), msg);
    /* The AAD binds the outer layer to deviceUuid. */
    expect_refused(file_with(file, "deviceUuid", cJSON_CreateString(OTHER_UUID)), msg);
    /* encCredentials of another file (other uniqueKey) does not open either. */
    char *other = make_file();
    cJSON *o = cJSON_Parse(other);
    expect_refused(
        file_with(file, "encCredentials",
                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "encCredentials"), 1)),
        msg);
    cJSON_Delete(o);
    free(other);
    free(file);
}

static void test_credentials_unlock_rejects_changed_local_hash(void **state)
{
    (void)state;
    char *file = make_file();
    char *f = file_with_flipped(file, "verifier.localHash", 7);
    expect_unlock(f, OPC_ERR_VERIFIER, "token secret does not match");
    free(f);
    /* A new salt does the same. */
    f = file_with(file, "verifier.salt", b64_bytes(16, 0x33));
    expect_unlock(f, OPC_ERR_VERIFIER, "token secret does not match");
    free(f);
    free(file);
}

static void test_credentials_parse_rejects_bad_outer(void **state)
{
    (void)state;
    static const edit_case cases[] = {
        {"serverUuid", NULL, "credentials file: missing \"encCredentials.serverUuid\""},
        {"accountUuid", NULL, "missing \"encCredentials.accountUuid\""},
        {"serviceUrl", NULL, "missing \"encCredentials.serviceUrl\""},
        {"deviceKey", NULL, "missing \"encCredentials.deviceKey\""},
        {"issuerKeys", NULL, "missing \"encCredentials.issuerKeys\""},
        {"keyset", NULL, "missing \"encCredentials.keyset\""},
        {"keyset.iv", NULL, "missing \"encCredentials.keyset.iv\""},
        {"serverUuid", "7", "\"encCredentials.serverUuid\" must be a string"},
        {"serverUuid", "\"abc\"", "\"encCredentials.serverUuid\" must be a 26-character id"},
        {"accountUuid", "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"",
         "\"encCredentials.accountUuid\" must be a 26-character id"},
        {"serviceUrl", "\"http://plain.example.test\"",
         "\"encCredentials.serviceUrl\" may be http:// for a loopback host only"},
        {"serviceUrl", "\"ftp://plain.example.test\"",
         "\"encCredentials.serviceUrl\" must be an https:// URL or a file path"},
        {"serviceUrl", "\"\"", "\"encCredentials.serviceUrl\" is empty"},
        {"accountServerPin", "5", "\"encCredentials.accountServerPin\" must be a string"},
        {"accountServerPin", "\"a b\"",
         "\"encCredentials.accountServerPin\" must be a key thumbprint"},
        {"deviceKey", "[]", "\"encCredentials.deviceKey\" must be an object"},
        {"issuerKeys", "{}", "\"encCredentials.issuerKeys\" must be an array"},
        {"issuerKeys", "[]", "\"encCredentials.issuerKeys\" must hold 1 to 16 keys (it holds 0)"},
        {"issuerKeys", "[1]", "\"encCredentials.issuerKeys[0]\" must be an object"},
        {"keyset", "\"x\"", "\"encCredentials.keyset\" must be an object"},
        {"keyset.kid", "\"other\"", "\"encCredentials.keyset.kid\" must equal \"connect-ck\""},
        {"keyset.extra", "1", "unexpected member \"extra\""},
        {"extra", "1", "unexpected member \"extra\""},
    };
    expect_edits_refused(AT_OUTER, cases, sizeof cases / sizeof cases[0]);
}

/* Issuer key mutations need the exported keys. */
static void dup_issuer(cJSON *outer, void *arg)
{
    size_t copies = *(const size_t *)arg;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(outer, "issuerKeys");
    for (size_t i = 0; i < copies; i++) {
        cJSON_AddItemToArray(arr, cJSON_Duplicate(arr->child, 1));
    }
}

static void private_issuer(cJSON *outer, void *arg)
{
    (void)arg;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(outer, "issuerKeys");
    cJSON *dev = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(outer, "deviceKey"), 1);
    cJSON_ReplaceItemInArray(arr, 1, dev);
}

static void public_device(cJSON *outer, void *arg)
{
    (void)arg;
    cJSON *iss = cJSON_GetObjectItemCaseSensitive(outer, "issuerKeys")->child;
    cJSON_ReplaceItemInObjectCaseSensitive(outer, "deviceKey", cJSON_Duplicate(iss, 1));
}

static void issuer_without_kid(cJSON *outer, void *arg)
{
    (void)arg;
    cJSON *iss = cJSON_GetObjectItemCaseSensitive(outer, "issuerKeys")->child;
    cJSON_DeleteItemFromObjectCaseSensitive(iss, "kid");
}

static void test_credentials_parse_rejects_bad_outer_keys(void **state)
{
    (void)state;
    char *file = make_file();
    size_t n = 15; /* 2 + 15 = 17 keys */
    expect_refused(rewrite(file, false, dup_issuer, &n),
                   "\"encCredentials.issuerKeys\" must hold 1 to 16 keys (it holds 17)");
    n = 1;
    expect_refused(rewrite(file, false, dup_issuer, &n),
                   "\"encCredentials.issuerKeys[2]\" has the same kid as issuerKeys[0]");
    expect_refused(rewrite(file, false, private_issuer, NULL),
                   "\"encCredentials.issuerKeys[1]\": ");
    expect_refused(rewrite(file, false, public_device, NULL), "\"encCredentials.deviceKey\": ");
    expect_refused(rewrite(file, false, issuer_without_kid, NULL),
                   "\"encCredentials.issuerKeys[0]\" must have a kid");
    expect_refused(layer_with(file, false, "issuerKeys", "[{\"kty\":\"oct\",\"k\":\"AAAA\"}]"),
                   "\"encCredentials.issuerKeys[0]\": ");
    free(file);
}

static void flip_keyset(cJSON *outer, void *arg)
{
    (void)arg;
    cJSON *ks = cJSON_GetObjectItemCaseSensitive(outer, "keyset");
    const char *s = str_at(ks, "data");
    unsigned char *raw = NULL;
    size_t n = 0;
    assert_int_equal(opc__b64_decode(s, strlen(s), OPC_B64URL, &raw, &n, NULL), OPC_OK);
    raw[n / 2] ^= 0x04;
    char *enc = NULL;
    size_t elen = 0;
    assert_int_equal(opc__b64_encode(raw, n, OPC_B64_URL, &enc, &elen), OPC_OK);
    opc__free(raw);
    set_at(ks, "data", cJSON_CreateString(enc));
    opc__free(enc);
}

typedef struct {
    const char *keyset_json;
} keyset_arg;

static void swap_keyset(cJSON *outer, void *arg)
{
    const keyset_arg *a = arg;
    set_at(outer, "keyset", cJSON_Parse(a->keyset_json));
}

static void test_credentials_unlock_detects_inner_tampering(void **state)
{
    (void)state;
    char *file = make_file();
    char *f = rewrite(file, false, flip_keyset, NULL);
    expect_unlock(f, OPC_ERR_CREDENTIALS,
                  "credentials file: the inner keyset does not decrypt with the key derived "
                  "from the token secret (file corrupt or tampered)");
    free(f);

    /* A keyset from another file for the same server secret T: other CK, other AAD. */
    opc__credentials_params p = default_params();
    p.device_uuid = OTHER_UUID;
    char *other = make_file_with(&p, K.T);
    cJSON *root = cJSON_Parse(other);
    opc__key *uk = unique_key_of(root);
    char aad[96];
    aad_for(aad, sizeof aad, "outer", OTHER_UUID);
    cJSON *outer = open_json(cJSON_GetObjectItemCaseSensitive(root, "encCredentials"), uk, aad);
    char *ks = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(outer, "keyset"));
    keyset_arg a = {ks};
    f = rewrite(file, false, swap_keyset, &a);
    expect_unlock(f, OPC_ERR_CREDENTIALS, "the inner keyset does not decrypt");
    free(f);
    cJSON_free(ks);
    cJSON_Delete(outer);
    cJSON_Delete(root);
    opc__key_free(uk);
    free(other);
    free(file);
}

static void test_credentials_unlock_rejects_bad_inner(void **state)
{
    (void)state;
    static const edit_case cases[] = {
        {"symKey", NULL, "credentials file: missing \"encCredentials.keyset.symKey\""},
        {"encKey", NULL, "missing \"encCredentials.keyset.encKey\""},
        {"encKey", "\"x\"", "\"encCredentials.keyset.encKey\" must be an object"},
        {"encKey", "{\"kty\":\"oct\",\"k\":\"AAAA\"}", "\"encCredentials.keyset.encKey\": "},
        {"symKey.kid", NULL, "\"encCredentials.keyset.symKey\" must have a kid"},
        {"extra", "1", "unexpected member \"extra\""},
    };
    expect_edits_refused(AT_INNER, cases, sizeof cases / sizeof cases[0]);
}

static void test_credentials_parse_rejects_bad_args(void **state)
{
    (void)state;
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE] = "";
    assert_int_equal(parse_p(NULL, 0, &c, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(parse_p("{}", 2, NULL, err, sizeof err), OPC_ERR_INVALID_ARG);
    /* Too large is refused before parsing. */
    size_t big = OPC_CREDENTIALS_MAX_SIZE + 1;
    char *buf = malloc(big);
    memset(buf, ' ', big);
    buf[0] = '{';
    buf[big - 1] = '}';
    assert_int_equal(opc_credentials_parse(buf, big, &c, err, sizeof err), OPC_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "credentials file is too large"));
    free(buf);
    /* errbuf may be NULL or short. */
    assert_int_equal(opc_credentials_parse("x", 1, &c, NULL, 0), OPC_ERR_PARSE);
    char tiny[8];
    assert_int_equal(opc_credentials_parse("x", 1, &c, tiny, sizeof tiny), OPC_ERR_PARSE);
    assert_string_equal(tiny, "credent");
    /* Getters of NULL. */
    assert_null(opc_credentials_device_uuid(NULL));
    assert_null(opc_credentials_server_id(NULL));
    assert_null(opc_credentials_account_id(NULL));
    assert_null(opc_credentials_upstream_url(NULL));
    assert_false(opc_credentials_is_unlocked(NULL));
    assert_null(opc__credentials_device_key(NULL));
    assert_int_equal(opc__credentials_issuer_key_count(NULL), 0);
    opc_credentials_lock(NULL);
    opc_credentials_free(NULL);
}

/* ---- the OP_SESSION loader ---- */

typedef struct {
    char dir[64];
    char path[128];
} tmpfile_t;

static void write_tmp(tmpfile_t *t, const char *content, size_t len, mode_t mode)
{
    opc_test_mkdtemp(t->dir, sizeof t->dir, "opc-cred", "1password-credentials.json", t->path,
                     sizeof t->path);
    int fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
}

static void remove_tmp(const tmpfile_t *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

static opc_credentials *load_ok(const char *value)
{
    opc_credentials *c = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_load(value, &c, err, sizeof err);
    if (rc != OPC_OK) {
        fail_msg("load: %s: %s", opc_errname(rc), err);
    }
    assert_string_equal(opc_credentials_server_id(c), SERVER_ID);
    return c;
}

/* Fails with want; the message contains substr and never the value. */
static void expect_load(const char *value, opc_err want, const char *substr)
{
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_load(value, &c, err, sizeof err);
    if (rc != want || strstr(err, substr) == NULL) {
        fail_msg("expected %s with \"%s\", got %s: \"%s\"", opc_errname(want), substr,
                 opc_errname(rc), err);
    }
    assert_null(c);
}

static char *b64_of(const char *s, unsigned flags)
{
    char *enc = NULL;
    size_t n = 0;
    assert_int_equal(opc__b64_encode(s, strlen(s), flags, &enc, &n), OPC_OK);
    char *copy = strdup(enc);
    opc__free(enc);
    return copy;
}

static void test_credentials_load_reads_path(void **state)
{
    (void)state;
    char *file = make_file();
    tmpfile_t t;
    write_tmp(&t, file, strlen(file), 0600);
    opc_credentials *c = load_ok(t.path);
    assert_int_equal(opc_credentials_unlock(c, K.T, sizeof K.T, NULL, 0), OPC_OK);
    opc_credentials_free(c);
    /* A trailing newline, as in values read from mounted secrets. */
    char with_nl[256];
    snprintf(with_nl, sizeof with_nl, "%s\n", t.path);
    opc_credentials_free(load_ok(with_nl));
    remove_tmp(&t);
    free(file);
}

static void test_credentials_load_names_path_in_errors(void **state)
{
    (void)state;
    char *file = make_file();
    char *bad = file_with(file, "version", cJSON_CreateString("1"));
    tmpfile_t t;
    write_tmp(&t, bad, strlen(bad), 0600);
    char want[256];
    snprintf(want, sizeof want, "credentials file %s is not version 2", t.path);
    expect_load(t.path, OPC_ERR_CREDENTIALS, want);
    remove_tmp(&t);
    free(bad);

    /* Over the size limit: refused by its size, named. */
    size_t big = OPC_CREDENTIALS_MAX_SIZE + 10;
    char *buf = malloc(big);
    memset(buf, ' ', big);
    write_tmp(&t, buf, big, 0600);
    snprintf(want, sizeof want, "credentials file %s is too large", t.path);
    expect_load(t.path, OPC_ERR_TOO_LARGE, want);
    remove_tmp(&t);
    free(buf);

    /* An empty file. */
    write_tmp(&t, "", 0, 0600);
    snprintf(want, sizeof want, "credentials file %s is not valid JSON: ", t.path);
    expect_load(t.path, OPC_ERR_PARSE, want);
    remove_tmp(&t);
    free(file);
}

static void test_credentials_load_decodes_base64(void **state)
{
    (void)state;
    char *file = make_file();
    char *std = b64_of(file, OPC_B64_STD | OPC_B64_PAD);
    opc_credentials_free(load_ok(std));
    char *url = b64_of(file, OPC_B64_URL);
    opc_credentials_free(load_ok(url));
    /* Surrounding white space and newlines. */
    size_t n = strlen(std);
    char *spaced = malloc(n + 16);
    snprintf(spaced, n + 16, " \n\t%s\r\n ", std);
    opc_credentials_free(load_ok(spaced));
    /* base64(1)'s 76-column lines. */
    char *wrapped = malloc(n + n / 76 + 2);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i % 76 == 0) {
            wrapped[o++] = '\n';
        }
        wrapped[o++] = std[i];
    }
    wrapped[o++] = '\n';
    wrapped[o] = '\0';
    opc_credentials_free(load_ok(wrapped));
    /* Decoded but broken: the message says so, labelled. */
    char *bad = file_with(file, "version", NULL);
    char *bad64 = b64_of(bad, OPC_B64_STD);
    expect_load(bad64, OPC_ERR_CREDENTIALS,
                "credentials file (base64 in OP_SESSION) has no \"version\"");
    free(bad64);
    free(bad);
    free(wrapped);
    free(spaced);
    free(url);
    free(std);
    free(file);
}

static void test_credentials_load_accepts_raw_json(void **state)
{
    (void)state;
    char *file = make_file();
    size_t n = strlen(file);
    char *spaced = malloc(n + 8);
    snprintf(spaced, n + 8, "\n  %s  \n", file);
    opc_credentials_free(load_ok(spaced));
    expect_load("{\"version\":\"1\"}", OPC_ERR_CREDENTIALS,
                "credentials file (JSON in OP_SESSION) is not version 2");
    free(spaced);
    free(file);
}

static void test_credentials_load_explains_failures(void **state)
{
    (void)state;
    expect_load("/nonexistent/dir/1password-credentials.json", OPC_ERR_CREDENTIALS,
                "OP_SESSION is neither a readable file (No such file or directory) nor base64 "
                "of a credentials file (invalid character at offset 38)");
    /* Valid base64 alphabet, but not JSON once decoded. */
    expect_load("/nonexistent/credentials", OPC_ERR_CREDENTIALS,
                "OP_SESSION is neither a readable file (No such file or directory) nor base64 "
                "of a credentials file (it does not decode to JSON)");
    expect_load("  ab-c+d==", OPC_ERR_CREDENTIALS, "(mixed base64 and base64url alphabets");
    expect_load("abcde", OPC_ERR_CREDENTIALS, "nor base64 of a credentials file (truncated");
    expect_load("/tmp", OPC_ERR_CREDENTIALS,
                "OP_SESSION is neither a readable file (it is a directory) nor base64");
    expect_load("", OPC_ERR_INVALID_ARG, "OP_SESSION is empty");
    expect_load(" \n\t ", OPC_ERR_INVALID_ARG, "OP_SESSION is empty");
    opc_credentials *c = (opc_credentials *)1;
    assert_int_equal(load_p(NULL, &c, NULL, 0), OPC_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(load_p("x", NULL, NULL, 0), OPC_ERR_INVALID_ARG);
}

/* The value of OP_SESSION may be the secret itself: never echo it. */
static void test_credentials_load_never_echoes_value(void **state)
{
    (void)state;
    static const char *const values[] = {
        "CANARY-s3cr3t-CANARY!",
        "CANARYs3cr3tCANARYvalue/with/slashes",
        "CANARYs3cr3tCANARYvalueWithLength4n",
        "   CANARY_s3cr3t_CANARY   ",
        "{\"version\":\"2\",\"verifier\":\"CANARYs3cr3tCANARY\"}",
        "{CANARY s3cr3t CANARY",
        "eyJ2ZXJzaW9uIjoiQ0FOQVJZLXMzY3IzdCJ9", /* {"version":"CANARY-s3cr3t"} */
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        opc_credentials *c = NULL;
        char err[OPC_ERRBUF_SIZE] = "";
        assert_int_not_equal(opc_credentials_load(values[i], &c, err, sizeof err), OPC_OK);
        assert_null(c);
        assert_true(err[0] != '\0');
        if (strstr(err, "CANARY") != NULL || strstr(err, "s3cr3t") != NULL) {
            fail_msg("value %zu echoed: %s", i, err);
        }
    }
}

/* ---- several account servers (serviceUrl as an array) ---- */

#define URL_A "https://acct-a.example.test:8443"
#define URL_B "https://acct-b.example.test:8443"

static void test_credentials_upstreams_one_url_stays_a_string(void **state)
{
    (void)state;
    /* A file of one URL (and every file written before lists existed) keeps the string form. */
    char *file = make_file();
    cJSON *root = cJSON_Parse(file);
    opc__key *uk = unique_key_of(root);
    char aad[96];
    aad_for(aad, sizeof aad, "outer", str_at(root, "deviceUuid"));
    cJSON *outer = open_json(cJSON_GetObjectItemCaseSensitive(root, "encCredentials"), uk, aad);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(outer, "serviceUrl")));
    cJSON_Delete(outer);
    opc__key_free(uk);
    cJSON_Delete(root);
    opc_credentials *c = parse_ok(file);
    assert_int_equal(opc_credentials_upstream_count(c), 1);
    assert_string_equal(opc_credentials_upstream_url(c), SERVICE_URL);
    assert_string_equal(opc_credentials_upstream_url_at(c, 0), SERVICE_URL);
    assert_null(opc_credentials_upstream_url_at(c, 1));
    opc_credentials_free(c);
    /* A path, as ever. */
    opc__credentials_params p = default_params();
    p.service_url = "/var/lib/opconnect/acc,ount.db";
    p.account_server_pin = NULL;
    char *f = make_file_with(&p, K.T);
    c = parse_ok(f);
    assert_int_equal(opc_credentials_upstream_count(c), 1);
    assert_string_equal(opc_credentials_upstream_url(c), "/var/lib/opconnect/acc,ount.db");
    opc_credentials_free(c);
    free(f);
    free(file);
    assert_int_equal(opc_credentials_upstream_count(NULL), 0);
    assert_null(opc_credentials_upstream_url_at(NULL, 0));
}

static void test_credentials_upstreams_list_round_trip(void **state)
{
    (void)state;
    opc__credentials_params p = default_params();
    p.service_url = URL_A ", " URL_B ",http://127.0.0.1:9";
    char *file = make_file_with(&p, K.T);
    /* Written as an array of the URLs, blanks trimmed. */
    cJSON *root = cJSON_Parse(file);
    opc__key *uk = unique_key_of(root);
    char aad[96];
    aad_for(aad, sizeof aad, "outer", str_at(root, "deviceUuid"));
    cJSON *outer = open_json(cJSON_GetObjectItemCaseSensitive(root, "encCredentials"), uk, aad);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(outer, "serviceUrl");
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    assert_string_equal(cJSON_GetArrayItem(arr, 1)->valuestring, URL_B);
    cJSON_Delete(outer);
    opc__key_free(uk);
    cJSON_Delete(root);
    opc_credentials *c = parse_ok(file);
    assert_int_equal(opc_credentials_upstream_count(c), 3);
    assert_string_equal(opc_credentials_upstream_url(c), URL_A);
    assert_string_equal(opc_credentials_upstream_url_at(c, 0), URL_A);
    assert_string_equal(opc_credentials_upstream_url_at(c, 1), URL_B);
    assert_string_equal(opc_credentials_upstream_url_at(c, 2), "http://127.0.0.1:9");
    assert_null(opc_credentials_upstream_url_at(c, 3));
    assert_string_equal(opc__credentials_account_server_pin(c), SERVER_PIN);
    opc_credentials_free(c);
    free(file);
    /* An array of one, and of eight, written by hand, parse. */
    file = make_file();
    char *f = layer_with(file, false, "serviceUrl", "[\"" URL_B "\"]");
    c = parse_ok(f);
    assert_int_equal(opc_credentials_upstream_count(c), 1);
    assert_string_equal(opc_credentials_upstream_url(c), URL_B);
    opc_credentials_free(c);
    free(f);
    f = layer_with(file, false, "serviceUrl",
                   "[\"https://a1.test\",\"https://a2.test\",\"https://a3.test\",\"https://a4."
                   "test\",\"https://a5.test\",\"https://a6.test\",\"https://a7.test\","
                   "\"https://a8.test\"]");
    c = parse_ok(f);
    assert_int_equal(opc_credentials_upstream_count(c), 8);
    assert_string_equal(opc_credentials_upstream_url_at(c, 7), "https://a8.test");
    opc_credentials_free(c);
    free(f);
    free(file);
}

static void test_credentials_upstreams_list_rejects(void **state)
{
    (void)state;
    static const edit_case cases[] = {
        {"serviceUrl", "[]",
         "\"encCredentials.serviceUrl\" must list 1 to 8 account servers (it lists 0)"},
        {"serviceUrl",
         "[\"https://a1.test\",\"https://a2.test\",\"https://a3.test\",\"https://a4.test\","
         "\"https://a5.test\",\"https://a6.test\",\"https://a7.test\",\"https://a8.test\","
         "\"https://a9.test\"]",
         "\"encCredentials.serviceUrl\" must list 1 to 8 account servers (it lists 9)"},
        {"serviceUrl", "[\"" URL_A "\",\"" URL_B "\",\"" URL_A "\"]",
         "\"encCredentials.serviceUrl[2]\" names an account server listed before it"},
        {"serviceUrl", "[\"https://Acct-A.example.test:8443/\",\"" URL_A "\"]",
         "\"encCredentials.serviceUrl[1]\" names an account server listed before it"},
        {"serviceUrl", "[\"" URL_A "\",\"http://acct-b.example.test\"]",
         "\"encCredentials.serviceUrl[1]\" may be http:// for a loopback host only"},
        {"serviceUrl", "[\"ftp://acct.example.test\"]",
         "\"encCredentials.serviceUrl[0]\" must be an https:// URL or a file path"},
        {"serviceUrl", "[\"" URL_A "\",\"/var/lib/opconnect/account.db\"]",
         "\"encCredentials.serviceUrl[1]\" is a file path: a list names account servers"},
        {"serviceUrl", "[\"/var/lib/opconnect/account.db\"]",
         "\"encCredentials.serviceUrl[0]\" is a file path"},
        {"serviceUrl", "[\"" URL_A "\",\"\"]", "\"encCredentials.serviceUrl[1]\" is empty"},
        {"serviceUrl", "[\"" URL_A "\",7]", "\"encCredentials.serviceUrl[1]\" must be a string"},
        {"serviceUrl", "[[\"" URL_A "\"]]", "\"encCredentials.serviceUrl[0]\" must be a string"},
        {"serviceUrl", "{\"url\":\"" URL_A "\"}",
         "\"encCredentials.serviceUrl\" must be a string or an array of URLs"},
        {"serviceUrl", "7", "\"encCredentials.serviceUrl\" must be a string or an array of URLs"},
        {"serviceUrl", "null", "\"encCredentials.serviceUrl\" must be a string or an array"},
    };
    expect_edits_refused(AT_OUTER, cases, sizeof cases / sizeof cases[0]);
}

static void test_credentials_upstreams_create_rejects(void **state)
{
    (void)state;
    opc__credentials_params p = default_params();
    p.service_url = URL_A ",";
    expect_create(&p, "entry 1 of the upstream list is empty");
    p.service_url = URL_A ", ," URL_B;
    expect_create(&p, "entry 1 of the upstream list is empty");
    p.service_url = URL_A "," URL_B "," URL_A;
    expect_create(&p, "service_url entry 2 names an account server listed before it");
    p.service_url = URL_A ",/var/lib/opconnect/account.db";
    expect_create(&p, "service_url entry 1 is a file path");
    p.service_url = URL_A ",http://acct-b.example.test";
    expect_create(&p, "service_url entry 1 may be http:// for a loopback host only");
    p.service_url = "https://a1.test,https://a2.test,https://a3.test,https://a4.test,"
                    "https://a5.test,https://a6.test,https://a7.test,https://a8.test,"
                    "https://a9.test";
    expect_create(&p, "the upstream list names more than 8 account servers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_create_round_trip),
        cmocka_unit_test(test_credentials_create_layout),
        cmocka_unit_test(test_credentials_create_generates_randoms),
        cmocka_unit_test(test_credentials_create_rejects_bad_params),
        cmocka_unit_test(test_credentials_check_secret_matches_only_t),
        cmocka_unit_test(test_credentials_unlock_rejects_wrong_secret),
        cmocka_unit_test(test_credentials_parse_rejects_truncated),
        cmocka_unit_test(test_credentials_parse_rejects_bad_version),
        cmocka_unit_test(test_credentials_parse_rejects_missing_members),
        cmocka_unit_test(test_credentials_parse_rejects_wrong_types),
        cmocka_unit_test(test_credentials_parse_rejects_extra_members),
        cmocka_unit_test(test_credentials_parse_rejects_bad_sizes),
        cmocka_unit_test(test_credentials_parse_rejects_bad_unique_key),
        cmocka_unit_test(test_credentials_parse_detects_tampering),
        cmocka_unit_test(test_credentials_unlock_rejects_changed_local_hash),
        cmocka_unit_test(test_credentials_parse_rejects_bad_outer),
        cmocka_unit_test(test_credentials_parse_rejects_bad_outer_keys),
        cmocka_unit_test(test_credentials_unlock_detects_inner_tampering),
        cmocka_unit_test(test_credentials_unlock_rejects_bad_inner),
        cmocka_unit_test(test_credentials_parse_rejects_bad_args),
        cmocka_unit_test(test_credentials_load_reads_path),
        cmocka_unit_test(test_credentials_load_names_path_in_errors),
        cmocka_unit_test(test_credentials_load_decodes_base64),
        cmocka_unit_test(test_credentials_load_accepts_raw_json),
        cmocka_unit_test(test_credentials_load_explains_failures),
        cmocka_unit_test(test_credentials_load_never_echoes_value),
        cmocka_unit_test(test_credentials_upstreams_one_url_stays_a_string),
        cmocka_unit_test(test_credentials_upstreams_list_round_trip),
        cmocka_unit_test(test_credentials_upstreams_list_rejects),
        cmocka_unit_test(test_credentials_upstreams_create_rejects),
    };
    return cmocka_run_group_tests_name("credentials", tests, group_setup, group_teardown);
}
