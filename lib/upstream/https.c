/*
 * upstream/https.c - the https:// backend (upstream.h): the account server
 * `op-account-server` over the network protocol of docs/protocol.md, "The
 * network protocol". The messages are wire/proto.h's and wire/rows.h's;
 * the HTTP exchanges are transport.c's.
 *
 * Sessions: the handshake (hello/welcome, the server key's pin checked
 * against the credentials' accountServerPin) runs on first use, when the
 * session is about to expire or has been idle nearly as long as the server
 * keeps it, and after a 401 (then the request is sent once more). Every
 * request carries the session id, a counter that grows by one per request
 * and the request MAC; every answer's OPC-Protocol and OPC-MAC are checked
 * before a byte of its body is parsed. An answer failing its MAC is refused
 * (OPC_ERR_SIGNATURE, nothing applied) and the session dropped.
 *
 * Retries: reads (and the handshake) are retried on network errors and on
 * 5xx, up to OPC_HTTPS_TRIES tries (plus one per further account server)
 * with jittered exponential backoff (OPC_HTTPS_BACKOFF_MS doubling, capped
 * at OPC_HTTPS_BACKOFF_CAP_MS), then OPC_ERR_IO naming the host and the
 * cause. A write is retried only when the request cannot have reached the
 * server (resolve, connect or TLS failure, or the session's handshake
 * failing before it); when the answer was lost after sending, the item is
 * read back: the row the write would have made (its version, its
 * envelopes) is the write's own answer. Otherwise it is sent once more
 * (its expected version makes the account apply it at most once: the
 * later of two sends meets 409 or 404) and an answer of 409 or 404, or one
 * lost again, is settled by reading back again; what is still not the
 * write's row is OPC_ERR_IO saying that the write may or may not have been
 * made (docs/protocol.md, "The client").
 *
 * Failover: the credentials may name several account servers (serving the
 * account from one database with one server key, so one pin). The handle
 * talks to one of them, the current one, and keeps it while it works. A
 * network failure (resolve, connect, TLS, reset, timeout) or an HTTP 502,
 * 503 or 504 moves it to the next in the list, round robin (no preferred
 * server: it comes back to an earlier one by the same rule), drops the
 * session (the next request makes one there) and logs one line, "upstream:
 * <old url> failed (<reason>); now <new url>". The retry that follows goes
 * to the new server after the usual backoff; a write is retried there only
 * when it cannot have reached the old one (above). A server that does not
 * prove the pinned key, refuses our session, does not speak the protocol or
 * sends an answer failing its MAC is reported as before (the call fails,
 * no retry) and the handle moves too, for the calls to come: one misplaced
 * server in the list does not hold it. One URL: no move, the retries go to
 * the same server as before.
 *
 * Secrets: the device key (a copy), the ephemeral key and the session keys
 * are wiped when dropped; messages name the host, ids and statuses only.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/time.h"
#include "credentials/credentials.h"
#include "crypto/key.h"
#include "net/transport.h"
#include "upstream/upstream.h"
#include "wire/proto.h"
#include "wire/rows.h"

/* A session is renewed this long before it expires, or once it has been
 * idle this close to the server's idle limit (seconds). */
#define RENEW_MARGIN_S 30
#define IDLE_MARGIN_S 15
/* A call's timeout beyond its wait (ms). */
#define CALL_SLACK_MS 15000

typedef struct https {
    opc__transport *ts[OPC_CREDENTIALS_MAX_UPSTREAMS]; /* one per account server */
    size_t n;
    size_t cur;        /* the current one */
    opc__transport *t; /* ts[cur] */
    uint64_t moves;    /* failovers so far */
    opc__key *device;  /* a copy of the credentials' device key */
    char pin[OPC_PROTO_HASH_B64 + 1];
    /* The session. */
    bool live;
    char sid[OPC_PROTO_NONCE_B64 + 1];
    int64_t expires;   /* Unix s */
    int64_t last_used; /* monotonic ms */
    uint64_t counter;
    opc__proto_keys keys;
} https;

static void session_drop(https *h)
{
    OPENSSL_cleanse(&h->keys, sizeof h->keys);
    OPENSSL_cleanse(h->sid, sizeof h->sid);
    h->live = false;
    h->counter = 0;
    h->expires = 0;
}

static const char *host_of(const opc__upstream *u)
{
    const https *h = u->impl;
    return opc__transport_host(h->t);
}

