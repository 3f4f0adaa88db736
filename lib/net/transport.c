/*
 * net/transport.c - the HTTP exchanges with an account server over
 * libcurl (transport.h: the policy is described there).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include <opconnect/version.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/secret.h"
#include "core/strparse.h"
#include "net/transport.h"
#include "wire/proto.h"

struct opc__transport {
    CURL *curl;
    CURLM *multi; /* drives curl: its poll is woken by opc__transport_wakeup */
    char *base;   /* scheme://authority, no trailing slash */
    char *host;   /* host[:port], for messages */
    char *ca;     /* PEM bundle, NULL: the system's */
    size_t ca_len;
    bool plain_http;            /* loopback http:// */
    atomic_int *interrupted;    /* the exchange's interrupt flag, or NULL */
    opc__transport_answer *ans; /* the exchange under way */
};

/* ---- opening ---- */

static opc_err read_ca(const char *path, char **out, size_t *out_len, opc__ebuf *eb)
{
    opc_err rc = opc__file_read(path, OPC_TRANSPORT_MAX_CA_FILE, out, out_len, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "OP_UPSTREAM_CA_FILE %s", path);
        return rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO;
    }
    if (strstr(*out, "-----BEGIN CERTIFICATE-----") == NULL) {
        opc__free(*out);
        *out = NULL;
        *out_len = 0;
        return opc__fail(eb, OPC_ERR_IO, "OP_UPSTREAM_CA_FILE %s holds no PEM certificate", path);
    }
    return OPC_OK;
}

static opc_err bad_url(opc__ebuf *eb, const char *why)
{
    return opc__fail(eb, OPC_ERR_CREDENTIALS, "upstream URL %s", why);
}

/* Check the URL's shape with libcurl's own parser and keep its parts. */
static opc_err parse_url(opc__transport *t, const char *url, opc__ebuf *eb)
{
    CURLU *h = curl_url();
    if (h == NULL) {
        return OPC_ERR_NOMEM;
    }
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL,
         *frag = NULL;
    opc_err rc = OPC_OK;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = bad_url(eb, "is not a URL");
        goto done;
    }
    (void)curl_url_get(h, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(h, CURLUPART_PATH, &path, 0);
    (void)curl_url_get(h, CURLUPART_QUERY, &query, 0);
    (void)curl_url_get(h, CURLUPART_USER, &user, 0);
    (void)curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0);
    if (strcmp(scheme, "https") == 0) {
        t->plain_http = false;
    } else if (strcmp(scheme, "http") == 0 && opc__url_loopback(url)) {
        t->plain_http = true;
    } else if (strcmp(scheme, "http") == 0) {
        rc = opc__fail(eb, OPC_ERR_CREDENTIALS,
                       "upstream %s: plain http:// is accepted for a loopback host only (use "
                       "https://)",
                       host);
        goto done;
    } else {
        rc = bad_url(eb, "must be https://");
        goto done;
    }
    if ((path != NULL && strcmp(path, "/") != 0 && path[0] != '\0') || query != NULL ||
        user != NULL || frag != NULL) {
        rc = bad_url(eb, "must be scheme://host[:port] without a path, query or user");
        goto done;
    }
    size_t n = strlen(host) + (port != NULL ? strlen(port) + 1 : 0) + 1;
    t->host = opc__malloc(n);
    t->base = opc__malloc(strlen(scheme) + 3 + n);
    if (t->host == NULL || t->base == NULL) {
        rc = OPC_ERR_NOMEM;
        goto done;
    }
    (void)snprintf(t->host, n, "%s%s%s", host, port != NULL ? ":" : "", port != NULL ? port : "");
    (void)snprintf(t->base, strlen(scheme) + 3 + n, "%s://%s", scheme, t->host);
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_free(frag);
    curl_url_cleanup(h);
    return rc;
}

