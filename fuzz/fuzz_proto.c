/*
 * The account protocol's message decoders besides the rows (wire/proto.h),
 * each fed the same input parsed as JSON (size and depth limited).
 * Properties: a refusal is OPC_ERR_PARSE (or NOMEM) and leaves nothing
 * decoded; a hello or welcome that decodes encodes and decodes again to the
 * same struct; a decoded hello's checks refuse it (it is not signed by the
 * fixed key) without crashing; an error answer always maps to an error;
 * the page decoders detach exactly what they accept; the owner's messages
 * (account row, sign-up, the sign-in's four) that decode encode and decode
 * again to the same JSON.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "core/json.h"
#include "crypto/key.h"
#include "wire/proto.h"

static opc__key *fuzz_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_library();
    if (opc__jwk_parse(FUZZ_ISSUER_JWK, strlen(FUZZ_ISSUER_JWK), OPC_JWK_REQUIRE_PRIVATE, &fuzz_key,
                       NULL) != OPC_OK) {
        abort();
    }
    return 0;
}

static void refused(opc_err rc)
{
    if (rc != OPC_ERR_PARSE && rc != OPC_ERR_NOMEM) {
        abort();
    }
}

static void check_hello(const cJSON *j)
{
    opc__proto_hello h;
    opc_err rc = opc__proto_hello_decode(j, &h, NULL);
    if (rc != OPC_OK) {
        refused(rc);
        return;
    }
    cJSON *once = NULL;
    opc__proto_hello again;
    if (opc__proto_hello_encode(&h, &once) != OPC_OK ||
        opc__proto_hello_decode(once, &again, NULL) != OPC_OK ||
        memcmp(&h, &again, sizeof h) != 0) {
        abort();
    }
    cJSON_Delete(once);
    rc = opc__proto_hello_verify(&h, fuzz_key, h.ts_ms, NULL);
    if (rc != OPC_ERR_SIGNATURE && rc != OPC_ERR_NOMEM) {
        abort(); /* nobody holds the fixed key's signatures over fuzzed input */
    }
    /* the server's answer: refused only for a point off the curve */
    opc__proto_welcome w;
    opc__proto_keys k;
    rc = opc__proto_welcome_make(&h, fuzz_key, 1, &w, &k, NULL);
    if (rc != OPC_OK && rc != OPC_ERR_KEY && rc != OPC_ERR_NOMEM) {
        abort();
    }
    opc__proto_welcome_clear(&w);
}

static void check_welcome(const cJSON *j)
{
    opc__proto_welcome w;
    opc_err rc = opc__proto_welcome_decode(j, &w, NULL);
    if (rc != OPC_OK) {
        refused(rc);
        if (w.key != NULL) {
            abort();
        }
        return;
    }
    cJSON *once = NULL;
    cJSON *twice = NULL;
    opc__proto_welcome again;
    if (opc__proto_welcome_encode(&w, &once) != OPC_OK ||
        opc__proto_welcome_decode(once, &again, NULL) != OPC_OK ||
        opc__proto_welcome_encode(&again, &twice) != OPC_OK || !cJSON_Compare(once, twice, 1) ||
        strcmp(w.session, again.session) != 0 || w.expires != again.expires ||
        strcmp(w.eph, again.eph) != 0 || strcmp(w.sig, again.sig) != 0 ||
        !opc__key_equal_public(w.key, again.key)) {
        abort();
    }
    char pin[OPC_PROTO_HASH_B64 + 1];
    if (opc__proto_pin(w.key, pin) != OPC_OK || !opc__proto_mac_equal(pin, pin)) {
        abort();
    }
    cJSON_Delete(once);
    cJSON_Delete(twice);
    opc__proto_welcome_clear(&again);
    opc__proto_welcome_clear(&w);
}

static void check_error(const cJSON *j)
{
    static const int statuses[] = {400, 401, 403, 404, 409, 413, 429, 500, 503, 599};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        opc_err rc = opc__proto_error_decode(statuses[i], j, NULL);
        if (rc == OPC_OK || rc == OPC_ERR_INVALID_ARG) {
            abort();
        }
    }
}