/* Statuses that move the handle to the next account server: a proxy or
 * load balancer that found none behind it, or a server out of service. */
static bool moving_status(long status)
{
    return status == 502 || status == 503 || status == 504;
}

/*
 * The current account server failed (why: the network's or the status's
 * words, secret-free): move to the next in the list, round robin, with a
 * new session there. One URL: nothing to move to.
 */
static void fail_over(opc__upstream *u, const char *why)
{
    https *h = u->impl;
    if (h->n < 2) {
        return;
    }
    size_t old = h->cur;
    session_drop(h);
    h->cur = (h->cur + 1) % h->n;
    h->t = h->ts[h->cur];
    h->moves++;
    opc__log(OPC_LOG_WARN, "upstream", "upstream: %s failed (%.200s); now %s",
             opc__transport_base(h->ts[old]), why[0] != '\0' ? why : "error",
             opc__transport_base(h->t));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The backoff before try n+1 (n >= 1): uniform in [d/2, d], d = base * 2^(n-1) capped. */
int64_t opc__upstream_https_backoff_ms(int n)
{
    int64_t d = OPC_HTTPS_BACKOFF_MS;
    for (int i = 1; i < n && d < OPC_HTTPS_BACKOFF_CAP_MS; i++) {
        d *= 2;
    }
    d = d > OPC_HTTPS_BACKOFF_CAP_MS ? OPC_HTTPS_BACKOFF_CAP_MS : d;
    uint32_t r = 0;
    if (opc__rand_uniform((uint32_t)(d / 2) + 1, &r) != OPC_OK) {
        r = 0;
    }
    return d / 2 + (int64_t)r;
}

/* Sleep the backoff; false when an interrupt (if watched) ended it early. */
static bool backoff(opc__upstream *u, int n, bool interruptible)
{
    int64_t end = opc__monotonic_ms() + opc__upstream_https_backoff_ms(n);
    for (;;) {
        if (interruptible && atomic_load(&u->interrupted) != 0) {
            return false;
        }
        int64_t left = end - opc__monotonic_ms();
        if (left <= 0) {
            return true;
        }
        sleep_ms(left < 20 ? left : 20);
    }
}

/* ---- one exchange ---- */

typedef struct call {
    const char *method;
    const char *target;
    const char *body; /* NULL: none */
    size_t body_len;
    int64_t timeout_ms;
    bool write;
    bool interruptible; /* changes(): an interrupt ends it */
} call;

/* What an attempt came to. */
typedef enum outcome {
    DONE,        /* *rc is final: OPC_OK with the status and body, or an error */
    NEW_SESSION, /* a 401: make a new session and send once more */
    NOT_SENT,    /* a network failure before the request went out */
    LOST,        /* sent, no (trustworthy) answer: network, or a 5xx without a MAC */
    FAILED_5XX,  /* a verified 5xx answer */
    INTERRUPTED
} outcome;

static outcome net_outcome(opc__net n)
{
    switch (n) {
    case OPC__NET_NOT_SENT:
        return NOT_SENT;
    case OPC__NET_INTERRUPTED:
        return INTERRUPTED;
    default:
        return LOST;
    }
}

/* The protocol header of an answer: OPC_OK for version 1. */
static opc_err check_protocol(opc__upstream *u, const char *v, opc__ebuf *eb)
{
    if (v[0] == '\0') {
        return opc__fail(eb, OPC_ERR_IO,
                         "upstream %s answered without %s (is it an account server?)", host_of(u),
                         OPC_PROTO_HEADER);
    }
    char *end = NULL;
    errno = 0;
    unsigned long major = strtoul(v, &end, 10);
    if (errno != 0 || end == v || (*end != '\0' && *end != '.') || major != OPC_PROTO_VERSION) {
        return opc__fail(eb, OPC_ERR_IO, "upstream %s speaks protocol %.16s, this build speaks %d",
                         host_of(u), v, OPC_PROTO_VERSION);
    }
    return OPC_OK;
}

static opc_err parse_body(opc__upstream *u, const opc__transport_answer *a, cJSON **out,
                          opc__ebuf *eb)
{
    opc__json_limits lim = {.max_size = OPC_PROTO_MAX_ANSWER, .max_depth = 0};
    opc__ebuf peb;
    opc__ebuf_clear(&peb);
    opc_err rc = opc__json_parse(a->body, a->len, &lim, out, &peb);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO,
                         "upstream %s: the answer is not JSON (%s)", host_of(u), peb.msg);
    }
    return OPC_OK;
}

