/*
 * tests/unit/item_json.h - small getters and exact checks on item JSON,
 * shared by the item model's tests (test_item.c, test_patch.c).
 */
#ifndef OPC_TEST_ITEM_JSON_H
#define OPC_TEST_ITEM_JSON_H

#include "harness.h"

#include <cjson/cJSON.h>

/* The string member key of obj, or NULL. */
static OPC_TEST_UNUSED const char *str(const cJSON *obj, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* The first object of arr whose "id" is id, or NULL. */
static OPC_TEST_UNUSED const cJSON *by_id(const cJSON *arr, const char *id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const char *eid = str(e, "id");
        if (eid != NULL && strcmp(eid, id) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The unformatted text of j (for exact comparisons). */
static OPC_TEST_UNUSED void assert_json(const cJSON *j, const char *want)
{
    char *s = cJSON_PrintUnformatted(j);
    assert_non_null(s);
    if (strcmp(s, want) != 0) {
        fail_msg("got  %s\nwant %s", s, want);
    }
    cJSON_free(s);
}

/* The ids of an array of objects, comma-separated ("(none)" for an object without one). */
static OPC_TEST_UNUSED void assert_ids(const cJSON *arr, const char *want)
{
    char buf[1024] = "";
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const char *id = str(e, "id");
        const char *part = id != NULL ? id : "(none)";
        assert_true(strlen(buf) + 1 + strlen(part) < sizeof buf);
        if (buf[0] != '\0') {
            strcat(buf, ",");
        }
        strcat(buf, part);
    }
    assert_string_equal(buf, want);
}

#endif
