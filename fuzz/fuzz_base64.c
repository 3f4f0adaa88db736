/* Strict base64/base64url decoding; a decoded value re-encodes to its input. */
#include "internal.h"

#include "fuzz_common.h"

#include "core/alloc.h"
#include "crypto/base64.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const unsigned modes[] = {
        OPC_B64_STD | OPC_B64_PAD, OPC_B64_STD | OPC_B64_NOPAD, OPC_B64_URL | OPC_B64_NOPAD,
        OPC_B64_URL,               OPC_B64_STD | OPC_B64_URL,   OPC_B64_STD,
    };
    unsigned flags = modes[data[0] % (sizeof modes / sizeof modes[0])];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    unsigned char *out = NULL;
    size_t out_len = 0;
    if (opc__b64_decode(in, n, flags, &out, &out_len, NULL) != OPC_OK) {
        return 0;
    }
    if (out_len > opc__b64_decoded_max(n)) {
        abort();
    }
    /* Canonical: re-encoding in the alphabet used gives the same text (modulo padding). */
    unsigned enc = (memchr(in, '-', n) != NULL || memchr(in, '_', n) != NULL) ? OPC_B64_URL
                                                                               : OPC_B64_STD;
    if (n > 0 && in[n - 1] == '=') {
        enc |= OPC_B64_PAD;
    }
    char *again = NULL;
    size_t again_len = 0;
    if (opc__b64_encode(out, out_len, enc, &again, &again_len) != OPC_OK) {
        abort();
    }
    if (again_len != n || memcmp(again, in, n) != 0) {
        abort();
    }
    opc__free(again);
    opc__free(out);
    return 0;
}
