/*
 * credentials/session.c - opc_credentials_load(): the OP_SESSION value.
 *
 * OP_SESSION may hold, tried in this order:
 *  1. the path of a readable regular file (at most OPC_CREDENTIALS_MAX_SIZE
 *     bytes): it is parsed, and its errors name the path;
 *  2. after trimming ASCII white space, raw JSON (it starts with '{');
 *  3. the base64 of the file: standard or URL alphabet (not mixed), padding
 *     optional, line breaks and other white space anywhere ignored (so the
 *     output of base64(1) with its 76-column lines works). It must decode to
 *     JSON.
 * When none applies, the message says why each form failed. The value itself
 * is never copied into a message, since it may be the file's content; a path
 * is named only once it was found to be a readable file.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/strparse.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"

/* Why the value is not a readable file: a short phrase in why[]. */
typedef struct {
    char why[96];
} file_miss;

/* Text for the errno values open(), fstat() and read() give; not strerror(), which is not
 * thread-safe, and strerror_r() has two incompatible variants. */
static void errno_text(int err, char *out, size_t cap)
{
    static const struct {
        int err;
        const char *text;
    } tab[] = {
        {ENOENT, "No such file or directory"},
        {EACCES, "Permission denied"},
        {EPERM, "Operation not permitted"},
        {ENOTDIR, "Not a directory"},
        {ENAMETOOLONG, "File name too long"},
        {ELOOP, "Too many levels of symbolic links"},
        {EISDIR, "Is a directory"},
        {EIO, "Input/output error"},
        {EMFILE, "Too many open files"},
        {ENFILE, "Too many open files in system"},
        {ENOMEM, "Cannot allocate memory"},
        {ENXIO, "No such device or address"},
        {ENODEV, "No such device"},
        {EOVERFLOW, "Value too large for defined data type"},
        {EAGAIN, "Resource temporarily unavailable"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(tab); i++) {
        if (tab[i].err == err) {
            (void)snprintf(out, cap, "%s", tab[i].text);
            return;
        }
    }
    (void)snprintf(out, cap, "errno %d", err);
}

/* Read a whole regular file (fd) of at most the size limit into secret memory. */
static opc_err read_all(int fd, const char *path, char **out, size_t *out_len, opc__ebuf *eb)
{
    size_t cap = (size_t)OPC_CREDENTIALS_MAX_SIZE + 1, n = 0;
    char *buf = opc__malloc(cap);
    if (buf == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            char text[64];
            errno_text(errno, text, sizeof text);
            opc__secret_free(buf, cap);
            return opc__fail(eb, OPC_ERR_IO, "credentials file %s: cannot read it (%s)", path,
                             text);
        }
        if (got == 0) {
            break;
        }
        n += (size_t)got;
        if (n == cap) {
            opc__secret_free(buf, cap);
            return opc__fail(eb, OPC_ERR_TOO_LARGE, "credentials file %s is larger than %d bytes",
                             path, OPC_CREDENTIALS_MAX_SIZE);
        }
    }
    *out = buf;
    *out_len = n;
    return OPC_OK;
}

/*
 * Step 1. Returns OPC_ERR_NOT_FOUND (and fills miss) when value is not a
 * readable regular file; otherwise the result of parsing it.
 */
static opc_err try_file(const char *value, opc_credentials **out, file_miss *miss, opc__ebuf *eb)
{
    int fd = open(value, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        errno_text(errno, miss->why, sizeof miss->why);
        return OPC_ERR_NOT_FOUND;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        errno_text(errno, miss->why, sizeof miss->why);
        close(fd);
        return OPC_ERR_NOT_FOUND;
    }
    if (!S_ISREG(st.st_mode)) {
        (void)snprintf(miss->why, sizeof miss->why, "%s",
                       S_ISDIR(st.st_mode) ? "it is a directory" : "it is not a regular file");
        close(fd);
        return OPC_ERR_NOT_FOUND;
    }
    /* From here on value is a readable file, so naming it is fine. */
    if (st.st_size > (off_t)OPC_CREDENTIALS_MAX_SIZE) {
        close(fd);
        return opc__fail(eb, OPC_ERR_TOO_LARGE,
                         "credentials file %s is too large (%lld bytes; the limit is %d)", value,
                         (long long)st.st_size, OPC_CREDENTIALS_MAX_SIZE);
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        opc__log(OPC_LOG_WARN, "credentials",
                 "credentials file %s is accessible to other users (mode %03o); use 0600", value,
                 (unsigned)(st.st_mode & 0777));
    }
    char *text = NULL;
    size_t len = 0;
    opc_err rc = read_all(fd, value, &text, &len, eb);
    close(fd);
    if (rc != OPC_OK) {
        return rc;
    }
    char label[OPC_ERRBUF_SIZE];
    (void)snprintf(label, sizeof label, "credentials file %s", value);
    rc = opc__credentials_parse_labeled(text, len, label, out, eb);
    opc__secret_free(text, (size_t)OPC_CREDENTIALS_MAX_SIZE + 1);
    return rc;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '-' || c == '_' || c == '=';
}

