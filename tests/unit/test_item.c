/*
 * tests/unit/test_item.c - the Connect item model (lib/model/item.c,
 * item_fields.c, item_parts.c, category.c).
 */
#include "item_json.h"

#include <math.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/time.h"
#include "model/item.h"

#define OTP_URI "otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME"

/* ---- helpers ---- */

static cJSON *prepare_op(const char *json, opc__item_op op, const cJSON *existing)
{
    cJSON *out = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__item_prepare_json(json, strlen(json), op, existing, &out, &eb);
    if (rc != OPC_OK) {
        fail_msg("prepare failed (%d): %s\ninput: %.300s", (int)rc, eb.msg, json);
    }
    assert_non_null(out);
    return out;
}

static cJSON *prepare(const char *json)
{
    return prepare_op(json, OPC_ITEM_CREATE, NULL);
}

/* Expect a failure with code rc and a message containing msg. */
static void refuse_op(const char *json, opc__item_op op, const cJSON *existing, opc_err rc,
                      const char *msg)
{
    cJSON *out = (cJSON *)1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err got = opc__item_prepare_json(json, strlen(json), op, existing, &out, &eb);
    if (got != rc || strstr(eb.msg, msg) == NULL) {
        fail_msg("want %d \"%s\", got %d \"%s\"\ninput: %.300s", (int)rc, msg, (int)got, eb.msg,
                 json);
    }
    assert_null(out);
}

static void refuse(const char *json, opc_err rc, const char *msg)
{
    refuse_op(json, OPC_ITEM_CREATE, NULL, rc, msg);
}

static const cJSON *fields_of(const cJSON *item)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(item, "fields");
    assert_true(cJSON_IsArray(f));
    return f;
}

static const cJSON *field(const cJSON *item, size_t i)
{
    const cJSON *f = cJSON_GetArrayItem(fields_of(item), (int)i);
    assert_non_null(f);
    return f;
}

static const cJSON *field_by_id(const cJSON *item, const char *id)
{
    return by_id(fields_of(item), id);
}

static size_t count_members(const cJSON *o)
{
    size_t n = 0;
    for (const cJSON *c = o->child; c != NULL; c = c->next) {
        n++;
    }
    return n;
}

/* The ids of the fields, comma-separated. */
static void assert_field_ids(const cJSON *item, const char *want)
{
    assert_ids(fields_of(item), want);
}

