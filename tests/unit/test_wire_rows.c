/*
 * tests/unit/test_wire_rows.c - lib/wire/rows.c, the upstream protocol's
 * messages: each one encoded to its exact JSON (member names and order
 * pinned, a change is a visible break), decoded back to the same struct,
 * and every malformed form refused: a missing member, a wrong type, an
 * integer out of range, an id that is not one.
 */
#include "harness.h"

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "wire/rows.h"

#define V1 "vvvvvvvvvvvvvvvvvvvvvvvvvq"
#define I1 "iiiiiiiiiiiiiiiiiiiiiiiiiq"
#define F1 "ffffffffffffffffffffffffaq"
#define S1 "ssssssssssssssssssssssssaq"
#define K1 "kkkkkkkkkkkkkkkkkkkkkkkkkq"
#define T1 "tttttttttttttttttttttttttq"
#define E1 "SSSSSSSSSSSSSSSSSSSSSSSSAQ" /* an id upper-cased */

/* The exact messages, as the encoders print them. */
static const char issuer_key_json[] = "{\"kid\":\"" K1 "\",\"jwk\":\"{}\",\"seq\":7}";
static const char access_json[] = "{\"vault_id\":\"" V1 "\",\"key_sn\":1,\"enc_key\":\"ZW5j\","
                                  "\"acl\":3,\"granted\":1700000000,\"grant_sig\":\"c2ln\","
                                  "\"seq\":8}";
static const char vault_json[] = "{\"id\":\"" V1 "\",\"type\":\"USER_CREATED\",\"key_sn\":2,"
                                 "\"attrs\":\"{\\\"kid\\\":1}\",\"attr_version\":3,"
                                 "\"content_version\":4,\"items\":5,\"created\":1700000000,"
                                 "\"updated\":1700000001,\"seq\":9}";
static const char item_json[] = "{\"id\":\"" I1 "\",\"vault_id\":\"" V1 "\",\"version\":2,"
                                "\"state\":\"active\",\"key_sn\":1,\"overview\":\"ov\","
                                "\"details\":\"det\",\"created\":1700000000,"
                                "\"updated\":1700000002,\"last_edited_by\":\"" E1 "\",\"seq\":10}";
static const char tombstone_json[] = "{\"id\":\"" I1 "\",\"vault_id\":\"" V1 "\",\"version\":3,"
                                     "\"state\":\"deleted\",\"key_sn\":1,\"overview\":null,"
                                     "\"details\":null,\"created\":1700000000,"
                                     "\"updated\":1700000003,\"last_edited_by\":\"X\","
                                     "\"seq\":11}";
static const char chunk_json[] = "{\"file_id\":\"" F1 "\",\"idx\":4,\"item_id\":\"" I1 "\","
                                 "\"vault_id\":\"" V1 "\",\"blob\":\"AP8Q\"}";
static const char token_json[] = "{\"jti\":\"" T1 "\",\"server_id\":\"" S1 "\",\"name\":\"ci\","
                                 "\"scopes\":\"[]\",\"created\":1700000000,\"expires\":0,"
                                 "\"state\":\"revoked\",\"updated\":1700000004,\"seq\":12}";
static const char write_json[] = "{\"vault_id\":\"" V1 "\",\"item_id\":\"" I1 "\","
                                 "\"expected_version\":0,\"key_sn\":1,\"overview\":\"ov\","
                                 "\"details\":\"det\"}";

/* Print o unformatted and compare with the pinned text. */
static void assert_prints(cJSON *o, const char *want)
{
    assert_non_null(o);
    char *s = cJSON_PrintUnformatted(o);
    assert_non_null(s);
    assert_string_equal(s, want);
    cJSON_free(s);
    cJSON_Delete(o);
}

static cJSON *parse(const char *text)
{
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o);
    return o;
}

static void test_wire_rows_issuer_key_round_trip(void **state)
{
    (void)state;
    char jwk[] = "{}";
    opc__wire_issuer_key k = {.kid = K1, .jwk = jwk, .seq = 7};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_issuer_key_encode(&k, &o, NULL), OPC_OK);
    opc__wire_issuer_key d;
    assert_int_equal(opc__wire_issuer_key_decode(o, &d, NULL), OPC_OK);
    assert_string_equal(d.kid, K1);
    assert_string_equal(d.jwk, "{}");
    assert_int_equal(d.seq, 7);
    assert_prints(o, issuer_key_json);
}

