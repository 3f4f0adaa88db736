/*
 * tests/unit/test_patch.c - JSON Patch for Connect items (lib/model/patch.c):
 * every operation on every path shape, the patches the SDKs and the
 * Connect docs send, RFC 6901 escapes, every error with its code, and the
 * result through opc__item_prepare(OPC_ITEM_REPLACE).
 */
#include "item_json.h"

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/json.h"
#include "model/item.h"
#include "model/patch.h"

#define OTP_URI "otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME"

/* The stored form of a LOGIN item, as opc__item_prepare() makes it. */
static const char base_json[] =
    "{\"title\":\"Example\",\"category\":\"LOGIN\",\"tags\":[\"a\",\"b\"],"
    "\"urls\":[{\"href\":\"https://example.com\",\"primary\":true}],"
    "\"sections\":[{\"id\":\"linked items\",\"label\":\"Related Items\"},"
    "{\"id\":\"sec1\",\"label\":\"Extra\"}],"
    "\"fields\":[{\"id\":\"username\",\"value\":\"alice\"},"
    "{\"id\":\"password\",\"value\":\"fake-pw-1\"},"
    "{\"id\":\"otp1\",\"type\":\"OTP\",\"label\":\"one-time\",\"section\":{\"id\":\"sec1\"},"
    "\"value\":\"" OTP_URI "\"},"
    "{\"id\":\"a/b~c\",\"label\":\"odd id\",\"value\":\"x\"}]}";

/* ---- cJSON's allocations through cmocka ----
 * The library leaves cJSON's hooks to the host program; this test program
 * is the host: cJSON allocates through cmocka too, so every test also
 * checks that no cJSON tree leaks, and cjson_fail_at makes the n-th cJSON
 * allocation fail. */

static long cjson_fail_at; /* 0 = never */
static long cjson_allocs;
static long cjson_injected;

static void *cjson_malloc(size_t n)
{
    if (cjson_fail_at != 0 && ++cjson_allocs == cjson_fail_at) {
        cjson_injected++;
        return NULL;
    }
    return test_malloc(n);
}

static void cjson_free(void *p)
{
    test_free(p);
}

static int group_setup(void **state)
{
    cJSON_Hooks hooks = {cjson_malloc, cjson_free};
    cJSON_InitHooks(&hooks);
    return opc_test_group_setup(state);
}

static int group_teardown(void **state)
{
    int rc = opc_test_group_teardown(state);
    cJSON_InitHooks(NULL);
    return rc;
}

/* ---- helpers ---- */

static cJSON *base_item(void)
{
    cJSON *out = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__item_prepare_json(base_json, strlen(base_json), OPC_ITEM_CREATE, NULL, &out, &eb) !=
        OPC_OK) {
        fail_msg("base item: %s", eb.msg);
    }
    return out;
}

static cJSON *parse(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

/* opc__item_patch() that must succeed. */
static cJSON *patch_ok(const cJSON *full, const char *json)
{
    cJSON *out = NULL;
    size_t n = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__item_patch(full, json, strlen(json), &out, &n, &eb);
    if (rc != OPC_OK) {
        fail_msg("patch failed (%s): %s\npatch: %.300s", opc_errname(rc), eb.msg, json);
    }
    assert_non_null(out);
    return out;
}

/* opc__item_patch() that must fail with rc and a message containing msg;
 * `full` must be left as it was and *out NULL. */
static void patch_err(const cJSON *full, const char *json, opc_err rc, const char *msg)
{
    cJSON *before = cJSON_Duplicate(full, true);
    cJSON *out = (cJSON *)1;
    size_t n = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err got = opc__item_patch(full, json, strlen(json), &out, &n, &eb);
    if (got != rc || strstr(eb.msg, msg) == NULL) {
        fail_msg("want %s \"%s\", got %s \"%s\"\npatch: %.300s", opc_errname(rc), msg,
                 opc_errname(got), eb.msg, json);
    }
    assert_null(out);
    assert_int_equal(n, 0);
    assert_true(cJSON_Compare(before, full, 1));
    cJSON_Delete(before);
}

/* patch + prepare(REPLACE) that must succeed. */
static cJSON *apply_ok(const cJSON *existing, const char *json)
{
    cJSON *out = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__item_patch_apply(existing, json, strlen(json), &out, NULL, &eb);
    if (rc != OPC_OK) {
        fail_msg("apply failed (%s): %s\npatch: %.300s", opc_errname(rc), eb.msg, json);
    }
    assert_non_null(out);
    return out;
}

static void apply_err(const cJSON *existing, const char *json, opc_err rc, const char *msg)
{
    cJSON *out = (cJSON *)1;
    size_t n = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err got = opc__item_patch_apply(existing, json, strlen(json), &out, &n, &eb);
    if (got != rc || strstr(eb.msg, msg) == NULL) {
        fail_msg("want %s \"%s\", got %s \"%s\"\npatch: %.300s", opc_errname(rc), msg,
                 opc_errname(got), eb.msg, json);
    }
    assert_null(out);
    assert_int_equal(n, 0);
}

/*
 * A patch that opc__item_patch() takes but whose result is beyond an
 * item's limits: opc__item_patch_apply() refuses it with the code and the
 * whole message that opc__item_parse() gives for the printed result (the
 * size and offsets in it), and msg is part of that message.
 */
static void apply_err_as_printed(const cJSON *existing, const char *json, opc_err rc,
                                 const char *msg)
{
    cJSON *patched = NULL;
    assert_int_equal(opc__item_patch(existing, json, strlen(json), &patched, NULL, NULL), OPC_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(opc__json_print(patched, &text, &len), OPC_OK);
    opc__json_delete_secret(patched);
    cJSON *back = (cJSON *)1;
    opc__ebuf by_text;
    opc__ebuf_clear(&by_text);
    assert_int_equal(opc__item_parse(text, len, &back, &by_text), rc);
    assert_null(back);
    opc_free(text);
    assert_non_null(strstr(by_text.msg, msg));
    apply_err(existing, json, rc, by_text.msg);
}

/* The member at a JSON pointer of ours ("fields.2.value" style is too
 * clever; tests use these small getters). */
static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const cJSON *field_by_id(const cJSON *item, const char *id)
{
    return by_id(member(item, "fields"), id);
}

/* ---- the whole item and the empty patch ---- */

static void test_patch_empty_returns_item_unchanged(void **state)
{
    (void)state;
    cJSON *it = base_item();
    cJSON *out = NULL;
    size_t n = 99;
    assert_int_equal(opc__item_patch(it, "[]", 2, &out, &n, NULL), OPC_OK);
    assert_int_equal(n, 0);
    assert_true(cJSON_Compare(it, out, 1));
    assert_ptr_not_equal(it, out);
    opc__json_delete_secret(out);
    /* White space around the array is fine. */
    out = patch_ok(it, " \n[ ]\t");
    assert_true(cJSON_Compare(it, out, 1));
    opc__json_delete_secret(out);
    /* Through item_prepare too: the same item, nothing to store. */
    out = NULL;
    assert_int_equal(opc__item_patch_apply(it, "[]", 2, &out, &n, NULL), OPC_OK);
    assert_int_equal(n, 0);
    assert_true(cJSON_Compare(it, out, 1));
    opc__json_delete_secret(out);
    opc__json_delete_secret(it);
}

static void test_patch_root_add_and_replace(void **state)
{
    (void)state;
    cJSON *it = base_item();
    /* "/" is the whole item in the Connect API; "" is RFC 6901's root. */
    cJSON *out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/\",\"value\":"
                              "{\"title\":\"new\",\"category\":\"LOGIN\"}}]");
    assert_json(out, "{\"title\":\"new\",\"category\":\"LOGIN\"}");
    opc__json_delete_secret(out);
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"title\":\"t\"}},"
                       "{\"op\":\"add\",\"path\":\"/category\",\"value\":\"LOGIN\"}]");
    assert_json(out, "{\"title\":\"t\",\"category\":\"LOGIN\"}");
    opc__json_delete_secret(out);
    /* A whole-item replace is a PUT: item_prepare re-adds the built-ins. */
    cJSON *prepared = apply_ok(it, "[{\"op\":\"replace\",\"path\":\"/\",\"value\":"
                                   "{\"title\":\"new\",\"category\":\"login\"}}]");
    assert_string_equal(str(prepared, "title"), "new");
    assert_ids(member(prepared, "fields"), "username,password,notesPlain");
    assert_null(member(prepared, "tags"));
    opc__json_delete_secret(prepared);
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/\"}]", OPC_ERR_UNSUPPORTED,
              "patch[0]: the item cannot be removed");
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"\"}]", OPC_ERR_UNSUPPORTED, "cannot be removed");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/\",\"value\":[]}]", OPC_ERR_PARSE,
              "patch[0]: the item must be an object");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "must be an object");
    opc__json_delete_secret(it);
}