/* POST /v1/connect/session: a new session, or the outcome that kept it from being made. */
static outcome handshake(opc__upstream *u, char why[OPC_TRANSPORT_WHY_MAX], long *status,
                         opc_err *rc, opc__ebuf *eb)
{
    https *h = u->impl;
    session_drop(h);
    opc__proto_hello hello;
    opc__key *eph = NULL;
    cJSON *j = NULL;
    char *text = NULL;
    size_t len = 0;
    opc__transport_answer a;
    memset(&a, 0, sizeof a);
    outcome out = DONE;
    *rc = opc__proto_hello_make(u->account_id, u->server_id, h->device, opc__now_us() / 1000,
                                &hello, &eph, eb);
    if (*rc == OPC_OK) {
        *rc = opc__proto_hello_encode(&hello, &j);
    }
    if (*rc == OPC_OK) {
        *rc = opc__json_print(j, &text, &len);
    }
    if (*rc != OPC_OK) {
        goto done;
    }
    opc__net n = opc__transport_send(h->t, "POST", "/v1/connect/session", NULL, text, len,
                                     CALL_SLACK_MS, NULL, &a, why);
    if (n == OPC__NET_NOMEM) {
        *rc = OPC_ERR_NOMEM;
        goto done;
    }
    if (n != OPC__NET_ANSWERED) {
        out = net_outcome(n);
        goto done;
    }
    *status = a.status;
    if (a.status >= 500 && a.protocol[0] == '\0') {
        (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "HTTP %ld", a.status);
        out = LOST;
        goto done;
    }
    *rc = check_protocol(u, a.protocol, eb);
    if (*rc != OPC_OK) {
        goto done;
    }
    cJSON *body = NULL;
    if (a.status != 200) {
        opc_err prc = parse_body(u, &a, &body, eb);
        *rc = opc__proto_error_decode((int)a.status, prc == OPC_OK ? body : NULL, eb);
        cJSON_Delete(body);
        if (a.status >= 500) {
            (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "HTTP %ld", a.status);
            out = FAILED_5XX;
        } else {
            if (a.status == 401) {
                *rc = OPC_ERR_PERMISSION;
            }
            opc__ebuf_prefix(eb, "upstream %s refused the session", host_of(u));
        }
        goto done;
    }
    *rc = parse_body(u, &a, &body, eb);
    if (*rc != OPC_OK) {
        goto done;
    }
    opc__proto_welcome w;
    memset(&w, 0, sizeof w);
    *rc = opc__proto_welcome_decode(body, &w, eb);
    cJSON_Delete(body);
    if (*rc == OPC_OK) {
        *rc = opc__proto_welcome_verify(&hello, &w, h->pin, eph, &h->keys, eb);
        if (*rc != OPC_OK) {
            opc__ebuf_prefix(eb, "upstream %s", host_of(u));
        }
    } else {
        *rc = OPC_ERR_IO;
        opc__ebuf_prefix(eb, "upstream %s", host_of(u));
    }
    if (*rc == OPC_OK) {
        memcpy(h->sid, w.session, sizeof h->sid);
        h->expires = w.expires;
        h->counter = 0;
        h->live = true;
        h->last_used = opc__monotonic_ms();
    }
    opc__proto_welcome_clear(&w);
done:
    opc__transport_answer_clear(&a);
    opc__free(text);
    cJSON_Delete(j);
    opc__key_free(eph);
    if (*rc != OPC_OK || out != DONE) {
        session_drop(h);
    }
    return out;
}

static bool session_fresh(const https *h)
{
    if (!h->live) {
        return false;
    }
    int64_t now = opc__now_s();
    int64_t idle_ms = opc__monotonic_ms() - h->last_used;
    return now < h->expires - RENEW_MARGIN_S &&
           idle_ms < (int64_t)(OPC_PROTO_SESSION_IDLE_S - IDLE_MARGIN_S) * 1000;
}

/*
 * One attempt: a session, the signed request, the answer checked. On DONE
 * with *rc OPC_OK, *status and *json (NULL for an empty body) are the
 * verified answer.
 */