static void check_pages(const cJSON *j)
{
    cJSON *c = cJSON_Duplicate(j, 1);
    if (c == NULL) {
        return;
    }
    cJSON *arr = NULL;
    cJSON *arr2 = NULL;
    int64_t next = 0;
    opc_err rc = opc__proto_changes_decode(c, &arr, &next, NULL);
    if (rc != OPC_OK) {
        refused(rc);
        if (arr != NULL) {
            abort();
        }
    } else {
        cJSON *out = NULL;
        if (opc__proto_changes_encode(arr, next, &out) != OPC_OK) {
            abort();
        }
        cJSON_Delete(out);
    }
    static const char *const members[] = {"items", "chunks"};
    for (size_t i = 0; i < 2; i++) {
        rc = opc__proto_page_decode(c, members[i], &arr2, NULL);
        if (rc != OPC_OK) {
            refused(rc);
            continue;
        }
        cJSON *out = NULL;
        if (opc__proto_page_encode(members[i], arr2, &out) != OPC_OK) {
            abort();
        }
        cJSON_Delete(out);
    }
    cJSON *item = NULL;
    cJSON *vault = NULL;
    rc = opc__proto_write_result_decode(c, &item, &vault, NULL);
    if (rc != OPC_OK) {
        refused(rc);
        if (item != NULL || vault != NULL) {
            abort();
        }
    } else {
        cJSON *out = NULL;
        if (opc__proto_write_result_encode(item, vault, &out) != OPC_OK) {
            abort();
        }
        cJSON_Delete(out);
    }
    cJSON_Delete(c);
}

/* decode -> encode -> decode -> encode: the same JSON twice. */
#define ROUND_TRIP(type, dec, enc, clear)                                                          \
    do {                                                                                           \
        type m_, m2_;                                                                              \
        opc_err rc_ = dec(j, &m_, NULL);                                                           \
        if (rc_ != OPC_OK) {                                                                       \
            refused(rc_);                                                                          \
            break;                                                                                 \
        }                                                                                          \
        cJSON *once_ = NULL;                                                                       \
        cJSON *twice_ = NULL;                                                                      \
        if (enc(&m_, &once_) != OPC_OK || dec(once_, &m2_, NULL) != OPC_OK ||                      \
            enc(&m2_, &twice_) != OPC_OK || !cJSON_Compare(once_, twice_, 1)) {                    \
            abort();                                                                               \
        }                                                                                          \
        cJSON_Delete(once_);                                                                       \
        cJSON_Delete(twice_);                                                                      \
        clear(&m_);                                                                                \
        clear(&m2_);                                                                               \
    } while (0)

static void no_clear(const void *p)
{
    (void)p;
}

static void check_owner(const cJSON *j)
{
    ROUND_TRIP(opc__proto_account, opc__proto_account_decode, opc__proto_account_encode,
               opc__proto_account_clear);
    ROUND_TRIP(opc__proto_signup, opc__proto_signup_decode, opc__proto_signup_encode,
               opc__proto_signup_clear);
    ROUND_TRIP(opc__proto_auth_start, opc__proto_auth_start_decode, opc__proto_auth_start_encode,
               no_clear);
    ROUND_TRIP(opc__proto_auth_challenge, opc__proto_auth_challenge_decode,
               opc__proto_auth_challenge_encode, no_clear);
    ROUND_TRIP(opc__proto_auth_verify, opc__proto_auth_verify_decode, opc__proto_auth_verify_encode,
               no_clear);
    ROUND_TRIP(opc__proto_auth_session, opc__proto_auth_session_decode,
               opc__proto_auth_session_encode, no_clear);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL;
    opc__json_limits lim = {.max_size = 1 << 20, .max_depth = 8};
    if (opc__json_parse((const char *)data, size, &lim, &j, NULL) != OPC_OK) {
        return 0;
    }
    check_hello(j);
    check_welcome(j);
    check_error(j);
    check_pages(j);
    check_owner(j);
    cJSON_Delete(j);
    return 0;
}