/* ---- top-level attributes ---- */

static void test_patch_attributes(void **state)
{
    (void)state;
    cJSON *it = base_item();
    /* The JS and Go SDKs' shape. */
    cJSON *out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"x\"}]");
    assert_string_equal(str(out, "title"), "x");
    opc__json_delete_secret(out);
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/title\",\"value\":\"y\"},"
                       "{\"op\":\"replace\",\"path\":\"/favorite\",\"value\":true}]");
    assert_string_equal(str(out, "title"), "y");
    assert_true(cJSON_IsTrue(member(out, "favorite")));
    opc__json_delete_secret(out);
    out = patch_ok(it, "[{\"op\":\"remove\",\"path\":\"/title\"},"
                       "{\"op\":\"remove\",\"path\":\"/urls\"},"
                       "{\"op\":\"remove\",\"path\":\"/tags\"}]");
    assert_null(member(out, "title"));
    assert_null(member(out, "urls"));
    assert_null(member(out, "tags"));
    /* remove needs its target */
    patch_err(out, "[{\"op\":\"remove\",\"path\":\"/tags\"}]", OPC_ERR_NOT_FOUND,
              "patch[0]: path \"/tags\" does not exist in the item");
    /* replace of an absent attribute acts as add */
    cJSON *again = patch_ok(out, "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"back\"}]");
    assert_string_equal(str(again, "title"), "back");
    opc__json_delete_secret(again);
    opc__json_delete_secret(out);
    /* null is a value like any other (item_prepare reads it as absent) */
    out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":null}]");
    assert_true(cJSON_IsNull(member(out, "title")));
    opc__json_delete_secret(out);
    /* Structure only: a wrong type is item_prepare's to refuse. */
    out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/favorite\",\"value\":\"yes\"}]");
    opc__json_delete_secret(out);
    apply_err(it, "[{\"op\":\"replace\",\"path\":\"/favorite\",\"value\":\"yes\"}]", OPC_ERR_PARSE,
              "\"favorite\" must be true or false");
    /* The category may be spelled differently, not changed. */
    cJSON *p = apply_ok(it, "[{\"op\":\"replace\",\"path\":\"/category\",\"value\":\"login\"}]");
    assert_string_equal(str(p, "category"), "LOGIN");
    opc__json_delete_secret(p);
    apply_err(it, "[{\"op\":\"replace\",\"path\":\"/category\",\"value\":\"PASSWORD\"}]",
              OPC_ERR_PARSE, "an item's category cannot be changed");
    apply_err(it, "[{\"op\":\"remove\",\"path\":\"/category\"}]", OPC_ERR_PARSE,
              "\"category\" is required");
    opc__json_delete_secret(it);
}

static void test_patch_read_only_and_unknown_attributes(void **state)
{
    (void)state;
    cJSON *it = base_item();
    static const char *const ro[] = {
        "/id",
        "/vault",
        "/vault/id",
        "/version",
        "/createdAt",
        "/updatedAt",
        "/lastEditedBy",
        "/state",
        "/trashed",
        "/files",
        "/files/0",
        "/files/-",
        "/fields/password/entropy",
        "/fields/otp1/totp",
    };
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        for (int op = 0; op < 3; op++) {
            char json[256];
            snprintf(json, sizeof json, "[{\"op\":\"%s\",\"path\":\"%s\",\"value\":\"v\"}]",
                     op == 0   ? "add"
                     : op == 1 ? "replace"
                               : "remove",
                     ro[i]);
            char want[128];
            snprintf(want, sizeof want, "patch[0]: path \"%s\" is read-only", ro[i]);
            patch_err(it, json, OPC_ERR_UNSUPPORTED, want);
        }
    }
    static const char *const unknown[] = {
        "/Title",
        "/foo",
        "/passwordHistory",
        "/title/x",
        "/tags/0/x",
        "/urls/0/foo",
        "/sections/sec1/x",
        "/fields/password/foo",
        "/fields/password/value/x",
        "/fields/otp1/section/label",
        "/fields/password/recipe/x",
        "/fields/password/recipe/characterSets/0/x",
        "/a/b/c/d/e/f/g",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "[{\"op\":\"add\",\"path\":\"%s\",\"value\":1}]", unknown[i]);
        patch_err(it, json, OPC_ERR_UNSUPPORTED, "is not supported");
    }
    opc__json_delete_secret(it);
}

/* ---- indexed arrays: tags, urls, characterSets ---- */