static outcome attempt(opc__upstream *u, const call *c, long *status, cJSON **json,
                       char why[OPC_TRANSPORT_WHY_MAX], bool *move, opc_err *rc, opc__ebuf *eb)
{
    https *h = u->impl;
    *json = NULL;
    *status = 0;
    *move = false;
    *rc = OPC_OK;
    if (!session_fresh(h)) {
        long hs = 0;
        outcome o = handshake(u, why, &hs, rc, eb);
        *move = o == NOT_SENT || (o == LOST && hs == 0) || moving_status(hs);
        if (o == LOST || o == FAILED_5XX) {
            /* The request itself never left: a write is retried as one
             * that cannot have reached the server, never read back. */
            o = NOT_SENT;
        }
        if (o == DONE && *rc != OPC_OK && *rc != OPC_ERR_NOMEM) {
            /* Not the pinned key, our session refused, or not an account
             * server at all: this one is not working for us (the next may be). */
            *move = true;
        }
        if (o != DONE || *rc != OPC_OK) {
            return o;
        }
    }
    uint64_t n = ++h->counter;
    char mac[OPC_PROTO_HASH_B64 + 1];
    *rc = opc__proto_mac_request(&h->keys, h->sid, n, c->method, c->target, c->body,
                                 c->body != NULL ? c->body_len : 0, mac);
    if (*rc != OPC_OK) {
        return DONE;
    }
    char auth[64], counter[64], mach[64];
    (void)snprintf(auth, sizeof auth, "Authorization: %s %s", OPC_PROTO_AUTH_SCHEME, h->sid);
    (void)snprintf(counter, sizeof counter, "%s: %" PRIu64, OPC_PROTO_COUNTER_HEADER, n);
    (void)snprintf(mach, sizeof mach, "%s: %s", OPC_PROTO_MAC_HEADER, mac);
    const char *headers[] = {auth, counter, mach, NULL};
    opc__transport_answer a;
    opc__net net =
        opc__transport_send(h->t, c->method, c->target, headers, c->body, c->body_len,
                            c->timeout_ms, c->interruptible ? &u->interrupted : NULL, &a, why);
    OPENSSL_cleanse(auth, sizeof auth);
    OPENSSL_cleanse(mach, sizeof mach);
    h->last_used = opc__monotonic_ms();
    outcome out = DONE;
    if (net == OPC__NET_NOMEM) {
        *rc = OPC_ERR_NOMEM;
        goto done;
    }
    if (net != OPC__NET_ANSWERED) {
        out = net_outcome(net);
        *move = net == OPC__NET_NOT_SENT || net == OPC__NET_LOST;
        goto done;
    }
    *status = a.status;
    char want[OPC_PROTO_HASH_B64 + 1];
    *rc = opc__proto_mac_answer(&h->keys, h->sid, n, (int)a.status, a.body, a.len, want);
    if (*rc != OPC_OK) {
        goto done;
    }
    bool mac_ok = !a.mac_bad && opc__proto_mac_equal(a.mac, want);
    if (a.status == 401) {
        /* Verified or not, a 401 only makes a new session. */
        session_drop(h);
        out = NEW_SESSION;
        goto done;
    }
    if (!mac_ok && a.status >= 500 && a.mac[0] == '\0') {
        /* A gateway's error (no MAC, no protocol): nothing to trust, nothing applied
         * by it; what happened behind it is unknown. */
        (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "HTTP %ld", a.status);
        *move = moving_status(a.status);
        out = LOST;
        goto done;
    }
    *rc = check_protocol(u, a.protocol, eb);
    if (*rc != OPC_OK) {
        session_drop(h);
        *move = true; /* not an account server (of this protocol) */
        goto done;
    }
    if (!mac_ok) {
        session_drop(h);
        *rc = opc__fail(eb, OPC_ERR_SIGNATURE, "upstream: answer failed its MAC check (%s %s)",
                        host_of(u), c->method);
        *move = true;
        goto done;
    }
    if (a.len > 0) {
        *rc = parse_body(u, &a, json, eb);
        if (*rc != OPC_OK) {
            goto done;
        }
    }
    if (a.status >= 500) {
        opc__ebuf deb;
        opc__ebuf_clear(&deb);
        (void)opc__proto_error_decode((int)a.status, *json, &deb);
        (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "HTTP %ld: %.200s", a.status, deb.msg);
        cJSON_Delete(*json);
        *json = NULL;
        *move = moving_status(a.status);
        out = FAILED_5XX;
    }
done:
    opc__transport_answer_clear(&a);
    return out;
}

