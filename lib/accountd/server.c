/*
 * accountd/server.c - op-account-server's HTTPS face
 * (<opconnect/account_server.h>; docs/protocol.md, "The network protocol";
 * docs/account-server.md).
 *
 * civetweb serves the requests (core/httpd.h: the connection model of the
 * other servers of the library, one worker thread per open connection).
 * Each request goes:
 *
 *   /heartbeat, /health            answered at once, no session
 *   POST /v1/connect/session       the handshake (handshake())
 *   anything else under /v1/       the session first: Authorization,
 *                                  OPC-Counter and OPC-MAC over the raw
 *                                  request target and the body; a refusal
 *                                  is the uniform 401 (its reason only in
 *                                  the log). Then routing, the strict query,
 *                                  the store; every answer carries OPC-MAC.
 *
 * The owner's store protocol (POST /v1/owner/rows/read and /batch) runs
 * named reads and write batches on the session's account (owner_rows()).
 * Bodies are at most OPC_PROTO_MAX_REQUEST, except an owner batch's: up to
 * OPC_PROTO_MAX_OWNER_BATCH, read only for a live owner session and at most
 * OPC_AD_MAX_LARGE_BODIES at once (large_gate()).
 *
 * Every answer carries OPC-Protocol: 1 and X-Request-ID. Logs are one line
 * per request with the request id and the account and server ids, never a
 * key, a MAC or a body.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>
#include <openssl/crypto.h>

#include <opconnect/account.h>
#include <opconnect/account_server.h>
#include <opconnect/api.h>
#include <opconnect/version.h>

#include "accountd/accountd.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/httpd.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/strparse.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/key.h"
#include "crypto/srp.h"
#include "store/store.h"
#include "tls/tls.h"
#include "wire/proto.h"
#include "wire/rows_rpc.h"

#define LOG "account"
#define ACCOUNTS_DIR "accounts"
/* The largest handshake body, request target and key file. */
#define HELLO_MAX 4096
#define TARGET_MAX 2048
#define HEAD_TIMEOUT_MS 10000
#define KEEPALIVE_MS 65000

struct opc_accountd {
    char *data_dir;
    char bind[64];
    int http_port;  /* -1: none */
    int https_port; /* used when tls is configured */
    int threads;
    opc__tls *tls; /* NULL until a TLS setter */
    struct mg_context *ctx;
    int bound_http, bound_https;
    opc__store *store;
    opc__key *server_key; /* private */
    /* sessions, nonces, limiters, pending sign-ins: in memory, or in the
     * database a PostgreSQL store shares with other servers (state.c) */
    opc__ad_state *state;
    uint8_t owner_secret[32];         /* derives the answer for unknown emails */
    char pin[OPC_PROTO_HASH_B64 + 1]; /* the server key's pin */
    atomic_int large;                 /* bodies above OPC_PROTO_MAX_REQUEST being handled */
    uint8_t rid_prefix[8];
    atomic_uint_fast64_t rid_counter;
    atomic_int polls; /* long polls between their start and their answer sent */
    bool stopped;     /* once stopped, never started again (the store shut down) */
};

/* How long the stop waits for woken long polls to send their answers
 * before civetweb stops writing (mg_stop). */
#define STOP_DRAIN_MS 3000

/* ---- create, configure ---- */

void opc_accountd_free(opc_accountd *s)
{
    if (s == NULL) {
        return;
    }
    opc_accountd_stop(s);
    opc__tls_free(s->tls);
    opc__store_close(s->store);
    opc__key_free(s->server_key);
    opc__ad_state_free(s->state);
    OPENSSL_cleanse(s->owner_secret, sizeof s->owner_secret);
    opc__free(s->data_dir);
    opc__free(s);
}