static void test_patch_tags_by_index(void **state)
{
    (void)state;
    cJSON *it = base_item();
    cJSON *out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"c\"},"
                              "{\"op\":\"add\",\"path\":\"/tags/0\",\"value\":\"first\"},"
                              "{\"op\":\"add\",\"path\":\"/tags/4\",\"value\":\"end\"},"
                              "{\"op\":\"replace\",\"path\":\"/tags/1\",\"value\":\"A\"},"
                              "{\"op\":\"remove\",\"path\":\"/tags/2\"}]");
    assert_json(member(out, "tags"), "[\"first\",\"A\",\"c\",\"end\"]");
    opc__json_delete_secret(out);
    /* An array value replaces the array; another value is appended. */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/tags\",\"value\":[\"x\"]},"
                       "{\"op\":\"add\",\"path\":\"/tags\",\"value\":\"y\"}]");
    assert_json(member(out, "tags"), "[\"x\",\"y\"]");
    opc__json_delete_secret(out);
    out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/tags\",\"value\":[]}]");
    assert_json(member(out, "tags"), "[]");
    opc__json_delete_secret(out);
    /* Items without tags: the array is created for add. */
    cJSON *bare = parse("{\"title\":\"t\",\"category\":\"LOGIN\",\"tags\":null}");
    out = patch_ok(bare, "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"n\"}]");
    assert_json(member(out, "tags"), "[\"n\"]");
    opc__json_delete_secret(out);
    out = patch_ok(bare, "[{\"op\":\"add\",\"path\":\"/tags\",\"value\":\"n\"}]");
    assert_json(member(out, "tags"), "[\"n\"]");
    opc__json_delete_secret(out);
    out = patch_ok(bare, "[{\"op\":\"add\",\"path\":\"/tags/0\",\"value\":\"n\"}]");
    assert_json(member(out, "tags"), "[\"n\"]");
    opc__json_delete_secret(out);
    patch_err(bare, "[{\"op\":\"remove\",\"path\":\"/tags/0\"}]", OPC_ERR_NOT_FOUND,
              "does not exist");
    patch_err(bare, "[{\"op\":\"replace\",\"path\":\"/tags/0\",\"value\":\"n\"}]", OPC_ERR_RANGE,
              "index out of range");
    cJSON_Delete(bare);
    /* Index errors. */
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/tags/3\",\"value\":\"x\"}]", OPC_ERR_RANGE,
              "patch[0]: path \"/tags/3\": index out of range");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/tags/2\",\"value\":\"x\"}]", OPC_ERR_RANGE,
              "index out of range");
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/tags/2\"}]", OPC_ERR_RANGE, "out of range");
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/tags/-\"}]", OPC_ERR_RANGE,
              "\"-\" names no element");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/tags/-\",\"value\":\"x\"}]", OPC_ERR_RANGE,
              "\"-\" names no element");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/tags/1234567890\",\"value\":\"x\"}]", OPC_ERR_RANGE,
              "index out of range");
    static const char *const bad[] = {"/tags/01",  "/tags/x",  "/tags/",  "/tags/-1",
                                      "/tags/1e0", "/tags/ 1", "/tags/+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "[{\"op\":\"add\",\"path\":\"%s\",\"value\":\"x\"}]", bad[i]);
        patch_err(it, json, OPC_ERR_PARSE, "bad array index");
    }
    /* The parent must be an array. */
    cJSON *odd = parse("{\"title\":\"t\",\"tags\":\"notalist\"}");
    patch_err(odd, "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"x\"}]", OPC_ERR_NOT_FOUND,
              "the item has no array there");
    patch_err(odd, "[{\"op\":\"add\",\"path\":\"/tags\",\"value\":\"x\"}]", OPC_ERR_NOT_FOUND,
              "the item has no array there");
    cJSON_Delete(odd);
    /* item_prepare de-duplicates and checks the types afterwards. */
    cJSON *p = apply_ok(it, "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"a\"}]");
    assert_json(member(p, "tags"), "[\"a\",\"b\"]");
    opc__json_delete_secret(p);
    apply_err(it, "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":7}]", OPC_ERR_PARSE,
              "tags[2] must be a string");
    opc__json_delete_secret(it);
}

static void test_patch_urls(void **state)
{
    (void)state;
    cJSON *it = base_item();
    cJSON *out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/urls\",\"value\":"
                              "{\"href\":\"https://two.example\"}},"
                              "{\"op\":\"replace\",\"path\":\"/urls/0/href\",\"value\":\"h\"},"
                              "{\"op\":\"add\",\"path\":\"/urls/1/label\",\"value\":\"L\"},"
                              "{\"op\":\"remove\",\"path\":\"/urls/0/primary\"}]");
    assert_json(member(out, "urls"),
                "[{\"href\":\"h\"},{\"href\":\"https://two.example\",\"label\":\"L\"}]");
    patch_err(out, "[{\"op\":\"remove\",\"path\":\"/urls/0/primary\"}]", OPC_ERR_NOT_FOUND,
              "path \"/urls/0/primary\" does not exist");
    patch_err(out, "[{\"op\":\"add\",\"path\":\"/urls/2/label\",\"value\":\"L\"}]", OPC_ERR_RANGE,
              "index out of range");
    opc__json_delete_secret(out);
    apply_err(it, "[{\"op\":\"remove\",\"path\":\"/urls/0/href\"}]", OPC_ERR_PARSE,
              "urls[0]: \"href\" is required");
    opc__json_delete_secret(it);
}

/* ---- fields, by id ---- */

static void test_patch_fields_add(void **state)
{
    (void)state;
    cJSON *it = base_item();
    /* Connect: add on /fields appends a field object (no id needed). */
    cJSON *out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":"
                              "{\"type\":\"STRING\",\"label\":\"new\",\"value\":\"v\"}}]");
    const cJSON *fields = member(out, "fields");
    assert_int_equal(cJSON_GetArraySize(fields), 6);
    assert_string_equal(str(cJSON_GetArrayItem(fields, 5), "label"), "new");
    assert_null(member(cJSON_GetArrayItem(fields, 5), "id"));
    opc__json_delete_secret(out);
    /* RFC 6902's append, with the Go SDK's "id":"" (empty means unset). */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields/-\",\"value\":"
                       "{\"id\":\"\",\"type\":\"\",\"label\":\"n\"}}]");
    assert_int_equal(cJSON_GetArraySize(member(out, "fields")), 6);
    opc__json_delete_secret(out);
    /* add with a new id appends a field with that id. */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields/extra\",\"value\":"
                       "{\"label\":\"E\",\"value\":\"v\"}},"
                       "{\"op\":\"add\",\"path\":\"/fields/more\",\"value\":"
                       "{\"id\":\"more\",\"value\":\"w\"}},"
                       "{\"op\":\"add\",\"path\":\"/fields/third\",\"value\":"
                       "{\"id\":null}}]");
    assert_ids(member(out, "fields"), "username,password,notesPlain,otp1,a/b~c,extra,more,third");
    assert_string_equal(str(field_by_id(out, "extra"), "label"), "E");
    opc__json_delete_secret(out);
    /* add with an existing id replaces it in place. */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields/username\",\"value\":"
                       "{\"value\":\"bob\",\"purpose\":\"USERNAME\"}}]");
    assert_ids(member(out, "fields"), "username,password,notesPlain,otp1,a/b~c");
    assert_json(field_by_id(out, "username"),
                "{\"value\":\"bob\",\"purpose\":\"USERNAME\",\"id\":\"username\"}");
    opc__json_delete_secret(out);
    /* An array value replaces all fields. */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":[{\"id\":\"only\"}]}]");
    assert_ids(member(out, "fields"), "only");
    opc__json_delete_secret(out);
    /* Through item_prepare: ids generated, built-ins kept. */
    cJSON *p = apply_ok(it, "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":"
                            "{\"type\":\"email\",\"label\":\"mail\",\"value\":\"a@b.c\"}}]");
    const cJSON *f = cJSON_GetArrayItem(member(p, "fields"), 5);
    assert_string_equal(str(f, "label"), "mail");
    assert_string_equal(str(f, "type"), "EMAIL");
    assert_int_equal(strlen(str(f, "id")), 26);
    opc__json_delete_secret(p);
    /* Errors. */
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "patch[0]: path \"/fields\": a field must be an object");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/fields/-\",\"value\":[1]}]", OPC_ERR_PARSE,
              "a field must be an object");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/fields/extra\",\"value\":{\"id\":\"other\"}}]",
              OPC_ERR_PARSE, "the field's \"id\" does not match the path");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/fields/extra\",\"value\":{\"id\":5}}]",
              OPC_ERR_PARSE, "does not match the path");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/fields/\",\"value\":{}}]", OPC_ERR_PARSE,
              "empty field id");
    opc__json_delete_secret(it);
}