/* A JSON document built with a growing buffer. */
typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *text)
{
    size_t len = strlen(text);
    if (b->n + len + 1 > b->cap) {
        b->cap = (b->n + len + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, text, len + 1);
    b->n += len;
}

/* ---- categories and built-in fields ---- */

static void test_item_category_parse_and_names(void **state)
{
    (void)state;
    opc__category c;
    assert_int_equal(opc__category_parse("login", &c, NULL), OPC_OK);
    assert_int_equal(c, OPC_CAT_LOGIN);
    assert_int_equal(opc__category_parse("Social_Security_Number", &c, NULL), OPC_OK);
    assert_int_equal(c, OPC_CAT_SOCIAL_SECURITY_NUMBER);
    opc__ebuf eb;
    assert_int_equal(opc__category_parse("LOGINS", &c, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "Invalid item category");
    assert_int_equal(opc__category_parse("", &c, &eb), OPC_ERR_PARSE);
    for (int i = OPC_CAT_LOGIN; i <= OPC_CAT_CUSTOM; i++) {
        const char *name = opc__category_name((opc__category)i);
        assert_non_null(name);
        assert_int_equal(opc__category_parse(name, &c, NULL), OPC_OK);
        assert_int_equal(c, i);
        size_t n = 99;
        const opc__field_template *t = opc__category_template((opc__category)i, &n);
        if (i == OPC_CAT_CUSTOM) {
            assert_int_equal(n, 0);
            assert_false(opc__category_creatable((opc__category)i));
            continue;
        }
        assert_non_null(t);
        assert_true(n >= 1);
        /* every table entry is well formed; notesPlain is always there */
        bool notes = false;
        for (size_t k = 0; k < n; k++) {
            assert_non_null(opc__field_type_parse(t[k].type));
            assert_string_equal(opc__field_type_parse(t[k].type), t[k].type);
            notes = notes || strcmp(t[k].id, "notesPlain") == 0;
            for (size_t j = 0; j < k; j++) {
                assert_string_not_equal(t[j].id, t[k].id);
            }
        }
        assert_true(notes);
        assert_int_equal(opc__category_creatable((opc__category)i), i != OPC_CAT_DOCUMENT);
    }
    assert_null(opc__category_name((opc__category)0));
    assert_null(opc__category_name((opc__category)99));
    assert_false(opc__category_creatable((opc__category)99));
    assert_int_equal(opc__category_parse(NULL, &c, NULL), OPC_ERR_INVALID_ARG);
}

static void test_item_prepare_login_gets_builtin_fields(void **state)
{
    (void)state;
    cJSON *it = prepare("{\"category\":\"LOGIN\",\"title\":\"Example\"}");
    assert_json(it, "{\"title\":\"Example\",\"category\":\"LOGIN\",\"favorite\":false,\"fields\":["
                    "{\"id\":\"username\",\"type\":\"STRING\",\"purpose\":\"USERNAME\","
                    "\"label\":\"username\"},"
                    "{\"id\":\"password\",\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\","
                    "\"label\":\"password\"},"
                    "{\"id\":\"notesPlain\",\"type\":\"STRING\",\"purpose\":\"NOTES\","
                    "\"label\":\"notesPlain\"}]}");
    opc__json_delete_secret(it);
}

static void test_item_prepare_categories_get_builtin_fields(void **state)
{
    (void)state;
    static const struct {
        const char *cat;
        const char *ids;
    } v[] = {
        {"PASSWORD", "password,notesPlain"},
        {"API_CREDENTIAL",
         "username,credential,type,filename,validFrom,expires,hostname,notesPlain"},
        {"SERVER", "url,username,password,notesPlain"},
        {"DATABASE", "type,hostname,port,database,username,password,sid,alias,options,notesPlain"},
        {"SECURE_NOTE", "notesPlain"},
        {"CREDIT_CARD", "cardholder,type,ccnum,cvv,expiry,validFrom,notesPlain"},
        {"SSH_KEY", "private_key,notesPlain"},
        {"identity", "firstname,lastname,birthdate,email,phone,company,notesPlain"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(v); i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"category\":\"%s\"}", v[i].cat);
        cJSON *it = prepare(json);
        assert_field_ids(it, v[i].ids);
        assert_string_equal(str(it, "title"), ""); /* titles may be empty */
        opc__json_delete_secret(it);
    }
    /* Types and purposes of a few built-ins. */
    cJSON *it = prepare("{\"category\":\"API_CREDENTIAL\"}");
    assert_string_equal(str(field_by_id(it, "credential"), "type"), "CONCEALED");
    assert_null(str(field_by_id(it, "credential"), "purpose"));
    assert_string_equal(str(field_by_id(it, "validFrom"), "type"), "DATE");
    assert_string_equal(str(field_by_id(it, "validFrom"), "label"), "valid from");
    assert_null(str(field_by_id(it, "validFrom"), "value"));
    assert_null(str(field_by_id(it, "username"), "purpose"));
    assert_string_equal(str(field_by_id(it, "notesPlain"), "purpose"), "NOTES");
    opc__json_delete_secret(it);
    it = prepare("{\"category\":\"PASSWORD\"}");
    assert_string_equal(str(field_by_id(it, "password"), "purpose"), "PASSWORD");
    assert_string_equal(str(field_by_id(it, "password"), "type"), "CONCEALED");
    opc__json_delete_secret(it);
    it = prepare("{\"category\":\"DATABASE\"}");
    assert_string_equal(str(field_by_id(it, "hostname"), "label"), "server");
    assert_string_equal(str(field_by_id(it, "password"), "type"), "CONCEALED");
    opc__json_delete_secret(it);
    /* Every creatable category works. */
    for (int c = OPC_CAT_LOGIN; c < OPC_CAT_CUSTOM; c++) {
        if (c == OPC_CAT_DOCUMENT) {
            continue;
        }
        char json[128];
        snprintf(json, sizeof json, "{\"category\":\"%s\"}", opc__category_name((opc__category)c));
        it = prepare(json);
        size_t n;
        (void)opc__category_template((opc__category)c, &n);
        assert_int_equal(cJSON_GetArraySize(fields_of(it)), (int)n);
        opc__json_delete_secret(it);
    }
}

static void test_item_prepare_refuses_bad_categories(void **state)
{
    (void)state;
    refuse("{\"category\":\"CUSTOM\"}", OPC_ERR_PARSE, "Invalid item category");
    refuse("{\"category\":\"CUSTOM\"}", OPC_ERR_PARSE, "CUSTOM items cannot be created");
    refuse("{\"category\":\"DOCUMENT\"}", OPC_ERR_PARSE, "DOCUMENT items cannot be created");
    refuse("{\"category\":\"BLOG_POST\"}", OPC_ERR_PARSE, "Invalid item category");
    refuse("{\"category\":\"\"}", OPC_ERR_PARSE, "Invalid item category");
    refuse("{\"category\":5}", OPC_ERR_PARSE, "Invalid item category");
    refuse("{\"title\":\"x\"}", OPC_ERR_PARSE, "Invalid item category");
    /* lower case is fine, and is stored upper-case */
    cJSON *it = prepare("{\"category\":\"secure_note\"}");
    assert_string_equal(str(it, "category"), "SECURE_NOTE");
    opc__json_delete_secret(it);
    /* The internal document path. */
    it = prepare_op("{\"category\":\"DOCUMENT\",\"title\":\"scan.pdf\"}", OPC_ITEM_CREATE_DOCUMENT,
                    NULL);
    assert_string_equal(str(it, "category"), "DOCUMENT");
    assert_field_ids(it, "notesPlain");
    opc__json_delete_secret(it);
    refuse_op("{\"category\":\"LOGIN\"}", OPC_ITEM_CREATE_DOCUMENT, NULL, OPC_ERR_PARSE,
              "Invalid item category");
}

/* ---- members the client may not set ---- */

static void test_item_prepare_ignores_read_only_members(void **state)
{
    (void)state;
    cJSON *it = prepare(
        "{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaa\",\"vault\":{\"id\":\"bbbbbbbbbbbbbbbbbbbbbbbbbb\"},"
        "\"version\":7,\"createdAt\":\"2020-01-01T00:00:00Z\",\"updatedAt\":\"0001-01-01T00:00:"
        "00Z\","
        "\"lastEditedBy\":\"X\",\"state\":\"ARCHIVED\",\"trashed\":true,\"category\":\"PASSWORD\","
        "\"files\":[{\"id\":\"f\",\"name\":\"n\",\"size\":1,\"content_path\":\"/x\"}],"
        "\"fields\":[{\"id\":\"password\",\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\","
        "\"value\":\"hunter2\",\"entropy\":99.5,\"totp\":\"123456\",\"generate\":false,"
        "\"passwordDetails\":{\"strength\":\"WEAK\"}}]}");
    static const char *const gone[] = {"id",           "vault", "version", "createdAt", "updatedAt",
                                       "lastEditedBy", "state", "trashed", "files"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(gone); i++) {
        if (cJSON_GetObjectItemCaseSensitive(it, gone[i]) != NULL) {
            fail_msg("\"%s\" was kept", gone[i]);
        }
    }
    assert_json(field_by_id(it, "password"), "{\"id\":\"password\",\"type\":\"CONCEALED\","
                                             "\"purpose\":\"PASSWORD\",\"label\":\"password\","
                                             "\"value\":\"hunter2\"}");
    opc__json_delete_secret(it);
}

/* ---- field types and values ---- */

static void test_item_prepare_field_types(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", "STRING"},
        {"string", "STRING"},
        {"Concealed", "CONCEALED"},
        {"email", "EMAIL"},
        {"url", "URL"},
        {"menu", "MENU"},
        {"phone", "PHONE"},
        {"address", "ADDRESS"},
        {"ssh_key", "SSHKEY"},
        {"SSHKEY", "SSHKEY"},
        {"reference", "REFERENCE"},
        {"unknown", "UNKNOWN"},
        {"credit_card_number", "CREDIT_CARD_NUMBER"},
        {"gender", "GENDER"},
        {"FILE", "FILE"},
        {"credit_card_type", "CREDIT_CARD_TYPE"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(v); i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"f\",\"type\":\"%s\","
                 "\"value\":\"v\"}]}",
                 v[i].in);
        cJSON *it = prepare(json);
        assert_string_equal(str(field_by_id(it, "f"), "type"), v[i].out);
        opc__json_delete_secret(it);
    }
    /* A missing type is STRING too. */
    cJSON *it = prepare("{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"f\"}]}");
    assert_string_equal(str(field_by_id(it, "f"), "type"), "STRING");
    opc__json_delete_secret(it);
    /* OTP and its aliases; the URI is kept verbatim. */
    static const char *const otp[] = {"OTP", "otp", "TOTP", "totp", "Totp"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(otp); i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"one\",\"type\":\"%s\","
                 "\"value\":\"" OTP_URI "\"}]}",
                 otp[i]);
        it = prepare(json);
        assert_string_equal(str(field_by_id(it, "one"), "type"), "OTP");
        assert_string_equal(str(field_by_id(it, "one"), "value"), OTP_URI);
        assert_null(str(field_by_id(it, "one"), "totp")); /* only present() adds it */
        opc__json_delete_secret(it);
    }
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"type\":\"BOGUS\"}]}", OPC_ERR_PARSE,
           "fields[0]: invalid field type \"BOGUS\"");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"type\":\"HOTP\"}]}", OPC_ERR_PARSE,
           "invalid field type");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{},{\"type\":7}]}", OPC_ERR_PARSE,
           "fields[1]: \"type\" must be a string");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"type\":\"OTP\",\"value\":\"hotp!\"}]}",
           OPC_ERR_PARSE, "an OTP value must be an otpauth://totp URI");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"type\":\"OTP\",\"value\":"
           "\"otpauth://hotp/x?secret=GEZDGNBV\"}]}",
           OPC_ERR_PARSE, "fields[0]: an OTP value must be an otpauth://totp URI");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"purpose\":\"EMAIL\"}]}", OPC_ERR_PARSE,
           "invalid purpose \"EMAIL\"");
    /* An empty OTP value is "not set". */
    it = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"o\",\"type\":\"OTP\","
                 "\"value\":\"\"}]}");
    assert_null(str(field_by_id(it, "o"), "value"));
    opc__json_delete_secret(it);
}