static void test_wire_rows_access_round_trip(void **state)
{
    (void)state;
    char enc[] = "ZW5j";
    char sig[] = "c2ln";
    opc__wire_access a = {.vault = V1,
                          .key_sn = 1,
                          .enc_key = enc,
                          .acl = 3,
                          .granted = 1700000000,
                          .grant_sig = sig,
                          .seq = 8};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_access_encode(&a, &o, NULL), OPC_OK);
    opc__wire_access d;
    assert_int_equal(opc__wire_access_decode(o, &d, NULL), OPC_OK);
    assert_string_equal(d.vault, V1);
    assert_int_equal(d.key_sn, 1);
    assert_string_equal(d.enc_key, enc);
    assert_int_equal(d.acl, 3);
    assert_int_equal(d.granted, 1700000000);
    assert_string_equal(d.grant_sig, sig);
    assert_int_equal(d.seq, 8);
    assert_prints(o, access_json);
}

static void test_wire_rows_vault_round_trip(void **state)
{
    (void)state;
    char type[] = "USER_CREATED";
    char attrs[] = "{\"kid\":1}";
    opc__wire_vault v = {.id = V1,
                         .type = type,
                         .key_sn = 2,
                         .attrs = attrs,
                         .attr_version = 3,
                         .content_version = 4,
                         .items = 5,
                         .created = 1700000000,
                         .updated = 1700000001,
                         .seq = 9};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_vault_encode(&v, &o, NULL), OPC_OK);
    opc__wire_vault d;
    assert_int_equal(opc__wire_vault_decode(o, &d, NULL), OPC_OK);
    assert_string_equal(d.id, V1);
    assert_string_equal(d.type, type);
    assert_string_equal(d.attrs, attrs);
    assert_int_equal(d.key_sn, 2);
    assert_int_equal(d.attr_version, 3);
    assert_int_equal(d.content_version, 4);
    assert_int_equal(d.items, 5);
    assert_int_equal(d.created, 1700000000);
    assert_int_equal(d.updated, 1700000001);
    assert_int_equal(d.seq, 9);
    assert_prints(o, vault_json);
}

static void test_wire_rows_item_round_trip(void **state)
{
    (void)state;
    char active[] = "active";
    char ov[] = "ov";
    char det[] = "det";
    opc__wire_item it = {.id = I1,
                         .vault = V1,
                         .version = 2,
                         .state = active,
                         .key_sn = 1,
                         .overview = ov,
                         .details = det,
                         .created = 1700000000,
                         .updated = 1700000002,
                         .last_edited_by = E1,
                         .seq = 10};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_item_encode(&it, &o, NULL), OPC_OK);
    opc__wire_item d;
    assert_int_equal(opc__wire_item_decode(o, &d, NULL), OPC_OK);
    assert_string_equal(d.id, I1);
    assert_string_equal(d.vault, V1);
    assert_int_equal(d.version, 2);
    assert_string_equal(d.state, "active");
    assert_int_equal(d.key_sn, 1);
    assert_string_equal(d.overview, "ov");
    assert_string_equal(d.details, "det");
    assert_int_equal(d.created, 1700000000);
    assert_int_equal(d.updated, 1700000002);
    assert_string_equal(d.last_edited_by, E1);
    assert_int_equal(d.seq, 10);
    assert_prints(o, item_json);

    /* A tombstone: no envelopes, sent as nulls. */
    char deleted[] = "deleted";
    opc__wire_item t = {.id = I1,
                        .vault = V1,
                        .version = 3,
                        .state = deleted,
                        .key_sn = 1,
                        .created = 1700000000,
                        .updated = 1700000003,
                        .last_edited_by = "X",
                        .seq = 11};
    assert_int_equal(opc__wire_item_encode(&t, &o, NULL), OPC_OK);
    assert_int_equal(opc__wire_item_decode(o, &d, NULL), OPC_OK);
    assert_null(d.overview);
    assert_null(d.details);
    assert_string_equal(d.state, "deleted");
    assert_prints(o, tombstone_json);

    /* A live item needs both envelopes, on either side. */
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    it.details = NULL;
    assert_int_equal(opc__wire_item_encode(&it, &o, &eb), OPC_ERR_INVALID_ARG);
    assert_null(o);
    o = parse(item_json);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "details", cJSON_CreateNull());
    assert_int_equal(opc__wire_item_decode(o, &d, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "overview and details"));
    cJSON_Delete(o);
}