opc_err opc_accountd_create(const char *data_dir, opc_accountd **out, char *errbuf,
                            size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        opc__fail(&eb, rc, "opc_global_init() was not called");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return rc;
    }
    if (data_dir == NULL || data_dir[0] == '\0' || out == NULL ||
        strlen(data_dir) > OPC_AD_PATH_CAP - 64) {
        opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing or too long data directory");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return OPC_ERR_INVALID_ARG;
    }
    opc_accountd *s = opc__calloc(1, sizeof *s);
    rc = s != NULL && (s->data_dir = opc__strdup(data_dir)) != NULL ? OPC_OK : OPC_ERR_NOMEM;
    if (rc == OPC_OK) {
        memcpy(s->bind, "0.0.0.0", sizeof "0.0.0.0");
        s->http_port = -1;
        s->https_port = OPC_ACCOUNTD_DEFAULT_HTTPS_PORT;
        s->threads = OPC_ACCOUNTD_DEFAULT_THREADS;
        s->bound_http = s->bound_https = -1;
        atomic_init(&s->rid_counter, 0);
        atomic_init(&s->polls, 0);
        atomic_init(&s->large, 0);
        struct stat sb;
        if (stat(data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            rc = opc__fail(&eb, OPC_ERR_IO, "data directory %s: not a directory", data_dir);
        }
    }
    char accounts[OPC_AD_PATH_CAP];
    if (rc == OPC_OK) {
        rc = opc__ad_join(accounts, data_dir, ACCOUNTS_DIR, &eb);
    }
    if (rc == OPC_OK && mkdir(accounts, 0700) != 0 && errno != EEXIST) {
        rc = opc__fail(&eb, OPC_ERR_IO, "cannot create %s: %s", accounts, strerror(errno));
    }
    if (rc == OPC_OK) {
        rc = opc__ad_server_key(data_dir, &s->server_key, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__ad_pin_of(s->server_key, s->pin);
    }
    if (rc == OPC_OK) {
        rc = opc__store_sqlite_open(accounts, &s->store, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__ad_state_memory(&s->state);
    }
    if (rc == OPC_OK) {
        rc = opc__ad_owner_secret(data_dir, s->owner_secret, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(s->rid_prefix, sizeof s->rid_prefix);
    }
    if (rc != OPC_OK) {
        if (eb.msg[0] == '\0') {
            opc__fail(&eb, rc, "cannot create the account server: %s", opc_strerror(rc));
        }
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        opc_accountd_free(s);
        return rc;
    }
    *out = s;
    return OPC_OK;
}

static bool stopped(const opc_accountd *s)
{
    return s != NULL && s->ctx == NULL;
}

opc__ad_state *opc__accountd_state(opc_accountd *s)
{
    return s != NULL ? s->state : NULL;
}

opc_err opc_accountd_set_http_port(opc_accountd *s, int port)
{
    if (!stopped(s) || port < -1 || port > 65535) {
        return OPC_ERR_INVALID_ARG;
    }
    s->http_port = port;
    return OPC_OK;
}

opc_err opc_accountd_set_https_port(opc_accountd *s, int port)
{
    if (!stopped(s) || port < 0 || port > 65535) {
        return OPC_ERR_INVALID_ARG;
    }
    s->https_port = port;
    return OPC_OK;
}

opc_err opc_accountd_set_bind_address(opc_accountd *s, const char *address)
{
    if (!stopped(s) || address == NULL || !opc__ip_valid(address) ||
        strlen(address) >= sizeof s->bind) {
        return OPC_ERR_INVALID_ARG;
    }
    memcpy(s->bind, address, strlen(address) + 1);
    return OPC_OK;
}

opc_err opc_accountd_set_threads(opc_accountd *s, int threads)
{
    if (!stopped(s) || threads < 1 || threads > OPC_ACCOUNTD_MAX_THREADS) {
        return OPC_ERR_INVALID_ARG;
    }
    s->threads = threads;
    return OPC_OK;
}

opc_err opc_accountd_set_database(opc_accountd *s, const char *conninfo, int pool, char *errbuf,
                                  size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = OPC_OK;
    if (!stopped(s) || conninfo == NULL || conninfo[0] == '\0' || pool < 0 ||
        pool > OPC_ACCOUNTD_MAX_DB_POOL) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG,
                       "missing connection string, pool out of range (0-%d), or the server runs",
                       OPC_ACCOUNTD_MAX_DB_POOL);
    }
    opc__store *pg = NULL;
    if (rc == OPC_OK) {
        rc =
            opc__store_pg_open(conninfo, pool == 0 ? OPC_ACCOUNTD_DEFAULT_DB_POOL : pool, &pg, &eb);
    }
    /* Every server of the database keeps its sessions, nonces, limiters
     * and pending sign-ins there, sealed under the shared server key. */
    uint8_t seal_key[32];
    opc__ad_state *shared = NULL;
    if (rc == OPC_OK) {
        rc = opc__ad_state_seal_key(s->server_key, seal_key);
        if (rc == OPC_OK) {
            rc = opc__ad_state_shared(pg, seal_key, &shared);
        }
        OPENSSL_cleanse(seal_key, sizeof seal_key);
        if (rc != OPC_OK) {
            opc__fail(&eb, rc, "cannot keep the sessions in the database: %s", opc_strerror(rc));
            opc__store_close(pg);
        }
    }
    if (rc == OPC_OK) {
        opc__ad_state_free(s->state);
        s->state = shared;
        opc__store_close(s->store);
        s->store = pg;
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

/* The TLS state for a setter (created on first use). */
static opc_err tls_begin(opc_accountd *s, bool args_ok, opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    if (!stopped(s) || !args_ok) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "missing argument, or the server runs");
    }
    if (s->tls == NULL && opc__tls_create(&s->tls) != OPC_OK) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    return OPC_OK;
}

opc_err opc_accountd_set_tls_files(opc_accountd *s, const char *cert_file, const char *key_file,
                                   char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc_err rc = tls_begin(s, cert_file != NULL && key_file != NULL, &eb);
    if (rc == OPC_OK) {
        rc = opc__tls_set_files(s->tls, cert_file, key_file, &eb);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

opc_err opc_accountd_set_acme(opc_accountd *s, const char *domain, const char *directory_url,
                              const char *ca_file, const char *email, char *errbuf,
                              size_t errbuf_len)
{
    opc__ebuf eb;
    opc_err rc = tls_begin(s, domain != NULL, &eb);
    if (rc == OPC_OK) {
        opc__acme_config cfg = {
            .domain = domain,
            .directory_url = directory_url,
            .ca_file = ca_file,
            .email = email,
            .data_dir = s->data_dir,
        };
        rc = opc__tls_set_acme(s->tls, &cfg, &eb);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

opc_err opc_accountd_tls_reload(opc_accountd *s)
{
    if (s == NULL || s->tls == NULL || !opc__tls_configured(s->tls)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__tls_reload(s->tls);
    return OPC_OK;
}

int opc_accountd_http_port(const opc_accountd *s)
{
    return s != NULL && s->ctx != NULL ? s->bound_http : -1;
}

int opc_accountd_https_port(const opc_accountd *s)
{
    return s != NULL && s->ctx != NULL ? s->bound_https : -1;
}

/* ---- answers ---- */

typedef struct req {
    struct mg_connection *conn;
    opc_accountd *s;
    const char *method;
    char path[OPC_LOG_PATH_MAX];
    char rid[OPC_HTTPD_REQUEST_ID_MAX + 1];
    int64_t start_ms;
    const opc__ad_auth *auth; /* a verified session request: answers are MAC'd */
    const char *remote;
} req;

static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\n"
                               "Content-Type: application/json\r\n"
                               "OPC-Protocol: 1\r\n"
                               "Content-Length: 55\r\n"
                               "Connection: close\r\n\r\n"
                               "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

/* Send status and the JSON body j (consumed; NULL: no body) with the
 * protocol's headers, the MAC when the request had a session, and `more`
 * header lines. Logs the request's line. */
static int answer(req *r, int status, cJSON *j, const char *more)
{
    opc__buf b;
    opc__buf_init(&b, false);
    opc__httpd_begin(&b);
    char *text = NULL;
    size_t len = 0;
    if (j != NULL && opc__json_print(j, &text, &len) == OPC_OK) {
        (void)opc__buf_append(&b, text, len);
    } else if (j != NULL) {
        b.err = OPC_ERR_NOMEM;
    }
    opc__free(text);
    cJSON_Delete(j);
    char mac_line[OPC_PROTO_HASH_B64 + 16] = "";
    if (r->auth != NULL && opc__buf_err(&b) == OPC_OK) {
        char mac[OPC_PROTO_HASH_B64 + 1] = "";
        size_t body_len = b.len - OPC_HTTPD_HEADER_GAP;
        if (opc__proto_mac_answer(&r->auth->keys, r->auth->sid, r->auth->counter, status,
                                  b.data + OPC_HTTPD_HEADER_GAP, body_len, mac) == OPC_OK) {
            (void)snprintf(mac_line, sizeof mac_line, OPC_PROTO_MAC_HEADER ": %s\r\n", mac);
        }
    }
    char extra[512];
    (void)snprintf(extra, sizeof extra, OPC_PROTO_HEADER ": %d\r\nX-Request-ID: %s\r\n%s%s",
                   OPC_PROTO_VERSION, r->rid, mac_line, more != NULL ? more : "");
    OPENSSL_cleanse(mac_line, sizeof mac_line);
    int sent = opc__httpd_send(r->conn, &b, status, "application/json", extra, false, fallback);
    opc__buf_free(&b);
    opc_log_level lvl = sent >= 500 ? OPC_LOG_WARN : OPC_LOG_INFO;
    int64_t ms = opc__monotonic_ms() - r->start_ms;
    if (r->auth != NULL && r->auth->kind == OPC_AD_KIND_OWNER) {
        opc__log_scoped(lvl, LOG, r->rid, NULL, "%s %s: %d (account %s, owner, %lld ms)", r->method,
                        r->path, sent, r->auth->account, (long long)ms);
    } else if (r->auth != NULL) {
        opc__log_scoped(lvl, LOG, r->rid, NULL, "%s %s: %d (account %s, server %s, %lld ms)",
                        r->method, r->path, sent, r->auth->account, r->auth->server, (long long)ms);
    } else {
        opc__log_scoped(lvl, LOG, r->rid, NULL, "%s %s: %d (from %s, %lld ms)", r->method, r->path,
                        sent, r->remote, (long long)ms);
    }
    return sent;
}

/* An error answer for rc with message msg (ids only). */
static int fail(req *r, opc_err rc, const char *msg)
{
    cJSON *j = NULL;
    int status = opc__proto_status(rc, NULL, NULL);
    if (opc__proto_error_encode(rc, msg, &j) != OPC_OK) {
        j = NULL;
    }
    return answer(r, status, j, NULL);
}

/* The uniform refusal of authentication; why goes to the log only. */
static int refuse(req *r, const char *who, const char *why)
{
    opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "%s %s: authentication failed (%s%s%s): %s",
                    r->method, r->path, who != NULL ? who : "", who != NULL ? ", " : "", r->remote,
                    why);
    r->auth = NULL;
    return fail(r, OPC_ERR_TOKEN, "authentication failed");
}

static int plain_error(req *r, int status, const char *code, const char *msg, const char *more)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *e = j != NULL ? cJSON_AddObjectToObject(j, "error") : NULL;
    if (e != NULL) {
        (void)cJSON_AddStringToObject(e, "code", code);
        (void)cJSON_AddStringToObject(e, "message", msg);
    }
    return answer(r, status, j, more);
}

/* ---- held long polls ---- */

/*
 * Each held long poll holds a worker thread (OP_ACCOUNT_THREADS): at most
 * threads - reserve are held at once, so that a reserve of workers stays
 * for everything else (the owner's op, connect-api's writes, handshakes).
 * A long poll beyond is refused with a signed 503 and Retry-After, and its
 * connection closed (kept alive, it would hold a worker all the same): the
 * Connect server backs off, or moves to another account server.
 */
static int poll_cap(const opc_accountd *s)
{
    int reserve = s->threads / 8 > OPC_AD_POLL_RESERVE_MIN ? s->threads / 8
                                                            : OPC_AD_POLL_RESERVE_MIN;
    return s->threads > reserve ? s->threads - reserve : 1;
}

static int polls_full(req *r)
{
    /* One warning per OPC_AD_POLL_WARN_MS, not one per refused poll. */
    static _Atomic int64_t last_warn;
    int64_t now = opc__monotonic_ms();
    int64_t prev = atomic_load(&last_warn);
    if (now - prev >= OPC_AD_POLL_WARN_MS && atomic_compare_exchange_strong(&last_warn, &prev, now)) {
        opc__log(OPC_LOG_WARN, LOG,
                 "%d long polls held, the most %d workers allow (OP_ACCOUNT_THREADS %d, a "
                 "reserve kept for other requests): further ones get 503; raise "
                 "OP_ACCOUNT_THREADS or add account servers",
                 atomic_load(&r->s->polls), poll_cap(r->s), r->s->threads);
    }
    cJSON *j = NULL;
    if (opc__proto_error_encode(OPC_ERR_IO, "too many long polls held: try again later", &j) !=
        OPC_OK) {
        j = NULL;
    }
    char more[64];
    (void)snprintf(more, sizeof more, "Retry-After: %d\r\n", OPC_AD_POLL_RETRY_S);
    /* And the connection closed: kept alive it would hold a worker anyway. */
    opc__httpd_close_after(r->conn);
    return answer(r, 503, j, more);
}

/* ---- the handshake ---- */

static int handshake(req *r, const opc__buf *body)
{
    opc_accountd *s = r->s;
    int64_t now_ms = opc__now_us() / 1000;
    cJSON *j = NULL;
    opc__proto_hello h;
    memset(&h, 0, sizeof h);
    opc__ebuf why;
    opc__ebuf_clear(&why);
    opc__json_limits lim = {.max_size = HELLO_MAX, .max_depth = 4};
    opc_err rc = opc__json_parse(body->data != NULL ? body->data : "", body->len, &lim, &j, &why);
    if (rc == OPC_OK) {
        rc = opc__proto_hello_decode(j, &h, &why);
    }
    cJSON_Delete(j);
    char who[96] = "";
    if (rc == OPC_OK) {
        (void)snprintf(who, sizeof who, "account %s, server %s", h.account, h.server);
    }
    opc__key *device = NULL;
    if (rc == OPC_OK) {
        rc = opc__store_device_key(s->store, h.account, h.server, &device, &why);
        if (rc == OPC_ERR_IO || rc == OPC_ERR_NOMEM) {
            opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "handshake (%s): %s", who, why.msg);
            return fail(r, rc, "the account store is unavailable");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__proto_hello_verify(&h, device, now_ms, &why);
    }
    opc__key_free(device);
    if (rc == OPC_OK) {
        rc = opc__ad_state_nonce_take(s->state, h.nonce, opc__ad_state_clock_ms(s->state));
        if (rc == OPC_ERR_IO) {
            opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL,
                            "handshake (%s): the database keeps no nonce", who);
            return fail(r, rc, "the account store is unavailable");
        }
        if (rc == OPC_ERR_EXISTS) {
            opc__fail(&why, rc, "nonce seen within the replay window (replay)");
        } else if (rc == OPC_ERR_TOO_LARGE) {
            opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL,
                            "handshake (%s): too many handshakes within the replay window", who);
            return plain_error(r, 503, "unavailable", "too many handshakes, try again", NULL);
        } else if (rc != OPC_OK) {
            opc__fail(&why, rc, "malformed nonce");
        }
    }
    if (rc != OPC_OK) {
        opc__ad_state_fail(s->state, OPC_AD_LIMIT_HANDSHAKE, r->remote,
                           opc__ad_state_clock_ms(s->state));
        return refuse(r, who[0] != '\0' ? who : NULL,
                      why.msg[0] != '\0' ? why.msg : opc_strerror(rc));
    }
    int64_t now_s = now_ms / 1000;
    opc__proto_welcome w;
    opc__proto_keys keys;
    memset(&w, 0, sizeof w);
    rc = opc__proto_welcome_make(&h, s->server_key, now_s + OPC_PROTO_SESSION_TTL_S, &w, &keys,
                                 &why);
    if (rc == OPC_OK) {
        rc = opc__ad_state_session_add(s->state, w.session, OPC_AD_KIND_CONNECT, h.account,
                                       h.server, &keys, w.expires, now_s, &why);
    }
    OPENSSL_cleanse(&keys, sizeof keys);
    cJSON *out = NULL;
    if (rc == OPC_OK) {
        rc = opc__proto_welcome_encode(&w, &out);
    }
    opc__proto_welcome_clear(&w);
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, LOG, r->rid, NULL, "handshake (%s): %s", who,
                        why.msg[0] != '\0' ? why.msg : opc_strerror(rc));
        return rc == OPC_ERR_IO ? fail(r, rc, "the account store is unavailable")
                                : plain_error(r, 500, "internal", "cannot open a session", NULL);
    }
    opc__log_scoped(OPC_LOG_INFO, LOG, r->rid, NULL, "session opened (%s, from %s)", who,
                    r->remote);
    return answer(r, 200, out, NULL);
}

