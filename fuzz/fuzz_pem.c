/*
 * PEM certificate chain + private key (lib/tls/certkey.c): the first two
 * bytes give the length of the chain part, the rest is the key part. An
 * accepted pair must have a leaf whose key matches and a sane validity.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "tls/tls.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536) {
        return 0;
    }
    size_t split = (size_t)data[0] << 8 | data[1];
    const char *rest = (const char *)data + 2;
    size_t n = size - 2;
    if (split > n) {
        split = n;
    }
    opc__certkey *ck = NULL;
    if (opc__certkey_from_pem(rest, split, rest + split, n - split, "cert", "key", 0, &ck, NULL) !=
        OPC_OK) {
        return 0;
    }
    if (opc__certkey_serial(ck)[0] == '\0' || opc__certkey_not_after(ck) <= 0) {
        abort();
    }
    (void)opc__certkey_matches_host(ck, "localhost");
    opc__certkey_unref(ck);
    return 0;
}