static void test_item_prepare_date_and_month_year(void **state)
{
    (void)state;
    static const char *const good_dates[] = {"2024-02-29", "2000-02-29", "0001-01-01",
                                             "9999-12-31", "2023-04-30", "1970-01-01"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(good_dates); i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"d\",\"type\":\"date\","
                 "\"value\":\"%s\"}]}",
                 good_dates[i]);
        cJSON *it = prepare(json);
        assert_string_equal(str(field_by_id(it, "d"), "value"), good_dates[i]);
        assert_string_equal(str(field_by_id(it, "d"), "type"), "DATE");
        opc__json_delete_secret(it);
    }
    static const char *const bad_dates[] = {
        "2023-02-29",           "1900-02-29", "2024-13-01", "2024-00-10", "2024-04-31",
        "2024-01-00",           "24-01-01",   "2024/01/01", "2024-1-01",  "0000-01-01",
        "2024-01-01T00:00:00Z", "abcd-ef-gh", "2024-01-1x", " 2024-01-01"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad_dates); i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"category\":\"SECURE_NOTE\",\"fields\":[{\"type\":\"DATE\",\"value\":\"%s\"}]}",
                 bad_dates[i]);
        cJSON *out = NULL;
        opc__ebuf eb;
        assert_int_equal(
            opc__item_prepare_json(json, strlen(json), OPC_ITEM_CREATE, NULL, &out, &eb),
            OPC_ERR_PARSE);
        assert_non_null(strstr(eb.msg, "fields[0]: a DATE value must be a valid date"));
        assert_null(strstr(eb.msg, bad_dates[i])); /* values never appear in messages */
    }
    static const struct {
        const char *in, *out;
    } good_my[] = {{"202401", "202401"}, {"2024/12", "202412"}, {"0001/01", "000101"}};
    for (size_t i = 0; i < OPC_ARRAY_LEN(good_my); i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"m\",\"type\":\"MONTH_YEAR\","
                 "\"value\":\"%s\"}]}",
                 good_my[i].in);
        cJSON *it = prepare(json);
        assert_string_equal(str(field_by_id(it, "m"), "value"), good_my[i].out);
        opc__json_delete_secret(it);
    }
    static const char *const bad_my[] = {"202413", "202400",   "2024-01", "2024/1",
                                         "20241",  "2024/013", "0000/01", "2024/ab",
                                         "1/2024", "2024012",  "01/2024"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad_my); i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"category\":\"SECURE_NOTE\",\"fields\":[{\"type\":\"month_year\","
                 "\"value\":\"%s\"}]}",
                 bad_my[i]);
        refuse(json, OPC_ERR_PARSE, "a MONTH_YEAR value must be YYYYMM or YYYY/MM");
    }
    /* Built-in DATE fields start empty, and a client may leave them so. */
    cJSON *it = prepare("{\"category\":\"API_CREDENTIAL\",\"fields\":[{\"id\":\"expires\","
                        "\"value\":\"\"}]}");
    assert_null(str(field_by_id(it, "expires"), "value"));
    assert_string_equal(str(field_by_id(it, "expires"), "type"), "DATE");
    opc__json_delete_secret(it);
    /* A built-in's type applies to a field that names it without a type. */
    refuse("{\"category\":\"API_CREDENTIAL\",\"fields\":[{\"id\":\"expires\",\"value\":\"soon\"}]}",
           OPC_ERR_PARSE, "a DATE value");
}

static void test_item_prepare_one_password_field(void **state)
{
    (void)state;
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"purpose\":\"PASSWORD\",\"value\":\"a\"},"
           "{\"purpose\":\"password\",\"value\":\"b\"}]}",
           OPC_ERR_PARSE, "You can only use one \"password\" field.");
    /* One is fine, and it takes the built-in's place (no second one added). */
    cJSON *it = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"label\":\"pin\",\"value\":\"1\"},"
                        "{\"purpose\":\"PASSWORD\",\"value\":\"b\"}]}");
    int n = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fields_of(it))
    {
        const char *p = str(f, "purpose");
        n += p != NULL && strcmp(p, "PASSWORD") == 0;
    }
    assert_int_equal(n, 1);
    assert_int_equal(cJSON_GetArraySize(fields_of(it)), 4);
    assert_string_equal(str(field(it, 1), "id"), "password");
    assert_string_equal(str(field(it, 1), "value"), "b");
    assert_string_equal(str(field(it, 1), "label"), "password");
    assert_string_equal(str(field(it, 1), "type"), "CONCEALED");
    assert_string_equal(str(field(it, 3), "label"), "pin");
    assert_true(opc__id_valid_str(str(field(it, 3), "id")));
    opc__json_delete_secret(it);
}

static void test_item_prepare_builtin_matching(void **state)
{
    (void)state;
    /* SDK style: fields without ids, found by purpose or by label. */
    cJSON *it = prepare("{\"category\":\"LOGIN\",\"fields\":["
                        "{\"id\":\"\",\"type\":\"\",\"label\":\"extra\",\"value\":\"x\"},"
                        "{\"id\":\"\",\"type\":\"\",\"label\":\"Username\",\"value\":\"bob\"},"
                        "{\"purpose\":\"NOTES\",\"value\":\"hi\"}]}");
    assert_int_equal(cJSON_GetArraySize(fields_of(it)), 4);
    const char *extra_id = str(field(it, 3), "id");
    char want[128];
    snprintf(want, sizeof want, "username,password,notesPlain,%s", extra_id);
    assert_field_ids(it, want);
    assert_true(opc__id_valid_str(extra_id));
    assert_json(field(it, 0), "{\"id\":\"username\",\"type\":\"STRING\",\"purpose\":\"USERNAME\","
                              "\"label\":\"Username\",\"value\":\"bob\"}");
    assert_json(field(it, 2), "{\"id\":\"notesPlain\",\"type\":\"STRING\",\"purpose\":\"NOTES\","
                              "\"label\":\"notesPlain\",\"value\":\"hi\"}");
    assert_string_equal(str(field(it, 3), "type"), "STRING");
    opc__json_delete_secret(it);
    /* A field with the built-in id keeps its own type and label. */
    it = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\",\"type\":\"STRING\","
                 "\"label\":\"pw\",\"value\":\"v\"}]}");
    assert_json(field(it, 1), "{\"id\":\"password\",\"type\":\"STRING\",\"purpose\":\"PASSWORD\","
                              "\"label\":\"pw\",\"value\":\"v\"}");
    opc__json_delete_secret(it);
    /* Labels of USERNAME/PASSWORD fields are filled in. */
    it = prepare("{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"u\",\"purpose\":"
                 "\"username\"},{\"id\":\"p\",\"purpose\":\"PASSWORD\",\"label\":\"\"}]}");
    assert_string_equal(str(field_by_id(it, "u"), "label"), "username");
    assert_string_equal(str(field_by_id(it, "u"), "purpose"), "USERNAME");
    assert_string_equal(str(field_by_id(it, "p"), "label"), "password");
    opc__json_delete_secret(it);
    /* A labelled field inside a section is not taken for a built-in. */
    it = prepare("{\"category\":\"LOGIN\",\"sections\":[{\"id\":\"s\",\"label\":\"S\"}],"
                 "\"fields\":[{\"label\":\"username\",\"section\":{\"id\":\"s\"}}]}");
    assert_int_equal(cJSON_GetArraySize(fields_of(it)), 4);
    assert_json(cJSON_GetObjectItemCaseSensitive(field(it, 3), "section"), "{\"id\":\"s\"}");
    opc__json_delete_secret(it);
}

