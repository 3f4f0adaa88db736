#include "internal.h"

#include <arpa/inet.h>
#include <string.h>

#include <opconnect/global.h>

#include "core/strparse.h"

bool opc__is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int opc__to_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int opc__strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = opc__to_lower((unsigned char)*a);
        int cb = opc__to_lower((unsigned char)*b);
        if (ca != cb || ca == 0) {
            return ca - cb;
        }
    }
}

const char *opc__trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n > 0 && opc__is_space((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && opc__is_space((unsigned char)s[n - 1])) {
        n--;
    }
    *len = n;
    return s;
}

static int digit_value(char c, int base)
{
    int v;
    if (c >= '0' && c <= '9') {
        v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
        v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        v = c - 'A' + 10;
    } else {
        return -1;
    }
    return v < base ? v : -1;
}

opc_err opc__parse_u64(const char *s, size_t len, int base, uint64_t max, uint64_t *out,
                       opc__ebuf *eb)
{
    if (s == NULL || out == NULL || (base != 10 && base != 16)) {
        return OPC_ERR_INVALID_ARG;
    }
    if (len == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "empty number");
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(s[i], base);
        if (d < 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "invalid digit at offset %zu", i);
        }
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
            return opc__fail(eb, OPC_ERR_RANGE, "number too large");
        }
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > max) {
        return opc__fail(eb, OPC_ERR_RANGE, "number above the maximum of %llu",
                         (unsigned long long)max);
    }
    *out = v;
    return OPC_OK;
}

opc_err opc__parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out,
                       opc__ebuf *eb)
{
    if (s == NULL || out == NULL || min > max) {
        return OPC_ERR_INVALID_ARG;
    }
    bool neg = len > 0 && s[0] == '-';
    uint64_t mag = 0;
    opc_err rc =
        opc__parse_u64(s + neg, len - neg, 10, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &mag, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    int64_t v;
    if (neg) {
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        v = (int64_t)mag;
    }
    if (v < min || v > max) {
        return opc__fail(eb, OPC_ERR_RANGE, "number outside [%lld, %lld]", (long long)min,
                         (long long)max);
    }
    *out = v;
    return OPC_OK;
}

/* Units in nanoseconds. Longer names first where one is a prefix of another. */
static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1ull},
    {"us", 1000ull},
    {"\xc2\xb5s", 1000ull}, /* µs (U+00B5) */
    {"\xce\xbcs", 1000ull}, /* μs (U+03BC) */
    {"ms", 1000000ull},
    {"s", 1000000000ull},
    {"m", 60ull * 1000000000ull},
    {"h", 3600ull * 1000000000ull},
    {"d", 86400ull * 1000000000ull},
};

opc_err opc__parse_duration_ms(const char *s, size_t len, int64_t max_ms, int64_t *out_ms,
                               opc__ebuf *eb)
{
    if (s == NULL || out_ms == NULL || max_ms < 0) {
        return OPC_ERR_INVALID_ARG;
    }
    if (len == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "empty duration");
    }
    if (len == 1 && s[0] == '0') {
        *out_ms = 0;
        return OPC_OK;
    }
    /* Total in nanoseconds, capped well above any max_ms we accept. */
    const uint64_t cap_ns = (uint64_t)max_ms * 1000000ull + 999999ull;
    if ((uint64_t)max_ms > UINT64_MAX / 2000000ull) {
        return OPC_ERR_INVALID_ARG;
    }
    uint64_t total = 0;
    size_t i = 0;
    while (i < len) {
        uint64_t whole = 0;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (whole > (UINT64_MAX - 9) / 10) {
                return opc__fail(eb, OPC_ERR_RANGE, "duration too large");
            }
            whole = whole * 10 + (uint64_t)(s[i] - '0');
            i++;
        }
        bool have_whole = i > start;
        uint64_t frac = 0, frac_scale = 1;
        bool have_frac = false;
        if (i < len && s[i] == '.') {
            i++;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (frac_scale < 1000000000000000000ull) {
                    frac = frac * 10 + (uint64_t)(s[i] - '0');
                    frac_scale *= 10;
                }
                have_frac = true;
                i++;
            }
        }
        if (!have_whole && !have_frac) {
            return opc__fail(eb, OPC_ERR_PARSE, "duration: expected a number at offset %zu", start);
        }
        size_t ustart = i;
        while (i < len && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') {
            i++;
        }
        if (i == ustart) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "duration: missing unit after the number at offset %zu "
                             "(use ns, us, ms, s, m, h or d)",
                             start);
        }
        uint64_t unit = 0;
        for (size_t u = 0; u < OPC_ARRAY_LEN(units); u++) {
            size_t ul = strlen(units[u].name);
            if (ul == i - ustart && memcmp(s + ustart, units[u].name, ul) == 0) {
                unit = units[u].ns;
                break;
            }
        }
        if (unit == 0) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "duration: unknown unit at offset %zu (use ns, us, ms, s, m, h or d)",
                             ustart);
        }
        if (whole > cap_ns / unit) {
            return opc__fail(eb, OPC_ERR_RANGE, "duration too large");
        }
        uint64_t part = whole * unit;
        if (have_frac) {
            /* frac / frac_scale * unit in exact integer arithmetic. */
            __extension__ unsigned __int128 f = (unsigned __int128)frac * unit / frac_scale;
            part += (uint64_t)f;
        }
        if (part > cap_ns - total) {
            return opc__fail(eb, OPC_ERR_RANGE, "duration too large");
        }
        total += part;
    }
    uint64_t ms = total / 1000000ull;
    if (ms > (uint64_t)max_ms) {
        return opc__fail(eb, OPC_ERR_RANGE, "duration too large (maximum %lld ms)",
                         (long long)max_ms);
    }
    *out_ms = (int64_t)ms;
    return OPC_OK;
}