/* ---- the owner's sign-up and sign-in (no session) ---- */

static int too_many(req *r, int wait_s, const char *what)
{
    char more[48];
    (void)snprintf(more, sizeof more, "Retry-After: %d\r\n", wait_s);
    opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "%s %s: rate limited (%s, from %s)", r->method,
                    r->path, what, r->remote);
    return plain_error(r, 429, "rate_limited", "too many attempts, try again later", more);
}

/* Read and parse a JSON body of at most OPC_PROTO_MAX_OWNER_MSG bytes. */
static opc_err owner_body(req *r, cJSON **j, opc__ebuf *eb)
{
    opc__buf body;
    opc__buf_init(&body, false);
    opc_err rc = opc__httpd_read_body(r->conn, OPC_PROTO_MAX_OWNER_MSG, &body);
    if (rc == OPC_OK) {
        opc__json_limits lim = {.max_size = OPC_PROTO_MAX_OWNER_MSG, .max_depth = 6};
        rc = opc__json_parse(body.data != NULL ? body.data : "", body.len, &lim, j, eb);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = OPC_ERR_PARSE;
        }
    } else if (rc == OPC_ERR_TOO_LARGE) {
        (void)opc__fail(eb, rc, "request body too large");
    } else {
        rc = opc__fail(eb, OPC_ERR_PARSE, "cannot read the body");
    }
    if (body.data != NULL) {
        OPENSSL_cleanse(body.data, body.len);
    }
    opc__buf_free(&body);
    return rc;
}