/* ---- sections and ids ---- */

static void test_item_prepare_sections_and_ids(void **state)
{
    (void)state;
    cJSON *it = prepare(
        "{\"category\":\"SECURE_NOTE\",\"sections\":[{\"id\":\"linked items\",\"label\":"
        "\"Related Items\"},{\"label\":\"gen\"},{\"id\":\"\",\"label\":\"empty\"},{\"id\":"
        "\"Section_abc\"}],\"fields\":[{\"id\":\"keep\",\"section\":{\"id\":\"Section_abc\","
        "\"label\":\"ignored\"}},{\"label\":\"noid\"},{\"id\":\"\",\"section\":{\"id\":\"\"}}]}");
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(it, "sections");
    assert_int_equal(cJSON_GetArraySize(secs), 4);
    assert_json(cJSON_GetArrayItem(secs, 0),
                "{\"id\":\"linked items\",\"label\":\"Related Items\"}");
    assert_true(opc__id_valid_str(str(cJSON_GetArrayItem(secs, 1), "id")));
    assert_string_equal(str(cJSON_GetArrayItem(secs, 1), "label"), "gen");
    assert_true(opc__id_valid_str(str(cJSON_GetArrayItem(secs, 2), "id")));
    assert_string_not_equal(str(cJSON_GetArrayItem(secs, 1), "id"),
                            str(cJSON_GetArrayItem(secs, 2), "id"));
    assert_json(cJSON_GetArrayItem(secs, 3), "{\"id\":\"Section_abc\",\"label\":\"\"}");
    assert_json(field_by_id(it, "keep"), "{\"id\":\"keep\",\"section\":{\"id\":\"Section_abc\"},"
                                         "\"type\":\"STRING\",\"label\":\"\"}");
    /* notesPlain first (built-in), then the client's order */
    assert_string_equal(str(field(it, 0), "id"), "notesPlain");
    assert_string_equal(str(field(it, 1), "id"), "keep");
    assert_true(opc__id_valid_str(str(field(it, 2), "id")));
    assert_true(opc__id_valid_str(str(field(it, 3), "id")));
    assert_null(cJSON_GetObjectItemCaseSensitive(field(it, 3), "section"));
    opc__json_delete_secret(it);

    refuse("{\"category\":\"LOGIN\",\"sections\":[{\"id\":\"a\"}],\"fields\":[{\"section\":"
           "{\"id\":\"b\"}}]}",
           OPC_ERR_PARSE, "fields[0]: the item has no section \"b\"");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"section\":{\"id\":\"nowhere\"}}]}",
           OPC_ERR_PARSE, "no section \"nowhere\"");
    refuse("{\"category\":\"LOGIN\",\"sections\":[{\"id\":\"a\"},{\"id\":\"a\"}]}", OPC_ERR_PARSE,
           "duplicate section id \"a\"");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"x\"},{\"id\":\"x\"}]}", OPC_ERR_PARSE,
           "duplicate field id \"x\"");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"username\"},{\"id\":\"username\"}]}",
           OPC_ERR_PARSE, "duplicate field id \"username\"");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"section\":\"a\"}]}", OPC_ERR_PARSE,
           "\"section\" must be an object");
    refuse("{\"category\":\"LOGIN\",\"sections\":[\"a\"]}", OPC_ERR_PARSE,
           "sections[0] must be an object");
    refuse("{\"category\":\"LOGIN\",\"sections\":[{\"id\":1}]}", OPC_ERR_PARSE,
           "sections[0]: \"id\" must be a string");
}

/* ---- generated values ---- */

static void test_item_prepare_generate(void **state)
{
    (void)state;
    /* No recipe: 32 characters of all sets. */
    cJSON *it = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"purpose\":\"PASSWORD\","
                        "\"generate\":true}]}");
    const cJSON *pw = field_by_id(it, "password");
    assert_non_null(pw);
    assert_int_equal(strlen(str(pw, "value")), 32);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(pw, "entropy");
    assert_true(cJSON_IsNumber(e));
    assert_true(fabs(e->valuedouble - 209.7068) < 1e-3);
    assert_null(cJSON_GetObjectItemCaseSensitive(pw, "generate"));
    assert_null(cJSON_GetObjectItemCaseSensitive(pw, "recipe"));
    opc__json_delete_secret(it);
    /* A recipe: length and sets. */
    it = prepare("{\"category\":\"PASSWORD\",\"fields\":[{\"id\":\"password\",\"generate\":true,"
                 "\"value\":\"\",\"recipe\":{\"length\":12,\"characterSets\":[\"DIGITS\"]}}]}");
    pw = field_by_id(it, "password");
    const char *v = str(pw, "value");
    assert_int_equal(strlen(v), 12);
    assert_int_equal(strspn(v, "0123456789"), 12);
    e = cJSON_GetObjectItemCaseSensitive(pw, "entropy");
    assert_true(fabs(e->valuedouble - 39.863137) < 1e-5); /* 12 log2 10 */
    opc__json_delete_secret(it);
    /* Letters only, excluding most: every character from what is left. */
    it = prepare("{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"g\",\"type\":\"CONCEALED\","
                 "\"generate\":true,\"recipe\":{\"length\":40,\"characterSets\":[\"LETTERS\"],"
                 "\"excludeCharacters\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw\"}}]}");
    v = str(field_by_id(it, "g"), "value");
    assert_int_equal(strlen(v), 40);
    assert_int_equal(strspn(v, "xyz"), 40);
    opc__json_delete_secret(it);
    /* A given value wins over generate: kept, no entropy. */
    it = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\",\"generate\":true,"
                 "\"value\":\"mine\"}]}");
    pw = field_by_id(it, "password");
    assert_string_equal(str(pw, "value"), "mine");
    assert_null(cJSON_GetObjectItemCaseSensitive(pw, "entropy"));
    opc__json_delete_secret(it);
    /* generate:false does not generate. */
    it = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\",\"generate\":false,"
                 "\"recipe\":{\"length\":10}}]}");
    assert_null(str(field_by_id(it, "password"), "value"));
    opc__json_delete_secret(it);
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"generate\":true,\"recipe\":{\"length\":0}}]}",
           OPC_ERR_RANGE, "fields[0]: recipe: \"length\" must be between 1 and 64");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"generate\":true,\"recipe\":{\"characterSets\":"
           "[\"KANJI\"]}}]}",
           OPC_ERR_PARSE, "unknown character set");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"generate\":true,\"recipe\":{\"length\":2}}]}",
           OPC_ERR_RANGE, "too short for 3 character sets");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"generate\":\"yes\"}]}", OPC_ERR_PARSE,
           "\"generate\" must be true or false");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"recipe\":7}]}", OPC_ERR_PARSE,
           "\"recipe\" must be an object");
    /* A generated value must still fit its type. */
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"type\":\"DATE\",\"generate\":true}]}",
           OPC_ERR_PARSE, "a DATE value");
}

