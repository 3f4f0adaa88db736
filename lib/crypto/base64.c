/*
 * crypto/base64.c - strict base64 and base64url (RFC 4648 §4 and §5).
 *
 * Decoding runs in two passes: validate() checks the whole input and
 * computes the exact decoded length without writing anything, then
 * decode_body() converts. So a failed call never writes to the caller's
 * buffer, and decode_to() can check the capacity before the first byte.
 *
 * Error messages give offsets only, never the offending character: the
 * input may be key material.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/base64.h"

static const char alphabet_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Which alphabet a symbol belongs to. */
enum sym_class {
    SYM_BAD = 0,
    SYM_COMMON, /* A-Z a-z 0-9: both alphabets */
    SYM_STD,    /* + / */
    SYM_URL     /* - _ */
};

/* Value of a symbol (0..63) and its class; explicit ranges, no locale. */
static enum sym_class classify(unsigned char c, unsigned *val)
{
    if (c >= 'A' && c <= 'Z') {
        *val = (unsigned)(c - 'A');
        return SYM_COMMON;
    }
    if (c >= 'a' && c <= 'z') {
        *val = (unsigned)(c - 'a') + 26u;
        return SYM_COMMON;
    }
    if (c >= '0' && c <= '9') {
        *val = (unsigned)(c - '0') + 52u;
        return SYM_COMMON;
    }
    switch (c) {
    case '+':
        *val = 62;
        return SYM_STD;
    case '/':
        *val = 63;
        return SYM_STD;
    case '-':
        *val = 62;
        return SYM_URL;
    case '_':
        *val = 63;
        return SYM_URL;
    default:
        *val = 0;
        return SYM_BAD;
    }
}

size_t opc__b64_encoded_len(size_t n, unsigned flags)
{
    size_t full = n / 3;
    size_t rem = n % 3;
    if (full > (SIZE_MAX - 4) / 4) {
        return SIZE_MAX; /* saturate: no buffer can hold it */
    }
    size_t len = full * 4;
    if (rem != 0) {
        len += (flags & OPC_B64_PAD) != 0 ? 4 : rem + 1;
    }
    return len;
}

size_t opc__b64_decoded_max(size_t n)
{
    size_t rem = n % 4;
    return (n / 4) * 3 + (rem >= 2 ? rem - 1 : 0);
}

static bool encode_flags_ok(unsigned flags)
{
    unsigned alpha = flags & (OPC_B64_STD | OPC_B64_URL);
    if (alpha != OPC_B64_STD && alpha != OPC_B64_URL) {
        return false;
    }
    if ((flags & OPC_B64_PAD) != 0 && (flags & OPC_B64_NOPAD) != 0) {
        return false;
    }
    return (flags & ~(OPC_B64_STD | OPC_B64_URL | OPC_B64_PAD | OPC_B64_NOPAD)) == 0;
}

/* Writes exactly opc__b64_encoded_len(n, flags) characters, then a NUL. */
static void encode_body(const unsigned char *in, size_t n, unsigned flags, char *out)
{
    const char *alpha = (flags & OPC_B64_URL) != 0 ? alphabet_url : alphabet_std;
    size_t i = 0;
    size_t o = 0;
    while (n - i >= 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[(v >> 18) & 0x3f];
        out[o++] = alpha[(v >> 12) & 0x3f];
        out[o++] = alpha[(v >> 6) & 0x3f];
        out[o++] = alpha[v & 0x3f];
        i += 3;
    }
    size_t rem = n - i;
    if (rem != 0) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (rem == 2) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        out[o++] = alpha[(v >> 18) & 0x3f];
        out[o++] = alpha[(v >> 12) & 0x3f];
        if (rem == 2) {
            out[o++] = alpha[(v >> 6) & 0x3f];
        }
        if ((flags & OPC_B64_PAD) != 0) {
            out[o++] = '=';
            if (rem == 1) {
                out[o++] = '=';
            }
        }
    }
    out[o] = '\0';
}

opc_err opc__b64_encode(const void *in, size_t n, unsigned flags, char **out, size_t *out_len)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || (in == NULL && n != 0) || !encode_flags_ok(flags)) {
        return OPC_ERR_INVALID_ARG;
    }
    size_t len = opc__b64_encoded_len(n, flags);
    if (len == SIZE_MAX) {
        return OPC_ERR_TOO_LARGE;
    }
    char *s = opc__malloc(len + 1);
    if (s == NULL) {
        return OPC_ERR_NOMEM;
    }
    encode_body(in, n, flags, s);
    *out = s;
    if (out_len != NULL) {
        *out_len = len;
    }
    return OPC_OK;
}

opc_err opc__b64_encode_to(const void *in, size_t n, unsigned flags, char *out, size_t cap,
                           size_t *out_len)
{
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || (in == NULL && n != 0) || !encode_flags_ok(flags)) {
        return OPC_ERR_INVALID_ARG;
    }
    size_t len = opc__b64_encoded_len(n, flags);
    if (len == SIZE_MAX || len >= cap) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return OPC_ERR_TOO_LARGE;
    }
    encode_body(in, n, flags, out);
    if (out_len != NULL) {
        *out_len = len;
    }
    return OPC_OK;
}

