/*
 * credentials/credentials.h - building and reading 1password-credentials.json
 * (private side of <opconnect/credentials.h>).
 *
 * The file format, the key derivations and the AADs are described at the top
 * of credentials.c. The owner's CLI creates files with
 * opc__credentials_create(); the daemons read them through the public
 * opc_credentials_parse()/opc_credentials_load() and reach the keys with the
 * accessors below.
 */
#ifndef OPC_CREDENTIALS_CREDENTIALS_H
#define OPC_CREDENTIALS_CREDENTIALS_H

#include <opconnect/credentials.h>

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

/* Length of the bearer secret T carried by every token of a server. */
#define OPC_CREDENTIALS_SECRET_LEN 32
/* Length of CK, the key of the inner layer (and of uniqueKey). */
#define OPC_CREDENTIALS_CK_LEN 32
/* verifier.salt and verifier.localHash, decoded. */
#define OPC_CREDENTIALS_SALT_LEN 16
#define OPC_CREDENTIALS_HASH_LEN 32
/* Room for an AAD ("opconnect/credentials/v2|outer|" + deviceUuid). */
#define OPC_CREDENTIALS_AAD_MAX 64
/* Pinned token issuer keys: at least one, at most this many. */
#define OPC_CREDENTIALS_MAX_ISSUER_KEYS 16
/* Longest serviceUrl accepted, in bytes. */
#define OPC_CREDENTIALS_MAX_URL 2048
/* accountServerPin: the RFC 7638 thumbprint (b64url of SHA-256) of the
 * account server's P-256 key (docs/protocol.md, wire/proto.h's
 * opc__proto_pin). */
#define OPC_CREDENTIALS_PIN_LEN 43

/* kids fixed by the format. */
#define OPC_CREDENTIALS_UNIQUE_KID "localauthv2keykid"
#define OPC_CREDENTIALS_CK_KID "connect-ck"

/*
 * Everything a credentials file holds besides the random values it generates
 * itself (uniqueKey, verifier.salt). Keys are borrowed and never modified.
 */
typedef struct opc__credentials_params {
    const char *server_id;              /* 26-char id */
    const char *account_id;             /* 26-char id */
    const char *service_url;            /* account.db path, an https:// URL or
                                           several, comma-separated (written as
                                           an array: credentials.c) */
    const char *account_server_pin;     /* NULL when absent; 43 b64url chars */
    const opc__key *device_key;         /* EC P-256 private, allows sign */
    const opc__key *const *issuer_keys; /* EC P-256 with a kid, allows verify */
    size_t n_issuer_keys;               /* 1..OPC_CREDENTIALS_MAX_ISSUER_KEYS */
    const opc__key *enc_key;            /* RSA private, allows unwrapKey or decrypt */
    const opc__key *sym_key;            /* oct with a kid */
    const char *device_uuid;            /* 26-char id, or NULL to generate one */
} opc__credentials_params;

/*
 * Build a credentials file for the server whose bearer secret is T.
 *
 * Generates uniqueKey and verifier.salt; issuer keys are written as public
 * keys with key_ops ["verify"], whatever they hold. On success *out_json
 * (NUL-terminated, *out_len bytes without the NUL) holds uniqueKey, so it is
 * secret: release it with opc__secret_free(*out_json, *out_len). Errors:
 * OPC_ERR_INVALID_ARG (a parameter is missing or unusable; eb names it),
 * OPC_ERR_TOO_LARGE, OPC_ERR_NOMEM, OPC_ERR_CRYPTO.
 */
opc_err opc__credentials_create(const opc__credentials_params *p,
                                const uint8_t T[OPC_CREDENTIALS_SECRET_LEN], char **out_json,
                                size_t *out_len, opc__ebuf *eb);

/* opc_credentials_parse() with an internal error buffer. */
opc_err opc__credentials_parse_ex(const char *json, size_t len, opc_credentials **out,
                                  opc__ebuf *eb);

/*
 * As opc__credentials_parse_ex(), naming the input `label` in messages
 * ("credentials file /path is not version 2"). label NULL means
 * "credentials file". Used by the OP_SESSION loader.
 */
opc_err opc__credentials_parse_labeled(const char *json, size_t len, const char *label,
                                       opc_credentials **out, opc__ebuf *eb);

/* opc_credentials_unlock() with an internal error buffer. */
opc_err opc__credentials_unlock_ex(opc_credentials *c, const void *secret, size_t secret_len,
                                   opc__ebuf *eb);