/* ---- top-level members ---- */

static void test_item_prepare_urls_tags_favorite(void **state)
{
    (void)state;
    cJSON *it = prepare("{\"category\":\"LOGIN\",\"title\":\"T\",\"favorite\":true,"
                        "\"tags\":[\"b\",\"a\",\"b\",\"\",\"a\"],\"urls\":[{\"href\":"
                        "\"https://a.example\",\"primary\":true,\"label\":\"\"},{\"label\":"
                        "\"web\",\"href\":\"https://b.example\",\"primary\":false,\"x\":1}]}");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "favorite")));
    assert_json(cJSON_GetObjectItemCaseSensitive(it, "tags"), "[\"b\",\"a\"]");
    assert_json(cJSON_GetObjectItemCaseSensitive(it, "urls"),
                "[{\"primary\":true,\"href\":\"https://a.example\"},{\"label\":\"web\","
                "\"href\":\"https://b.example\"}]");
    opc__json_delete_secret(it);
    /* Empty tag lists, null members. */
    it = prepare("{\"category\":\"LOGIN\",\"title\":null,\"tags\":[\"\"],\"urls\":[],"
                 "\"sections\":null,\"fields\":null,\"favorite\":null}");
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "tags"));
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "urls"));
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "sections"));
    assert_string_equal(str(it, "title"), "");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(it, "favorite")));
    opc__json_delete_secret(it);
    refuse("{\"category\":\"LOGIN\",\"urls\":[{\"label\":\"x\"}]}", OPC_ERR_PARSE,
           "urls[0]: \"href\" is required");
    refuse("{\"category\":\"LOGIN\",\"urls\":[{\"href\":\"\"}]}", OPC_ERR_PARSE,
           "\"href\" is required");
    refuse("{\"category\":\"LOGIN\",\"urls\":[\"https://x\"]}", OPC_ERR_PARSE,
           "urls[0] must be an object");
    refuse("{\"category\":\"LOGIN\",\"urls\":{}}", OPC_ERR_PARSE, "\"urls\" must be an array");
    refuse("{\"category\":\"LOGIN\",\"tags\":[\"a\",3]}", OPC_ERR_PARSE,
           "tags[1] must be a string");
    refuse("{\"category\":\"LOGIN\",\"title\":5}", OPC_ERR_PARSE, "\"title\" must be a string");
    refuse("{\"category\":\"LOGIN\",\"favorite\":\"yes\"}", OPC_ERR_PARSE,
           "\"favorite\" must be true or false");
    refuse("{\"category\":\"LOGIN\",\"fields\":{}}", OPC_ERR_PARSE, "\"fields\" must be an array");
    refuse("{\"category\":\"LOGIN\",\"fields\":[3]}", OPC_ERR_PARSE, "fields[0] must be an object");
    refuse("{\"category\":\"LOGIN\",\"fields\":[{\"value\":3}]}", OPC_ERR_PARSE,
           "fields[0]: \"value\" must be a string");
}

