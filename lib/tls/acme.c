/*
 * tls/acme.c - the ACME protocol (RFC 8555) over libcurl: directory,
 * nonces (badNonce retried with the fresh nonce of the error response),
 * account (jwk, then kid; registered again on accountDoesNotExist),
 * order, TLS-ALPN-01 authorizations, finalize with a CSR, polling with
 * Retry-After, and the certificate chain.
 *
 * Every request is https only, with CURLOPT_CAINFO when a CA file is
 * configured, bounded in time (connect 10 s, whole request 30 s) and size,
 * and aborted when the owner stops.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include <opconnect/version.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/strparse.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "tls/acme.h"

#define NONCE_MAX 256
#define BAD_NONCE_RETRIES 10
#define POLL_LIMIT_MS 120000
#define POLL_DEFAULT_S 1
#define CONNECT_TIMEOUT_S 10
#define REQUEST_TIMEOUT_S 30

/* eb->reason values of this file. */
enum { ACME_R_NONE = 0, ACME_R_NO_ACCOUNT = 1 };

struct opc__acme_client {
    opc__acme_config cfg; /* owned copies */
    opc__acme_hooks hooks;
    CURL *curl;
    opc__acme_directory dir;
    char nonce[NONCE_MAX];
    opc__key *key;
    char kid[OPC_ACME_URL_MAX];
    int64_t retry_after_s; /* from the last response, 0 when none */
};

typedef struct http_resp {
    long status;
    opc__buf body;
    char nonce[NONCE_MAX];
    char location[OPC_ACME_URL_MAX];
    char retry_after[64];
    char content_type[128];
} http_resp;

static void resp_init(http_resp *r)
{
    memset(r, 0, sizeof *r);
    opc__buf_init(&r->body, false);
    r->body.max = OPC_ACME_BODY_MAX;
}

static void resp_free(http_resp *r)
{
    opc__buf_free(&r->body);
}

/* ---- libcurl callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t len = size * n;
    if (opc__buf_append(&r->body, p, len) != OPC_OK) {
        return 0; /* too large: curl aborts with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Copy the value of "Name: value" when name matches (case-insensitive). */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || line[nl] != ':') {
        return false;
    }
    for (size_t i = 0; i < nl; i++) {
        if (opc__to_lower((unsigned char)line[i]) != opc__to_lower((unsigned char)name[i])) {
            return false;
        }
    }
    size_t vlen = len - nl - 1;
    const char *v = opc__trim(line + nl + 1, &vlen);
    if (vlen >= cap) {
        return true; /* too long: ignored (left empty) */
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c >= 0x7f) {
            return true;
        }
    }
    memcpy(out, v, vlen);
    out[vlen] = '\0';
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue): forget the previous headers */
        r->nonce[0] = r->location[0] = r->retry_after[0] = r->content_type[0] = '\0';
        return len;
    }
    (void)(header_value(p, len, "Replay-Nonce", r->nonce, sizeof r->nonce) ||
           header_value(p, len, "Location", r->location, sizeof r->location) ||
           header_value(p, len, "Retry-After", r->retry_after, sizeof r->retry_after) ||
           header_value(p, len, "Content-Type", r->content_type, sizeof r->content_type));
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    opc__acme_client *c = ud;
    return c->hooks.stopping != NULL && c->hooks.stopping(c->hooks.ud) ? 1 : 0;
}

/* ---- requests ---- */

typedef enum { HTTP_GET, HTTP_HEAD, HTTP_POST } http_method;

