/*
 * The credentials-file parser and its two-layer unlock. The first 32 bytes of
 * the input are used as the bearer secret T for an unlock attempt when the
 * rest parses.
 */
#include "fuzz_common.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 32) {
        return 0;
    }
    opc_credentials *c = NULL;
    char err[OPC_ERRBUF_SIZE];
    opc_err rc = opc_credentials_parse((const char *)data + 32, size - 32, &c, err, sizeof err);
    if (rc != OPC_OK) {
        if (c != NULL || err[0] == '\0') {
            abort();
        }
        return 0;
    }
    if (opc_credentials_server_id(c) == NULL || opc_credentials_device_uuid(c) == NULL) {
        abort();
    }
    rc = opc_credentials_unlock(c, data, 32, err, sizeof err);
    if (rc == OPC_OK && !opc_credentials_is_unlocked(c)) {
        abort();
    }
    opc_credentials_free(c);
    return 0;
}