static void test_item_prepare_malformed_json(void **state)
{
    (void)state;
    refuse("{", OPC_ERR_PARSE, "invalid JSON");
    refuse("", OPC_ERR_PARSE, "invalid JSON");
    refuse("{\"category\":\"LOGIN\"} x", OPC_ERR_PARSE, "invalid JSON");
    refuse("{\"category\":\"LOGIN\",\"category\":\"PASSWORD\"}", OPC_ERR_PARSE, "duplicate key");
    refuse("{\"category\":\"LOGIN\",\"Category\":\"PASSWORD\"}", OPC_ERR_PARSE, "duplicate key");
    refuse("[]", OPC_ERR_PARSE, "item: must be a JSON object");
    refuse("\"LOGIN\"", OPC_ERR_PARSE, "item: must be a JSON object");
    refuse("{\"category\":\"LOGIN\",\"title\":\"\xff\"}", OPC_ERR_PARSE, "UTF-8");
    /* Arguments. */
    cJSON *out = (cJSON *)1;
    assert_int_equal(opc__item_prepare_json(NULL, 0, OPC_ITEM_CREATE, NULL, &out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_null(out);
    assert_int_equal(opc__item_prepare_json("{}", 2, OPC_ITEM_CREATE, NULL, NULL, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__item_prepare_json("{}", 2, (opc__item_op)0, NULL, &out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__item_prepare_json("{}", 2, OPC_ITEM_REPLACE, NULL, &out, NULL),
                     OPC_ERR_INVALID_ARG);
    /* Only len bytes are read. */
    const char text[] = "{\"category\":\"LOGIN\"}garbage";
    assert_int_equal(opc__item_prepare_json(text, 20, OPC_ITEM_CREATE, NULL, &out, NULL), OPC_OK);
    opc__json_delete_secret(out);
}

static void test_item_prepare_limits(void **state)
{
    (void)state;
    sbuf b = {0};
    /* 1000 fields pass, 1001 do not. */
    for (int n = 1000; n <= 1001; n++) {
        b.n = 0;
        sb_add(&b, "{\"category\":\"SECURE_NOTE\",\"fields\":[");
        for (int i = 0; i < n; i++) {
            sb_add(&b, i == 0 ? "{}" : ",{}");
        }
        sb_add(&b, "]}");
        if (n == 1000) {
            cJSON *it = prepare(b.s);
            /* the client's 1000 and the built-in notesPlain */
            assert_int_equal(cJSON_GetArraySize(fields_of(it)), 1001);
            opc__json_delete_secret(it);
        } else {
            refuse(b.s, OPC_ERR_TOO_LARGE, "too many fields (1001; the limit is 1000)");
        }
    }
    static const struct {
        const char *key, *elem;
        int limit;
    } arrays[] = {
        {"sections", "{}", OPC_ITEM_MAX_SECTIONS},
        {"urls", "{\"href\":\"h\"}", OPC_ITEM_MAX_URLS},
        {"tags", "\"t\"", OPC_ITEM_MAX_TAGS},
    };
    for (size_t k = 0; k < OPC_ARRAY_LEN(arrays); k++) {
        for (int n = arrays[k].limit; n <= arrays[k].limit + 1; n++) {
            b.n = 0;
            sb_add(&b, "{\"category\":\"SECURE_NOTE\",\"");
            sb_add(&b, arrays[k].key);
            sb_add(&b, "\":[");
            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    sb_add(&b, ",");
                }
                sb_add(&b, arrays[k].elem);
            }
            sb_add(&b, "]}");
            if (n == arrays[k].limit) {
                opc__json_delete_secret(prepare(b.s));
            } else {
                refuse(b.s, OPC_ERR_TOO_LARGE, "too many");
            }
        }
    }
    /* Size: just over 1 MiB is refused before parsing. */
    b.n = 0;
    sb_add(&b, "{\"category\":\"SECURE_NOTE\",\"title\":\"");
    while (b.n < OPC_ITEM_MAX_JSON) {
        sb_add(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }
    sb_add(&b, "\"}");
    refuse(b.s, OPC_ERR_TOO_LARGE, "exceeds the limit of 1048576");
    /* Nesting: 16 levels pass the parser, 17 do not. */
    b.n = 0;
    sb_add(&b, "{\"category\":\"SECURE_NOTE\",\"x\":");
    for (int i = 0; i < 15; i++) {
        sb_add(&b, "[");
    }
    for (int i = 0; i < 15; i++) {
        sb_add(&b, "]");
    }
    sb_add(&b, "}");
    opc__json_delete_secret(prepare(b.s));
    b.n = 0;
    sb_add(&b, "{\"category\":\"SECURE_NOTE\",\"x\":");
    for (int i = 0; i < 16; i++) {
        sb_add(&b, "[");
    }
    for (int i = 0; i < 16; i++) {
        sb_add(&b, "]");
    }
    sb_add(&b, "}");
    refuse(b.s, OPC_ERR_PARSE, "nested deeper than 16 levels");
    free(b.s);
}

/* item_check's answer for a built tree: the code and the whole message. */
static void check_tree(const cJSON *tree, opc_err want, const char *msg)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__item_check(tree, &eb), want);
    assert_string_equal(eb.msg, msg);
}

static void test_item_check_holds_trees_to_the_text_limits(void **state)
{
    (void)state;
    cJSON *it = cJSON_CreateObject();
    assert_non_null(it);
    cJSON_AddStringToObject(it, "category", "SECURE_NOTE");
    char *title = malloc(OPC_ITEM_MAX_JSON);
    assert_non_null(title);
    /* {"category":"SECURE_NOTE","title":"..."}: 37 bytes around the title. */
    size_t n = OPC_ITEM_MAX_JSON - 37;
    memset(title, 'x', n);
    title[n] = '\0';
    cJSON *t = cJSON_AddStringToObject(it, "title", title);
    check_tree(it, OPC_OK, "");
    /* One byte more, written as two ("\n"): over by one. */
    title[n - 1] = '\n';
    cJSON_SetValuestring(t, title);
    check_tree(it, OPC_ERR_TOO_LARGE, "JSON of 1048577 bytes exceeds the limit of 1048576");
    free(title);
    cJSON_DeleteItemFromObject(it, "title");
    /* The same limits as the text's: 16 levels of nesting pass, 17 do not
     * (the item object is the first). */
    cJSON *x = cJSON_AddArrayToObject(it, "x");
    for (int i = 0; i < 14; i++) {
        assert_true(cJSON_AddItemToArray(x, cJSON_CreateArray()));
        x = x->child;
    }
    check_tree(it, OPC_OK, "");
    /* {"category":"SECURE_NOTE","x": is 30 bytes, then 15 brackets. */
    assert_true(cJSON_AddItemToArray(x, cJSON_CreateArray()));
    check_tree(it, OPC_ERR_PARSE, "invalid JSON: nested deeper than 16 levels at offset 45");
    cJSON_Delete(it);
}

static void test_item_prepare_takes_the_callers_tree(void **state)
{
    (void)state;
    static const char json[] = "{\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"exp\","
                               "\"type\":\"MONTH_YEAR\",\"value\":\"2031/07\"}]}";
    cJSON *in = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__item_parse(json, strlen(json), &in, &eb), OPC_OK);
    cJSON *out = NULL;
    assert_int_equal(opc__item_prepare(in, OPC_ITEM_CREATE, NULL, &out, &eb), OPC_OK);
    assert_string_equal(str(field_by_id(out, "exp"), "value"), "203107");
    /* The input is still the caller's, its MONTH_YEAR value rewritten. */
    assert_string_equal(str(field(in, 0), "value"), "203107");
    /* Text and tree give the same item. */
    cJSON *from_text = prepare(json);
    assert_true(cJSON_Compare(out, from_text, true));
    opc__json_delete_secret(from_text);
    opc__json_delete_secret(out);
    opc__json_delete_secret(in);
    /* A tree that is not an object, and the arguments. */
    in = cJSON_CreateArray();
    out = (cJSON *)1;
    assert_int_equal(opc__item_prepare(in, OPC_ITEM_CREATE, NULL, &out, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "item: must be a JSON object");
    assert_null(out);
    out = (cJSON *)1;
    assert_int_equal(opc__item_prepare(NULL, OPC_ITEM_CREATE, NULL, &out, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_null(out);
    assert_int_equal(opc__item_prepare(in, OPC_ITEM_REPLACE, NULL, &out, &eb), OPC_ERR_INVALID_ARG);
    cJSON_Delete(in);
}

/* ---- replace ---- */

static cJSON *existing_login(const char *password, int history)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"category\":\"LOGIN\",\"fields\":[{\"purpose\":\"PASSWORD\",\"value\":\"%s\"}]}",
             password);
    cJSON *it = prepare(json);
    cJSON *files = cJSON_AddArrayToObject(it, "files");
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "id", "ffffffffffffffffffffffffff");
    cJSON_AddStringToObject(f, "name", "a.txt");
    cJSON_AddNumberToObject(f, "size", 5);
    cJSON_AddStringToObject(f, "key", "c2VjcmV0IGZpbGUga2V5");
    cJSON_AddNumberToObject(f, "chunks", 1);
    cJSON_AddItemToArray(files, f);
    if (history > 0) {
        cJSON *h = cJSON_AddArrayToObject(it, "passwordHistory");
        for (int i = 0; i < history; i++) {
            cJSON *e = cJSON_CreateObject();
            char v[32];
            snprintf(v, sizeof v, "old%d", i);
            cJSON_AddStringToObject(e, "value", v);
            cJSON_AddNumberToObject(e, "time", 1000 + i);
            cJSON_AddItemToArray(h, e);
        }
    }
    return it;
}

static void test_item_prepare_replace_keeps_files_and_history(void **state)
{
    (void)state;
    cJSON *old = existing_login("first", 0);
    /* The code's own clock: time() reads a coarse clock that may still be
     * on the previous second when opc__now_s() is on the next. */
    int64_t t0 = opc__now_s();
    cJSON *it = prepare_op("{\"category\":\"LOGIN\",\"title\":\"x\",\"files\":[],"
                           "\"fields\":[{\"id\":\"password\",\"purpose\":\"PASSWORD\","
                           "\"value\":\"second\"}]}",
                           OPC_ITEM_REPLACE, old);
    int64_t t1 = opc__now_s();
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(it, "files"),
                              cJSON_GetObjectItemCaseSensitive(old, "files"), true));
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(it, "passwordHistory");
    assert_int_equal(cJSON_GetArraySize(h), 1);
    assert_string_equal(str(cJSON_GetArrayItem(h, 0), "value"), "first");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(h, 0), "time");
    assert_true(cJSON_IsNumber(tm));
    assert_true(tm->valuedouble >= (double)t0 && tm->valuedouble <= (double)t1);
    assert_string_equal(str(field_by_id(it, "password"), "value"), "second");

    /* The same password again: no new entry, the history is kept. */
    cJSON *again = prepare_op("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\","
                              "\"purpose\":\"PASSWORD\",\"value\":\"second\"}]}",
                              OPC_ITEM_REPLACE, it);
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(again, "passwordHistory"), h, true));
    opc__json_delete_secret(again);
    /* The client's own passwordHistory is ignored. */
    again = prepare_op("{\"category\":\"LOGIN\",\"passwordHistory\":[{\"value\":\"evil\"}],"
                       "\"fields\":[{\"id\":\"password\",\"value\":\"second\"}]}",
                       OPC_ITEM_REPLACE, it);
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(again, "passwordHistory"), h, true));
    opc__json_delete_secret(again);
    /* Removing the password records the old one too. */
    again = prepare_op("{\"category\":\"LOGIN\"}", OPC_ITEM_REPLACE, it);
    const cJSON *h2 = cJSON_GetObjectItemCaseSensitive(again, "passwordHistory");
    assert_int_equal(cJSON_GetArraySize(h2), 2);
    assert_string_equal(str(cJSON_GetArrayItem(h2, 1), "value"), "second");
    assert_null(str(field_by_id(again, "password"), "value"));
    opc__json_delete_secret(again);
    opc__json_delete_secret(it);
    opc__json_delete_secret(old);

    /* The category of an item cannot change. */
    old = existing_login("p", 0);
    refuse_op("{\"category\":\"PASSWORD\"}", OPC_ITEM_REPLACE, old, OPC_ERR_PARSE,
              "Invalid item category: an item's category cannot be changed");
    /* Create never takes files from the client (and none exist). */
    it = prepare("{\"category\":\"LOGIN\",\"files\":[{\"id\":\"x\",\"name\":\"n\"}]}");
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "files"));
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "passwordHistory"));
    opc__json_delete_secret(it);
    opc__json_delete_secret(old);
}