static opc_err http(opc__acme_client *c, http_method m, const char *url, const char *body,
                    const char *accept, http_resp *r, opc__ebuf *eb)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    struct curl_slist *hdrs = NULL;
    struct curl_slist *t = curl_slist_append(NULL, "Content-Type: application/jose+json");
    if (t != NULL) {
        hdrs = t;
        char acc[96];
        (void)snprintf(acc, sizeof acc, "Accept: %s", accept != NULL ? accept : "application/json");
        t = curl_slist_append(hdrs, acc);
    }
    if (t == NULL) {
        curl_slist_free_all(hdrs);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    hdrs = t;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (cc == CURLE_OK) {                                                                  \
            cc = curl_easy_setopt(h, opt, val);                                                \
        }                                                                                      \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    SET(CURLOPT_TIMEOUT, (long)REQUEST_TIMEOUT_S);
    SET(CURLOPT_USERAGENT, "opconnect/" OPC_VERSION_STRING " (ACME; libcurl)");
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, c);
    if (c->cfg.ca_file != NULL) {
        SET(CURLOPT_CAINFO, c->cfg.ca_file);
    }
    if (m == HTTP_HEAD) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (m == HTTP_POST) {
        SET(CURLOPT_POSTFIELDS, body);
        SET(CURLOPT_HTTPHEADER, hdrs);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
#undef SET
    if (cc == CURLE_OK) {
        cc = curl_easy_perform(h);
    }
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            return opc__fail(eb, OPC_ERR_IO, "stopping");
        }
        if (cc == CURLE_WRITE_ERROR && opc__buf_err(&r->body) == OPC_ERR_TOO_LARGE) {
            return opc__fail(eb, OPC_ERR_TOO_LARGE, "%s: response larger than %zu bytes", url,
                             OPC_ACME_BODY_MAX);
        }
        return opc__fail(eb, OPC_ERR_IO, "%s: %s", url, curl_easy_strerror(cc));
    }
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->nonce[0] != '\0') {
        memcpy(c->nonce, r->nonce, sizeof c->nonce);
    }
    c->retry_after_s = 0;
    if (r->retry_after[0] != '\0') {
        int64_t s = 0;
        if (opc__acme_parse_retry_after(r->retry_after, strlen(r->retry_after), opc__now_s(),
                                        &s) == OPC_OK) {
            c->retry_after_s = s;
        }
    }
    return OPC_OK;
}

/* The error of a non-2xx response, with the CA's problem document. */
static opc_err fail_status(const char *what, const http_resp *r, opc__ebuf *eb)
{
    opc__acme_problem p;
    if (r->body.len > 0 &&
        opc__acme_parse_problem(r->body.data, r->body.len, &p, NULL) == OPC_OK) {
        int reason = strcmp(p.type, OPC_ACME_ERR_PREFIX "accountDoesNotExist") == 0
                         ? ACME_R_NO_ACCOUNT
                         : ACME_R_NONE;
        return opc__fail_reason(eb, OPC_ERR_IO, reason, "%s: HTTP %ld %s: %s", what, r->status,
                                p.type, p.detail);
    }
    return opc__fail(eb, OPC_ERR_IO, "%s: HTTP %ld", what, r->status);
}

static bool is_bad_nonce(const http_resp *r)
{
    opc__acme_problem p;
    return r->status == 400 && r->body.len > 0 &&
           opc__acme_parse_problem(r->body.data, r->body.len, &p, NULL) == OPC_OK &&
           strcmp(p.type, OPC_ACME_ERR_PREFIX "badNonce") == 0;
}

static opc_err get_nonce(opc__acme_client *c, opc__ebuf *eb)
{
    http_resp r;
    resp_init(&r);
    opc_err rc = http(c, HTTP_HEAD, c->dir.new_nonce, NULL, NULL, &r, eb);
    if (rc == OPC_OK && (r.status < 200 || r.status > 299 || c->nonce[0] == '\0')) {
        rc = opc__fail(eb, OPC_ERR_IO, "ACME newNonce: HTTP %ld without Replay-Nonce", r.status);
    }
    resp_free(&r);
    return rc;
}

/*
 * A signed POST (payload NULL = POST-as-GET), retried on badNonce. Any
 * HTTP status comes back in r; transport failures are errors.
 */
static opc_err post(opc__acme_client *c, const char *url, const char *payload, bool use_jwk,
                    const char *accept, http_resp *r, opc__ebuf *eb)
{
    for (int attempt = 0;; attempt++) {
        if (c->nonce[0] == '\0') {
            opc_err rc = get_nonce(c, eb);
            if (rc != OPC_OK) {
                return rc;
            }
        }
        char *jws = NULL;
        opc_err rc = opc__acme_jws(c->key, use_jwk ? NULL : c->kid, c->nonce, url,
                                   payload != NULL ? payload : "", &jws);
        c->nonce[0] = '\0'; /* each nonce is used once */
        if (rc != OPC_OK) {
            return opc__fail(eb, rc, "cannot sign the ACME request");
        }
        resp_free(r);
        resp_init(r);
        rc = http(c, HTTP_POST, url, jws, accept, r, eb);
        opc__free(jws);
        if (rc != OPC_OK) {
            return rc;
        }
        if (!is_bad_nonce(r) || attempt == BAD_NONCE_RETRIES) {
            return OPC_OK;
        }
        opc__log(OPC_LOG_WARN, "acme", "the CA refused the nonce (badNonce): retrying (%d of %d)",
                 attempt + 1, BAD_NONCE_RETRIES);
    }
}