static void test_wire_rows_chunk_round_trip(void **state)
{
    (void)state;
    const unsigned char bytes[] = {0x00, 0xff, 0x10};
    opc__wire_chunk ch = {
        .file = F1, .item = I1, .vault = V1, .idx = 4, .blob = bytes, .len = sizeof bytes};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_chunk_encode(&ch, &o, NULL), OPC_OK);
    opc__wire_chunk d;
    unsigned char *blob = NULL;
    assert_int_equal(opc__wire_chunk_decode(o, &d, &blob, NULL), OPC_OK);
    assert_ptr_equal(d.blob, blob);
    assert_int_equal(d.len, sizeof bytes);
    assert_memory_equal(blob, bytes, sizeof bytes);
    assert_string_equal(d.file, F1);
    assert_string_equal(d.item, I1);
    assert_string_equal(d.vault, V1);
    assert_int_equal(d.idx, 4);
    opc__free(blob);
    assert_prints(o, chunk_json);

    /* An empty chunk is a chunk; a blob that is not base64url is not. */
    ch.blob = NULL;
    ch.len = 0;
    assert_int_equal(opc__wire_chunk_encode(&ch, &o, NULL), OPC_OK);
    assert_int_equal(opc__wire_chunk_decode(o, &d, &blob, NULL), OPC_OK);
    assert_int_equal(d.len, 0);
    opc__free(blob);
    cJSON_Delete(o);
    o = parse(chunk_json);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "blob", cJSON_CreateString("AP8Q=="));
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__wire_chunk_decode(o, &d, &blob, &eb), OPC_ERR_PARSE);
    assert_null(blob);
    assert_string_equal(eb.msg, "malformed file chunk row: \"blob\" must be base64url");
    cJSON_Delete(o);
}

static void test_wire_rows_token_round_trip(void **state)
{
    (void)state;
    char name[] = "ci";
    char scopes[] = "[]";
    char revoked[] = "revoked";
    opc__wire_token t = {.jti = T1,
                         .server = S1,
                         .name = name,
                         .scopes = scopes,
                         .created = 1700000000,
                         .expires = 0,
                         .state = revoked,
                         .updated = 1700000004,
                         .seq = 12};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_token_encode(&t, &o, NULL), OPC_OK);
    opc__wire_token d;
    assert_int_equal(opc__wire_token_decode(o, &d, NULL), OPC_OK);
    assert_string_equal(d.jti, T1);
    assert_string_equal(d.server, S1);
    assert_string_equal(d.name, "ci");
    assert_string_equal(d.scopes, "[]");
    assert_int_equal(d.created, 1700000000);
    assert_int_equal(d.expires, 0);
    assert_string_equal(d.state, "revoked");
    assert_int_equal(d.updated, 1700000004);
    assert_int_equal(d.seq, 12);
    assert_prints(o, token_json);
}

static void test_wire_rows_item_write_round_trip(void **state)
{
    (void)state;
    opc__item_write w = {V1, I1, 0, 1, "ov", "det"};
    cJSON *o = NULL;
    assert_int_equal(opc__wire_item_write_encode(&w, &o, NULL), OPC_OK);
    opc__item_write d;
    assert_int_equal(opc__wire_item_write_decode(o, &d, NULL), OPC_OK);
    assert_string_equal(d.vault_id, V1);
    assert_string_equal(d.item_id, I1);
    assert_int_equal(d.expected_version, 0);
    assert_int_equal(d.key_sn, 1);
    assert_string_equal(d.overview, "ov");
    assert_string_equal(d.details, "det");
    assert_prints(o, write_json);
    /* Its ids are ids on both sides. */
    w.item_id = "not-an-id";
    assert_int_equal(opc__wire_item_write_encode(&w, &o, NULL), OPC_ERR_INVALID_ARG);
    assert_null(o);
    o = parse(write_json);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "vault_id", cJSON_CreateString("VVVV"));
    assert_int_equal(opc__wire_item_write_decode(o, &d, NULL), OPC_ERR_PARSE);
    cJSON_Delete(o);
}

