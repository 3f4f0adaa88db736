/*
 * JSON Patch bodies (model/patch.h) applied to a fixed item, then through
 * item_prepare(OPC_ITEM_REPLACE) as PATCH does. Properties: the item
 * patched is never modified; a failure leaves no output and n_ops 0; an
 * accepted patch has at most OPC_PATCH_MAX_OPS operations and gives a
 * tree that passes the strict JSON rules (no key pair differing only in
 * case, valid UTF-8) and prints, and opc__item_check() answers for it what
 * opc__item_parse() answers for its print (code and message), as PATCH
 * relies on; opc__item_patch_apply() fails with the
 * same code whenever the bare patch fails; an item it accepts presents,
 * and splits and joins back equal.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "core/alloc.h"
#include "core/json.h"
#include "model/item.h"
#include "model/patch.h"

/* The item the seeds (fuzz/gen_seeds.c) are written for: a LOGIN with
 * tags, a URL, two sections, an OTP field in a section, an id that needs
 * pointer escapes ("a/b~c") and a file. */
#define FUZZ_PATCH_ITEM                                                                            \
    "{\"title\":\"Example\",\"category\":\"LOGIN\",\"tags\":[\"a\",\"b\"],"                        \
    "\"urls\":[{\"href\":\"https://example.com\",\"primary\":true}],"                              \
    "\"sections\":[{\"id\":\"linked items\",\"label\":\"Related Items\"},"                         \
    "{\"id\":\"sec1\",\"label\":\"Extra\"}],"                                                      \
    "\"fields\":[{\"id\":\"username\",\"value\":\"alice\"},"                                       \
    "{\"id\":\"password\",\"value\":\"fake-password\",\"entropy\":40},"                            \
    "{\"id\":\"otp1\",\"type\":\"OTP\",\"label\":\"one-time\",\"section\":{\"id\":\"sec1\"},"      \
    "\"value\":\"otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQ&issuer=ACME\"},"                \
    "{\"id\":\"a/b~c\",\"label\":\"odd id\",\"value\":\"x\"}]}"

static cJSON *item;      /* the stored form, with a file */
static cJSON *item_copy; /* to check that nothing touches it */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_library();
    const char *json = FUZZ_PATCH_ITEM;
    if (opc__item_prepare_json(json, strlen(json), OPC_ITEM_CREATE, NULL, &item, NULL) != OPC_OK) {
        abort();
    }
    cJSON *files = cJSON_Parse("[{\"id\":\"fuzzfileaaaaaaaaaaaaaaaaaa\",\"name\":\"a.txt\","
                               "\"size\":3,\"key\":\"k\"}]");
    if (files == NULL || !cJSON_AddItemToObject(item, "files", files)) {
        abort();
    }
    item_copy = cJSON_Duplicate(item, true);
    if (item_copy == NULL) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cJSON *raw = NULL;
    size_t n = 99;
    opc_err rc = opc__item_patch(item, text, size, &raw, &n, NULL);
    if (rc != OPC_OK) {
        if (raw != NULL || n != 0) {
            abort();
        }
    } else {
        char *printed = NULL;
        size_t printed_len = 0;
        if (raw == NULL || n > OPC_PATCH_MAX_OPS || opc__json_check(raw, 0, NULL) != OPC_OK ||
            opc__json_print(raw, &printed, &printed_len) != OPC_OK) {
            abort();
        }
        opc__ebuf by_tree;
        opc__ebuf by_text;
        opc__ebuf_clear(&by_tree);
        opc__ebuf_clear(&by_text);
        cJSON *back = NULL;
        if (opc__item_check(raw, &by_tree) !=
                opc__item_parse(printed, printed_len, &back, &by_text) ||
            strcmp(by_tree.msg, by_text.msg) != 0) {
            abort();
        }
        opc__json_delete_secret(back);
        opc__secret_free_str(printed);
        opc__json_delete_secret(raw);
    }
    cJSON *out = NULL;
    size_t n2 = 99;
    opc_err rc2 = opc__item_patch_apply(item, text, size, &out, &n2, NULL);
    if (rc2 != OPC_OK) {
        if (out != NULL || n2 != 0 || (rc != OPC_OK && rc2 != rc)) {
            abort();
        }
    } else {
        cJSON *ov = NULL, *det = NULL, *joined = NULL;
        if (rc != OPC_OK || n2 != n || opc__item_split(out, &ov, &det) != OPC_OK ||
            opc__item_join(ov, det, &joined) != OPC_OK || !cJSON_Compare(out, joined, 1) ||
            opc__item_present(out, 1800000000, NULL, NULL) != OPC_OK) {
            abort();
        }
        opc__json_delete_secret(joined);
        opc__json_delete_secret(ov);
        opc__json_delete_secret(det);
        opc__json_delete_secret(out);
    }
    if (!cJSON_Compare(item, item_copy, 1)) {
        abort();
    }
    return 0;
}