/* ---- steps ---- */

static opc_err fetch_directory(opc__acme_client *c, opc__ebuf *eb)
{
    http_resp r;
    resp_init(&r);
    opc_err rc = http(c, HTTP_GET, c->cfg.directory_url, NULL, NULL, &r, eb);
    if (rc == OPC_OK && r.status != 200) {
        rc = fail_status("ACME directory", &r, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acme_parse_directory(r.body.data != NULL ? r.body.data : "", r.body.len,
                                       &c->dir, eb);
    }
    resp_free(&r);
    return rc;
}

static opc_err new_account(opc__acme_client *c, opc__ebuf *eb)
{
    opc__buf p;
    opc__buf_init(&p, false);
    (void)opc__buf_append_str(&p, "{\"termsOfServiceAgreed\":true");
    if (c->cfg.email != NULL) {
        (void)opc__buf_append_str(&p, ",\"contact\":[");
        char mail[320];
        (void)snprintf(mail, sizeof mail, "mailto:%s", c->cfg.email);
        (void)opc__buf_append_json_str(&p, mail, strlen(mail));
        (void)opc__buf_append_char(&p, ']');
    }
    (void)opc__buf_append_char(&p, '}');
    opc_err rc = opc__buf_err(&p);
    http_resp r;
    resp_init(&r);
    if (rc == OPC_OK) {
        rc = post(c, c->dir.new_account, p.data, true, NULL, &r, eb);
    }
    opc__buf_free(&p);
    if (rc == OPC_OK && r.status != 200 && r.status != 201) {
        rc = fail_status("ACME newAccount", &r, eb);
    }
    if (rc == OPC_OK && !opc__acme_url_ok(r.location)) {
        rc = opc__fail(eb, OPC_ERR_IO, "ACME newAccount: no account URL (Location)");
    }
    if (rc == OPC_OK) {
        memcpy(c->kid, r.location, sizeof c->kid);
        opc__log(OPC_LOG_INFO, "acme", "account %s registered", c->kid);
        rc = opc__acme_store_save_account(&c->cfg, c->key, c->kid, eb);
    }
    resp_free(&r);
    return rc;
}

/* POST url with the account; on accountDoesNotExist register again and
 * retry once (a test CA such as Pebble forgets accounts on restart). */
static opc_err post_account(opc__acme_client *c, const char *what, const char *url,
                            const char *payload, const char *accept, http_resp *r,
                            opc__ebuf *eb)
{
    for (int attempt = 0;; attempt++) {
        opc_err rc = post(c, url, payload, false, accept, r, eb);
        if (rc != OPC_OK) {
            return rc;
        }
        if (r->status >= 200 && r->status <= 299) {
            return OPC_OK;
        }
        rc = fail_status(what, r, eb);
        if (eb == NULL || eb->reason != ACME_R_NO_ACCOUNT || attempt > 0) {
            return rc;
        }
        opc__log(OPC_LOG_WARN, "acme", "the CA does not know account %s: registering again",
                 c->kid);
        rc = new_account(c, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
}

static void wait_poll(opc__acme_client *c)
{
    int64_t s = c->retry_after_s > 0 ? c->retry_after_s : POLL_DEFAULT_S;
    if (s > 30) {
        s = 30;
    }
    c->hooks.sleep_ms(c->hooks.ud, s * 1000);
}

static opc_err get_authz(opc__acme_client *c, const char *url, opc__acme_authz *a,
                         opc__ebuf *eb)
{
    http_resp r;
    resp_init(&r);
    opc_err rc = post_account(c, "ACME authorization", url, NULL, NULL, &r, eb);
    if (rc == OPC_OK) {
        rc = opc__acme_parse_authz(r.body.data != NULL ? r.body.data : "", r.body.len, a, eb);
    }
    resp_free(&r);
    return rc;
}

/* Install the challenge certificate, tell the CA, wait for the verdict. */
static opc_err solve(opc__acme_client *c, const char *url, opc__acme_authz *a, opc__ebuf *eb)
{
    if (!a->has_challenge) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED,
                         "ACME authorization for %s offers no tls-alpn-01 challenge", a->domain);
    }
    char *ka = NULL;
    void *key = NULL;
    opc__certkey *ck = NULL;
    opc_err rc = opc__acme_key_authorization(a->token, c->key, &ka);
    if (rc == OPC_OK) {
        rc = opc__tls_ec_key_new(&key);
    }
    if (rc == OPC_OK) {
        rc = opc__tls_alpn_cert(a->domain, ka, key, opc__now_s(), &ck);
    }
    EVP_PKEY_free(key);
    opc__free(ka);
    if (rc == OPC_OK) {
        rc = c->hooks.set_challenge(c->hooks.ud, a->domain, ck);
    }
    opc__certkey_unref(ck);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "cannot prepare the tls-alpn-01 answer for %s", a->domain);
    }
    opc__log(OPC_LOG_INFO, "acme", "answering the tls-alpn-01 challenge for %s", a->domain);
    http_resp r;
    resp_init(&r);
    if (a->challenge_status == OPC_ACME_PENDING) {
        rc = post_account(c, "ACME challenge", a->challenge_url, "{}", NULL, &r, eb);
    }
    resp_free(&r);
    int64_t deadline = opc__monotonic_ms() + POLL_LIMIT_MS;
    while (rc == OPC_OK) {
        if (a->status == OPC_ACME_VALID) {
            break;
        }
        if (a->status != OPC_ACME_PENDING) {
            const opc__acme_problem *p = &a->challenge_error;
            rc = opc__fail(eb, OPC_ERR_IO, "ACME authorization for %s is %s: %s: %s", a->domain,
                           opc__acme_status_name(a->status), p->type[0] ? p->type : "no error",
                           p->detail);
            break;
        }
        if (opc__monotonic_ms() > deadline) {
            rc = opc__fail(eb, OPC_ERR_IO, "ACME authorization for %s: still pending after %d s",
                           a->domain, POLL_LIMIT_MS / 1000);
            break;
        }
        wait_poll(c);
        if (c->hooks.stopping(c->hooks.ud)) {
            rc = opc__fail(eb, OPC_ERR_IO, "stopping");
            break;
        }
        rc = get_authz(c, url, a, eb);
    }
    (void)c->hooks.set_challenge(c->hooks.ud, a->domain, NULL);
    return rc;
}