static void test_patch_fields_replace_remove(void **state)
{
    (void)state;
    cJSON *it = base_item();
    cJSON *out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/fields/password\",\"value\":"
                              "{\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\",\"value\":\"n\"}},"
                              "{\"op\":\"remove\",\"path\":\"/fields/otp1\"}]");
    assert_ids(member(out, "fields"), "username,password,notesPlain,a/b~c");
    assert_json(field_by_id(out, "password"), "{\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\","
                                              "\"value\":\"n\",\"id\":\"password\"}");
    opc__json_delete_secret(out);
    /* The spec's message for a field that is not there. */
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/fields/nope\",\"value\":{}}]",
              OPC_ERR_NOT_FOUND, "The item doesn't have a nope field.");
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/nope\"}]", OPC_ERR_NOT_FOUND,
              "The item doesn't have a nope field.");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/fields/nope/value\",\"value\":\"v\"}]",
              OPC_ERR_NOT_FOUND, "The item doesn't have a nope field.");
    /* Ids, never indexes; "-" is an id for remove and replace. */
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/0\"}]", OPC_ERR_NOT_FOUND,
              "The item doesn't have a 0 field.");
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/-\"}]", OPC_ERR_NOT_FOUND,
              "The item doesn't have a - field.");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/fields/-/value\",\"value\":\"v\"}]",
              OPC_ERR_NOT_FOUND, "The item doesn't have a - field.");
    cJSON *numbered = parse("{\"fields\":[{\"id\":\"1\"},{\"id\":\"0\",\"value\":\"z\"}]}");
    out = patch_ok(numbered, "[{\"op\":\"remove\",\"path\":\"/fields/0\"}]");
    assert_json(out, "{\"fields\":[{\"id\":\"1\"}]}");
    opc__json_delete_secret(out);
    cJSON_Delete(numbered);
    /* Ids are case-sensitive; a long or odd id is shown cut and sanitised. */
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/Password\"}]", OPC_ERR_NOT_FOUND,
              "doesn't have a Password field");
    char want[128] = "The item doesn't have a ???";
    for (int i = 0; i < 61; i++) {
        strcat(want, "A");
    }
    strcat(want, "... field.");
    patch_err(it,
              "[{\"op\":\"remove\",\"path\":\"/fields/\\u00e9\\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]",
              OPC_ERR_NOT_FOUND, want);
    /* Removing a built-in field: item_prepare adds it back, empty. */
    cJSON *p = apply_ok(it, "[{\"op\":\"remove\",\"path\":\"/fields/password\"}]");
    assert_ids(member(p, "fields"), "username,password,notesPlain,otp1,a/b~c");
    assert_null(member(field_by_id(p, "password"), "value"));
    /* ... and the old password goes to the history. */
    const cJSON *hist = member(p, "passwordHistory");
    assert_int_equal(cJSON_GetArraySize(hist), 1);
    assert_string_equal(str(cJSON_GetArrayItem(hist, 0), "value"), "fake-pw-1");
    opc__json_delete_secret(p);
    /* A replace whose value has a wrong id. */
    patch_err(it,
              "[{\"op\":\"replace\",\"path\":\"/fields/password\",\"value\":"
              "{\"id\":\"username\"}}]",
              OPC_ERR_PARSE, "does not match the path");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/fields/password\",\"value\":null}]",
              OPC_ERR_PARSE, "a field must be an object");
    opc__json_delete_secret(it);
}

