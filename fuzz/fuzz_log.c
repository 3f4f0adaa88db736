/*
 * The log line formatter (opc_log_format_json) on any bytes: the input,
 * split at NUL bytes, gives the message, method, path, remote address,
 * request id and jti. Every line must be one line of valid JSON in valid
 * UTF-8 without raw control characters, bounded in length whatever the
 * input's size, and a short buffer must get a prefix of the same line.
 */
#include "internal.h"

#include <cjson/cJSON.h>

#include "fuzz_common.h"

#include "core/alloc.h"
#include "core/log.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

/* The next NUL-terminated piece of the input, or "" past its end. */
static const char *piece(char **at, const char *end)
{
    if (*at >= end) {
        return "";
    }
    const char *p = *at;
    *at += strlen(p) + 1;
    return p;
}

/* Valid UTF-8 with no byte below 0x20 (every control is escaped). */
static bool clean_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        if (c < 0x20) {
            return false;
        } else if (c < 0x80) {
            k = 1;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 4;
        } else {
            return false;
        }
        if (i + k > n) {
            return false;
        }
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return false;
            }
        }
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f)) {
            return false;
        }
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    char *copy = opc__malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    char *at = copy;
    const char *end = copy + size - 1;
    opc_log_http h = {.status = (int)(data[0] * 3) - 100, .duration_us = (int64_t)data[0] << 40};
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = (opc_log_level)(data[0] % 7),
                          .time_us = ((int64_t)data[0] - 128) * ((int64_t)1 << 50)};
    rec.message = piece(&at, end);
    h.method = piece(&at, end);
    h.path = piece(&at, end);
    h.remote_addr = (data[0] & 1) != 0 ? piece(&at, end) : NULL;
    h.bytes = (uint64_t)-1 / (data[0] | 1u);
    rec.request_id = (data[0] & 2) != 0 ? piece(&at, end) : NULL;
    rec.jti = (data[0] & 4) != 0 ? piece(&at, end) : NULL;
    rec.http = (data[0] & 8) != 0 ? &h : NULL;

    /* Every piece is capped, so the line is bounded: six escapes per byte
     * at the very worst. */
    size_t n = opc_log_format_json(&rec, NULL, 0);
    size_t bound = 6 * (OPC_LOG_MESSAGE_MAX + 2 * OPC_LOG_PATH_MAX + 3 * OPC_LOG_ID_MAX + 16) + 512;
    if (n > bound) {
        abort();
    }
    char *line = opc__malloc(n + 1);
    if (line == NULL) {
        opc__free(copy);
        return 0;
    }
    if (opc_log_format_json(&rec, line, n + 1) != n || line[n] != '\0' || n < 2 ||
        line[n - 1] != '\n' || memchr(line, '\n', n - 1) != NULL) {
        abort();
    }
    if (!clean_utf8((const unsigned char *)line, n - 1)) {
        abort();
    }
    cJSON *j = cJSON_ParseWithLength(line, n);
    if (j == NULL || !cJSON_IsObject(j) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "log_message"))) {
        abort();
    }
    cJSON_Delete(j);
    /* A short buffer holds a prefix of the line. */
    char small[64];
    size_t cut = (size_t)data[0] % sizeof small;
    if (opc_log_format_json(&rec, small, cut) != n) {
        abort();
    }
    if (cut > 0 &&
        (strlen(small) != (n < cut ? n : cut - 1) || memcmp(small, line, strlen(small)) != 0)) {
        abort();
    }
    opc__free(line);
    opc__free(copy);
    return 0;
}
