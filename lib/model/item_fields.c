/*
 * model/item_fields.c - field types and the checks of field values.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/strparse.h"
#include "model/item.h"
#include "model/totp.h"

static const char *const field_types[] = {
    "STRING",
    "EMAIL",
    "CONCEALED",
    "URL",
    "OTP",
    "DATE",
    "MONTH_YEAR",
    "MENU",
    "ADDRESS",
    "CREDIT_CARD_NUMBER",
    "CREDIT_CARD_TYPE",
    "GENDER",
    "PHONE",
    "REFERENCE",
    "FILE",
    "SSHKEY",
    "UNKNOWN",
};

const char *opc__field_type_parse(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    if (s[0] == '\0') {
        return "STRING";
    }
    if (opc__strcasecmp(s, "TOTP") == 0) {
        return "OTP";
    }
    if (opc__strcasecmp(s, "SSH_KEY") == 0) {
        return "SSHKEY";
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(field_types); i++) {
        if (opc__strcasecmp(s, field_types[i]) == 0) {
            return field_types[i];
        }
    }
    return NULL;
}

/* n decimal digits at s, or -1. */
static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

static bool valid_date(const char *v)
{
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-') {
        return false;
    }
    int y = digits_value(v, 4);
    int m = digits_value(v + 5, 2);
    int d = digits_value(v + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1) {
        return false;
    }
    return d <= days_in_month(y, m);
}

/* YYYYMM or YYYY/MM; rewrites v as YYYYMM. */
static bool month_year(char *v)
{
    size_t n = strlen(v);
    int y = digits_value(v, 4);
    int m;
    if (n == 6) {
        m = digits_value(v + 4, 2);
    } else if (n == 7 && v[4] == '/') {
        m = digits_value(v + 5, 2);
    } else {
        return false;
    }
    if (y < 1 || m < 1 || m > 12) {
        return false;
    }
    if (n == 7) {
        v[4] = v[5];
        v[5] = v[6];
        v[6] = '\0';
    }
    return true;
}

opc_err opc__field_value_check(const char *type, char *value, opc__ebuf *eb)
{
    if (type == NULL || value == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (strcmp(type, "DATE") == 0) {
        if (!valid_date(value)) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "a DATE value must be a valid date in the form YYYY-MM-DD");
        }
    } else if (strcmp(type, "MONTH_YEAR") == 0) {
        if (!month_year(value)) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "a MONTH_YEAR value must be YYYYMM or YYYY/MM with a month 01-12");
        }
    } else if (strcmp(type, "OTP") == 0) {
        opc__totp t;
        opc_err rc = opc__totp_parse(value, &t, eb);
        opc__wipe(&t, sizeof t);
        if (rc != OPC_OK) {
            opc__ebuf_prefix(eb, "an OTP value must be an otpauth://totp URI");
            return OPC_ERR_PARSE;
        }
    }
    return OPC_OK;
}
