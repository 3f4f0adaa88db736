/*
 * tests/unit/test_wire.c - the exact bytes of every binding label
 * (wire/labels.h) and of the Connect vault and item shapes both sides build
 * (model/shape.h). A label failure here means stored data or signatures no
 * longer verify: change the expected text only with a new label version.
 */
#include "harness.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "model/shape.h"
#include "wire/labels.h"

#define VAULT "vvvvvvvvvvvvvvvvvvvvvvvvvv"
#define ITEM "iiiiiiiiiiiiiiiiiiiiiiiiii"
#define ACCOUNT "aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SERVER "ssssssssssssssssssssssssss"

static void test_wire_item_aad(void **state)
{
    (void)state;
    char out[OPC_WIRE_LABEL_MAX];
    assert_int_equal(opc__wire_item_aad(out, sizeof out, VAULT, ITEM, OPC_WIRE_ITEM_OVERVIEW, 3),
                     OPC_OK);
    assert_string_equal(out, "v1|" VAULT "|" ITEM "|overview|3");
    assert_int_equal(opc__wire_item_aad(out, sizeof out, VAULT, ITEM, OPC_WIRE_ITEM_DETAILS,
                                        INT64_C(9007199254740993)),
                     OPC_OK);
    assert_string_equal(out, "v1|" VAULT "|" ITEM "|details|9007199254740993");
    assert_string_equal(opc__wire_item_part_name(OPC_WIRE_ITEM_OVERVIEW), "overview");
    assert_string_equal(opc__wire_item_part_name(OPC_WIRE_ITEM_DETAILS), "details");
}

static void test_wire_vault_labels(void **state)
{
    (void)state;
    char out[OPC_WIRE_LABEL_MAX];
    assert_int_equal(opc__wire_vault_attrs_aad(out, sizeof out, VAULT, 1), OPC_OK);
    assert_string_equal(out, "opconnect/vault/v1|" VAULT "|attrs|1");
    assert_int_equal(opc__wire_vault_key_label(out, sizeof out, VAULT, 12, SERVER), OPC_OK);
    assert_string_equal(out, "opconnect/vaultkey/v1|" VAULT "|12|" SERVER);
    opc__wire_grant g = {ACCOUNT,
                         VAULT,
                         "server",
                         SERVER,
                         2,
                         3,
                         INT64_C(1700000000),
                         "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"};
    assert_int_equal(opc__wire_grant_message(out, sizeof out, &g), OPC_OK);
    assert_string_equal(out, "opconnect/grant/v1|" ACCOUNT "|" VAULT "|server|" SERVER
                             "|2|3|1700000000|hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh");
}

static void test_wire_server_labels(void **state)
{
    (void)state;
    char out[OPC_WIRE_LABEL_MAX];
    assert_int_equal(opc__wire_server_record_aad(out, sizeof out, SERVER), OPC_OK);
    assert_string_equal(out, "opconnect/server/v1|" SERVER);
    const char *jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\"}";
    opc__buf b;
    opc__buf_init(&b, false);
    assert_int_equal(
        opc__wire_server_key_message(&b, OPC_WIRE_SERVER_DEVICE_KEY, ACCOUNT, SERVER, jwk), OPC_OK);
    assert_string_equal(b.data, "opconnect/device/v1|" ACCOUNT "|" SERVER
                                "|{\"kty\":\"EC\",\"crv\":\"P-256\"}");
    opc__buf_reset(&b);
    assert_int_equal(
        opc__wire_server_key_message(&b, OPC_WIRE_SERVER_ENC_KEY, ACCOUNT, SERVER, jwk), OPC_OK);
    assert_string_equal(b.data, "opconnect/serverkey/v1|" ACCOUNT "|" SERVER
                                "|{\"kty\":\"EC\",\"crv\":\"P-256\"}");
    opc__buf_free(&b);
}