/* Outer layer (available after parsing). Borrowed, valid until free. */
/* The account server's key pin (OPC_CREDENTIALS_PIN_LEN chars), NULL when absent. */
const char *opc__credentials_account_server_pin(const opc_credentials *c);
const opc__key *opc__credentials_device_key(const opc_credentials *c);
size_t opc__credentials_issuer_key_count(const opc_credentials *c);
const opc__key *opc__credentials_issuer_key(const opc_credentials *c, size_t i); /* NULL if out */
/* The pinned issuer key with this kid, or NULL. */
const opc__key *opc__credentials_issuer_key_by_kid(const opc_credentials *c, const char *kid);

/* Inner layer: NULL while locked. Borrowed, valid until lock or free. */
const opc__key *opc__credentials_enc_key(const opc_credentials *c);
const opc__key *opc__credentials_sym_key(const opc_credentials *c);
/* CK (OPC_CREDENTIALS_CK_LEN bytes), e.g. to hand to connect-sync; NULL while locked. */
const uint8_t *opc__credentials_ck(const opc_credentials *c);

/*
 * The Connect server's cache key (cache/cache.h, "Verified rows"), 32
 * bytes: HKDF-SHA256(IKM = the device key's private scalar d (32 bytes),
 * salt = serverUuid || accountUuid, info = "opconnect/cache-mac/v1").
 * The device key is the secret only this Connect server holds (the
 * account has its public half only) that both daemons can reach: it is in
 * the outer layer, which connect-sync opens without a token (the inner
 * layer needs T, which only connect-api ever sees; docs/decisions.md).
 * Never stored: wipe out after use. OPC_ERR_INVALID_ARG, OPC_ERR_KEY,
 * OPC_ERR_NOMEM, OPC_ERR_CRYPTO.
 */
opc_err opc__credentials_cache_key(const opc_credentials *c, uint8_t out[32]);

/*
 * rules.c: shared by parsing and creation (the formulas are documented at the
 * top of credentials.c).
 */
/* AAD of the outer (inner false) or inner layer into out, its length in
 * *out_len; OPC_ERR_TOO_LARGE for a uuid that is not an id. */
opc_err opc__credentials_aad(bool inner, const char *uuid, uint8_t out[OPC_CREDENTIALS_AAD_MAX],
                             size_t *out_len);
/* CK from uniqueKey (32 bytes), T (32 bytes) and deviceUuid (26 chars). */
opc_err opc__credentials_derive_ck(const uint8_t *unique_key, const uint8_t *T, const char *uuid,
                                   uint8_t ck[OPC_CREDENTIALS_CK_LEN]);
/* verifier.localHash from T (32 bytes) and salt (16 bytes). */
opc_err opc__credentials_verifier_hash(const uint8_t *T, const uint8_t *salt,
                                       uint8_t out[OPC_CREDENTIALS_HASH_LEN]);
/* Value checks: NULL when acceptable, else the reason ("must be a private key"). */
const char *opc__credentials_url_problem(const char *s);
const char *opc__credentials_pin_problem(const char *s);
/* A list of upstream URLs (serviceUrl as an array): 1..OPC_CREDENTIALS_MAX_UPSTREAMS
 * entries, each an https:// URL (http:// on loopback) with a host, no file
 * path, no account server twice (compared without case and a trailing
 * '/'). NULL when acceptable, else the reason and *at the entry it names. */
const char *opc__credentials_url_list_problem(const char *const *urls, size_t n, size_t *at);
/* Whether a service_url given to create is a comma-separated list of URLs
 * (it holds "://" and a comma: no single URL or path of the format does). */
bool opc__credentials_url_is_list(const char *s);
/* Split a comma-separated list (blanks around entries trimmed) into out[],
 * *n entries, each a copy to opc__free. OPC_ERR_INVALID_ARG for an empty
 * entry or more than OPC_CREDENTIALS_MAX_UPSTREAMS; nothing kept on failure. */
opc_err opc__credentials_url_list_split(const char *s, char *out[OPC_CREDENTIALS_MAX_UPSTREAMS],
                                        size_t *n, opc__ebuf *eb);
/* Whether an http:// or https:// URL names a loopback host (127.0.0.0/8 as
 * a dotted quad, [::1], localhost): plain http:// is accepted for those
 * only. */
bool opc__credentials_url_loopback(const char *url);
const char *opc__credentials_device_key_problem(const opc__key *k);
const char *opc__credentials_issuer_key_problem(const opc__key *k);
const char *opc__credentials_enc_key_problem(const opc__key *k);
const char *opc__credentials_sym_key_problem(const opc__key *k);

#endif