static void test_item_prepare_replace_caps_history(void **state)
{
    (void)state;
    cJSON *old = existing_login("current", OPC_ITEM_MAX_PASSWORD_HISTORY);
    cJSON *it = prepare_op("{\"category\":\"LOGIN\",\"fields\":[{\"purpose\":\"PASSWORD\","
                           "\"value\":\"next\"}]}",
                           OPC_ITEM_REPLACE, old);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(it, "passwordHistory");
    assert_int_equal(cJSON_GetArraySize(h), OPC_ITEM_MAX_PASSWORD_HISTORY);
    assert_string_equal(str(cJSON_GetArrayItem(h, 0), "value"), "old1"); /* old0 dropped */
    assert_string_equal(str(cJSON_GetArrayItem(h, OPC_ITEM_MAX_PASSWORD_HISTORY - 1), "value"),
                        "current");
    opc__json_delete_secret(it);
    opc__json_delete_secret(old);
}

static void test_item_prepare_replace_keeps_entropy_of_unchanged_values(void **state)
{
    (void)state;
    cJSON *old = prepare("{\"category\":\"LOGIN\",\"fields\":[{\"purpose\":\"PASSWORD\","
                         "\"generate\":true,\"recipe\":{\"length\":20}}]}");
    const char *pw = str(field_by_id(old, "password"), "value");
    double ent =
        cJSON_GetObjectItemCaseSensitive(field_by_id(old, "password"), "entropy")->valuedouble;
    /* The JS SDK PUTs the item back with read-only members. */
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "category", "LOGIN");
    cJSON_AddNumberToObject(req, "version", 1);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "id", "password");
    cJSON_AddStringToObject(f, "purpose", "PASSWORD");
    cJSON_AddStringToObject(f, "value", pw);
    cJSON_AddNumberToObject(f, "entropy", 1);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "fields"), f);
    char *json = cJSON_PrintUnformatted(req);
    cJSON *it = prepare_op(json, OPC_ITEM_REPLACE, old);
    cJSON_free(json);
    opc__json_delete_secret(req);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(field_by_id(it, "password"), "entropy");
    assert_non_null(e);
    assert_true(e->valuedouble == ent);
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "passwordHistory"));
    opc__json_delete_secret(it);
    /* A changed value loses it. */
    it = prepare_op("{\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\",\"value\":\"new\"}]}",
                    OPC_ITEM_REPLACE, old);
    assert_null(cJSON_GetObjectItemCaseSensitive(field_by_id(it, "password"), "entropy"));
    opc__json_delete_secret(it);
    opc__json_delete_secret(old);
}

/* ---- split, join, summary, present ---- */

static const char full_json[] =
    "{\"category\":\"LOGIN\",\"title\":\"Round\",\"favorite\":true,\"tags\":[\"t\"],"
    "\"urls\":[{\"href\":\"https://x.example\",\"primary\":true}],"
    "\"sections\":[{\"id\":\"s1\",\"label\":\"S\"}],"
    "\"fields\":[{\"id\":\"otp\",\"type\":\"OTP\",\"section\":{\"id\":\"s1\"},\"value\":\"" OTP_URI
    "\"},{\"id\":\"bad\",\"type\":\"STRING\",\"value\":\"x\"},"
    "{\"purpose\":\"PASSWORD\",\"value\":\"new\"}]}";

static cJSON *full_item(void)
{
    cJSON *old = existing_login("old", 2);
    cJSON *it = prepare_op(full_json, OPC_ITEM_REPLACE, old);
    opc__json_delete_secret(old);
    return it;
}

static void test_item_split_join_round_trip(void **state)
{
    (void)state;
    cJSON *full = full_item();
    /* Server-side members are in neither part. */
    cJSON *with_server = cJSON_Duplicate(full, true);
    cJSON_AddStringToObject(with_server, "id", "iiiiiiiiiiiiiiiiiiiiiiiiii");
    cJSON_AddNumberToObject(with_server, "version", 3);
    cJSON_AddStringToObject(with_server, "createdAt", "2024-01-01T00:00:00Z");
    cJSON *ov = NULL, *de = NULL;
    assert_int_equal(opc__item_split(with_server, &ov, &de), OPC_OK);
    assert_int_equal(count_members(ov), 5);
    static const char *const okeys[] = {"title", "category", "urls", "tags", "favorite"};
    for (size_t i = 0; i < 5; i++) {
        assert_non_null(cJSON_GetObjectItemCaseSensitive(ov, okeys[i]));
    }
    assert_int_equal(count_members(de), 4);
    static const char *const dkeys[] = {"sections", "fields", "files", "passwordHistory"};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(cJSON_GetObjectItemCaseSensitive(de, dkeys[i]));
    }
    assert_null(cJSON_GetObjectItemCaseSensitive(ov, "fields"));
    cJSON *joined = NULL;
    assert_int_equal(opc__item_join(ov, de, &joined), OPC_OK);
    assert_true(cJSON_Compare(joined, full, true));
    assert_int_equal(count_members(joined), count_members(full));
    /* join_take moves the same members into the overview, in the same order. */
    cJSON *ov2 = cJSON_Duplicate(ov, true);
    cJSON *de2 = cJSON_Duplicate(de, true);
    cJSON *taken = NULL;
    assert_int_equal(opc__item_join_take(ov2, de2, &taken), OPC_OK);
    assert_ptr_equal(taken, ov2);
    assert_null(de2->child);
    assert_true(cJSON_Compare(taken, full, true));
    char *a = cJSON_PrintUnformatted(taken);
    char *b = cJSON_PrintUnformatted(joined);
    assert_string_equal(a, b);
    cJSON_free(a);
    cJSON_free(b);
    opc__json_delete_secret(taken);
    opc__json_delete_secret(de2);
    /* A name in both parts is refused. */
    cJSON_AddStringToObject(de, "title", "dup");
    cJSON *bad = (cJSON *)1;
    ov2 = cJSON_Duplicate(ov, true);
    de2 = cJSON_Duplicate(de, true);
    assert_int_equal(opc__item_join_take(ov2, de2, &bad), OPC_ERR_PARSE);
    assert_null(bad);
    assert_true(cJSON_Compare(ov2, ov, true)); /* nothing moved */
    assert_true(cJSON_Compare(de2, de, true));
    opc__json_delete_secret(ov2);
    opc__json_delete_secret(de2);
    bad = (cJSON *)1;
    assert_int_equal(opc__item_join(ov, de, &bad), OPC_ERR_PARSE);
    assert_null(bad);
    assert_int_equal(opc__item_join(ov, NULL, &bad), OPC_ERR_INVALID_ARG);
    cJSON *arr = cJSON_CreateArray();
    assert_int_equal(opc__item_join(ov, arr, &bad), OPC_ERR_PARSE);
    assert_int_equal(opc__item_split(arr, &bad, &bad), OPC_ERR_PARSE);
    opc__json_delete_secret(ov);
    opc__json_delete_secret(de);
    assert_int_equal(opc__item_split(NULL, &ov, &de), OPC_ERR_INVALID_ARG);
    assert_null(ov);
    assert_null(de);
    cJSON_Delete(arr);
    opc__json_delete_secret(joined);
    opc__json_delete_secret(with_server);
    opc__json_delete_secret(full);
    /* A minimal item round-trips too. */
    full = prepare("{\"category\":\"SECURE_NOTE\"}");
    assert_int_equal(opc__item_split(full, &ov, &de), OPC_OK);
    assert_int_equal(opc__item_join(ov, de, &joined), OPC_OK);
    assert_true(cJSON_Compare(joined, full, true));
    opc__json_delete_secret(ov);
    opc__json_delete_secret(de);
    opc__json_delete_secret(joined);
    opc__json_delete_secret(full);
}