static int owner_signup(req *r)
{
    opc_accountd *s = r->s;
    int64_t now = opc__ad_state_clock_ms(s->state);
    int wait_s = opc__ad_state_blocked(s->state, OPC_AD_LIMIT_SIGNUP, r->remote, now);
    if (wait_s > 0) {
        opc__httpd_close_after(r->conn);
        return too_many(r, wait_s, "sign-ups from this address");
    }
    opc__ad_state_fail(s->state, OPC_AD_LIMIT_SIGNUP, r->remote, now); /* every attempt counts */
    cJSON *j = NULL;
    opc__proto_signup su;
    memset(&su, 0, sizeof su);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = owner_body(r, &j, &eb);
    if (rc == OPC_OK) {
        rc = opc__proto_signup_decode(j, &su, &eb);
    }
    cJSON_Delete(j);
    if (rc == OPC_OK) {
        rc = opc__ad_signup_check(&su, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__store_owner_create(s->store, &su, &eb);
    }
    char id[OPC_ID_LEN + 1];
    memcpy(id, su.account.id, sizeof id);
    opc__proto_signup_clear(&su);
    if (rc == OPC_ERR_EXISTS) {
        /* Reveals that the email has an account: accepted at sign-up
         * (docs/account-server.md). The log does not name the email. */
        opc__log_scoped(OPC_LOG_INFO, LOG, r->rid, NULL, "sign-up refused: email taken (from %s)",
                        r->remote);
        return plain_error(r, 409, "exists", "an account with this email exists", NULL);
    }
    if (rc != OPC_OK) {
        if (rc == OPC_ERR_IO || rc == OPC_ERR_NOMEM) {
            opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "sign-up: %s", eb.msg);
        }
        return fail(r, rc == OPC_ERR_NOMEM ? OPC_ERR_IO : rc,
                    eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
    }
    opc__log_scoped(OPC_LOG_INFO, LOG, r->rid, NULL, "account %s signed up (from %s)", id,
                    r->remote);
    cJSON *out = cJSON_CreateObject();
    if (out != NULL) {
        (void)cJSON_AddNumberToObject(out, "v", OPC_PROTO_VERSION);
        (void)cJSON_AddStringToObject(out, "account", id);
    }
    return answer(r, 200, out, NULL);
}

/* 429 when the address or the account has failed too often (0: go on). */
static int owner_blocked(req *r, const char *email_key)
{
    int64_t now = opc__ad_state_clock_ms(r->s->state);
    int wait_s = opc__ad_state_blocked(r->s->state, OPC_AD_LIMIT_OWNER_ADDR, r->remote, now);
    if (wait_s > 0) {
        return too_many(r, wait_s, "failed sign-ins from this address");
    }
    wait_s = email_key != NULL
                 ? opc__ad_state_blocked(r->s->state, OPC_AD_LIMIT_OWNER_EMAIL, email_key, now)
                 : 0;
    if (wait_s > 0) {
        return too_many(r, wait_s, "failed sign-ins of this account");
    }
    return 0;
}

/* A sign-in message's decoder (wire/proto.h), typed for owner_message. */
typedef opc_err (*owner_decode_fn)(const cJSON *j, void *m, opc__ebuf *eb);

static opc_err decode_start(const cJSON *j, void *m, opc__ebuf *eb)
{
    return opc__proto_auth_start_decode(j, m, eb);
}

static opc_err decode_verify(const cJSON *j, void *m, opc__ebuf *eb)
{
    return opc__proto_auth_verify_decode(j, m, eb);
}

/* A sign-in request's message into *m: 0, or the status already answered
 * (the address is blocked, or the body is not the message). */
static int owner_message(req *r, owner_decode_fn decode, void *m)
{
    int st = owner_blocked(r, NULL);
    if (st != 0) {
        return st;
    }
    cJSON *j = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = owner_body(r, &j, &eb);
    if (rc == OPC_OK) {
        rc = decode(j, m, &eb);
    }
    cJSON_Delete(j);
    return rc == OPC_OK ? 0 : fail(r, rc, eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
}

static int owner_start(req *r)
{
    opc_accountd *s = r->s;
    opc__proto_auth_start m;
    memset(&m, 0, sizeof m);
    int st = owner_message(r, decode_start, &m);
    if (st != 0) {
        return st;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__ad_signin in;
    memset(&in, 0, sizeof in);
    opc_err rc = opc__ad_email_key(m.email, in.email_key);
    if (rc == OPC_OK && (st = owner_blocked(r, in.email_key)) != 0) {
        return st;
    }
    /* The same work whether the email is known or not: the lookup, the
     * fake values (one modexp), the server's start (its modexps). */
    opc__store_owner own;
    opc__proto_auth_challenge ch;
    uint8_t fake_v[OPC_PROTO_SRP_LEN];
    memset(&ch, 0, sizeof ch);
    opc__ebuf leb;
    opc__ebuf_clear(&leb);
    opc_err found = rc == OPC_OK ? opc__store_owner_lookup(s->store, m.email, &own, &leb) : rc;
    if (found != OPC_OK && found != OPC_ERR_NOT_FOUND) {
        opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "sign-in: %s", leb.msg);
        OPENSSL_cleanse(&own, sizeof own);
        return fail(r, OPC_ERR_IO, "the account store is unavailable");
    }
    rc = opc__ad_owner_fake(s->owner_secret, m.email, ch.srp_salt, ch.kdf_salt, fake_v, &eb);
    const uint8_t *v = fake_v;
    if (rc == OPC_OK && found == OPC_OK) {
        memcpy(in.account, own.account, sizeof in.account);
        memcpy(ch.srp_salt, own.srp_salt, sizeof ch.srp_salt);
        memcpy(ch.kdf_salt, own.kdf_salt, sizeof ch.kdf_salt);
        ch.iterations = own.iterations;
        v = own.verifier;
    } else {
        ch.iterations = OPC_ACCOUNT_DEFAULT_ITERATIONS;
    }
    if (rc == OPC_OK) {
        rc = opc__srp_server_start(opc__srp_group_get(OPC_SRP_GROUP_BITS), m.email, strlen(m.email),
                                   ch.srp_salt, sizeof ch.srp_salt, v, OPC_PROTO_SRP_LEN, ch.B,
                                   sizeof ch.B, &in.srp, &eb);
    }
    OPENSSL_cleanse(fake_v, sizeof fake_v);
    OPENSSL_cleanse(&own, sizeof own);
    if (rc == OPC_OK) {
        memcpy(in.A, m.A, sizeof in.A);
        rc = opc__ad_state_pending_add(s->state, &in, opc__ad_state_clock_ms(s->state), ch.id);
    }
    opc__ad_signin_clear(&in);
    cJSON *out = NULL;
    if (rc == OPC_OK) {
        rc = opc__proto_auth_challenge_encode(&ch, &out);
    }
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, LOG, r->rid, NULL, "sign-in start: %s",
                        eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        return rc == OPC_ERR_IO ? fail(r, rc, "the account store is unavailable")
                                : plain_error(r, 500, "internal", "cannot start the sign-in", NULL);
    }
    return answer(r, 200, out, NULL);
}

/* The uniform refusal of a sign-in, counted against the address and the account. */
static int owner_refuse(req *r, const char *email_key, const char *why)
{
    int64_t now = opc__ad_state_clock_ms(r->s->state);
    opc__ad_state_fail(r->s->state, OPC_AD_LIMIT_OWNER_ADDR, r->remote, now);
    if (email_key != NULL && email_key[0] != '\0') {
        opc__ad_state_fail(r->s->state, OPC_AD_LIMIT_OWNER_EMAIL, email_key, now);
    }
    return refuse(r, NULL, why);
}

static int owner_verify(req *r)
{
    opc_accountd *s = r->s;
    opc__proto_auth_verify m;
    memset(&m, 0, sizeof m);
    int st = owner_message(r, decode_verify, &m);
    if (st != 0) {
        return st;
    }
    opc__ad_signin in;
    opc_err taken =
        opc__ad_state_pending_take(s->state, m.id, opc__ad_state_clock_ms(s->state), &in);
    if (taken == OPC_ERR_IO) {
        return fail(r, taken, "the account store is unavailable");
    }
    if (taken != OPC_OK) {
        return owner_refuse(r, NULL, "owner sign-in: unknown or expired sign-in id");
    }
    uint8_t K[OPC_PROTO_SRP_PROOF_LEN];
    opc__proto_auth_session ss;
    memset(&ss, 0, sizeof ss);
    opc__ebuf why;
    opc__ebuf_clear(&why);
    opc_err rc = opc__srp_server_verify(in.srp, in.A, sizeof in.A, m.M1, sizeof m.M1, ss.M2,
                                        sizeof ss.M2, K, sizeof K, &why);
    if (rc == OPC_OK && in.account[0] == '\0') {
        rc = OPC_ERR_SIGNATURE; /* not reached: nobody knows the fake x */
    }
    if (rc != OPC_OK) {
        char key[OPC_PROTO_HASH_B64 + 1];
        memcpy(key, in.email_key, sizeof key);
        bool unknown = in.account[0] == '\0';
        opc__ad_signin_clear(&in);
        OPENSSL_cleanse(K, sizeof K);
        return owner_refuse(r, key,
                            unknown ? "owner sign-in: unknown email"
                                    : "owner sign-in: the proof does not verify (password or "
                                      "Secret Key)");
    }
    int64_t now_s = opc__now_s();
    uint8_t raw[16];
    char *tr = NULL;
    size_t tr_len = 0;
    opc__proto_keys keys;
    memset(&keys, 0, sizeof keys);
    memcpy(ss.account, in.account, sizeof ss.account);
    ss.expires = now_s + OPC_PROTO_OWNER_TTL_S;
    ss.idle_s = OPC_PROTO_OWNER_IDLE_S;
    rc = opc__rand_bytes(raw, sizeof raw);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(raw, sizeof raw, OPC_B64URL, ss.session, sizeof ss.session, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__proto_owner_transcript(m.id, ss.account, ss.session, ss.expires, &tr, &tr_len);
    }
    if (rc == OPC_OK) {
        rc = opc__proto_session_keys(K, sizeof K, tr, tr_len, OPC_PROTO_KEYS_INFO_OWNER, &keys);
    }
    if (rc == OPC_OK) {
        opc__ebuf_clear(&why);
        rc = opc__ad_state_session_add(s->state, ss.session, OPC_AD_KIND_OWNER, ss.account, "",
                                       &keys, ss.expires, now_s, &why);
    }
    opc__free(tr);
    OPENSSL_cleanse(&keys, sizeof keys);
    OPENSSL_cleanse(K, sizeof K);
    opc__ad_signin_clear(&in);
    cJSON *out = NULL;
    if (rc == OPC_OK) {
        rc = opc__proto_auth_session_encode(&ss, &out);
    }
    OPENSSL_cleanse(ss.M2, sizeof ss.M2);
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, LOG, r->rid, NULL, "sign-in verify: %s",
                        why.msg[0] != '\0' ? why.msg : opc_strerror(rc));
        return rc == OPC_ERR_IO ? fail(r, rc, "the account store is unavailable")
                                : plain_error(r, 500, "internal", "cannot open a session", NULL);
    }
    opc__log_scoped(OPC_LOG_INFO, LOG, r->rid, NULL, "owner of account %s signed in (from %s)",
                    ss.account, r->remote);
    return answer(r, 200, out, NULL);
}

