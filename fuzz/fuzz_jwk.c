/* JWK import (oct, EC P-256, RSA); accepted keys export and re-import equal. */
#include "internal.h"

#include "fuzz_common.h"

#include "core/json.h"
#include "crypto/key.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) {
        return 0; /* RSA imports of huge moduli only slow the fuzzer down */
    }
    opc__key *k = NULL;
    if (opc__jwk_parse((const char *)data, size, 0, &k, NULL) != OPC_OK) {
        return 0;
    }
    cJSON *j = NULL;
    if (opc__jwk_export(k, true, &j) != OPC_OK) {
        abort();
    }
    opc__key *k2 = NULL;
    if (opc__jwk_import(j, 0, &k2, NULL) != OPC_OK) {
        abort();
    }
    if (!opc__key_equal_public(k, k2) || opc__key_type(k) != opc__key_type(k2) ||
        opc__key_is_private(k) != opc__key_is_private(k2)) {
        abort();
    }
    opc__key_free(k2);
    opc__json_delete_secret(j);
    opc__key_free(k);
    return 0;
}