/* POST-as-GET the order until its status is no longer `while_status`. */
static opc_err poll_order(opc__acme_client *c, const char *url, opc__acme_status while_status,
                          opc__acme_order *o, opc__ebuf *eb)
{
    int64_t deadline = opc__monotonic_ms() + POLL_LIMIT_MS;
    while (o->status == while_status) {
        if (opc__monotonic_ms() > deadline) {
            return opc__fail(eb, OPC_ERR_IO, "ACME order still %s after %d s",
                             opc__acme_status_name(while_status), POLL_LIMIT_MS / 1000);
        }
        wait_poll(c);
        if (c->hooks.stopping(c->hooks.ud)) {
            return opc__fail(eb, OPC_ERR_IO, "stopping");
        }
        http_resp r;
        resp_init(&r);
        opc_err rc = post_account(c, "ACME order", url, NULL, NULL, &r, eb);
        if (rc == OPC_OK) {
            rc = opc__acme_parse_order(r.body.data != NULL ? r.body.data : "", r.body.len, o,
                                       eb);
        }
        resp_free(&r);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    return OPC_OK;
}

static opc_err order_failed(const opc__acme_order *o, const char *when, opc__ebuf *eb)
{
    return opc__fail(eb, OPC_ERR_IO, "ACME order %s: status %s: %s: %s", when,
                     opc__acme_status_name(o->status), o->error.type[0] ? o->error.type : "",
                     o->error.detail);
}

static opc_err finalize(opc__acme_client *c, const char *order_url, opc__acme_order *o,
                        void *key, opc__ebuf *eb)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    char *csr = NULL;
    opc_err rc = opc__tls_csr_der(c->cfg.domain, key, &der, &der_len);
    if (rc == OPC_OK) {
        rc = opc__b64_encode(der, der_len, OPC_B64URL, &csr, NULL);
    }
    opc__free(der);
    opc__buf p;
    opc__buf_init(&p, false);
    if (rc == OPC_OK) {
        rc = opc__buf_appendf(&p, "{\"csr\":\"%s\"}", csr);
    }
    opc__free(csr);
    if (rc != OPC_OK) {
        opc__buf_free(&p);
        return opc__fail(eb, rc, "cannot build the CSR");
    }
    http_resp r;
    resp_init(&r);
    rc = post_account(c, "ACME finalize", o->finalize, p.data, NULL, &r, eb);
    opc__buf_free(&p);
    if (rc == OPC_OK) {
        rc = opc__acme_parse_order(r.body.data != NULL ? r.body.data : "", r.body.len, o, eb);
    }
    resp_free(&r);
    if (rc == OPC_OK) {
        rc = poll_order(c, order_url, OPC_ACME_PROCESSING, o, eb);
    }
    if (rc == OPC_OK && (o->status != OPC_ACME_VALID || o->certificate[0] == '\0')) {
        rc = order_failed(o, "after finalize", eb);
    }
    return rc;
}

