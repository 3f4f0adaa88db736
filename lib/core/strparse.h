/*
 * core/strparse.h - locale-free parsing of protocol and configuration text.
 *
 * Every parser takes an explicit length, accepts the whole input or fails
 * (no trailing garbage, no leading white space, no sign unless stated) and
 * checks ranges and overflow.
 */
#ifndef OPC_CORE_STRPARSE_H
#define OPC_CORE_STRPARSE_H

#include "core/err.h"
#include "internal.h"

/* Unsigned integer in base 10 or 16, <= max. Leading zeros allowed. */
opc_err opc__parse_u64(const char *s, size_t len, int base, uint64_t max, uint64_t *out,
                       opc__ebuf *eb);

/* Signed decimal integer with optional leading '-', within [min, max]. */
opc_err opc__parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out,
                       opc__ebuf *eb);

/*
 * Go-style duration: a sequence of decimal numbers, each with an optional
 * fraction and a unit: ns, us (or µs), ms, s, m, h, and d (24h, our
 * extension). Examples: "10s", "1m30s", "1.5h", "30d", "250ms". "0" alone is
 * zero. No sign, no spaces. The result is in milliseconds (sub-millisecond
 * parts are truncated) and must not exceed max_ms.
 */
opc_err opc__parse_duration_ms(const char *s, size_t len, int64_t max_ms, int64_t *out_ms,
                               opc__ebuf *eb);

/* A numeric IPv4 address in dotted-decimal form ("127.0.0.1"; inet_pton). */
bool opc__ipv4_valid(const char *s);
/* A numeric IPv4 or IPv6 address (no brackets, no zone). */
bool opc__ip_valid(const char *s);
/* Whether a URL's host is loopback: 127.0.0.0/8 as a dotted quad, [::1] or
 * localhost, without user info (the hosts plain http:// is accepted for). */
bool opc__url_loopback(const char *url);

/* The value of one hexadecimal digit (either case), or -1. */
int opc__hexval(int c);

/*
 * Decode application/x-www-form-urlencoded text s[0..len) ('+' is a space,
 * %XX a byte) into out[cap], NUL-terminated, its length in *out_len.
 * OPC_ERR_PARSE for a bad escape or an encoded NUL, OPC_ERR_TOO_LARGE when
 * it does not fit; eb (may be NULL) says which, prefixed with `what`.
 */
opc_err opc__form_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len,
                         const char *what, opc__ebuf *eb);

/* ASCII helpers that ignore the locale. */
bool opc__is_space(int c);
int opc__to_lower(int c);
/* Case-insensitive ASCII comparison of NUL-terminated strings; 0 when equal. */
int opc__strcasecmp(const char *a, const char *b);
/* Trim ASCII white space at both ends: returns the start, sets *len. */
const char *opc__trim(const char *s, size_t *len);

#endif