/*
 * The exchange with its retries. OPC_OK: the answer's status and JSON body
 * (*json; an error status is mapped, so OPC_OK means 200). *lost (writes
 * only; may be NULL for reads) is set when a write's answer was lost after
 * the request may have reached the server: the caller reads back.
 * *interrupted is set when an interrupt ended it (changes()).
 */
static opc_err exchange(opc__upstream *u, const call *c, cJSON **json, bool *lost,
                        bool *interrupted, opc__ebuf *eb)
{
    *json = NULL;
    if (lost != NULL) {
        *lost = false;
    }
    if (interrupted != NULL) {
        *interrupted = false;
    }
    bool renewed = false;
    char why[OPC_TRANSPORT_WHY_MAX];
    const https *h = u->impl;
    int tries = OPC_HTTPS_TRIES + (int)h->n - 1;
    for (int n = 1;; n++) {
        long status = 0;
        bool move = false;
        opc_err rc = OPC_OK;
        why[0] = '\0';
        outcome o = attempt(u, c, &status, json, why, &move, &rc, eb);
        if ((o == DONE && rc == OPC_OK) || o == NEW_SESSION || o == INTERRUPTED) {
            move = false;
        }
        if (o == DONE && move && why[0] == '\0') {
            /* A refusal (reported as it is): the cause is its message. */
            (void)snprintf(why, OPC_TRANSPORT_WHY_MAX, "%s",
                           eb != NULL && eb->msg[0] != '\0' ? eb->msg : opc_errname(rc));
        }
        /* The message names the server that failed, before a move. */
        char failed[OPC_TRANSPORT_WHY_MAX + 64];
        (void)snprintf(failed, sizeof failed, "upstream %s: %s", host_of(u), why);
        if (move) {
            fail_over(u, why);
        }
        switch (o) {
        case DONE:
            if (rc == OPC_OK && status != 200) {
                /* The server's own words ("upstream: ... (HTTP n)"). */
                rc = opc__proto_error_decode((int)status, *json, eb);
                cJSON_Delete(*json);
                *json = NULL;
                if (rc == OPC_OK) {
                    rc = opc__fail(eb, OPC_ERR_IO, "upstream %s answered HTTP %ld", host_of(u),
                                   status);
                }
            }
            return rc;
        case NEW_SESSION:
            if (renewed) {
                rc = opc__fail(eb, OPC_ERR_PERMISSION,
                               "upstream %s refused the session's requests (authentication "
                               "failed)",
                               host_of(u));
                fail_over(u, "the session's requests refused twice");
                return rc;
            }
            renewed = true;
            n--; /* a new session is not a retry */
            continue;
        case INTERRUPTED:
            if (interrupted != NULL) {
                *interrupted = true;
            }
            return opc__fail(eb, OPC_ERR_IO, "upstream %s: interrupted", host_of(u));
        case LOST:
            if (c->write) {
                if (lost != NULL) {
                    *lost = true;
                }
                return opc__fail(eb, OPC_ERR_IO, "%s", failed);
            }
            break;
        case FAILED_5XX:
            if (c->write) {
                return opc__fail(eb, OPC_ERR_IO, "%s", failed);
            }
            break;
        case NOT_SENT:
            break;
        }
        if (n >= tries || !backoff(u, n, c->interruptible)) {
            if (c->interruptible && atomic_load(&u->interrupted) != 0 && interrupted != NULL) {
                *interrupted = true;
            }
            return opc__fail(eb, OPC_ERR_IO, "%s", failed);
        }
    }
}

/* ---- reads ---- */

#define TARGET_MAX 256

static opc_err get(opc__upstream *u, const char *target, cJSON **out, opc__ebuf *eb)
{
    call c = {.method = "GET", .target = target, .timeout_ms = CALL_SLACK_MS};
    return exchange(u, &c, out, NULL, NULL, eb);
}

/* GET /v1/connect/<collection>/<id>: an object. */
static opc_err get_object(opc__upstream *u, const char *collection, const char *id, cJSON **out,
                          opc__ebuf *eb)
{
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target, "/v1/connect/%s/%s", collection, id);
    opc_err rc = get(u, target, out, eb);
    if (rc == OPC_OK && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        rc = opc__fail(eb, OPC_ERR_IO, "upstream %s: the answer to %s is not an object", host_of(u),
                       target);
    }
    return rc;
}

