/*
 * net/transport.h - the HTTP exchanges with an account server over
 * libcurl, shared by the https:// upstream of a Connect server
 * (upstream/https.c) and the owner's client (account/remote.c): one easy
 * handle per transport, so the connection is reused from call to call.
 *
 * Fixed policy (docs/protocol.md, "The client"): certificate and host
 * verification always on (a private CA is given as a PEM bundle, read once
 * at open); https only, or http for a loopback host; HTTP/1.1; connect
 * timeout OPC_TRANSPORT_CONNECT_TIMEOUT_MS; no redirects; no proxy, whatever
 * the environment says (http_proxy, https_proxy, ALL_PROXY are ignored);
 * the request target is sent exactly as given (it is what the request MAC
 * covers); an answer body above OPC_PROTO_MAX_ANSWER aborts the transfer;
 * the transfer is aborted as soon as the interrupt flag is set: the
 * transfer runs on a multi handle whose poll opc__transport_wakeup() ends
 * at once (any thread), and libcurl's progress callback looks at the flag
 * too.
 *
 * A send reports what happened on the network (opc__net), never an
 * opc_err: the caller decides on retries and on what a lost write means.
 * `why` receives a one-line, secret-free cause (libcurl's text: never a
 * header or a body).
 */
#ifndef OPC_NET_TRANSPORT_H
#define OPC_NET_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "internal.h"

#define OPC_TRANSPORT_CONNECT_TIMEOUT_MS 5000
/* Largest CA bundle read from OP_UPSTREAM_CA_FILE. */
#define OPC_TRANSPORT_MAX_CA_FILE ((size_t)4 * 1024 * 1024)
/* Room for a captured header value (OPC-MAC, OPC-Protocol, Retry-After). */
#define OPC_TRANSPORT_HEADER_MAX 96
#define OPC_TRANSPORT_WHY_MAX 256

typedef struct opc__transport opc__transport;

typedef enum opc__net {
    OPC__NET_ANSWERED,    /* a complete HTTP answer (any status) */
    OPC__NET_NOT_SENT,    /* cannot have reached the server: resolve, connect or TLS failed */
    OPC__NET_LOST,        /* sent (maybe in part) without a complete answer */
    OPC__NET_INTERRUPTED, /* the interrupt flag aborted it */
    OPC__NET_TOO_LARGE,   /* the answer exceeded OPC_PROTO_MAX_ANSWER */
    OPC__NET_NOMEM
} opc__net;

typedef struct opc__transport_answer {
    long status;
    char *body; /* NUL-terminated (opc__free via opc__transport_answer_clear) */
    size_t len;
    size_t cap;
    /* The final response's headers ("" when absent; *_bad when too long). */
    char mac[OPC_TRANSPORT_HEADER_MAX];
    char protocol[OPC_TRANSPORT_HEADER_MAX];
    char retry_after[OPC_TRANSPORT_HEADER_MAX];
    bool mac_bad;
    bool too_large;
} opc__transport_answer;

/*
 * A transport to base_url ("https://host[:port]", no path, query or user
 * info; "http://" only for a loopback host). ca_file NULL uses the
 * system's trust store; otherwise the PEM bundle is read now (OPC_ERR_IO
 * naming the file when it is missing, unreadable or holds no certificate).
 * Errors:
 * OPC_ERR_CREDENTIALS for a URL that is not one of those, OPC_ERR_IO,
 * OPC_ERR_NOMEM.
 */
opc_err opc__transport_open(const char *base_url, const char *ca_file, opc__transport **out,
                            opc__ebuf *eb);
void opc__transport_close(opc__transport *t);
/* Wake a transfer under way so that it looks at its interrupt flag (any
 * thread; curl_multi_wakeup). */
void opc__transport_wakeup(opc__transport *t);
/* The URL's host (and port when given), for messages. */
const char *opc__transport_host(const opc__transport *t);
/* The base URL, scheme://host[:port] (no user info, path or query), for messages. */
const char *opc__transport_base(const opc__transport *t);

/*
 * One exchange: method ("GET", "PUT", "DELETE", "POST"), target (path and
 * query, sent verbatim), extra header lines (NULL-terminated, may be NULL),
 * a body (PUT/POST; Content-Type application/json), the whole call's
 * timeout; interrupt, when not NULL, aborts the transfer once set. *ans is reset first and holds
 * the answer on OPC__NET_ANSWERED (and what arrived otherwise); clear it with
 * opc__transport_answer_clear.
 */
opc__net opc__transport_send(opc__transport *t, const char *method, const char *target,
                             const char *const *headers, const void *body, size_t body_len,
                             int64_t timeout_ms, atomic_int *interrupt, opc__transport_answer *ans,
                             char why[OPC_TRANSPORT_WHY_MAX]);
void opc__transport_answer_clear(opc__transport_answer *a);

#endif
