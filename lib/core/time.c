#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/time.h"

int64_t opc__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t opc__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t opc__monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t opc__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Proleptic Gregorian day counts, computed in 400-year eras. */
int64_t opc__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static opc_err split(int64_t unix_s, int64_t *y, unsigned *mo, unsigned *d, unsigned *h,
                     unsigned *mi, unsigned *s)
{
    int64_t days = floor_div(unix_s, 86400);
    int64_t rem = unix_s - days * 86400;
    civil_from_days(days, y, mo, d);
    if (*y < 1 || *y > 9999) {
        return OPC_ERR_RANGE;
    }
    *h = (unsigned)(rem / 3600);
    *mi = (unsigned)(rem / 60 % 60);
    *s = (unsigned)(rem % 60);
    return OPC_OK;
}

opc_err opc__time_format(int64_t unix_s, char out[OPC_TIME_STRLEN])
{
    int64_t y;
    unsigned mo, d, h, mi, s;
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (unix_s < -62135596800LL || unix_s > 253402300799LL) {
        return OPC_ERR_RANGE;
    }
    opc_err rc = split(unix_s, &y, &mo, &d, &h, &mi, &s);
    if (rc != OPC_OK) {
        return rc;
    }
    (void)snprintf(out, OPC_TIME_STRLEN, "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)y, mo, d, h, mi, s);
    return OPC_OK;
}

opc_err opc__time_format_us(int64_t unix_us, char out[OPC_TIME_STRLEN])
{
    int64_t y;
    unsigned mo, d, h, mi, s;
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    int64_t secs = floor_div(unix_us, 1000000);
    if (secs < -62135596800LL || secs > 253402300799LL) {
        return OPC_ERR_RANGE;
    }
    int64_t us = unix_us - secs * 1000000;
    opc_err rc = split(secs, &y, &mo, &d, &h, &mi, &s);
    if (rc != OPC_OK) {
        return rc;
    }
    (void)snprintf(out, OPC_TIME_STRLEN, "%04d-%02u-%02uT%02u:%02u:%02u.%06dZ", (int)y, mo, d, h,
                   mi, s, (int)us);
    return OPC_OK;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

opc_err opc__time_parse(const char *s, size_t len, int64_t *out_us, opc__ebuf *eb)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec;
    if (s == NULL || out_us == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec)) {
        return opc__fail(eb, OPC_ERR_PARSE, "timestamp is not RFC 3339 (YYYY-MM-DDTHH:MM:SSZ)");
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1u : 0u) ||
        h > 23 || mi > 59 || sec > 59) {
        return opc__fail(eb, OPC_ERR_RANGE, "timestamp has an invalid date or time");
    }
    size_t i = 19;
    int64_t frac_us = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (scale > 0) {
                frac_us += (s[i] - '0') * scale;
                scale /= 10;
            }
            i++;
        }
        if (i == start || i - start > 9) {
            return opc__fail(eb, OPC_ERR_PARSE, "timestamp fraction must have 1 to 9 digits");
        }
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59) {
            return opc__fail(eb, OPC_ERR_PARSE, "timestamp has a malformed UTC offset");
        }
        offset_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return opc__fail(eb, OPC_ERR_PARSE, "timestamp needs 'Z' or a UTC offset");
    }
    if (i != len) {
        return opc__fail(eb, OPC_ERR_PARSE, "timestamp has trailing characters");
    }
    int64_t days = opc__days_from_civil((int64_t)y, mo, d);
    int64_t t = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)sec - offset_s;
    *out_us = t * 1000000 + frac_us;
    return OPC_OK;
}