static void test_patch_field_attributes(void **state)
{
    (void)state;
    cJSON *it = base_item();
    /* connect#58: change a password; the notes have no value yet (the
     * stored item leaves empty values out), so replace acts as add. */
    cJSON *out = patch_ok(
        it, "[{\"op\":\"replace\",\"path\":\"/fields/password/value\",\"value\":\"fake-pw-2\"},"
            "{\"op\":\"replace\",\"path\":\"/fields/notesPlain/value\",\"value\":\"note\"},"
            "{\"op\":\"add\",\"path\":\"/fields/username/label\",\"value\":\"login\"},"
            "{\"op\":\"replace\",\"path\":\"/fields/otp1/section/id\",\"value\":\"linked items\"},"
            "{\"op\":\"remove\",\"path\":\"/fields/a~1b~0c/value\"}]");
    assert_string_equal(str(field_by_id(out, "password"), "value"), "fake-pw-2");
    assert_string_equal(str(field_by_id(out, "notesPlain"), "value"), "note");
    assert_string_equal(str(field_by_id(out, "username"), "label"), "login");
    assert_json(member(field_by_id(out, "otp1"), "section"), "{\"id\":\"linked items\"}");
    assert_null(member(field_by_id(out, "a/b~c"), "value"));
    opc__json_delete_secret(out);
    /* A missing parent object of a known attribute is created for add. */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields/username/section/id\","
                       "\"value\":\"sec1\"},"
                       "{\"op\":\"add\",\"path\":\"/fields/password/recipe/length\",\"value\":20},"
                       "{\"op\":\"add\",\"path\":\"/fields/password/recipe/characterSets/-\","
                       "\"value\":\"DIGITS\"},"
                       "{\"op\":\"replace\",\"path\":\"/fields/password/generate\","
                       "\"value\":true},"
                       "{\"op\":\"remove\",\"path\":\"/fields/password/value\"}]");
    assert_json(member(field_by_id(out, "username"), "section"), "{\"id\":\"sec1\"}");
    assert_json(member(field_by_id(out, "password"), "recipe"),
                "{\"length\":20,\"characterSets\":[\"DIGITS\"]}");
    opc__json_delete_secret(out);
    /* ... which item_prepare then generates. */
    cJSON *p = apply_ok(it, "[{\"op\":\"add\",\"path\":\"/fields/password/recipe/length\","
                            "\"value\":20},"
                            "{\"op\":\"add\",\"path\":\"/fields/password/recipe/characterSets\","
                            "\"value\":[\"DIGITS\"]},"
                            "{\"op\":\"add\",\"path\":\"/fields/password/generate\","
                            "\"value\":true},"
                            "{\"op\":\"remove\",\"path\":\"/fields/password/value\"}]");
    const char *pw = str(field_by_id(p, "password"), "value");
    assert_non_null(pw);
    assert_int_equal(strlen(pw), 20);
    assert_int_equal(strspn(pw, "0123456789"), 20);
    assert_true(cJSON_IsNumber(member(field_by_id(p, "password"), "entropy")));
    opc__json_delete_secret(p);
    /* remove needs its target; only the immediate parent is created. */
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/notesPlain/value\"}]", OPC_ERR_NOT_FOUND,
              "path \"/fields/notesPlain/value\" does not exist in the item");
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/username/section/id\"}]",
              OPC_ERR_NOT_FOUND, "does not exist in the item");
    patch_err(it,
              "[{\"op\":\"add\",\"path\":\"/fields/username/recipe/characterSets/-\","
              "\"value\":\"DIGITS\"}]",
              OPC_ERR_NOT_FOUND, "does not exist in the item");
    cJSON *odd = parse("{\"fields\":[{\"id\":\"f\",\"section\":\"s\"},\"notobject\","
                       "{\"id\":7}]}");
    patch_err(odd, "[{\"op\":\"add\",\"path\":\"/fields/f/section/id\",\"value\":\"s\"}]",
              OPC_ERR_NOT_FOUND, "the item has no object there");
    patch_err(odd, "[{\"op\":\"add\",\"path\":\"/fields/7/value\",\"value\":\"s\"}]",
              OPC_ERR_NOT_FOUND, "The item doesn't have a 7 field.");
    cJSON_Delete(odd);
    /* No member pair that differs only in letter case (strict JSON). */
    cJSON *cased = parse("{\"fields\":[{\"id\":\"f\",\"Value\":\"x\",\"Section\":{}}]}");
    patch_err(cased, "[{\"op\":\"add\",\"path\":\"/fields/f/value\",\"value\":\"s\"}]",
              OPC_ERR_PARSE, "a member differs from \"value\" only in letter case");
    patch_err(cased, "[{\"op\":\"add\",\"path\":\"/fields/f/section/id\",\"value\":\"s\"}]",
              OPC_ERR_PARSE, "a member differs from \"section\" only in letter case");
    patch_err(cased, "[{\"op\":\"add\",\"path\":\"/fields/g\",\"value\":{\"ID\":\"g\"}}]",
              OPC_ERR_PARSE, "a member differs from \"id\" only in letter case");
    out = patch_ok(cased, "[{\"op\":\"add\",\"path\":\"/fields/-\",\"value\":{\"ID\":\"g\"}}]");
    opc__json_delete_secret(out);
    cJSON_Delete(cased);
    cJSON *noarr = parse("{\"fields\":{\"id\":\"f\"}}");
    patch_err(noarr, "[{\"op\":\"add\",\"path\":\"/fields/f/value\",\"value\":\"s\"}]",
              OPC_ERR_NOT_FOUND, "the item has no array there");
    cJSON_Delete(noarr);
    /* A type change goes through item_prepare's value checks. */
    apply_err(it, "[{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/type\",\"value\":\"DATE\"}]",
              OPC_ERR_PARSE, "a DATE value must be a valid date");
    p = apply_ok(it, "[{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/type\",\"value\":\"date\"},"
                     "{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/value\","
                     "\"value\":\"2024-02-29\"}]");
    assert_string_equal(str(field_by_id(p, "a/b~c"), "type"), "DATE");
    opc__json_delete_secret(p);
    /* A section that does not exist. */
    apply_err(it,
              "[{\"op\":\"replace\",\"path\":\"/fields/otp1/section\",\"value\":"
              "{\"id\":\"nosuch\"}}]",
              OPC_ERR_PARSE, "the item has no section \"nosuch\"");
    opc__json_delete_secret(it);
}

/* ---- sections, by id ---- */

static void test_patch_sections(void **state)
{
    (void)state;
    cJSON *it = base_item();
    cJSON *out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/sections\",\"value\":"
                              "{\"id\":\"s2\",\"label\":\"Two\"}},"
                              "{\"op\":\"add\",\"path\":\"/sections/s3\",\"value\":"
                              "{\"label\":\"Three\"}},"
                              "{\"op\":\"replace\",\"path\":\"/sections/sec1/label\","
                              "\"value\":\"Renamed\"},"
                              "{\"op\":\"remove\",\"path\":\"/sections/linked items\"}]");
    assert_json(member(out, "sections"),
                "[{\"id\":\"sec1\",\"label\":\"Renamed\"},{\"id\":\"s2\",\"label\":\"Two\"},"
                "{\"label\":\"Three\",\"id\":\"s3\"}]");
    opc__json_delete_secret(out);
    out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"/sections/sec1\",\"value\":"
                       "{\"id\":\"sec1\",\"label\":\"New\"}},"
                       "{\"op\":\"add\",\"path\":\"/sections/-\",\"value\":{\"label\":\"L\"}}]");
    assert_json(member(out, "sections"), "[{\"id\":\"linked items\",\"label\":\"Related Items\"},"
                                         "{\"id\":\"sec1\",\"label\":\"New\"},{\"label\":\"L\"}]");
    opc__json_delete_secret(out);
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/sections/nosuch\"}]", OPC_ERR_NOT_FOUND,
              "The item doesn't have a nosuch section.");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/sections/nosuch/label\",\"value\":\"x\"}]",
              OPC_ERR_NOT_FOUND, "The item doesn't have a nosuch section.");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/sections/sec1\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "a section must be an object");
    /* Items without sections: created for add. */
    cJSON *bare = parse("{\"title\":\"t\"}");
    out = patch_ok(bare, "[{\"op\":\"add\",\"path\":\"/sections/-\",\"value\":{\"id\":\"s\"}}]");
    assert_json(out, "{\"title\":\"t\",\"sections\":[{\"id\":\"s\"}]}");
    opc__json_delete_secret(out);
    cJSON_Delete(bare);
    /* A field left in a removed section: item_prepare refuses. */
    apply_err(it, "[{\"op\":\"remove\",\"path\":\"/sections/sec1\"}]", OPC_ERR_PARSE,
              "the item has no section \"sec1\"");
    cJSON *p = apply_ok(it, "[{\"op\":\"remove\",\"path\":\"/fields/otp1/section\"},"
                            "{\"op\":\"remove\",\"path\":\"/sections/sec1\"}]");
    assert_ids(member(p, "sections"), "linked items");
    opc__json_delete_secret(p);
    opc__json_delete_secret(it);
}

/* ---- operations, pointers, limits ---- */