static opc_err get_page(opc__upstream *u, const char *target, const char *member, cJSON **out,
                        opc__ebuf *eb)
{
    cJSON *j = NULL;
    opc_err rc = get(u, target, &j, eb);
    if (rc == OPC_OK) {
        rc = opc__proto_page_decode(j, member, out, eb);
        if (rc != OPC_OK) {
            rc = OPC_ERR_IO;
            opc__ebuf_prefix(eb, "upstream %s", host_of(u));
        }
    }
    cJSON_Delete(j);
    return rc;
}

static opc_err h_changes(opc__upstream *u, int64_t since, size_t limit, int64_t wait_ms,
                         cJSON **out, int64_t *out_next, opc__ebuf *eb)
{
    atomic_store(&u->interrupted, 0);
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target,
                   "/v1/connect/changes?since=%" PRId64 "&limit=%zu&wait=%" PRId64, since, limit,
                   wait_ms);
    call c = {.method = "GET",
              .target = target,
              .timeout_ms = wait_ms + CALL_SLACK_MS,
              .interruptible = true};
    cJSON *j = NULL;
    bool interrupted = false;
    opc_err rc = exchange(u, &c, &j, NULL, &interrupted, eb);
    if (rc != OPC_OK && interrupted) {
        /* The wait ended early: nothing new. */
        *out = cJSON_CreateArray();
        *out_next = since;
        return *out == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    if (rc == OPC_OK) {
        int64_t next = since;
        rc = opc__proto_changes_decode(j, out, &next, eb);
        if (rc == OPC_OK) {
            *out_next = next;
        } else {
            rc = OPC_ERR_IO;
            opc__ebuf_prefix(eb, "upstream %s", host_of(u));
        }
    }
    cJSON_Delete(j);
    return rc;
}

static opc_err h_issuer_key(opc__upstream *u, const char *kid, cJSON **out, opc__ebuf *eb)
{
    return get_object(u, "issuer-keys", kid, out, eb);
}

static opc_err h_access(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb)
{
    return get_object(u, "access", vault, out, eb);
}

static opc_err h_vault(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb)
{
    return get_object(u, "vaults", vault, out, eb);
}

static opc_err h_item(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb)
{
    return get_object(u, "items", item, out, eb);
}

static opc_err h_token(opc__upstream *u, const char *jti, cJSON **out, opc__ebuf *eb)
{
    return get_object(u, "tokens", jti, out, eb);
}

static const char *or_empty(const char *s)
{
    return s == NULL ? "" : s;
}

static opc_err h_vault_items(opc__upstream *u, const char *vault, const char *after, size_t limit,
                             cJSON **out, opc__ebuf *eb)
{
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target, "/v1/connect/vaults/%s/items?after=%s&limit=%zu", vault,
                   or_empty(after), limit);
    return get_page(u, target, "items", out, eb);
}

static opc_err h_item_files(opc__upstream *u, const char *item, const char *after_file,
                            int64_t after_idx, size_t limit, cJSON **out, opc__ebuf *eb)
{
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target,
                   "/v1/connect/items/%s/files?after_file=%s&after_idx=%" PRId64 "&limit=%zu", item,
                   or_empty(after_file), after_idx, limit);
    return get_page(u, target, "chunks", out, eb);
}

static opc_err h_vault_files(opc__upstream *u, const char *vault, const char *after_item,
                             const char *after_file, int64_t after_idx, const char *last_item,
                             size_t limit, cJSON **out, opc__ebuf *eb)
{
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target,
                   "/v1/connect/vaults/%s/files?after_item=%s&after_file=%s&after_idx=%" PRId64
                   "&last_item=%s&limit=%zu",
                   vault, after_item, or_empty(after_file), after_idx, last_item, limit);
    return get_page(u, target, "chunks", out, eb);
}

/* ---- writes ---- */

/*
 * The answer to a write was lost after it may have reached the server:
 * read the item back. It is the write's own effect when the item is at
 * `version` in `state` and, for a put, holds exactly the envelopes sent;
 * then *out_item is that row and *out_vault the vault row read afresh.
 * Otherwise OPC_ERR_IO (the caller's 503; a retry then meets 409 or 404 if
 * the write had applied after all).
 */