opc_err opc_duration_parse_ms(const char *text, int64_t max_ms, int64_t *out_ms)
{
    if (text == NULL || out_ms == NULL || max_ms < 0) {
        return OPC_ERR_INVALID_ARG;
    }
    int64_t ms = 0;
    opc_err rc = opc__parse_duration_ms(text, strlen(text), max_ms, &ms, NULL);
    if (rc == OPC_OK) {
        *out_ms = ms;
    }
    return rc;
}

bool opc__ipv4_valid(const char *s)
{
    struct in_addr a;
    return s != NULL && strlen(s) < 16 && inet_pton(AF_INET, s, &a) == 1;
}

bool opc__ip_valid(const char *s)
{
    struct in6_addr a6;
    return opc__ipv4_valid(s) ||
           (s != NULL && strlen(s) < 46 && inet_pton(AF_INET6, s, &a6) == 1);
}

int opc__hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    int l = opc__to_lower(c);
    if (l >= 'a' && l <= 'f') {
        return l - 'a' + 10;
    }
    return -1;
}

opc_err opc__form_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len,
                         const char *what, opc__ebuf *eb)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = len - i < 3 ? -1 : opc__hexval((unsigned char)s[i + 1]);
            int lo = len - i < 3 ? -1 : opc__hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return opc__fail(eb, OPC_ERR_PARSE, "%s: bad percent escape", what);
            }
            c = hi << 4 | lo;
            if (c == 0) {
                return opc__fail(eb, OPC_ERR_PARSE, "%s: %%00 in a parameter", what);
            }
            i += 2;
        } else if (c == '+') {
            c = ' ';
        } else if (c == 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "%s: NUL in a parameter", what);
        }
        if (n + 1 >= cap) {
            return opc__fail(eb, OPC_ERR_TOO_LARGE, "%s: parameter too long", what);
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    *out_len = n;
    return OPC_OK;
}

bool opc__url_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    if (h == NULL) {
        return false;
    }
    h += 3;
    size_t n = strcspn(h, "/?#");
    if (memchr(h, '@', n) != NULL) {
        return false; /* no user info */
    }
    if (n >= 5 && strncmp(h, "[::1]", 5) == 0) { /* opc-public-compare */
        return n == 5 || h[5] == ':';
    }
    size_t hn = strcspn(h, ":/?#");
    if (hn == 9 && strncmp(h, "localhost", 9) == 0) { /* opc-public-compare */
        return true;
    }
    /* 127.0.0.0/8 as a dotted quad. */
    if (hn < 9 || strncmp(h, "127.", 4) != 0) { /* opc-public-compare */
        return false;
    }
    int dots = 0;
    for (size_t i = 0; i < hn; i++) {
        if (h[i] == '.') {
            dots++;
        } else if (h[i] < '0' || h[i] > '9') {
            return false;
        }
    }
    return dots == 3;
}