/* ---- session requests ---- */

/* Check the session headers of a request; *auth on success. */
static opc_err authenticate(req *r, opc__ad_kind kind, const char *target, const opc__buf *body,
                            opc__ad_auth *auth, opc__ebuf *why)
{
    const char *az = mg_get_header(r->conn, "Authorization");
    const char *ctr = mg_get_header(r->conn, OPC_PROTO_COUNTER_HEADER);
    const char *mac = mg_get_header(r->conn, OPC_PROTO_MAC_HEADER);
    static const char scheme[] = OPC_PROTO_AUTH_SCHEME " ";
    if (az == NULL || strncmp(az, scheme, sizeof scheme - 1) != 0 || ctr == NULL || mac == NULL) {
        return opc__fail(why, OPC_ERR_TOKEN, "no session headers");
    }
    uint64_t n = 0;
    size_t cl = strlen(ctr);
    bool digits = cl > 0 && cl <= 19;
    for (size_t i = 0; i < cl && digits; i++) {
        digits = ctr[i] >= '0' && ctr[i] <= '9';
    }
    if (!digits || opc__parse_u64(ctr, cl, 10, UINT64_MAX, &n, NULL) != OPC_OK || n == 0) {
        return opc__fail(why, OPC_ERR_TOKEN, "malformed counter");
    }
    return opc__ad_state_session_check(r->s->state, az + sizeof scheme - 1, kind, n, r->method,
                                       target, body->data != NULL ? body->data : "", body->len, mac,
                                       opc__now_s(), auth, why);
}

/* The item write of a PUT body (wire/rows.h), its ids from the path. */
static opc_err item_write(const opc__ad_match *m, const opc__buf *body, cJSON **j,
                          opc__item_write *w, opc__ebuf *eb)
{
    opc__json_limits lim = {.max_size = OPC_PROTO_MAX_REQUEST, .max_depth = 4};
    opc_err rc = opc__json_parse(body->data != NULL ? body->data : "", body->len, &lim, j, eb);
    if (rc == OPC_OK) {
        rc = opc__wire_item_write_decode(*j, w, eb);
    }
    if (rc == OPC_OK && (strcmp(w->vault_id, m->id1) != 0 || strcmp(w->item_id, m->id2) != 0)) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "the write's vault and item are not the path's");
    }
    return rc;
}

/* The vault (is_vault) or item a page names is in the server's scope:
 * OPC_ERR_NOT_FOUND otherwise, the answer its row would get. */
static opc_err page_scope(opc__store *st, const char *account, const char *server, const char *id,
                          bool is_vault, opc__ebuf *eb)
{
    cJSON *row = NULL;
    opc_err rc = is_vault ? opc__store_access(st, account, server, id, &row, eb)
                          : opc__store_item(st, account, server, id, &row, eb);
    cJSON_Delete(row);
    return rc;
}

/*
 * The owner's store protocol: a read (batch false) or a batch on the
 * session's account, never one the request names. The body is the
 * request of wire/rows_rpc.h; a read on the batch endpoint or a batch on
 * the read endpoint is refused (400). The log names the statement or the
 * batch's size, never an argument.
 */
