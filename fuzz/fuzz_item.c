/*
 * Item JSON as clients send it: create from the parsed tree, then replace
 * the created item with the same input as text. Accepted items must split
 * and join back to an equal tree and present without error.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "core/json.h"
#include "model/item.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *in = NULL;
    if (opc__item_parse((const char *)data, size, &in, NULL) != OPC_OK) {
        return 0;
    }
    cJSON *item = NULL;
    opc_err rc = opc__item_prepare(in, OPC_ITEM_CREATE, NULL, &item, NULL);
    opc__json_delete_secret(in);
    if (rc != OPC_OK) {
        return 0;
    }
    cJSON *overview = NULL, *details = NULL, *joined = NULL;
    if (opc__item_split(item, &overview, &details) != OPC_OK ||
        opc__item_join(overview, details, &joined) != OPC_OK || !cJSON_Compare(item, joined, 1)) {
        abort();
    }
    cJSON *replaced = NULL;
    if (opc__item_prepare_json((const char *)data, size, OPC_ITEM_REPLACE, item, &replaced, NULL) ==
        OPC_OK) {
        if (opc__item_present(replaced, 1800000000, NULL, NULL) != OPC_OK) {
            abort();
        }
        opc__json_delete_secret(replaced);
    }
    opc__json_delete_secret(joined);
    opc__json_delete_secret(overview);
    opc__json_delete_secret(details);
    opc__json_delete_secret(item);
    return 0;
}