/* Download the chain, check it against the key, store it. */
static opc_err download(opc__acme_client *c, const opc__acme_order *o, void *key,
                        opc__certkey **out, opc__ebuf *eb)
{
    http_resp r;
    resp_init(&r);
    opc_err rc = post_account(c, "ACME certificate", o->certificate, NULL,
                              "application/pem-certificate-chain", &r, eb);
    char *key_pem = NULL;
    size_t key_len = 0;
    if (rc == OPC_OK) {
        rc = opc__tls_key_pem(key, &key_pem, &key_len);
    }
    if (rc == OPC_OK) {
        rc = opc__certkey_from_pem(r.body.data != NULL ? r.body.data : "", r.body.len, key_pem,
                                   key_len, "ACME certificate", "new key", opc__now_s(), out,
                                   eb);
    }
    if (rc == OPC_OK && !opc__certkey_matches_host(*out, c->cfg.domain)) {
        opc__certkey_unref(*out);
        *out = NULL;
        rc = opc__fail(eb, OPC_ERR_IO, "ACME certificate is not valid for %s", c->cfg.domain);
    }
    if (rc == OPC_OK) {
        rc = opc__acme_store_save_cert(&c->cfg, r.body.data, r.body.len, key_pem, key_len, eb);
        if (rc != OPC_OK) {
            opc__certkey_unref(*out);
            *out = NULL;
        }
    }
    opc__secret_free(key_pem, key_len + 1);
    resp_free(&r);
    return rc;
}