static bool decode_flags_ok(unsigned flags)
{
    if ((flags & (OPC_B64_STD | OPC_B64_URL)) == 0) {
        return false;
    }
    if ((flags & OPC_B64_PAD) != 0 && (flags & OPC_B64_NOPAD) != 0) {
        return false;
    }
    return (flags & ~(OPC_B64_STD | OPC_B64_URL | OPC_B64_PAD | OPC_B64_NOPAD)) == 0;
}

/*
 * Check every rule of base64.h. On success *data_len is the number of
 * symbols before any padding and *dec_len the exact decoded length.
 */
static opc_err validate(const char *in, size_t n, unsigned flags, size_t *data_len, size_t *dec_len,
                        opc__ebuf *eb)
{
    bool allow_std = (flags & OPC_B64_STD) != 0;
    bool allow_url = (flags & OPC_B64_URL) != 0;
    enum sym_class seen = SYM_COMMON; /* first alphabet-specific class met */
    size_t d = 0;
    unsigned val = 0;

    /* Symbols up to the first '=' (or the end). */
    for (; d < n; d++) {
        unsigned char c = (unsigned char)in[d];
        if (c == '=') {
            break;
        }
        enum sym_class cls = classify(c, &val);
        if (cls == SYM_BAD || (cls == SYM_STD && !allow_std) || (cls == SYM_URL && !allow_url)) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "base64: character not in the alphabet at offset %zu", d);
        }
        if (cls != SYM_COMMON) {
            if (seen == SYM_COMMON) {
                seen = cls;
            } else if (seen != cls) {
                return opc__fail(eb, OPC_ERR_PARSE,
                                 "base64: mixed base64 and base64url alphabets at offset %zu", d);
            }
        }
    }

    /* Padding: only '=' may follow the first '='. */
    size_t pad = n - d;
    for (size_t i = d; i < n; i++) {
        if (in[i] != '=') {
            return opc__fail(eb, OPC_ERR_PARSE, "base64: data after padding at offset %zu", i);
        }
    }

    size_t rem = d % 4;
    if (rem == 1) {
        return opc__fail(eb, OPC_ERR_PARSE,
                         "base64: truncated input (%zu symbols, a length of 1 mod 4) at offset "
                         "%zu",
                         d, d - 1);
    }
    if (pad > 0) {
        if ((flags & OPC_B64_NOPAD) != 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "base64: padding not allowed at offset %zu", d);
        }
        size_t want = rem == 0 ? 0 : 4 - rem;
        if (want == 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "base64: unexpected padding at offset %zu", d);
        }
        if (pad > want) {
            return opc__fail(eb, OPC_ERR_PARSE, "base64: too much padding at offset %zu", d + want);
        }
        if (pad < want) {
            return opc__fail(eb, OPC_ERR_PARSE, "base64: incomplete padding at offset %zu", n);
        }
    } else if (rem != 0 && (flags & OPC_B64_PAD) != 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "base64: missing padding at offset %zu", n);
    }

    /* The unused low bits of the last symbol must be zero (canonical form). */
    if (rem != 0) {
        (void)classify((unsigned char)in[d - 1], &val);
        unsigned mask = rem == 2 ? 0x0fu : 0x03u;
        if ((val & mask) != 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "base64: non-zero trailing bits at offset %zu",
                             d - 1);
        }
    }

    *data_len = d;
    *dec_len = (d / 4) * 3 + (rem == 0 ? 0 : rem - 1);
    return OPC_OK;
}

/* Convert d validated symbols into out (exactly dec_len bytes). */
static void decode_body(const char *in, size_t d, unsigned char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < d; i++) {
        unsigned val = 0;
        (void)classify((unsigned char)in[i], &val);
        acc = (acc << 6) | val;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    /* Leftover bits are zero (checked by validate) and are discarded. */
}

opc_err opc__b64_decode(const char *in, size_t n, unsigned flags, unsigned char **out,
                        size_t *out_len, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || (in == NULL && n != 0) || !decode_flags_ok(flags)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "base64: invalid argument");
    }
    size_t d = 0;
    size_t len = 0;
    opc_err rc = n == 0 ? OPC_OK : validate(in, n, flags, &d, &len, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    unsigned char *buf = opc__malloc(len + 1);
    if (buf == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "base64: out of memory");
    }
    decode_body(in, d, buf);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return OPC_OK;
}

opc_err opc__b64_decode_to(const char *in, size_t n, unsigned flags, void *out, size_t cap,
                           size_t *out_len, opc__ebuf *eb)
{
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out_len == NULL || (in == NULL && n != 0) || (out == NULL && cap != 0) ||
        !decode_flags_ok(flags)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "base64: invalid argument");
    }
    if (n == 0) {
        return OPC_OK; /* the empty string decodes to nothing */
    }
    size_t d = 0;
    size_t len = 0;
    opc_err rc = validate(in, n, flags, &d, &len, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (len > cap) {
        return opc__fail(eb, OPC_ERR_RANGE, "base64: decoded length %zu exceeds the buffer (%zu)",
                         len, cap);
    }
    if (len > 0) {
        decode_body(in, d, out);
    }
    *out_len = len;
    return OPC_OK;
}