static opc_err owner_rows(req *r, bool batch, const opc__buf *body, cJSON **out, opc__ebuf *eb)
{
    const char *account = r->auth->account;
    /* A batch is object > array > step > args > {"seq": k}: depth 5. */
    opc__json_limits lim = {.max_size = batch ? OPC_PROTO_MAX_OWNER_BATCH : OPC_PROTO_MAX_REQUEST,
                            .max_depth = 5};
    cJSON *j = NULL;
    opc__rpc_request rq;
    memset(&rq, 0, sizeof rq);
    opc_err rc = opc__json_parse(body->data != NULL ? body->data : "", body->len, &lim, &j, eb);
    if (rc != OPC_OK && rc != OPC_ERR_NOMEM && rc != OPC_ERR_TOO_LARGE) {
        rc = OPC_ERR_PARSE;
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_request_decode(j, &rq, eb);
    }
    if (rc == OPC_OK && batch != (rq.steps != NULL)) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: a %s request on the %s endpoint",
                       batch ? "read" : "batch", batch ? "batch" : "read");
    }
    if (rc == OPC_OK && !batch) {
        opc__log_scoped(OPC_LOG_DEBUG, LOG, r->rid, NULL, "owner read %s on account %s", rq.read,
                        account);
        cJSON *rows = NULL;
        rc = opc__store_owner_read(r->s->store, account, rq.read, rq.args, &rows, eb);
        if (rc == OPC_OK) {
            rc = opc__rpc_rows_encode(rows, out, eb);
        }
        cJSON_Delete(rows);
    } else if (rc == OPC_OK) {
        opc__log_scoped(OPC_LOG_DEBUG, LOG, r->rid, NULL,
                        "owner batch of %zu statements on account %s", rq.n_steps, account);
        int64_t *seqs = opc__calloc(OPC__RPC_MAX_CHANGES, sizeof *seqs);
        size_t n = 0;
        rc = seqs != NULL ? OPC_OK : OPC_ERR_NOMEM;
        if (rc == OPC_OK) {
            rc = opc__store_owner_batch(r->s->store, account, rq.steps, rq.n_steps, seqs, &n, eb);
        }
        if (rc == OPC_OK) {
            opc__log_scoped(OPC_LOG_INFO, LOG, r->rid, NULL,
                            "owner batch of %zu statements, %zu changes on account %s", rq.n_steps,
                            n, account);
            rc = opc__rpc_seqs_encode(seqs, n, out, eb);
        }
        opc__free(seqs);
    }
    opc__rpc_request_free(&rq);
    cJSON_Delete(j);
    return rc;
}

/* Run the route on the store; *out is the 200 body. */
static opc_err dispatch(req *r, const opc__ad_match *m, const opc__ad_query *q,
                        const opc__buf *body, cJSON **out, opc__ebuf *eb)
{
    opc__store *st = r->s->store;
    const char *a = r->auth->account;
    const char *sv = r->auth->server;
    size_t limit = (size_t)q->limit;
    cJSON *arr = NULL;
    cJSON *item = NULL;
    cJSON *vault = NULL;
    opc_err rc = OPC_OK;
    switch (m->route) {
    case OPC_AD_CHANGES: {
        int64_t next = q->since;
        rc = opc__store_changes(st, a, sv, q->since, limit, q->wait_ms, &arr, &next, eb);
        return rc == OPC_OK ? opc__proto_changes_encode(arr, next, out) : rc;
    }
    case OPC_AD_ISSUER_KEY:
        return opc__store_issuer_key(st, a, m->id1, out, eb);
    case OPC_AD_ACCESS:
        return opc__store_access(st, a, sv, m->id1, out, eb);
    case OPC_AD_VAULT:
        return opc__store_vault(st, a, sv, m->id1, out, eb);
    case OPC_AD_ITEM:
        return opc__store_item(st, a, sv, m->id1, out, eb);
    case OPC_AD_TOKEN:
        return opc__store_token(st, a, sv, m->id1, out, eb);
    case OPC_AD_VAULT_ITEMS:
        /* A page of a vault or item out of the server's scope is a 404, as
         * its row would be (the store alone would answer an empty page). */
        rc = page_scope(st, a, sv, m->id1, true, eb);
        if (rc == OPC_OK) {
            rc = opc__store_vault_items(st, a, sv, m->id1, q->after, limit, &arr, eb);
        }
        return rc == OPC_OK ? opc__proto_page_encode("items", arr, out) : rc;
    case OPC_AD_ITEM_FILES:
        rc = page_scope(st, a, sv, m->id1, false, eb);
        if (rc == OPC_OK) {
            rc = opc__store_item_files(st, a, sv, m->id1, q->after_file, q->after_idx, limit, &arr,
                                       eb);
        }
        return rc == OPC_OK ? opc__proto_page_encode("chunks", arr, out) : rc;
    case OPC_AD_VAULT_FILES:
        rc = page_scope(st, a, sv, m->id1, true, eb);
        if (rc == OPC_OK) {
            rc = opc__store_vault_files(st, a, sv, m->id1, q->after_item, q->after_file,
                                        q->after_idx, q->last_item, limit, &arr, eb);
        }
        return rc == OPC_OK ? opc__proto_page_encode("chunks", arr, out) : rc;
    case OPC_AD_ITEM_PUT: {
        cJSON *j = NULL;
        opc__item_write w;
        memset(&w, 0, sizeof w);
        rc = item_write(m, body, &j, &w, eb);
        if (rc == OPC_OK) {
            rc = opc__store_item_put(st, a, sv, &w, &item, &vault, eb);
        }
        cJSON_Delete(j);
        break;
    }
    case OPC_AD_ITEM_DELETE:
        rc = opc__store_item_delete(st, a, sv, m->id1, m->id2, q->expected_version, &item, &vault,
                                    eb);
        break;
    case OPC_AD_OWNER_ACCOUNT: {
        opc__proto_account row;
        rc = opc__store_owner_account(st, a, &row, eb);
        if (rc == OPC_OK) {
            memcpy(row.server_pin, r->s->pin, sizeof row.server_pin);
            rc = opc__proto_account_encode(&row, out);
        }
        opc__proto_account_clear(&row);
        return rc;
    }
    case OPC_AD_OWNER_ROWS_READ:
    case OPC_AD_OWNER_ROWS_BATCH:
        return owner_rows(r, m->route == OPC_AD_OWNER_ROWS_BATCH, body, out, eb);
    case OPC_AD_OWNER_SIGNOUT:
        /* Gone already (a sign-out at another server just now) is fine. */
        rc = opc__ad_state_session_end(r->s->state, r->auth->sid, eb);
        if (rc != OPC_OK && rc != OPC_ERR_NOT_FOUND) {
            return rc;
        }
        opc__log_scoped(OPC_LOG_INFO, LOG, r->rid, NULL, "owner of account %s signed out", a);
        *out = cJSON_CreateObject();
        return *out != NULL ? OPC_OK : OPC_ERR_NOMEM;
    default:
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "no such endpoint");
    }
    return rc == OPC_OK ? opc__proto_write_result_encode(item, vault, out) : rc;
}