static opc_err read_back(opc__upstream *u, const char *vault, const char *item, int64_t version,
                         bool any_version, const char *state, const opc__item_write *w,
                         const char *cause, cJSON **out_item, cJSON **out_vault, opc__ebuf *eb)
{
    cJSON *row = NULL;
    opc__ebuf reb;
    opc__ebuf_clear(&reb);
    opc_err rc = h_item(u, item, &row, &reb);
    bool ours = false;
    if (rc == OPC_OK) {
        opc__wire_item r;
        if (opc__wire_item_decode(row, &r, &reb) == OPC_OK && strcmp(r.vault, vault) == 0 &&
            strcmp(r.state, state) == 0 && (any_version || r.version == version)) {
            ours = w == NULL ||
                   (r.key_sn == w->key_sn && r.overview != NULL && r.details != NULL &&
                    strcmp(r.overview, w->overview) == 0 && strcmp(r.details, w->details) == 0);
        }
    }
    if (ours) {
        rc = h_vault(u, vault, out_vault, &reb);
        if (rc == OPC_OK) {
            *out_item = row;
            return OPC_OK;
        }
    }
    cJSON_Delete(row);
    return opc__fail(eb, OPC_ERR_IO,
                     "upstream %s: the answer to the write of item %s was lost (%s) and the item "
                     "read back is not the write's: the write may or may not have been made",
                     host_of(u), item, cause);
}

static opc_err write_result(opc__upstream *u, cJSON *j, cJSON **out_item, cJSON **out_vault,
                            opc__ebuf *eb)
{
    opc_err rc = opc__proto_write_result_decode(j, out_item, out_vault, eb);
    if (rc != OPC_OK) {
        rc = OPC_ERR_IO;
        opc__ebuf_prefix(eb, "upstream %s", host_of(u));
    }
    return rc;
}

/*
 * A write's exchange: its answer decoded, or, when the answer was lost
 * after the request may have reached the server, the item read back
 * (read_back's arguments).
 */
static opc_err write_call(opc__upstream *u, const call *c, const char *vault, const char *item,
                          int64_t version, bool any_version, const char *state,
                          const opc__item_write *w, cJSON **out_item, cJSON **out_vault,
                          opc__ebuf *eb)
{
    cJSON *j = NULL;
    bool lost = false;
    opc_err rc = exchange(u, c, &j, &lost, NULL, eb);
    if (rc == OPC_OK) {
        rc = write_result(u, j, out_item, out_vault, eb);
    } else if (lost) {
        char cause[OPC_ERRBUF_SIZE];
        (void)snprintf(cause, sizeof cause, "%s", eb != NULL ? eb->msg : "network");
        opc__ebuf first;
        opc__ebuf_clear(&first);
        rc = read_back(u, vault, item, version, any_version, state, w, cause, out_item, out_vault,
                       &first);
        if (rc != OPC_OK) {
            /* Not applied as far as the account can tell: send it once
             * more (to the server the handle moved to). The write carries
             * its expected version (a create: version 0, an id of its
             * own), so the account applies it at most once: if the first
             * send lands after all, one of the two meets 409 or 404, and
             * the row read back then says which. */
            bool lost2 = false;
            cJSON_Delete(j);
            j = NULL;
            opc__ebuf again;
            opc__ebuf_clear(&again);
            rc = exchange(u, c, &j, &lost2, NULL, &again);
            if (rc == OPC_OK) {
                rc = write_result(u, j, out_item, out_vault, eb);
            } else if (rc == OPC_ERR_CONFLICT || rc == OPC_ERR_EXISTS ||
                       rc == OPC_ERR_NOT_FOUND || lost2) {
                rc = read_back(u, vault, item, version, any_version, state, w, cause, out_item,
                               out_vault, eb);
            } else if (eb != NULL) {
                *eb = first;
            }
        }
    }
    cJSON_Delete(j);
    return rc;
}

static opc_err h_item_put(opc__upstream *u, const opc__item_write *w, cJSON **out_item,
                          cJSON **out_vault, opc__ebuf *eb)
{
    cJSON *body = NULL;
    char *text = NULL;
    size_t len = 0;
    opc_err rc = opc__wire_item_write_encode(w, &body, eb);
    if (rc == OPC_OK) {
        rc = opc__json_print(body, &text, &len);
    }
    cJSON_Delete(body);
    if (rc != OPC_OK) {
        return rc;
    }
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target, "/v1/connect/vaults/%s/items/%s", w->vault_id,
                   w->item_id);
    call c = {.method = "PUT",
              .target = target,
              .body = text,
              .body_len = len,
              .timeout_ms = CALL_SLACK_MS,
              .write = true};
    rc = write_call(u, &c, w->vault_id, w->item_id, w->expected_version + 1, false, "active", w,
                    out_item, out_vault, eb);
    opc__free(text);
    return rc;
}