static opc_err obtain(opc__acme_client *c, opc__certkey **out, opc__ebuf *eb)
{
    opc_err rc = fetch_directory(c, eb);
    if (rc == OPC_OK && c->key == NULL) {
        rc = opc__acme_store_load_account(&c->cfg, &c->key, c->kid, eb);
    }
    if (rc == OPC_OK && c->kid[0] == '\0') {
        rc = new_account(c, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    opc__log(OPC_LOG_INFO, "acme", "ordering a certificate for %s", c->cfg.domain);
    opc__buf p;
    opc__buf_init(&p, false);
    (void)opc__buf_append_str(&p, "{\"identifiers\":[{\"type\":\"dns\",\"value\":");
    (void)opc__buf_append_json_str(&p, c->cfg.domain, strlen(c->cfg.domain));
    (void)opc__buf_append_str(&p, "}]}");
    rc = opc__buf_err(&p);
    http_resp r;
    resp_init(&r);
    if (rc == OPC_OK) {
        rc = post_account(c, "ACME newOrder", c->dir.new_order, p.data, NULL, &r, eb);
    }
    opc__buf_free(&p);
    opc__acme_order *o = opc__calloc(1, sizeof *o);
    char *order_url = NULL;
    if (rc == OPC_OK && o == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    if (rc == OPC_OK) {
        rc = opc__acme_parse_order(r.body.data != NULL ? r.body.data : "", r.body.len, o, eb);
    }
    if (rc == OPC_OK && !opc__acme_url_ok(r.location)) {
        rc = opc__fail(eb, OPC_ERR_IO, "ACME newOrder: no order URL (Location)");
    }
    if (rc == OPC_OK) {
        order_url = opc__strdup(r.location);
        rc = order_url != NULL ? OPC_OK : OPC_ERR_NOMEM;
    }
    resp_free(&r);
    opc__acme_authz *a = rc == OPC_OK ? opc__calloc(1, sizeof *a) : NULL;
    if (rc == OPC_OK && a == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    for (size_t i = 0; rc == OPC_OK && o->status == OPC_ACME_PENDING && i < o->n_authz; i++) {
        rc = get_authz(c, o->authz[i], a, eb);
        if (rc == OPC_OK && a->status == OPC_ACME_VALID) {
            opc__log(OPC_LOG_INFO, "acme", "authorization for %s is already valid", a->domain);
            continue;
        }
        if (rc == OPC_OK) {
            rc = solve(c, o->authz[i], a, eb);
        }
    }
    opc__free(a);
    if (rc == OPC_OK && o->status == OPC_ACME_PENDING) {
        rc = poll_order(c, order_url, OPC_ACME_PENDING, o, eb);
    }
    void *key = NULL;
    if (rc == OPC_OK && o->status != OPC_ACME_READY && o->status != OPC_ACME_VALID) {
        rc = order_failed(o, "before finalize", eb);
    }
    if (rc == OPC_OK) {
        rc = opc__tls_ec_key_new(&key);
    }
    if (rc == OPC_OK && o->status == OPC_ACME_READY) {
        rc = finalize(c, order_url, o, key, eb);
    } else if (rc == OPC_OK) {
        /* valid already: a reused order has no key of ours */
        rc = order_failed(o, "reused without a key", eb);
    }
    if (rc == OPC_OK) {
        rc = download(c, o, key, out, eb);
    }
    EVP_PKEY_free(key);
    opc__free(order_url);
    opc__free(o);
    return rc;
}

opc_err opc__acme_obtain(opc__acme_client *c, opc__certkey **out, int64_t *retry_after_s,
                         opc__ebuf *eb)
{
    *out = NULL;
    *retry_after_s = 0;
    c->retry_after_s = 0;
    c->nonce[0] = '\0';
    opc_err rc = obtain(c, out, eb);
    if (rc != OPC_OK) {
        *retry_after_s = c->retry_after_s;
    }
    return rc;
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (s == NULL) {
        return NULL;
    }
    char *d = opc__strdup(s);
    if (d == NULL) {
        *fail = true;
    }
    return d;
}

opc_err opc__acme_client_create(const opc__acme_config *cfg, const opc__acme_hooks *hooks,
                                opc__acme_client **out)
{
    *out = NULL;
    opc__acme_client *c = opc__calloc(1, sizeof *c);
    if (c == NULL) {
        return OPC_ERR_NOMEM;
    }
    bool fail = false;
    c->cfg.domain = dup_or_null(cfg->domain, &fail);
    c->cfg.directory_url = dup_or_null(cfg->directory_url, &fail);
    c->cfg.ca_file = dup_or_null(cfg->ca_file, &fail);
    c->cfg.email = dup_or_null(cfg->email, &fail);
    c->cfg.data_dir = dup_or_null(cfg->data_dir, &fail);
    c->hooks = *hooks;
    c->curl = curl_easy_init();
    if (fail || c->curl == NULL) {
        opc__acme_client_free(c);
        return OPC_ERR_NOMEM;
    }
    *out = c;
    return OPC_OK;
}

void opc__acme_client_free(opc__acme_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    opc__key_free(c->key);
    opc__free((void *)(uintptr_t)c->cfg.domain);
    opc__free((void *)(uintptr_t)c->cfg.directory_url);
    opc__free((void *)(uintptr_t)c->cfg.ca_file);
    opc__free((void *)(uintptr_t)c->cfg.email);
    opc__free((void *)(uintptr_t)c->cfg.data_dir);
    opc__free(c);
}