static int health(req *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *st = j != NULL ? cJSON_AddObjectToObject(j, "store") : NULL;
    if (st != NULL) {
        (void)cJSON_AddStringToObject(j, "name", "op-account-server");
        (void)cJSON_AddStringToObject(j, "version", OPC_VERSION_STRING);
        (void)cJSON_AddNumberToObject(j, "protocol", OPC_PROTO_VERSION);
        (void)cJSON_AddStringToObject(st, "kind", "sqlite");
        (void)cJSON_AddStringToObject(st, "state", "ok");
        (void)cJSON_AddNumberToObject(st, "accounts", opc__store_count(r->s->store));
    }
    return answer(r, 200, j, NULL);
}

static int heartbeat(req *r)
{
    opc__buf b;
    opc__buf_init(&b, false);
    opc__httpd_begin(&b);
    (void)opc__buf_append_char(&b, '.');
    char extra[OPC_HTTPD_REQUEST_ID_MAX + 64];
    (void)snprintf(extra, sizeof extra, OPC_PROTO_HEADER ": %d\r\nX-Request-ID: %s\r\n",
                   OPC_PROTO_VERSION, r->rid);
    int st = opc__httpd_send(r->conn, &b, 200, "text/plain", extra, false, fallback);
    opc__buf_free(&b);
    opc__log_scoped(OPC_LOG_DEBUG, LOG, r->rid, NULL, "GET /heartbeat: %d", st);
    return st;
}

/*
 * The body limit of a request of a live session (*max) before its body is
 * read: OPC_PROTO_MAX_REQUEST, or for an owner batch
 * OPC_PROTO_MAX_OWNER_BATCH. A body above OPC_PROTO_MAX_REQUEST is read
 * only for a live owner session (413 otherwise, unread) and while fewer
 * than OPC_AD_MAX_LARGE_BODIES such bodies are being handled (503 with
 * Retry-After otherwise, unread); then *large is set and the caller gives
 * the slot back when done. 0: go on; else the status answered.
 */
static int large_gate(req *r, const opc__ad_match *m, const char *sid, bool *large, size_t *max)
{
    opc_accountd *s = r->s;
    bool batch = m->route == OPC_AD_OWNER_ROWS_BATCH && !m->bad_method;
    *large = false;
    /* Only a declared length opens the larger limit (core/httpd refuses
     * request bodies without Content-Length anyway). */
    *max = OPC_PROTO_MAX_REQUEST;
    long long len = mg_get_request_info(r->conn)->content_length;
    if (len <= 0 || (unsigned long long)len <= OPC_PROTO_MAX_REQUEST) {
        return 0;
    }
    if (!batch || (unsigned long long)len > OPC_PROTO_MAX_OWNER_BATCH ||
        !opc__ad_state_session_live(s->state, sid, OPC_AD_KIND_OWNER, opc__now_s())) {
        opc__httpd_close_after(r->conn);
        return fail(r, OPC_ERR_TOO_LARGE, "request body too large");
    }
    if (atomic_fetch_add(&s->large, 1) >= OPC_AD_MAX_LARGE_BODIES) {
        atomic_fetch_sub(&s->large, 1);
        char more[48];
        (void)snprintf(more, sizeof more, "Retry-After: %d\r\n", OPC_AD_LARGE_RETRY_S);
        opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL,
                        "%s %s: %d large bodies are being read, refused (from %s)", r->method,
                        r->path, OPC_AD_MAX_LARGE_BODIES, r->remote);
        opc__httpd_close_after(r->conn);
        return plain_error(r, 503, "unavailable", "too many large requests, try again", more);
    }
    *large = true;
    *max = OPC_PROTO_MAX_OWNER_BATCH;
    return 0;
}

/* A request under /v1/ other than the handshake. */
static int session_request(req *r, const opc__ad_match *m, opc_err route_rc,
                           const opc__ebuf *route_eb, const char *target, const char *qs)
{
    /* No body is read for a request of no live session (up to 4 MiB from
     * anyone): the connection closes after the refusal instead. */
    static const char scheme[] = OPC_PROTO_AUTH_SCHEME " ";
    const char *az = mg_get_header(r->conn, "Authorization");
    const char *sid =
        az != NULL && strncmp(az, scheme, sizeof scheme - 1) == 0 ? az + sizeof scheme - 1 : NULL;
    if (sid == NULL || !opc__ad_state_session_live(r->s->state, sid, 0, opc__now_s())) {
        return refuse(r, NULL, az == NULL ? "no session headers" : "unknown or expired session");
    }
    bool large = false;
    size_t max = 0;
    int st = large_gate(r, m, sid, &large, &max);
    if (st != 0) {
        return st;
    }
    opc__buf body;
    opc__buf_init(&body, false);
    opc_err rc = opc__httpd_read_body(r->conn, max, &body);
    if (rc != OPC_OK) {
        opc__buf_free(&body);
        if (large) {
            atomic_fetch_sub(&r->s->large, 1);
        }
        return fail(r, rc == OPC_ERR_TOO_LARGE ? rc : OPC_ERR_PARSE,
                    rc == OPC_ERR_TOO_LARGE ? "request body too large" : "cannot read the body");
    }
    opc__ad_auth auth;
    memset(&auth, 0, sizeof auth);
    opc__ebuf why;
    opc__ebuf_clear(&why);
    rc = authenticate(r, opc__ad_route_kind(m->route), target, &body, &auth, &why);
    if (rc != OPC_OK) {
        opc__buf_free(&body);
        if (large) {
            atomic_fetch_sub(&r->s->large, 1);
        }
        if (rc == OPC_ERR_IO) { /* the database, not the request */
            opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "%s %s: %s", r->method, r->path,
                            why.msg);
            return fail(r, rc, "the account store is unavailable");
        }
        return refuse(r, NULL, why.msg);
    }
    r->auth = &auth;
    opc__ad_query q;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (route_rc != OPC_OK) {
        st = fail(r, route_rc, route_eb->msg);
    } else if (m->route == OPC_AD_NONE) {
        st = fail(r, OPC_ERR_NOT_FOUND, "no such endpoint");
    } else if (m->bad_method) {
        st = plain_error(r, 405, "bad_request", "method not allowed", NULL);
    } else if ((rc = opc__ad_query_parse(m->route, qs, &q, &eb)) != OPC_OK) {
        st = fail(r, rc, eb.msg);
    } else if (m->route == OPC_AD_CHANGES && q.wait_ms > 0 &&
               atomic_fetch_add(&r->s->polls, 1) >= poll_cap(r->s)) {
        atomic_fetch_sub(&r->s->polls, 1);
        st = polls_full(r);
    } else {
        bool poll = m->route == OPC_AD_CHANGES && q.wait_ms > 0;
        cJSON *out = NULL;
        rc = dispatch(r, m, &q, &body, &out, &eb);
        if (rc == OPC_OK) {
            st = answer(r, 200, out, NULL);
        } else {
            cJSON_Delete(out);
            if (rc == OPC_ERR_IO || rc == OPC_ERR_NOMEM || rc == OPC_ERR_INTERNAL) {
                opc__log_scoped(OPC_LOG_WARN, LOG, r->rid, NULL, "%s %s: %s", r->method, r->path,
                                eb.msg);
            }
            st = fail(r, rc == OPC_ERR_NOMEM ? OPC_ERR_IO : rc,
                      eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        }
        if (poll) {
            atomic_fetch_sub(&r->s->polls, 1);
        }
    }
    r->auth = NULL;
    opc__ad_auth_clear(&auth);
    opc__buf_free(&body);
    if (large) {
        atomic_fetch_sub(&r->s->large, 1);
    }
    return st;
}

