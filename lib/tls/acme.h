/*
 * tls/acme.h - the ACME client (RFC 8555) of lib/tls: messages and parsers
 * (acme_msg.c, fuzzed by fuzz/fuzz_acme.c) and the protocol (acme.c).
 *
 * Every response body is untrusted: parsed with the strict JSON helpers,
 * sizes bounded, URLs restricted to https:// without spaces or controls.
 */
#ifndef OPC_TLS_ACME_H
#define OPC_TLS_ACME_H

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"
#include "tls/tls.h"

#define OPC_ACME_URL_MAX 1024
#define OPC_ACME_TOKEN_MAX 256
#define OPC_ACME_DOMAIN_MAX 253
#define OPC_ACME_BODY_MAX ((size_t)256 * 1024) /* largest response body read */
#define OPC_ACME_JSON_MAX ((size_t)64 * 1024) /* largest JSON response parsed */
#define OPC_ACME_MAX_AUTHZ 8

#define OPC_ACME_ERR_PREFIX "urn:ietf:params:acme:error:"

/* ---- acme_msg.c ---- */

typedef enum opc__acme_status {
    OPC_ACME_UNKNOWN = 0,
    OPC_ACME_PENDING,
    OPC_ACME_READY,
    OPC_ACME_PROCESSING,
    OPC_ACME_VALID,
    OPC_ACME_INVALID,
    OPC_ACME_DEACTIVATED,
    OPC_ACME_EXPIRED,
    OPC_ACME_REVOKED
} opc__acme_status;

const char *opc__acme_status_name(opc__acme_status s);

typedef struct opc__acme_directory {
    char new_nonce[OPC_ACME_URL_MAX];
    char new_account[OPC_ACME_URL_MAX];
    char new_order[OPC_ACME_URL_MAX];
} opc__acme_directory;

/* An RFC 7807 problem document; fields empty when absent. */
typedef struct opc__acme_problem {
    char type[128];
    char detail[256];
    int64_t status;
} opc__acme_problem;

typedef struct opc__acme_order {
    opc__acme_status status;
    size_t n_authz;
    char authz[OPC_ACME_MAX_AUTHZ][OPC_ACME_URL_MAX];
    char finalize[OPC_ACME_URL_MAX];
    char certificate[OPC_ACME_URL_MAX]; /* "" until valid */
    opc__acme_problem error;            /* type "" when absent */
} opc__acme_order;

typedef struct opc__acme_authz {
    opc__acme_status status;
    char domain[OPC_ACME_DOMAIN_MAX + 1]; /* identifier value, type dns */
    bool wildcard;
    bool has_challenge; /* a tls-alpn-01 challenge was offered */
    opc__acme_status challenge_status;
    char challenge_url[OPC_ACME_URL_MAX];
    char token[OPC_ACME_TOKEN_MAX + 1];
    opc__acme_problem challenge_error; /* type "" when absent */
} opc__acme_authz;

opc_err opc__acme_parse_directory(const char *body, size_t len, opc__acme_directory *out,
                                  opc__ebuf *eb);
/* Best effort: OPC_ERR_PARSE when the body is not a problem document. */
opc_err opc__acme_parse_problem(const char *body, size_t len, opc__acme_problem *out,
                                opc__ebuf *eb);
opc_err opc__acme_parse_order(const char *body, size_t len, opc__acme_order *out,
                              opc__ebuf *eb);
opc_err opc__acme_parse_authz(const char *body, size_t len, opc__acme_authz *out,
                              opc__ebuf *eb);
/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an IMF-fixdate, as
 * seconds from now, clamped to [0, 86400]. */
opc_err opc__acme_parse_retry_after(const char *v, size_t len, int64_t now, int64_t *out_s);

/* A DNS name we can certify with TLS-ALPN-01 (no wildcard, no IP):
 * lower-cased copy in out. */
opc_err opc__acme_domain_check(const char *domain, char out[OPC_ACME_DOMAIN_MAX + 1],
                               opc__ebuf *eb);
/* An https:// URL of printable ASCII without spaces, below OPC_ACME_URL_MAX. */
bool opc__acme_url_ok(const char *url);

/* token "." thumbprint (RFC 8555 §8.1; the thumbprint is crypto/key.h's
 * opc__jwk_thumbprint, the JWS's jwk its opc__jwk_canonical). */
opc_err opc__acme_key_authorization(const char *token, const opc__key *k, char **out);
/*
 * The flattened JWS of a request (RFC 8555 §6.2): protected header alg
 * ES256, nonce, url and either jwk (kid NULL: newAccount) or kid; payload
 * "" for POST-as-GET.
 */
opc_err opc__acme_jws(const opc__key *k, const char *kid, const char *nonce, const char *url,
                      const char *payload, char **out);

/* ---- acme.c: one issuance ---- */

typedef struct opc__acme_client opc__acme_client;

/* What the ACME client needs from its owner. */
typedef struct opc__acme_hooks {
    void *ud;
    /* True when the owner is stopping: requests abort. */
    bool (*stopping)(void *ud);
    /* Sleep up to ms (returns early when stopping). */
    void (*sleep_ms)(void *ud, int64_t ms);
    /* Answer acme-tls/1 handshakes for domain with ck (NULL removes). */
    opc_err (*set_challenge)(void *ud, const char *domain, opc__certkey *ck);
} opc__acme_hooks;

opc_err opc__acme_client_create(const opc__acme_config *cfg, const opc__acme_hooks *hooks,
                                opc__acme_client **out);
void opc__acme_client_free(opc__acme_client *c);

/*
 * Obtain a certificate: account (stored or registered), order,
 * TLS-ALPN-01, finalize with a CSR for a fresh key, download; the result
 * is stored in the data directory and returned. On failure eb has the
 * CA's own detail; *retry_after_s is set (> 0) when the CA asked for a
 * delay (429 / Retry-After).
 */
opc_err opc__acme_obtain(opc__acme_client *c, opc__certkey **out, int64_t *retry_after_s,
                         opc__ebuf *eb);

/* ---- store.c: files under <data_dir>/acme/ ---- */

/* The stored certificate for the domain, checked (NULL when none). A bad
 * or mismatched file is reported in eb and gives OPC_ERR_NOT_FOUND too. */
opc_err opc__acme_store_load_cert(const opc__acme_config *cfg, int64_t now, opc__certkey **out,
                                  opc__ebuf *eb);
opc_err opc__acme_store_save_cert(const opc__acme_config *cfg, const char *chain_pem,
                                  size_t chain_len, const char *key_pem, size_t key_len,
                                  opc__ebuf *eb);
/* The account key (created and saved when missing) and the account URL
 * stored for this directory ("" when none). */
opc_err opc__acme_store_load_account(const opc__acme_config *cfg, opc__key **key,
                                     char kid[OPC_ACME_URL_MAX], opc__ebuf *eb);
opc_err opc__acme_store_save_account(const opc__acme_config *cfg, const opc__key *key,
                                     const char *kid, opc__ebuf *eb);

#endif
