/*
 * otpauth:// URIs and generator recipes (the CLI form), the two small text
 * parsers of the item model.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "core/alloc.h"
#include "model/password.h"
#include "model/totp.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = opc__strndup((const char *)data, size);
    if (s == NULL) {
        return 0;
    }
    opc__totp t;
    if (opc__totp_parse(s, &t, NULL) == OPC_OK) {
        char code[11];
        if (t.key_len == 0 || t.key_len > sizeof t.key || t.digits < 6 || t.digits > 8 ||
            opc__totp_code(&t, 1800000000, code) != OPC_OK || strlen(code) != t.digits) {
            abort();
        }
        opc__wipe(&t, sizeof t);
    }
    opc__recipe r;
    if (opc__recipe_parse_cli(s, &r, NULL) == OPC_OK) {
        char pw[OPC_RECIPE_MAX_LENGTH + 1];
        double bits = 0;
        if (r.length < 1 || r.length > OPC_RECIPE_MAX_LENGTH) {
            abort();
        }
        if (opc__password_generate(&r, pw, &bits, NULL) == OPC_OK && strlen(pw) != r.length) {
            abort();
        }
    }
    opc__free(s);
    return 0;
}