static int handle(struct mg_connection *conn, void *data)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    req r;
    memset(&r, 0, sizeof r);
    r.conn = conn;
    r.s = data;
    r.start_ms = opc__monotonic_ms();
    r.method = ri->request_method != NULL ? ri->request_method : "?";
    r.remote = ri->remote_addr;
    const char *client_rid = mg_get_header(conn, "X-Request-ID");
    if (opc__httpd_request_id_ok(client_rid)) {
        (void)snprintf(r.rid, sizeof r.rid, "%s", client_rid);
    } else {
        uint8_t u[16];
        memcpy(u, r.s->rid_prefix, 8);
        uint64_t n = atomic_fetch_add(&r.s->rid_counter, 1);
        for (int i = 15; i >= 8; i--, n >>= 8) {
            u[i] = (uint8_t)n; /* the counter big-endian at the end */
        }
        opc__httpd_format_request_id(u, r.rid);
    }
    /* The path and query exactly as sent (civetweb decodes nothing). */
    const char *path = ri->local_uri_raw != NULL ? ri->local_uri_raw : "/";
    const char *qs = ri->query_string;
    (void)snprintf(r.path, sizeof r.path, "%s", path);
    char target[TARGET_MAX];
    int tn = snprintf(target, sizeof target, "%s%s%s", path, qs != NULL ? "?" : "",
                      qs != NULL ? qs : "");
    if (tn < 0 || (size_t)tn >= sizeof target) {
        opc__httpd_close_after(conn);
        return fail(&r, OPC_ERR_TOO_LARGE, "request target too long");
    }
    opc__ad_match m;
    opc__ebuf route_eb;
    opc__ebuf_clear(&route_eb);
    opc_err route_rc = opc__ad_route_match(r.method, path, &m, &route_eb);
    if (m.route == OPC_AD_HEARTBEAT || m.route == OPC_AD_HEALTH) {
        if (m.bad_method) {
            return plain_error(&r, 405, "bad_request", "method not allowed", NULL);
        }
        return m.route == OPC_AD_HEARTBEAT ? heartbeat(&r) : health(&r);
    }
    if (m.route == OPC_AD_SESSION) {
        if (m.bad_method) {
            return plain_error(&r, 405, "bad_request", "method not allowed", NULL);
        }
        int wait_s = opc__ad_state_blocked(r.s->state, OPC_AD_LIMIT_HANDSHAKE, r.remote,
                                           opc__ad_state_clock_ms(r.s->state));
        if (wait_s > 0) {
            char more[48];
            (void)snprintf(more, sizeof more, "Retry-After: %d\r\n", wait_s);
            opc__httpd_close_after(conn);
            return plain_error(&r, 429, "rate_limited", "too many failed handshakes", more);
        }
        if (qs != NULL) {
            return fail(&r, OPC_ERR_INVALID_ARG, "query: unknown parameter");
        }
        opc__buf body;
        opc__buf_init(&body, false);
        opc_err rc = opc__httpd_read_body(conn, HELLO_MAX, &body);
        int st = rc == OPC_OK ? handshake(&r, &body)
                              : fail(&r, rc == OPC_ERR_TOO_LARGE ? rc : OPC_ERR_PARSE,
                                     "cannot read the handshake");
        opc__buf_free(&body);
        return st;
    }
    if (m.route == OPC_AD_OWNER_SIGNUP || m.route == OPC_AD_OWNER_AUTH_START ||
        m.route == OPC_AD_OWNER_AUTH_VERIFY) {
        if (m.bad_method) {
            return plain_error(&r, 405, "bad_request", "method not allowed", NULL);
        }
        if (qs != NULL) {
            return fail(&r, OPC_ERR_INVALID_ARG, "query: unknown parameter");
        }
        return m.route == OPC_AD_OWNER_SIGNUP       ? owner_signup(&r)
               : m.route == OPC_AD_OWNER_AUTH_START ? owner_start(&r)
                                                    : owner_verify(&r);
    }
    if (strncmp(path, "/v1/", 4) == 0) {
        return session_request(&r, &m, route_rc, &route_eb, target, qs);
    }
    return plain_error(&r, 404, "not_found", "no such endpoint", NULL);
}

/* ---- start, stop ---- */

static bool loopback(const char *addr)
{
    struct in_addr a;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a) == 1) {
        return (ntohl(a.s_addr) >> 24) == 127;
    }
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

opc_err opc_accountd_start(opc_accountd *s, char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (!stopped(s)) {
        return OPC_ERR_INVALID_ARG;
    }
    if (s->stopped) {
        opc__fail(&eb, OPC_ERR_INVALID_ARG, "a stopped account server is not started again");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return OPC_ERR_INVALID_ARG;
    }
    bool tls = s->tls != NULL && opc__tls_configured(s->tls);
    opc_err rc = OPC_OK;
    if (s->http_port >= 0 && !loopback(s->bind)) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG,
                       "plain HTTP is served on a loopback address only, not on %s", s->bind);
    } else if (!tls && s->http_port < 0) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG,
                       "no HTTPS certificate (files or ACME) and no plain HTTP port");
    }
    opc__httpd_config cfg = {.name = LOG,
                             .bind = s->bind,
                             .port = s->http_port,
                             .threads = s->threads,
                             .keepalive_ms = KEEPALIVE_MS,
                             .head_timeout_ms = HEAD_TIMEOUT_MS,
                             .max_head = 16384,
                             .handler = handle,
                             .handler_data = s};
    if (rc == OPC_OK) {
        /* Logged before the listener opens. A buffered log writer may put
         * it on the log a moment after the first answer (the daemon
         * flushes once started): readers of the pin wait for the line.
         * tls/ logs "serving HTTPS on ..." */
        opc__log(OPC_LOG_INFO, LOG, "server key pin %s, accounts in %s/" ACCOUNTS_DIR " (%d found)",
                 s->pin, s->data_dir, opc__store_count(s->store));
        rc = opc__tls_httpd_start(s->tls, s->https_port, &cfg, &s->ctx, &s->bound_http,
                                  &s->bound_https, &eb);
    }
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        opc_accountd_stop(s);
        return rc;
    }
    bool v6 = strchr(s->bind, ':') != NULL;
    if (s->bound_http >= 0) {
        opc__log(OPC_LOG_INFO, LOG, "serving plain HTTP on %s%s%s:%d (loopback only)",
                 v6 ? "[" : "", s->bind, v6 ? "]" : "", s->bound_http);
    }
    return OPC_OK;
}

void opc_accountd_stop(opc_accountd *s)
{
    if (s == NULL) {
        return;
    }
    if (s->tls != NULL) {
        opc__tls_stop(s->tls);
    }
    if (s->ctx != NULL) {
        /* Long polls answer at once, and are given the time to send it:
         * once mg_stop() runs, civetweb writes nothing more. */
        opc__store_shutdown(s->store);
        int64_t until = opc__monotonic_ms() + STOP_DRAIN_MS;
        while (atomic_load(&s->polls) > 0 && opc__monotonic_ms() < until) {
            struct timespec ts = {0, 5000000L};
            (void)nanosleep(&ts, NULL);
        }
        int poke = s->bound_http >= 0 ? s->bound_http : s->bound_https;
        opc__httpd_stop(s->ctx, s->bind, poke); /* requests in progress finish */
        s->ctx = NULL;
        s->bound_http = s->bound_https = -1;
        s->stopped = true;
        opc__log(OPC_LOG_INFO, LOG, "stopped");
    }
}
