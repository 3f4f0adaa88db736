/* The strict JSON layer every parser of the library sits on. */
#include "internal.h"

#include "fuzz_common.h"

#include "core/alloc.h"
#include "core/json.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL;
    opc__json_limits lim = {.max_size = 1 << 20, .max_depth = 16};
    if (opc__json_parse((const char *)data, size, &lim, &j, NULL) != OPC_OK) {
        return 0;
    }
    /* What we accepted prints and re-parses to an equal tree. */
    char *text = NULL;
    size_t len = 0;
    if (opc__json_print(j, &text, &len) != OPC_OK) {
        abort();
    }
    cJSON *k = NULL;
    if (opc__json_parse(text, len, NULL, &k, NULL) != OPC_OK) {
        abort();
    }
    if (!cJSON_Compare(j, k, 1)) {
        abort();
    }
    cJSON_Delete(k);
    opc__free(text);
    opc__json_delete_secret(j);
    return 0;
}