/*
 * Step 3. Copies the base64 characters of s[0..n) (white space dropped) and
 * decodes them. On failure why[] says why, without quoting the value. The
 * offset of a character outside both alphabets counts from the start of the
 * OP_SESSION value (base is the offset of s in it); offsets in the decoder's
 * other messages (mixed alphabets, padding) count base64 characters only.
 */
static opc_err decode_b64(const char *s, size_t n, size_t base, unsigned char **out,
                          size_t *out_len, char *why, size_t why_cap)
{
    char *compact = opc__malloc(n + 1);
    if (compact == NULL) {
        return OPC_ERR_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (opc__is_space((unsigned char)s[i])) {
            continue;
        }
        if (!b64_char(s[i])) {
            opc__secret_free(compact, n + 1);
            (void)snprintf(why, why_cap, "invalid character at offset %zu", base + i);
            return OPC_ERR_PARSE;
        }
        compact[m++] = s[i];
    }
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    opc_err rc = opc__b64_decode(compact, m, OPC_B64_STD | OPC_B64_URL, out, out_len, &sub);
    opc__secret_free(compact, n + 1);
    if (rc == OPC_ERR_NOMEM) {
        return rc;
    }
    if (rc != OPC_OK) {
        bool prefixed = strncmp(sub.msg, "base64: ", 8) == 0; /* opc-public-compare */
        const char *msg = prefixed ? sub.msg + 8 : sub.msg;
        (void)snprintf(why, why_cap, "%s", msg[0] != '\0' ? msg : "invalid base64");
        return OPC_ERR_PARSE;
    }
    return OPC_OK;
}

static opc_err neither(opc__ebuf *eb, const file_miss *miss, const char *b64_why)
{
    return opc__fail(eb, OPC_ERR_CREDENTIALS,
                     "OP_SESSION is neither a readable file (%s) nor base64 of a credentials "
                     "file (%s)",
                     miss->why, b64_why);
}

static opc_err load(const char *value, opc_credentials **out, opc__ebuf *eb)
{
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "the library is not initialized (call opc_global_init first)");
    }
    if (value == NULL || out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "credentials: op_session and out must not be NULL");
    }
    size_t n = strlen(value);
    const char *t = opc__trim(value, &n);
    if (n == 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "OP_SESSION is empty");
    }
    file_miss miss;
    rc = try_file(value, out, &miss, eb);
    if (rc == OPC_ERR_NOT_FOUND && (t != value || value[n] != '\0')) {
        /* A path with a stray newline, as secrets mounted into variables often have. */
        file_miss miss2;
        char *path = opc__strndup(t, n);
        if (path == NULL) {
            return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
        }
        rc = try_file(path, out, &miss2, eb);
        opc__secret_free(path, n + 1);
    }
    if (rc != OPC_ERR_NOT_FOUND) {
        return rc;
    }
    if (t[0] == '{') {
        return opc__credentials_parse_labeled(t, n, "credentials file (JSON in OP_SESSION)", out,
                                              eb);
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    char why[OPC_ERRBUF_SIZE];
    rc = decode_b64(t, n, (size_t)(t - value), &bytes, &len, why, sizeof why);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return neither(eb, &miss, why);
    }
    size_t jn = len;
    const char *j = opc__trim((const char *)bytes, &jn);
    if (jn == 0 || j[0] != '{') {
        opc__secret_free(bytes, len);
        return neither(eb, &miss, "it does not decode to JSON");
    }
    rc = opc__credentials_parse_labeled(j, jn, "credentials file (base64 in OP_SESSION)", out, eb);
    opc__secret_free(bytes, len);
    return rc;
}

opc_err opc_credentials_load(const char *op_session, opc_credentials **out, char *errbuf,
                             size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    opc_err rc = load(op_session, out, &eb);
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}
