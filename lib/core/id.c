#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/rand.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

opc_err opc__id_generate(char out[OPC_ID_LEN + 1])
{
    uint8_t raw[16];
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = opc__rand_bytes(raw, sizeof raw);
    if (rc != OPC_OK) {
        return rc;
    }
    /* 128 bits -> 26 base32 digits (the last carries 3 bits and 2 zero bits). */
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32[(acc >> bits) & 31];
        }
    }
    if (bits > 0) {
        out[o++] = b32[(acc << (5 - bits)) & 31];
    }
    out[o] = '\0';
    opc__wipe(raw, sizeof raw);
    return OPC_OK;
}

/* s[0..len) is 26 characters of a-z and the digits lo..hi. */
static bool id_of(const char *s, size_t len, char lo, char hi)
{
    if (s == NULL || len != OPC_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= lo && c <= hi))) {
            return false;
        }
    }
    return true;
}

bool opc__id_valid(const char *s, size_t len)
{
    return id_of(s, len, '2', '7');
}

bool opc__id_valid_str(const char *s)
{
    return s != NULL && opc__id_valid(s, strlen(s));
}

bool opc__id_client_valid(const char *s, size_t len)
{
    return id_of(s, len, '0', '9');
}

bool opc__id_client_valid_str(const char *s)
{
    return s != NULL && opc__id_client_valid(s, strlen(s));
}