static void test_wire_account_labels(void **state)
{
    (void)state;
    char out[OPC_WIRE_LABEL_MAX];
    assert_int_equal(opc__wire_session_aad(out, sizeof out, ACCOUNT, INT64_C(1800000000)), OPC_OK);
    assert_string_equal(out, "opconnect/session/v1|" ACCOUNT "|1800000000");
    assert_int_equal(opc__wire_account_key_aad(out, sizeof out, OPC_WIRE_ACCOUNT_KEYSET, ACCOUNT),
                     OPC_OK);
    assert_string_equal(out, "opconnect/account/v1|keyset|" ACCOUNT);
    assert_int_equal(opc__wire_account_key_aad(out, sizeof out, OPC_WIRE_ACCOUNT_RSA, ACCOUNT),
                     OPC_OK);
    assert_string_equal(out, "opconnect/account/v1|rsa|" ACCOUNT);
    assert_int_equal(opc__wire_account_key_aad(out, sizeof out, OPC_WIRE_ACCOUNT_SIGN, ACCOUNT),
                     OPC_OK);
    assert_string_equal(out, "opconnect/account/v1|sign|" ACCOUNT);
}

static void test_wire_credentials_labels(void **state)
{
    (void)state;
    char out[OPC_WIRE_CREDENTIALS_AAD_LEN + 1];
    assert_int_equal(opc__wire_credentials_aad(out, sizeof out, OPC_WIRE_CREDENTIALS_OUTER, SERVER),
                     OPC_OK);
    assert_string_equal(out, "opconnect/credentials/v2|outer|" SERVER);
    assert_int_equal(strlen(out), OPC_WIRE_CREDENTIALS_AAD_LEN);
    assert_int_equal(opc__wire_credentials_aad(out, sizeof out, OPC_WIRE_CREDENTIALS_INNER, SERVER),
                     OPC_OK);
    assert_string_equal(out, "opconnect/credentials/v2|inner|" SERVER);
    assert_string_equal(OPC_WIRE_KDF_LOCALAUTH, "connect/localauth/v2");
    assert_string_equal(OPC_WIRE_KDF_CREDENTIALS, "connect/credentials/v2");
}

static void test_wire_file_chunk_aad(void **state)
{
    (void)state;
    char out[OPC_WIRE_FILE_AAD_MAX];
    const char *fid = "abcdefghijklmnopqrstuvwxyz";
    assert_int_equal(opc__wire_file_chunk_aad(out, sizeof out, fid, 7, true), OPC_OK);
    assert_string_equal(out, "f1|abcdefghijklmnopqrstuvwxyz|7|1");
    assert_int_equal(opc__wire_file_chunk_aad(out, sizeof out, fid, 0, false), OPC_OK);
    assert_string_equal(out, "f1|abcdefghijklmnopqrstuvwxyz|0|0");
    /* The longest (index 2^32-1) fits with its NUL, and not one byte less. */
    assert_int_equal(opc__wire_file_chunk_aad(out, sizeof out, fid, UINT32_MAX, false), OPC_OK);
    assert_string_equal(out, "f1|abcdefghijklmnopqrstuvwxyz|4294967295|0");
    size_t need = strlen(out) + 1;
    assert_true(need <= OPC_WIRE_FILE_AAD_MAX);
    assert_int_equal(opc__wire_file_chunk_aad(out, need - 1, fid, UINT32_MAX, false),
                     OPC_ERR_TOO_LARGE);
    assert_string_equal(out, "");
}