opc_err opc__transport_open(const char *base_url, const char *ca_file, opc__transport **out,
                            opc__ebuf *eb)
{
    *out = NULL;
    opc__transport *t = opc__calloc(1, sizeof *t);
    if (t == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = parse_url(t, base_url, eb);
    if (rc == OPC_OK && ca_file != NULL && ca_file[0] != '\0') {
        rc = read_ca(ca_file, &t->ca, &t->ca_len, eb);
    }
    if (rc == OPC_OK) {
        t->curl = curl_easy_init();
        t->multi = curl_multi_init();
        if (t->curl == NULL || t->multi == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc != OPC_OK) {
        opc__transport_close(t);
        return rc;
    }
    *out = t;
    return OPC_OK;
}

void opc__transport_close(opc__transport *t)
{
    if (t == NULL) {
        return;
    }
    if (t->multi != NULL) {
        curl_multi_cleanup(t->multi);
    }
    if (t->curl != NULL) {
        curl_easy_cleanup(t->curl);
    }
    opc__free(t->base);
    opc__free(t->host);
    opc__free(t->ca);
    opc__free(t);
}

void opc__transport_wakeup(opc__transport *t)
{
    if (t != NULL && t->multi != NULL) {
        (void)curl_multi_wakeup(t->multi);
    }
}

/*
 * Run the transfer on the multi handle: its poll returns at once when
 * opc__transport_wakeup() is called (and at least every second), and the
 * interrupt flag is looked at each time. *aborted when it ended the
 * transfer.
 */
static CURLcode perform(opc__transport *t, atomic_int *interrupt, bool *aborted)
{
    *aborted = false;
    if (curl_multi_add_handle(t->multi, t->curl) != CURLM_OK) {
        return CURLE_OUT_OF_MEMORY;
    }
    CURLcode cc = CURLE_OK;
    bool done = false;
    int running = 1;
    while (!done) {
        if (curl_multi_perform(t->multi, &running) != CURLM_OK) {
            cc = CURLE_OUT_OF_MEMORY;
            break;
        }
        int left = 0;
        CURLMsg *m;
        while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == t->curl) {
                cc = m->data.result;
                done = true;
            }
        }
        if (done) {
            break;
        }
        if (interrupt != NULL && atomic_load(interrupt) != 0) {
            *aborted = true;
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_poll(t->multi, NULL, 0, 1000, NULL) != CURLM_OK) {
            cc = CURLE_OUT_OF_MEMORY;
            break;
        }
    }
    (void)curl_multi_remove_handle(t->multi, t->curl);
    return cc;
}

const char *opc__transport_host(const opc__transport *t)
{
    return t == NULL || t->host == NULL ? "?" : t->host;
}

const char *opc__transport_base(const opc__transport *t)
{
    return t == NULL || t->base == NULL ? "?" : t->base;
}

/* ---- one exchange ---- */

void opc__transport_answer_clear(opc__transport_answer *a)
{
    if (a == NULL) {
        return;
    }
    opc__free(a->body);
    memset(a, 0, sizeof *a);
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    opc__transport *t = data;
    opc__transport_answer *a = t->ans;
    size_t len = size * n;
    if (len > OPC_PROTO_MAX_ANSWER - a->len) {
        a->too_large = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (a->len + len + 1 > a->cap) {
        size_t cap = a->cap == 0 ? 4096 : a->cap;
        while (cap < a->len + len + 1) {
            cap *= 2;
        }
        char *b = opc__realloc(a->body, cap);
        if (b == NULL) {
            return 0;
        }
        a->body = b;
        a->cap = cap;
    }
    memcpy(a->body + a->len, p, len);
    a->len += len;
    a->body[a->len] = '\0';
    return len;
}

/* Keep a header's value (trimmed) when the line is "name: value". */
static void capture(const char *line, size_t n, const char *name, char *dst, bool *bad)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return;
    }
    const char *v = line + nl + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    size_t vl = (size_t)(end - v);
    if (vl >= OPC_TRANSPORT_HEADER_MAX) {
        dst[0] = '\0';
        if (bad != NULL) {
            *bad = true;
        }
        return;
    }
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    opc__transport *t = data;
    opc__transport_answer *a = t->ans;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx): forget the previous one's headers. */
        a->mac[0] = a->protocol[0] = a->retry_after[0] = '\0';
        a->mac_bad = false;
        return len;
    }
    capture(p, len, OPC_PROTO_MAC_HEADER, a->mac, &a->mac_bad);
    capture(p, len, OPC_PROTO_HEADER, a->protocol, NULL);
    capture(p, len, "Retry-After", a->retry_after, NULL);
    return len;
}

static int on_progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    opc__transport *t = data;
    return t->interrupted != NULL && atomic_load(t->interrupted) != 0 ? 1 : 0;
}

static bool not_sent(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return true;
    default:
        return false;
    }
}

#define SETOPT(opt, val) ok = ok && curl_easy_setopt(c, (opt), (val)) == CURLE_OK