static void test_patch_operation_objects(void **state)
{
    (void)state;
    cJSON *it = base_item();
    static const char *const rfc[] = {"move", "copy", "test", "MOVE"};
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        char json[160];
        snprintf(json, sizeof json,
                 "[{\"op\":\"%s\",\"path\":\"/title\",\"from\":\"/title\",\"value\":\"x\"}]",
                 rfc[i]);
        char want[96];
        snprintf(want, sizeof want, "patch[0]: unsupported operation \"%s\"", rfc[i]);
        patch_err(it, json, OPC_ERR_UNSUPPORTED, want);
    }
    patch_err(it, "[{\"op\":\"frob\\u0001\",\"path\":\"/title\"}]", OPC_ERR_PARSE,
              "patch[0]: unknown operation \"frob?\": only add, remove and replace are supported");
    /* op names are matched case-insensitively; extra members are ignored. */
    cJSON *out = patch_ok(it, "[{\"op\":\"Replace\",\"path\":\"/title\",\"value\":\"x\","
                              "\"from\":\"/nowhere\",\"extra\":[1]},"
                              "{\"op\":\"REMOVE\",\"path\":\"/favorite\",\"value\":\"ignored\"}]");
    assert_string_equal(str(out, "title"), "x");
    assert_null(member(out, "favorite"));
    opc__json_delete_secret(out);
    patch_err(it, "[{\"path\":\"/title\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "patch[0]: missing \"op\"");
    patch_err(it, "[{\"op\":1,\"path\":\"/title\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "patch[0]: \"op\" must be a string");
    patch_err(it, "[{\"op\":\"add\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "patch[0]: missing \"path\"");
    patch_err(it, "[{\"op\":\"add\",\"path\":null,\"value\":\"x\"}]", OPC_ERR_PARSE,
              "\"path\" must be a string");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/title\"}]", OPC_ERR_PARSE,
              "patch[0]: \"value\" is required for add");
    patch_err(it, "[{\"op\":\"replace\",\"path\":\"/title\"}]", OPC_ERR_PARSE,
              "\"value\" is required for replace");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/title\",\"value\":\"x\"},\"remove\"]",
              OPC_ERR_PARSE, "patch[1] must be a JSON object");
    patch_err(it, "[[]]", OPC_ERR_PARSE, "patch[0] must be a JSON object");
    opc__json_delete_secret(it);
}

static void test_patch_pointers(void **state)
{
    (void)state;
    cJSON *it = base_item();
    patch_err(it, "[{\"op\":\"add\",\"path\":\"title\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "patch[0]: path \"title\" must start with \"/\"");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/ti~2tle\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "\"~\" must be followed by 0 or 1");
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/title~\",\"value\":\"x\"}]", OPC_ERR_PARSE,
              "\"~\" must be followed by 0 or 1");
    /* Escapes: ~1 is '/', ~0 is '~', and "~01" is "~1" (no double unescape). */
    cJSON *doc = parse("{\"fields\":[{\"id\":\"~1\"},{\"id\":\"/\"},{\"id\":\"~\"}]}");
    cJSON *out = patch_ok(doc, "[{\"op\":\"add\",\"path\":\"/fields/~01/label\",\"value\":\"a\"},"
                               "{\"op\":\"add\",\"path\":\"/fields/~1/label\",\"value\":\"b\"},"
                               "{\"op\":\"add\",\"path\":\"/fields/~0/label\",\"value\":\"c\"}]");
    assert_json(out, "{\"fields\":[{\"id\":\"~1\",\"label\":\"a\"},{\"id\":\"/\",\"label\":\"b\"},"
                     "{\"id\":\"~\",\"label\":\"c\"}]}");
    opc__json_delete_secret(out);
    cJSON_Delete(doc);
    /* Escapes in member names: "/ti~0tle" is the member "ti~tle". */
    patch_err(it, "[{\"op\":\"add\",\"path\":\"/ti~0tle\",\"value\":\"x\"}]", OPC_ERR_UNSUPPORTED,
              "path \"/ti~0tle\" is not supported");
    /* JSON escapes in the path string are undone by the JSON parser first. */
    out = patch_ok(it, "[{\"op\":\"replace\",\"path\":\"\\/fields\\/a~1b~0c\\/value\","
                       "\"value\":\"y\"}]");
    assert_string_equal(str(field_by_id(out, "a/b~c"), "value"), "y");
    opc__json_delete_secret(out);
    /* "//" is the member "" of the member "": not an item path. */
    patch_err(it, "[{\"op\":\"add\",\"path\":\"//\",\"value\":{}}]", OPC_ERR_UNSUPPORTED,
              "is not supported");
    /* Ops see the results of the ops before them. */
    out = patch_ok(it, "[{\"op\":\"add\",\"path\":\"/fields/-\",\"value\":{\"id\":\"nf\"}},"
                       "{\"op\":\"add\",\"path\":\"/fields/nf/value\",\"value\":\"v\"},"
                       "{\"op\":\"replace\",\"path\":\"/fields/nf/value\",\"value\":\"w\"},"
                       "{\"op\":\"add\",\"path\":\"/sections/-\",\"value\":{\"id\":\"ns\"}},"
                       "{\"op\":\"add\",\"path\":\"/fields/nf/section\",\"value\":"
                       "{\"id\":\"ns\"}}]");
    assert_json(field_by_id(out, "nf"),
                "{\"id\":\"nf\",\"value\":\"w\",\"section\":{\"id\":\"ns\"}}");
    opc__json_delete_secret(out);
    opc__json_delete_secret(it);
}

/* A patch of n operations "add /tags/- x". */
static char *many_ops(size_t n)
{
    static const char one[] = "{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"x\"},";
    char *s = malloc(n * (sizeof one - 1) + 3);
    assert_non_null(s);
    size_t o = 0;
    s[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, one, sizeof one - 1);
        o += sizeof one - 1;
    }
    if (n > 0) {
        o--;
    }
    s[o++] = ']';
    s[o] = '\0';
    return s;
}