static opc_err h_item_delete(opc__upstream *u, const char *vault, const char *item,
                             int64_t expected_version, cJSON **out_item, cJSON **out_vault,
                             opc__ebuf *eb)
{
    char target[TARGET_MAX];
    (void)snprintf(target, sizeof target,
                   "/v1/connect/vaults/%s/items/%s?expected_version=%" PRId64, vault, item,
                   expected_version);
    call c = {.method = "DELETE", .target = target, .timeout_ms = CALL_SLACK_MS, .write = true};
    return write_call(u, &c, vault, item, expected_version + 1, expected_version == 0, "deleted",
                      NULL, out_item, out_vault, eb);
}

static void h_close(opc__upstream *u)
{
    https *h = u->impl;
    if (h == NULL) {
        return;
    }
    session_drop(h);
    for (size_t i = 0; i < h->n; i++) {
        opc__transport_close(h->ts[i]);
    }
    opc__key_free(h->device);
    OPENSSL_cleanse(h, sizeof *h);
    opc__free(h);
    u->impl = NULL;
}

static void h_wakeup(opc__upstream *u)
{
    https *h = u->impl;
    if (h != NULL) {
        /* Any of them may carry the wait (the current one is the owner's to change). */
        for (size_t i = 0; i < h->n; i++) {
            opc__transport_wakeup(h->ts[i]);
        }
    }
}

static const opc__upstream_ops HTTPS_OPS = {
    .changes = h_changes,
    .issuer_key = h_issuer_key,
    .access = h_access,
    .vault = h_vault,
    .vault_items = h_vault_items,
    .item = h_item,
    .item_files = h_item_files,
    .vault_files = h_vault_files,
    .token = h_token,
    .item_put = h_item_put,
    .item_delete = h_item_delete,
    .close = h_close,
    .wakeup = h_wakeup,
};

/* A copy of an EC private key (through its JWK). */
static opc_err key_copy(const opc__key *k, opc__key **out)
{
    cJSON *j = NULL;
    opc_err rc = opc__jwk_export(k, true, &j);
    if (rc == OPC_OK) {
        rc = opc__jwk_import(j, OPC_JWK_REQUIRE_PRIVATE, out, NULL);
    }
    opc__json_delete_secret(j);
    return rc;
}

opc_err opc__upstream_https_init(opc__upstream *u, const char *const *urls, size_t n_urls,
                                 const opc__key *device_key, const char *pin, const char *ca_file,
                                 opc__ebuf *eb)
{
    if (pin == NULL || strlen(pin) != OPC_PROTO_HASH_B64) {
        return opc__fail(eb, OPC_ERR_CREDENTIALS,
                         "credentials name an https:// upstream without the account server's "
                         "key pin");
    }
    if (device_key == NULL) {
        return opc__fail(eb, OPC_ERR_CREDENTIALS, "credentials hold no device key");
    }
    if (urls == NULL || n_urls < 1 || n_urls > OPC_CREDENTIALS_MAX_UPSTREAMS) {
        return opc__fail(eb, OPC_ERR_CREDENTIALS, "upstream: 1 to %d account servers",
                         OPC_CREDENTIALS_MAX_UPSTREAMS);
    }
    https *h = opc__calloc(1, sizeof *h);
    if (h == NULL) {
        return OPC_ERR_NOMEM;
    }
    u->impl = h;
    u->ops = &HTTPS_OPS;
    memcpy(h->pin, pin, sizeof h->pin);
    opc_err rc = OPC_OK;
    for (size_t i = 0; i < n_urls && rc == OPC_OK; i++) {
        rc = opc__transport_open(urls[i], ca_file, &h->ts[i], eb);
        if (rc == OPC_OK) {
            h->n = i + 1;
        }
    }
    if (rc == OPC_OK) {
        h->cur = 0;
        h->t = h->ts[0];
        rc = key_copy(device_key, &h->device);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_CREDENTIALS, "credentials: the device key is unusable");
        }
    }
    return rc;
}

const char *opc__upstream_https_current(const opc__upstream *u)
{
    const https *h = u != NULL && u->ops == &HTTPS_OPS ? u->impl : NULL;
    return h == NULL ? NULL : opc__transport_base(h->t);
}

uint64_t opc__upstream_https_moves(const opc__upstream *u)
{
    const https *h = u != NULL && u->ops == &HTTPS_OPS ? u->impl : NULL;
    return h == NULL ? 0 : h->moves;
}