/* ---- malformed messages ---- */

typedef opc_err (*decode_fn)(const cJSON *o, opc__ebuf *eb);

/* decode_fn name: the row type T decoded by fn, the row itself thrown away. */
#define DECODER(name, T, fn)                                                                       \
    static opc_err name(const cJSON *o, opc__ebuf *eb)                                             \
    {                                                                                              \
        T r;                                                                                       \
        return fn(o, &r, eb);                                                                      \
    }

DECODER(dec_issuer_key, opc__wire_issuer_key, opc__wire_issuer_key_decode)
DECODER(dec_access, opc__wire_access, opc__wire_access_decode)
DECODER(dec_vault, opc__wire_vault, opc__wire_vault_decode)
DECODER(dec_item, opc__wire_item, opc__wire_item_decode)

static opc_err dec_chunk(const cJSON *o, opc__ebuf *eb)
{
    opc__wire_chunk r;
    unsigned char *blob = NULL;
    opc_err rc = opc__wire_chunk_decode(o, &r, &blob, eb);
    opc__free(blob);
    return rc;
}

DECODER(dec_token, opc__wire_token, opc__wire_token_decode)
DECODER(dec_write, opc__item_write, opc__wire_item_write_decode)

static const struct {
    const char *json;
    decode_fn dec;
} samples[] = {
    {issuer_key_json, dec_issuer_key}, {access_json, dec_access},
    {vault_json, dec_vault},           {item_json, dec_item},
    {tombstone_json, dec_item},        {chunk_json, dec_chunk},
    {token_json, dec_token},           {write_json, dec_write},
};

/* Decoding o fails with OPC_ERR_PARSE and a message naming member. */
static void assert_refused(decode_fn dec, const cJSON *o, const char *member)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(dec(o, &eb), OPC_ERR_PARSE);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", member);
    if (strstr(eb.msg, quoted) == NULL) {
        fail_msg("the message \"%s\" does not name %s", eb.msg, quoted);
    }
}

static void test_wire_rows_decode_rejects_missing_and_ill_typed(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        cJSON *o = parse(samples[s].json);
        assert_int_equal(samples[s].dec(o, NULL), OPC_OK);
        const cJSON *m = NULL;
        cJSON_ArrayForEach(m, o)
        {
            /* Missing. */
            cJSON *without = cJSON_Duplicate(o, 1);
            cJSON_DeleteItemFromObjectCaseSensitive(without, m->string);
            assert_refused(samples[s].dec, without, m->string);
            cJSON_Delete(without);
            /* Wrong type: a bool everywhere, then a string for a number and a number
             * for a string. */
            cJSON *typed = cJSON_Duplicate(o, 1);
            cJSON_ReplaceItemInObjectCaseSensitive(typed, m->string, cJSON_CreateTrue());
            assert_refused(samples[s].dec, typed, m->string);
            cJSON_ReplaceItemInObjectCaseSensitive(typed, m->string,
                                                   cJSON_IsNumber(m) ? cJSON_CreateString("1")
                                                                     : cJSON_CreateNumber(1));
            assert_refused(samples[s].dec, typed, m->string);
            cJSON_Delete(typed);
        }
        cJSON_Delete(o);
    }
    /* Not an object at all. */
    cJSON *arr = parse("[]");
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(dec_item(arr, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "malformed item row: not an object");
    assert_int_equal(dec_item(NULL, NULL), OPC_ERR_PARSE);
    cJSON_Delete(arr);
}

/* sample with member set to the number v (or the string s when s != NULL). */
static void assert_value_refused(const char *json, decode_fn dec, const char *member, double v,
                                 const char *s)
{
    cJSON *o = parse(json);
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, member, s != NULL ? cJSON_CreateString(s) : cJSON_CreateNumber(v));
    assert_refused(dec, o, member);
    cJSON_Delete(o);
}