opc__net opc__transport_send(opc__transport *t, const char *method, const char *target,
                             const char *const *headers, const void *body, size_t body_len,
                             int64_t timeout_ms, atomic_int *interrupt, opc__transport_answer *ans,
                             char why[OPC_TRANSPORT_WHY_MAX])
{
    memset(ans, 0, sizeof *ans);
    why[0] = '\0';
    CURL *c = t->curl;
    /* Reset the options; the connection cache stays (connection reuse). */
    curl_easy_reset(c);
    size_t ul = strlen(t->base) + strlen(target) + 1;
    char *url = opc__malloc(ul);
    if (url == NULL) {
        return OPC__NET_NOMEM;
    }
    (void)snprintf(url, ul, "%s%s", t->base, target);
    struct curl_slist *hl = NULL;
    bool ok = true;
    for (size_t i = 0; headers != NULL && headers[i] != NULL && ok; i++) {
        struct curl_slist *n = curl_slist_append(hl, headers[i]);
        ok = n != NULL;
        hl = n != NULL ? n : hl;
    }
    static const char *const fixed[] = {"Accept: application/json", "Expect:", NULL};
    for (size_t i = 0; fixed[i] != NULL && ok; i++) {
        struct curl_slist *n = curl_slist_append(hl, fixed[i]);
        ok = n != NULL;
        hl = n != NULL ? n : hl;
    }
    if (ok && body != NULL) {
        struct curl_slist *n = curl_slist_append(hl, "Content-Type: application/json");
        ok = n != NULL;
        hl = n != NULL ? n : hl;
    }
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    t->ans = ans;
    t->interrupted = interrupt;
    SETOPT(CURLOPT_URL, url);
    /* The request target exactly as MAC'd (no dot-segment squashing). */
    SETOPT(CURLOPT_REQUEST_TARGET, target);
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, t->plain_http ? "http" : "https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_PROXY, ""); /* never a proxy from the environment */
    SETOPT(CURLOPT_NOPROXY, "*");
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca != NULL) {
        struct curl_blob blob = {.data = t->ca, .len = t->ca_len, .flags = CURL_BLOB_COPY};
        SETOPT(CURLOPT_CAINFO_BLOB, &blob);
    }
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)OPC_TRANSPORT_CONNECT_TIMEOUT_MS);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    SETOPT(CURLOPT_USERAGENT, "opconnect/" OPC_VERSION_STRING);
    SETOPT(CURLOPT_HTTPHEADER, hl);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, t);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, t);
    SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(CURLOPT_XFERINFODATA, t);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)OPC_PROTO_MAX_ANSWER);
    if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else {
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL) {
            SETOPT(CURLOPT_POSTFIELDS, (const char *)body);
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }
    opc__net res;
    if (!ok) {
        res = OPC__NET_NOMEM;
    } else {
        bool aborted = false;
        CURLcode cc = perform(t, interrupt, &aborted);
        long status = 0;
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ans->status = status;
        if (cc == CURLE_OK) {
            res = OPC__NET_ANSWERED;
            if (ans->body == NULL) {
                ans->body = opc__calloc(1, 1);
                res = ans->body == NULL ? OPC__NET_NOMEM : res;
            }
        } else if (ans->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            res = OPC__NET_TOO_LARGE;
            (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "the answer is larger than %zu bytes",
                           OPC_PROTO_MAX_ANSWER);
        } else if (aborted || cc == CURLE_ABORTED_BY_CALLBACK) {
            res = OPC__NET_INTERRUPTED;
            (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "interrupted");
        } else {
            curl_off_t pre = 0;
            long issued = 0;
            (void)curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
            (void)curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &issued);
            /* A timeout before the request went out (connect, TLS) is not-sent too.
             * But a request issued at all may have reached the server: libcurl
             * resends one whose reused connection died before any answer on a
             * fresh connection by itself, and that second try's failure to
             * connect must not make the first one unsent (a create applied
             * twice). The error buffer keeps the first failure's words. */
            res = issued == 0 && (not_sent(cc) || (cc == CURLE_OPERATION_TIMEDOUT && pre == 0))
                      ? OPC__NET_NOT_SENT
                      : OPC__NET_LOST;
            (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "%s",
                           errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        }
    }
    t->ans = NULL;
    t->interrupted = NULL;
    /* Drop the pointers to this call's header list and error buffer. */
    curl_easy_reset(c);
    curl_slist_free_all(hl);
    opc__free(url);
    return res;
}