/* A label that does not fit is refused whole, never cut short. */
static void test_wire_overflow(void **state)
{
    (void)state;
    char out[OPC_WIRE_LABEL_MAX];
    const char *label = "v1|" VAULT "|" ITEM "|overview|3";
    size_t n = strlen(label);
    assert_int_equal(opc__wire_item_aad(out, n + 1, VAULT, ITEM, OPC_WIRE_ITEM_OVERVIEW, 3),
                     OPC_OK);
    assert_string_equal(out, label);
    memset(out, 'x', sizeof out);
    assert_int_equal(opc__wire_item_aad(out, n, VAULT, ITEM, OPC_WIRE_ITEM_OVERVIEW, 3),
                     OPC_ERR_TOO_LARGE);
    assert_string_equal(out, "");
    out[0] = 'x';
    assert_int_equal(opc__wire_vault_attrs_aad(out, 0, VAULT, 1), OPC_ERR_TOO_LARGE);
    assert_int_equal(out[0], 'x'); /* cap 0: nothing written */
    char big[OPC_WIRE_LABEL_MAX + 1];
    memset(big, 'a', OPC_WIRE_LABEL_MAX);
    big[OPC_WIRE_LABEL_MAX] = '\0';
    assert_int_equal(opc__wire_server_record_aad(out, sizeof out, big), OPC_ERR_TOO_LARGE);
    assert_string_equal(out, "");
    assert_int_equal(opc__wire_session_aad(out, sizeof out, big, 1), OPC_ERR_TOO_LARGE);
    assert_int_equal(opc__wire_vault_key_label(out, sizeof out, VAULT, 1, big), OPC_ERR_TOO_LARGE);
    opc__wire_grant g = {ACCOUNT, VAULT, "server", SERVER, 1, 3, 0, big};
    assert_int_equal(opc__wire_grant_message(out, sizeof out, &g), OPC_ERR_TOO_LARGE);
    assert_int_equal(opc__wire_account_key_aad(out, sizeof out, OPC_WIRE_ACCOUNT_RSA, big),
                     OPC_ERR_TOO_LARGE);
    assert_int_equal(opc__wire_credentials_aad(out, OPC_WIRE_CREDENTIALS_AAD_LEN,
                                               OPC_WIRE_CREDENTIALS_INNER, SERVER),
                     OPC_ERR_TOO_LARGE);
    /* The largest real grant (longest accessor type, 64-bit numbers, a full acl) fits. */
    opc__wire_grant max = {
        ACCOUNT,   VAULT, "server",  SERVER,
        INT64_MIN, 0xffu, INT64_MIN, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"};
    assert_int_equal(opc__wire_grant_message(out, sizeof out, &max), OPC_OK);
}

/* The compact JSON text of j, compared and freed. */
static void assert_json(const cJSON *j, const char *want)
{
    char *text = NULL;
    assert_int_equal(opc__json_print(j, &text, NULL), OPC_OK);
    assert_string_equal(text, want);
    opc__free(text);
}

static void test_shape_vault(void **state)
{
    (void)state;
    opc__vault_info v = {.id = VAULT,
                         .name = "Prod",
                         .description = "the keys",
                         .type = "EVERYONE",
                         .attr_version = 2,
                         .content_version = 7,
                         .items = 3,
                         .created = 1700000000,
                         .updated = 1700000061};
    cJSON *j = NULL;
    assert_int_equal(opc__vault_json(&v, &j), OPC_OK);
    assert_json(j,
                "{\"id\":\"" VAULT "\",\"name\":\"Prod\",\"description\":\"the keys\","
                "\"attributeVersion\":2,\"contentVersion\":7,\"items\":3,\"type\":\"EVERYONE\","
                "\"createdAt\":\"2023-11-14T22:13:20Z\",\"updatedAt\":\"2023-11-14T22:14:21Z\"}");
    cJSON_Delete(j);
    /* No description (NULL or empty) is left out; no type is a user vault. */
    v.description = "";
    v.type = NULL;
    assert_int_equal(opc__vault_json(&v, &j), OPC_OK);
    assert_json(j,
                "{\"id\":\"" VAULT "\",\"name\":\"Prod\",\"attributeVersion\":2,"
                "\"contentVersion\":7,\"items\":3,\"type\":\"USER_CREATED\","
                "\"createdAt\":\"2023-11-14T22:13:20Z\",\"updatedAt\":\"2023-11-14T22:14:21Z\"}");
    cJSON_Delete(j);
    v.description = NULL;
    assert_int_equal(opc__vault_json(&v, &j), OPC_OK);
    assert_null(opc__json_member(j, "description"));
    cJSON_Delete(j);
    /* A time outside RFC 3339 (year 10000) fails whole. */
    v.updated = INT64_C(253402300800);
    cJSON *before = cJSON_CreateNull();
    j = before; /* set to NULL on failure */
    assert_int_equal(opc__vault_json(&v, &j), OPC_ERR_RANGE);
    assert_null(j);
    cJSON_Delete(before);
}

static void test_shape_item_members(void **state)
{
    (void)state;
    /* On a fresh object: the order Connect's item list uses. */
    cJSON *o = cJSON_CreateObject();
    assert_non_null(o);
    assert_int_equal(opc__item_set_ids(o, VAULT, ITEM), OPC_OK);
    assert_non_null(cJSON_AddStringToObject(o, "title", "t"));
    opc__item_stamp st = {4, "SSSSSSSSSSSSSSSSSSSSSSSSSS", 1700000000, 1700000001};
    assert_int_equal(opc__item_set_stamp(o, &st), OPC_OK);
    assert_json(o,
                "{\"id\":\"" ITEM "\",\"vault\":{\"id\":\"" VAULT "\"},\"title\":\"t\","
                "\"version\":4,\"lastEditedBy\":\"SSSSSSSSSSSSSSSSSSSSSSSSSS\","
                "\"createdAt\":\"2023-11-14T22:13:20Z\",\"updatedAt\":\"2023-11-14T22:13:21Z\"}");
    cJSON_Delete(o);
    /* Members already there (a client's) are replaced and move after the
     * others; an unknown editor is left out. */
    o = cJSON_CreateObject();
    assert_non_null(o);
    assert_non_null(cJSON_AddStringToObject(o, "version", "x"));
    assert_non_null(cJSON_AddStringToObject(o, "id", ""));
    assert_non_null(cJSON_AddStringToObject(o, "title", "t"));
    assert_non_null(cJSON_AddStringToObject(o, "vault", "y"));
    assert_int_equal(opc__item_set_ids(o, VAULT, ITEM), OPC_OK);
    st.editor = "";
    assert_int_equal(opc__item_set_stamp(o, &st), OPC_OK);
    assert_json(o, "{\"title\":\"t\",\"id\":\"" ITEM "\",\"vault\":{\"id\":\"" VAULT "\"},"
                   "\"version\":4,\"createdAt\":\"2023-11-14T22:13:20Z\","
                   "\"updatedAt\":\"2023-11-14T22:13:21Z\"}");
    st.editor = NULL;
    st.created = -INT64_C(62135596801); /* before year 1 */
    assert_int_equal(opc__item_set_stamp(o, &st), OPC_ERR_RANGE);
    cJSON_Delete(o);
    cJSON *ref = opc__item_vault_ref(VAULT);
    assert_json(ref, "{\"id\":\"" VAULT "\"}");
    cJSON_Delete(ref);
}

static void test_shape_file_path(void **state)
{
    (void)state;
    char out[OPC_ITEM_FILE_PATH_MAX];
    const char *want = "/v1/vaults/" VAULT "/items/" ITEM "/files/" SERVER "/content";
    assert_int_equal(opc__item_file_path(out, sizeof out, VAULT, ITEM, SERVER), OPC_OK);
    assert_string_equal(out, want);
    size_t n = strlen(want);
    assert_int_equal(opc__item_file_path(out, n + 1, VAULT, ITEM, SERVER), OPC_OK);
    assert_int_equal(opc__item_file_path(out, n, VAULT, ITEM, SERVER), OPC_ERR_TOO_LARGE);
    assert_string_equal(out, "");
    out[0] = 'x';
    assert_int_equal(opc__item_file_path(out, 0, VAULT, ITEM, SERVER), OPC_ERR_TOO_LARGE);
    assert_int_equal(out[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_item_aad),           cmocka_unit_test(test_wire_vault_labels),
        cmocka_unit_test(test_wire_server_labels),      cmocka_unit_test(test_wire_account_labels),
        cmocka_unit_test(test_wire_credentials_labels), cmocka_unit_test(test_wire_file_chunk_aad),
        cmocka_unit_test(test_wire_overflow),           cmocka_unit_test(test_shape_vault),
        cmocka_unit_test(test_shape_item_members),      cmocka_unit_test(test_shape_file_path),
    };
    return cmocka_run_group_tests_name("wire", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
