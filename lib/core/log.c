#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <opconnect/global.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/strparse.h"
#include "core/time.h"

static opc_log_fn log_fn;
static void *log_userdata;
static opc_log_level log_max = OPC_LOG_INFO;

opc_err opc_global_set_log(opc_log_fn fn, void *userdata, opc_log_level max_level)
{
    if (max_level < OPC_LOG_ERROR || max_level > OPC_LOG_TRACE) {
        return OPC_ERR_INVALID_ARG;
    }
    log_fn = fn;
    log_userdata = userdata;
    log_max = max_level;
    return OPC_OK;
}

void opc__log_reset(void)
{
    log_fn = NULL;
    log_userdata = NULL;
    log_max = OPC_LOG_INFO;
}

bool opc__log_enabled(opc_log_level level)
{
    return log_fn != NULL && level <= log_max;
}

OPC_PRINTF(5, 0)
static void vemit(opc_log_level level, const char *subsystem, const char *request_id,
                  const char *jti, const char *fmt, va_list ap)
{
    char msg[1024];
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0) {
        return;
    }
    opc_log_record rec = {
        .age = OPC_LOG_RECORD_AGE,
        .level = level,
        .time_us = opc__now_us(),
        .subsystem = subsystem != NULL ? subsystem : "core",
        .message = msg,
        .request_id = request_id,
        .jti = jti,
    };
    log_fn(&rec, log_userdata);
}

void opc__log(opc_log_level level, const char *subsystem, const char *fmt, ...)
{
    if (!opc__log_enabled(level)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vemit(level, subsystem, NULL, NULL, fmt, ap);
    va_end(ap);
}

void opc__log_scoped(opc_log_level level, const char *subsystem, const char *request_id,
                     const char *jti, const char *fmt, ...)
{
    if (!opc__log_enabled(level)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vemit(level, subsystem, request_id, jti, fmt, ap);
    va_end(ap);
}

opc_err opc_log_level_parse(const char *name, opc_log_level *out)
{
    static const struct {
        const char *name;
        opc_log_level level;
    } names[] = {
        {"error", OPC_LOG_ERROR}, {"warn", OPC_LOG_WARN},   {"warning", OPC_LOG_WARN},
        {"info", OPC_LOG_INFO},   {"debug", OPC_LOG_DEBUG}, {"trace", OPC_LOG_TRACE},
    };
    if (name == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(names); i++) {
        if (opc__strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return OPC_OK;
        }
    }
    return OPC_ERR_PARSE;
}

/* Small fixed-buffer writer: counts the full length like snprintf. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} sink;

static void put(sink *s, const char *p, size_t n)
{
    if (s->len < s->cap) {
        size_t room = s->cap - s->len;
        memcpy(s->buf + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

static void put_str(sink *s, const char *p)
{
    put(s, p, strlen(p));
}

static void put_json_body(sink *s, const char *p)
{
    for (const unsigned char *u = (const unsigned char *)p; *u != '\0'; u++) {
        char esc[6];
        size_t elen = opc__json_escape(*u, esc);
        if (elen == 0) {
            put(s, (const char *)u, 1);
        } else {
            put(s, esc, elen);
        }
    }
}

static void put_json_str(sink *s, const char *p)
{
    put(s, "\"", 1);
    put_json_body(s, p);
    put(s, "\"", 1);
}

size_t opc_log_format_json(const opc_log_record *rec, char *buf, size_t buf_len)
{
    static const char letters[] = "?EWIDT";
    sink s = {buf, buf_len > 0 ? buf_len - 1 : 0, 0};
    if (rec == NULL) {
        if (buf_len > 0) {
            buf[0] = '\0';
        }
        return 0;
    }
    int lvl = rec->level >= OPC_LOG_ERROR && rec->level <= OPC_LOG_TRACE ? (int)rec->level : 0;
    char prefix[5] = {'(', letters[lvl], ')', ' ', '\0'};
    char ts[OPC_TIME_STRLEN];
    if (opc__time_format_us(rec->time_us, ts) != OPC_OK) {
        (void)snprintf(ts, sizeof ts, "%s", "1970-01-01T00:00:00.000000Z");
    }
    char lvlnum[4] = {(char)('0' + lvl), '\0'};

    put_str(&s, "{\"log_message\":\"");
    put_str(&s, prefix);
    put_json_body(&s, rec->message != NULL ? rec->message : "");
    put(&s, "\"", 1);
    put_str(&s, ",\"timestamp\":\"");
    put_str(&s, ts);
    put_str(&s, "\",\"level\":");
    put_str(&s, lvlnum);
    if (rec->request_id != NULL || rec->jti != NULL) {
        put_str(&s, ",\"scope\":{");
        bool comma = false;
        if (rec->request_id != NULL) {
            put_str(&s, "\"request_id\":");
            put_json_str(&s, rec->request_id);
            comma = true;
        }
        if (rec->jti != NULL) {
            if (comma) {
                put(&s, ",", 1);
            }
            put_str(&s, "\"jti\":");
            put_json_str(&s, rec->jti);
        }
        put(&s, "}", 1);
    }
    put_str(&s, "}\n");
    if (buf_len > 0) {
        buf[s.len < buf_len ? s.len : buf_len - 1] = '\0';
    }
    return s.len;
}