static void test_wire_rows_decode_rejects_out_of_range(void **state)
{
    (void)state;
    /* Every integer: negative, fractional, beyond 2^53. */
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        cJSON *o = parse(samples[s].json);
        const cJSON *m = NULL;
        cJSON_ArrayForEach(m, o)
        {
            if (cJSON_IsNumber(m)) {
                assert_value_refused(samples[s].json, samples[s].dec, m->string, -1, NULL);
                assert_value_refused(samples[s].json, samples[s].dec, m->string, 1.5, NULL);
                assert_value_refused(samples[s].json, samples[s].dec, m->string, 9007199254740992.0,
                                     NULL);
            }
        }
        cJSON_Delete(o);
    }
    /* Narrower ranges. */
    assert_value_refused(access_json, dec_access, "key_sn", 0, NULL);
    assert_value_refused(access_json, dec_access, "acl", 4294967296.0, NULL);
    assert_value_refused(vault_json, dec_vault, "key_sn", 0, NULL);
    assert_value_refused(item_json, dec_item, "version", 0, NULL);
    assert_value_refused(item_json, dec_item, "key_sn", 0, NULL);
    assert_value_refused(chunk_json, dec_chunk, "idx", 2147483648.0, NULL);
    assert_value_refused(write_json, dec_write, "key_sn", 0, NULL);
    /* The largest values still pass. */
    cJSON *o = parse(access_json);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "acl", cJSON_CreateNumber(4294967295.0));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "seq", cJSON_CreateNumber(9007199254740991.0));
    assert_int_equal(dec_access(o, NULL), OPC_OK);
    cJSON_Delete(o);
    /* Strings with rules: ids, short names, states. */
    assert_value_refused(item_json, dec_item, "id", 0, "IIIIIIIIIIIIIIIIIIIIIIIIIQ");
    assert_value_refused(item_json, dec_item, "vault_id", 0, "");
    assert_value_refused(item_json, dec_item, "last_edited_by", 0, E1 "X");
    assert_value_refused(item_json, dec_item, "state", 0, "archived");
    assert_value_refused(token_json, dec_token, "state", 0, "deleted");
    assert_value_refused(chunk_json, dec_chunk, "file_id", 0, F1 "a");
}

static void test_wire_rows_encode_refuses_what_decode_would(void **state)
{
    (void)state;
    char jwk[] = "{}";
    opc__wire_issuer_key k = {.kid = "short", .jwk = jwk, .seq = 1};
    cJSON *o = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__wire_issuer_key_encode(&k, &o, &eb), OPC_ERR_INVALID_ARG);
    assert_null(o);
    assert_string_equal(eb.msg, "cannot send the issuer key row: \"kid\" must be an id");
    memcpy(k.kid, K1, sizeof k.kid);
    k.seq = -1;
    assert_int_equal(opc__wire_issuer_key_encode(&k, &o, &eb), OPC_ERR_INVALID_ARG);
    k.seq = 1;
    k.jwk = NULL;
    assert_int_equal(opc__wire_issuer_key_encode(&k, &o, &eb), OPC_ERR_INVALID_ARG);
    assert_string_equal(eb.msg, "cannot send the issuer key row: \"jwk\" must be a string");
    char bad_state[] = "gone";
    char name[] = "n";
    opc__wire_token t = {.jti = T1, .server = S1, .name = name, .scopes = name, .state = bad_state};
    assert_int_equal(opc__wire_token_encode(&t, &o, NULL), OPC_ERR_INVALID_ARG);
    opc__wire_chunk ch = {.file = F1, .item = I1, .vault = V1, .idx = 0, .blob = NULL, .len = 3};
    assert_int_equal(opc__wire_chunk_encode(&ch, &o, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__wire_vault_encode(NULL, &o, NULL), OPC_ERR_INVALID_ARG);
    assert_null(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_rows_issuer_key_round_trip),
        cmocka_unit_test(test_wire_rows_access_round_trip),
        cmocka_unit_test(test_wire_rows_vault_round_trip),
        cmocka_unit_test(test_wire_rows_item_round_trip),
        cmocka_unit_test(test_wire_rows_chunk_round_trip),
        cmocka_unit_test(test_wire_rows_token_round_trip),
        cmocka_unit_test(test_wire_rows_item_write_round_trip),
        cmocka_unit_test(test_wire_rows_decode_rejects_missing_and_ill_typed),
        cmocka_unit_test(test_wire_rows_decode_rejects_out_of_range),
        cmocka_unit_test(test_wire_rows_encode_refuses_what_decode_would),
    };
    return cmocka_run_group_tests_name("wire_rows", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