static void test_patch_body_and_limits(void **state)
{
    (void)state;
    cJSON *it = base_item();
    patch_err(it, "", OPC_ERR_PARSE, "patch: invalid JSON: empty input");
    patch_err(it, "[{\"op\":\"add\"", OPC_ERR_PARSE, "patch: invalid JSON");
    patch_err(it, "[] []", OPC_ERR_PARSE, "unexpected data");
    patch_err(it, "{\"op\":\"add\",\"path\":\"/title\",\"value\":\"x\"}", OPC_ERR_PARSE,
              "patch: must be a JSON array of operations");
    patch_err(it, "null", OPC_ERR_PARSE, "must be a JSON array");
    patch_err(it, "[{\"op\":\"add\",\"op\":\"remove\",\"path\":\"/title\"}]", OPC_ERR_PARSE,
              "duplicate key");
    patch_err(it, "[{\"op\":\"add\",\"Op\":\"remove\",\"path\":\"/title\",\"value\":1}]",
              OPC_ERR_PARSE, "case-variant duplicate key");
    /* The operation limit, exactly. */
    char *s = many_ops(OPC_PATCH_MAX_OPS);
    cJSON *out = patch_ok(it, s);
    assert_int_equal(cJSON_GetArraySize(member(out, "tags")), OPC_PATCH_MAX_OPS + 2);
    opc__json_delete_secret(out);
    /* ... which item_prepare refuses (too many tags) as too large. */
    apply_err(it, s, OPC_ERR_TOO_LARGE, "too many tags");
    free(s);
    s = many_ops(OPC_PATCH_MAX_OPS + 1);
    patch_err(it, s, OPC_ERR_TOO_LARGE, "patch: too many operations (1001; the limit is 1000)");
    free(s);
    /* The size limit. */
    size_t big = OPC_PATCH_MAX_JSON + 1;
    s = malloc(big + 1);
    assert_non_null(s);
    memset(s, ' ', big);
    s[0] = '[';
    s[big - 1] = ']';
    s[big] = '\0';
    patch_err(it, s, OPC_ERR_TOO_LARGE, "patch: JSON of 1048577 bytes exceeds the limit");
    s[big - 2] = ']';
    s[big - 1] = '\0'; /* exactly the limit */
    out = patch_ok(it, s);
    opc__json_delete_secret(out);
    /* A patch within the limit can make an item beyond the item's. */
    static const char head[] = "[{\"op\":\"add\",\"path\":\"/fields/username/value\",\"value\":\"";
    size_t n = strlen(head);
    memcpy(s, head, n);
    memset(s + n, 'v', OPC_PATCH_MAX_JSON - n - 3);
    memcpy(s + OPC_PATCH_MAX_JSON - 3, "\"}]", 4);
    apply_err_as_printed(it, s, OPC_ERR_TOO_LARGE, "exceeds the limit of 1048576");
    free(s);
    /* Nesting: an item's depth fits in a value; one more level does not. */
    char deep[256] = "[{\"op\":\"add\",\"path\":\"/title\",\"value\":";
    for (int i = 0; i < OPC_ITEM_MAX_DEPTH; i++) {
        strcat(deep, "[");
    }
    for (int i = 0; i < OPC_ITEM_MAX_DEPTH; i++) {
        strcat(deep, "]");
    }
    strcat(deep, "}]");
    out = patch_ok(it, deep);
    opc__json_delete_secret(out);
    /* ... but the item it makes is a level too deep. */
    apply_err_as_printed(it, deep, OPC_ERR_PARSE, "invalid JSON: nested deeper than 16 levels");
    char deeper[256] = "[{\"op\":\"add\",\"path\":\"/title\",\"value\":";
    for (int i = 0; i <= OPC_ITEM_MAX_DEPTH; i++) {
        strcat(deeper, "[");
    }
    for (int i = 0; i <= OPC_ITEM_MAX_DEPTH; i++) {
        strcat(deeper, "]");
    }
    strcat(deeper, "}]");
    patch_err(it, deeper, OPC_ERR_PARSE, "nested deeper than 18 levels");
    /* The path limit. */
    char path[OPC_PATCH_MAX_PATH + 64];
    char json[OPC_PATCH_MAX_PATH + 128];
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[OPC_PATCH_MAX_PATH] = '\0';
    snprintf(json, sizeof json, "[{\"op\":\"remove\",\"path\":\"%s\"}]", path);
    patch_err(it, json, OPC_ERR_UNSUPPORTED, "is not supported");
    path[OPC_PATCH_MAX_PATH] = 'a';
    path[OPC_PATCH_MAX_PATH + 1] = '\0';
    snprintf(json, sizeof json, "[{\"op\":\"remove\",\"path\":\"%s\"}]", path);
    patch_err(it, json, OPC_ERR_TOO_LARGE, "patch[0]: path of 1025 bytes exceeds the limit");
    /* Too many segments. */
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/fields/a/recipe/characterSets/0/x/y\"}]",
              OPC_ERR_UNSUPPORTED, "is not supported (too deep)");
    opc__json_delete_secret(it);
}

static void test_patch_is_atomic(void **state)
{
    (void)state;
    cJSON *it = base_item();
    /* The first operations apply to a copy; the third fails: nothing changes. */
    patch_err(it,
              "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"x\"},"
              "{\"op\":\"remove\",\"path\":\"/fields/password\"},"
              "{\"op\":\"remove\",\"path\":\"/fields/password\"}]",
              OPC_ERR_NOT_FOUND, "The item doesn't have a password field.");
    patch_err(it,
              "[{\"op\":\"replace\",\"path\":\"/\",\"value\":{}},"
              "{\"op\":\"move\",\"path\":\"/title\"}]",
              OPC_ERR_UNSUPPORTED, "patch[1]: unsupported operation \"move\"");
    opc__json_delete_secret(it);
}

/* ---- through item_prepare ---- */

static void test_patch_apply_second_password_refused(void **state)
{
    (void)state;
    cJSON *it = base_item();
    apply_err(it,
              "[{\"op\":\"add\",\"path\":\"/fields\",\"value\":{\"type\":\"CONCEALED\","
              "\"purpose\":\"PASSWORD\",\"label\":\"second\",\"value\":\"fake-pw-3\"}}]",
              OPC_ERR_PARSE, "You can only use one \"password\" field.");
    apply_err(it, "[{\"op\":\"add\",\"path\":\"/fields/username/purpose\",\"value\":\"password\"}]",
              OPC_ERR_PARSE, "You can only use one \"password\" field.");
    /* Moving the purpose is fine. */
    cJSON *p = apply_ok(it, "[{\"op\":\"remove\",\"path\":\"/fields/password/purpose\"},"
                            "{\"op\":\"add\",\"path\":\"/fields/a~1b~0c/purpose\","
                            "\"value\":\"PASSWORD\"}]");
    assert_string_equal(str(field_by_id(p, "a/b~c"), "purpose"), "PASSWORD");
    opc__json_delete_secret(p);
    /* A duplicate id made by a patch. */
    apply_err(it, "[{\"op\":\"add\",\"path\":\"/fields/-\",\"value\":{\"id\":\"otp1\"}}]",
              OPC_ERR_PARSE, "duplicate field id \"otp1\"");
    opc__json_delete_secret(it);
}

static void test_patch_apply_password_history_and_files(void **state)
{
    (void)state;
    cJSON *it = base_item();
    /* A stored item with a file: a patch cannot touch it, prepare keeps it. */
    cJSON *files = parse("[{\"id\":\"file1\",\"name\":\"a.txt\",\"size\":3,\"key\":\"k\"}]");
    cJSON_AddItemToObject(it, "files", files);
    cJSON *p = apply_ok(it, "[{\"op\":\"replace\",\"path\":\"/fields/password/value\","
                            "\"value\":\"fake-pw-2\"}]");
    assert_string_equal(str(field_by_id(p, "password"), "value"), "fake-pw-2");
    assert_string_equal(str(cJSON_GetArrayItem(member(p, "passwordHistory"), 0), "value"),
                        "fake-pw-1");
    assert_true(cJSON_Compare(member(p, "files"), member(it, "files"), 1));
    /* A whole-item replace keeps the files too (a PUT). */
    cJSON *q = apply_ok(p, "[{\"op\":\"replace\",\"path\":\"/\",\"value\":"
                           "{\"category\":\"LOGIN\",\"files\":[]}}]");
    assert_true(cJSON_Compare(member(q, "files"), member(it, "files"), 1));
    assert_int_equal(cJSON_GetArraySize(member(q, "passwordHistory")), 2);
    opc__json_delete_secret(q);
    opc__json_delete_secret(p);
    patch_err(it, "[{\"op\":\"remove\",\"path\":\"/files/0\"}]", OPC_ERR_UNSUPPORTED,
              "is read-only");
    opc__json_delete_secret(it);
}

