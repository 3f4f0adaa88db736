/*
 * core/time.h - clocks and RFC 3339 timestamps (UTC, 'Z' suffix).
 */
#ifndef OPC_CORE_TIME_H
#define OPC_CORE_TIME_H

#include "core/err.h"
#include "internal.h"

#define OPC_TIME_STRLEN 32 /* enough for any format below, with NUL */

int64_t opc__now_s(void);        /* wall clock, Unix seconds */
int64_t opc__now_us(void);       /* wall clock, Unix microseconds */
int64_t opc__monotonic_ms(void); /* monotonic clock, milliseconds */
int64_t opc__monotonic_ns(void); /* monotonic clock, nanoseconds */

/* "2020-10-29T17:52:17Z" (whole seconds). Years 0001-9999 only. */
opc_err opc__time_format(int64_t unix_s, char out[OPC_TIME_STRLEN]);
/* "2021-04-14T08:08:57.118532Z" (microseconds). */
opc_err opc__time_format_us(int64_t unix_us, char out[OPC_TIME_STRLEN]);

/*
 * Parse RFC 3339: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", 't'/'z'
 * accepted, fractions of up to 9 digits (truncated to microseconds). Dates
 * are validated (leap years; second 60 is refused). Result in Unix
 * microseconds.
 */
opc_err opc__time_parse(const char *s, size_t len, int64_t *out_us, opc__ebuf *eb);

/* Days since 1970-01-01 for a civil date (proleptic Gregorian). */
int64_t opc__days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
