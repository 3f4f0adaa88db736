/*
 * The activity log's client-facing input: the limit/offset query parser
 * (GET /v1/activity), the user-agent cleaner and its JSON output, and the
 * metrics label escaper.
 */
#include "internal.h"

#include <stdio.h>

#include "fuzz_common.h"

#include "observe/activity.h"
#include "observe/metrics.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

static void check_query(const char *q)
{
    size_t limit = 0;
    size_t offset = 0;
    opc__ebuf eb;
    opc_err rc = opc__activity_parse_query(q, &limit, &offset, &eb);
    if (rc == OPC_OK) {
        if (limit > OPC_ACTIVITY_MAX_LIMIT || offset > OPC_ACTIVITY_MAX_OFFSET) {
            abort();
        }
    } else if (rc != OPC_ERR_PARSE || limit != OPC_ACTIVITY_DEFAULT_LIMIT || offset != 0 ||
               (strcmp(eb.msg, "Invalid limit") != 0 && strcmp(eb.msg, "Invalid offset") != 0)) {
        abort();
    }
    char cr[OPC_ACTIVITY_RANGE_LEN];
    opc__activity_content_range(offset, limit, offset + limit, cr);
    if (strlen(cr) >= sizeof cr) {
        abort();
    }
}

/* Cleaned text is valid UTF-8, capped, unchanged when it was valid and
 * short, and survives JSON escaping and a strict parse. */
static void check_text(const char *s, size_t cap)
{
    char out[OPC_ACTIVITY_MAX_UA + 1];
    size_t n = opc__activity_clean_text(out, cap, s);
    size_t in_len = strlen(s);
    if (n >= cap || strlen(out) != n || !opc__utf8_valid(out, n)) {
        abort();
    }
    if (in_len < cap && opc__utf8_valid(s, in_len) && strcmp(out, s) != 0) {
        abort();
    }
    opc__buf b;
    opc__buf_init(&b, false);
    opc__buf_append_json_str(&b, out, n);
    if (opc__buf_err(&b) != OPC_OK) {
        abort();
    }
    cJSON *j = NULL;
    if (opc__json_parse(b.data, b.len, NULL, &j, NULL) != OPC_OK || !cJSON_IsString(j) ||
        strcmp(j->valuestring, out) != 0) {
        abort();
    }
    cJSON_Delete(j);
    opc__buf_free(&b);
}

/* Escaped label values unescape to the input and hold no raw '"' or LF. */
static void check_label(const char *s)
{
    opc__buf b;
    opc__buf_init(&b, false);
    opc__metrics_escape_label(&b, s);
    if (opc__buf_err(&b) != OPC_OK) {
        abort();
    }
    size_t o = 0;
    for (size_t i = 0; i < b.len; i++, o++) {
        char c = b.data[i];
        if (c == '"' || c == '\n') {
            abort();
        }
        if (c == '\\') {
            i++;
            c = b.data[i] == 'n' ? '\n' : b.data[i];
            if (b.data[i] != 'n' && b.data[i] != '\\' && b.data[i] != '"') {
                abort();
            }
        }
        if (s[o] != c) {
            abort();
        }
    }
    if (s[o] != '\0') {
        abort();
    }
    opc__buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    char *s = opc__malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    check_query(s);
    check_text(s, OPC_ACTIVITY_MAX_UA + 1);
    check_text(s, 5);
    check_text(s, 1);
    check_label(s);
    opc__free(s);
    return 0;
}