static void test_patch_messages_never_show_values(void **state)
{
    (void)state;
    cJSON *it = base_item();
    static const char *const patches[] = {
        "[{\"op\":\"add\",\"path\":\"/nope\",\"value\":\"SECRETCANARY\"}]",
        "[{\"op\":\"add\",\"path\":\"/fields/x\",\"value\":{\"id\":\"y\","
        "\"value\":\"SECRETCANARY\"}}]",
        "[{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/value\",\"value\":\"SECRETCANARY\"},"
        "{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/type\",\"value\":\"DATE\"}]",
        "[{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/value\",\"value\":\"SECRETCANARY\"},"
        "{\"op\":\"replace\",\"path\":\"/fields/a~1b~0c/type\",\"value\":\"MONTH_YEAR\"}]",
        "[{\"op\":\"replace\",\"path\":\"/fields/otp1/value\",\"value\":\"otpauth://"
        "SECRETCANARY\"}]",
        "[{\"op\":\"add\",\"path\":\"/tags/9\",\"value\":\"SECRETCANARY\"}]",
        "[{\"op\":\"add\",\"path\":\"/title\",\"value\":\"SECRETCANARY\"},{\"op\":\"bad\"}]",
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        cJSON *out = NULL;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__item_patch_apply(it, patches[i], strlen(patches[i]), &out, NULL, &eb);
        assert_int_not_equal(rc, OPC_OK);
        assert_null(out);
        assert_true(eb.msg[0] != '\0');
        if (strstr(eb.msg, "SECRETCANARY") != NULL || strstr(eb.msg, "fake-pw") != NULL) {
            fail_msg("patch %zu: the message shows a value: %s", i, eb.msg);
        }
    }
    opc__json_delete_secret(it);
}

static void test_patch_invalid_arguments(void **state)
{
    (void)state;
    cJSON *it = base_item();
    cJSON *out = (cJSON *)1;
    size_t n = 5;
    assert_int_equal(opc__item_patch(NULL, "[]", 2, &out, &n, NULL), OPC_ERR_INVALID_ARG);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_int_equal(opc__item_patch(it, NULL, 0, &out, NULL, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__item_patch(it, "[]", 2, NULL, NULL, NULL), OPC_ERR_INVALID_ARG);
    cJSON *arr = cJSON_CreateArray();
    assert_int_equal(opc__item_patch(arr, "[]", 2, &out, NULL, NULL), OPC_ERR_INVALID_ARG);
    out = (cJSON *)1;
    assert_int_equal(opc__item_patch_apply(arr, "[]", 2, &out, NULL, NULL), OPC_ERR_INVALID_ARG);
    assert_null(out);
    cJSON_Delete(arr);
    /* The existing item must have a category for item_prepare. */
    cJSON *nocat = parse("{\"title\":\"t\"}");
    const char *addcat = "[{\"op\":\"add\",\"path\":\"/category\",\"value\":\"LOGIN\"}]";
    assert_int_equal(opc__item_patch_apply(nocat, addcat, strlen(addcat), &out, NULL, NULL),
                     OPC_ERR_INVALID_ARG);
    cJSON_Delete(nocat);
    /* The length is honoured: no NUL needed, nothing read past it. */
    const char text[] = "[]garbage";
    assert_int_equal(opc__item_patch(it, text, 2, &out, &n, NULL), OPC_OK);
    opc__json_delete_secret(out);
    opc__json_delete_secret(it);
}

/* Every cJSON allocation of a patch and its item_prepare fails in turn:
 * no crash, no leak, never OPC_OK. An allocation failure inside cJSON's
 * parser cannot be told from bad syntax (core/json.c): that one is
 * OPC_ERR_PARSE "syntax error"; everything else must be OPC_ERR_NOMEM. */
static void test_patch_cjson_allocation_failures(void **state)
{
    (void)state;
    cJSON *it = base_item();
    static const char patch[] =
        "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"u\"},"
        "{\"op\":\"add\",\"path\":\"/tags/1\",\"value\":\"t\"},"
        "{\"op\":\"replace\",\"path\":\"/tags/0\",\"value\":\"s\"},"
        "{\"op\":\"add\",\"path\":\"/fields\",\"value\":{\"label\":\"l\"}},"
        "{\"op\":\"add\",\"path\":\"/fields/nf\",\"value\":{\"value\":\"v\"}},"
        "{\"op\":\"add\",\"path\":\"/fields/username/section/id\",\"value\":\"sec1\"},"
        "{\"op\":\"replace\",\"path\":\"/fields/password/value\",\"value\":\"fake\"},"
        "{\"op\":\"replace\",\"path\":\"/fields/otp1\",\"value\":{\"label\":\"o\"}},"
        "{\"op\":\"add\",\"path\":\"/sections/-\",\"value\":{\"id\":\"s2\"}},"
        "{\"op\":\"remove\",\"path\":\"/urls/0\"}]";
    long k;
    for (k = 1; k < 100000; k++) {
        cjson_fail_at = k;
        cjson_allocs = 0;
        cjson_injected = 0;
        cJSON *out = (cJSON *)1;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__item_patch_apply(it, patch, strlen(patch), &out, NULL, &eb);
        cjson_fail_at = 0;
        if (cjson_injected == 0) {
            assert_int_equal(rc, OPC_OK);
            opc__json_delete_secret(out);
            break;
        }
        assert_null(out);
        if (rc != OPC_ERR_NOMEM && !(rc == OPC_ERR_PARSE && strstr(eb.msg, "syntax error"))) {
            fail_msg("cJSON allocation %ld failed: %s \"%s\"", k, opc_errname(rc), eb.msg);
        }
    }
    print_message("patch: %ld cJSON allocation failures survived\n", k - 1);
    assert_true(k > 50);
    opc__json_delete_secret(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_empty_returns_item_unchanged),
        cmocka_unit_test(test_patch_root_add_and_replace),
        cmocka_unit_test(test_patch_attributes),
        cmocka_unit_test(test_patch_read_only_and_unknown_attributes),
        cmocka_unit_test(test_patch_tags_by_index),
        cmocka_unit_test(test_patch_urls),
        cmocka_unit_test(test_patch_fields_add),
        cmocka_unit_test(test_patch_fields_replace_remove),
        cmocka_unit_test(test_patch_field_attributes),
        cmocka_unit_test(test_patch_sections),
        cmocka_unit_test(test_patch_operation_objects),
        cmocka_unit_test(test_patch_pointers),
        cmocka_unit_test(test_patch_body_and_limits),
        cmocka_unit_test(test_patch_is_atomic),
        cmocka_unit_test(test_patch_apply_second_password_refused),
        cmocka_unit_test(test_patch_apply_password_history_and_files),
        cmocka_unit_test(test_patch_messages_never_show_values),
        cmocka_unit_test(test_patch_invalid_arguments),
        cmocka_unit_test(test_patch_cjson_allocation_failures),
    };
    return cmocka_run_group_tests_name("patch", tests, group_setup, group_teardown);
}