static void test_item_summary_members(void **state)
{
    (void)state;
    cJSON *full = full_item();
    cJSON *ov = NULL, *de = NULL, *sum = NULL;
    assert_int_equal(opc__item_split(full, &ov, &de), OPC_OK);
    cJSON_AddStringToObject(ov, "internal", "x");
    assert_int_equal(opc__item_summary(ov, &sum), OPC_OK);
    assert_json(sum, "{\"title\":\"Round\",\"category\":\"LOGIN\",\"urls\":[{\"primary\":true,"
                     "\"href\":\"https://x.example\"}],\"tags\":[\"t\"],\"favorite\":true}");
    opc__json_delete_secret(sum);
    assert_int_equal(opc__item_summary(NULL, &sum), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__item_summary(ov, NULL), OPC_ERR_INVALID_ARG);
    opc__json_delete_secret(ov);
    opc__json_delete_secret(de);
    opc__json_delete_secret(full);
}

static void test_item_present_adds_totp_and_strips_internals(void **state)
{
    (void)state;
    cJSON *full = full_item();
    cJSON_AddStringToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(full, "files"), 0),
                            "content_path", "/v1/vaults/v/items/i/files/f/content");
    cJSON_AddItemToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(full, "files"), 0),
                          "section", cJSON_Parse("{\"id\":\"s1\"}"));
    /* An OTP field with a value that does not parse, and a stale totp. */
    cJSON *junk = cJSON_Parse("{\"id\":\"j\",\"type\":\"OTP\",\"value\":\"!!\",\"totp\":\"1\"}");
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(full, "fields"), junk);
    cJSON_AddStringToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(full, "fields"), 0),
                            "totp", "000000");
    int64_t until = 0;
    assert_int_equal(opc__item_present(full, 59, &until, NULL), OPC_OK);
    assert_int_equal(until, 60); /* the 30 s code changes at 60 */
    assert_string_equal(str(field_by_id(full, "otp"), "totp"), "287082"); /* RFC 6238, 6 digits */
    assert_null(str(field_by_id(full, "j"), "totp"));
    assert_null(str(field_by_id(full, "bad"), "totp"));
    assert_null(cJSON_GetObjectItemCaseSensitive(full, "passwordHistory"));
    assert_json(cJSON_GetObjectItemCaseSensitive(full, "files"),
                "[{\"id\":\"ffffffffffffffffffffffffff\",\"name\":\"a.txt\",\"size\":5,"
                "\"content_path\":\"/v1/vaults/v/items/i/files/f/content\",\"section\":"
                "{\"id\":\"s1\"}}]");
    /* Thirty seconds on, the code changes (RFC 4226 HOTP(2) at 60..89). */
    assert_int_equal(opc__item_present(full, 75, &until, NULL), OPC_OK);
    assert_int_equal(until, 90);
    assert_string_equal(str(field_by_id(full, "otp"), "totp"), "359152");
    /* The rest is untouched. */
    assert_string_equal(str(field_by_id(full, "otp"), "value"), OTP_URI);
    assert_string_equal(str(full, "title"), "Round");
    opc__json_delete_secret(full);
    opc__ebuf eb;
    assert_int_equal(opc__item_present(NULL, 0, NULL, &eb), OPC_ERR_INVALID_ARG);
    /* Without OTP fields the output never changes with time. */
    cJSON *plain = cJSON_Parse("{\"title\":\"t\",\"fields\":[{\"id\":\"a\",\"value\":\"b\"}]}");
    assert_int_equal(opc__item_present(plain, 75, &until, NULL), OPC_OK);
    assert_true(until == INT64_MAX);
    opc__json_delete_secret(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_category_parse_and_names),
        cmocka_unit_test(test_item_prepare_login_gets_builtin_fields),
        cmocka_unit_test(test_item_prepare_categories_get_builtin_fields),
        cmocka_unit_test(test_item_prepare_refuses_bad_categories),
        cmocka_unit_test(test_item_prepare_ignores_read_only_members),
        cmocka_unit_test(test_item_prepare_field_types),
        cmocka_unit_test(test_item_prepare_date_and_month_year),
        cmocka_unit_test(test_item_prepare_one_password_field),
        cmocka_unit_test(test_item_prepare_builtin_matching),
        cmocka_unit_test(test_item_prepare_sections_and_ids),
        cmocka_unit_test(test_item_prepare_generate),
        cmocka_unit_test(test_item_prepare_urls_tags_favorite),
        cmocka_unit_test(test_item_prepare_malformed_json),
        cmocka_unit_test(test_item_prepare_limits),
        cmocka_unit_test(test_item_check_holds_trees_to_the_text_limits),
        cmocka_unit_test(test_item_prepare_takes_the_callers_tree),
        cmocka_unit_test(test_item_prepare_replace_keeps_files_and_history),
        cmocka_unit_test(test_item_prepare_replace_caps_history),
        cmocka_unit_test(test_item_prepare_replace_keeps_entropy_of_unchanged_values),
        cmocka_unit_test(test_item_split_join_round_trip),
        cmocka_unit_test(test_item_summary_members),
        cmocka_unit_test(test_item_present_adds_totp_and_strips_internals),
    };
    return cmocka_run_group_tests_name("item", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
