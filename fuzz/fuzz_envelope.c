/* Opening a ciphertext envelope (shape checks, base64url, GCM tag). */
#include "internal.h"

#include "fuzz_common.h"

#include "core/json.h"
#include "crypto/envelope.h"
#include "crypto/key.h"

static opc__key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_library();
    static const uint8_t raw[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    if (opc__key_from_oct(raw, sizeof raw, "fuzzvaultkey", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT,
                          &key) != OPC_OK) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *env = NULL;
    if (opc__json_parse((const char *)data, size, NULL, &env, NULL) != OPC_OK) {
        return 0;
    }
    opc_secret *pt = NULL;
    if (opc__envelope_open(env, key, "fuzz", 4, &pt, NULL) == OPC_OK) {
        opc_secret_free(pt);
    } else if (pt != NULL) {
        abort();
    }
    cJSON_Delete(env);
    return 0;
}
