/*
 * crypto/jwt.h - compact JWS (ES256 only) and Connect token validation.
 *
 * Validation follows security-model §2.5 in this order, and stops at the
 * first failure with OPC_ERR_TOKEN and a distinct reason (eb->reason, one of
 * opc__jwt_reason) and message:
 *
 *  1. size <= OPC_JWT_MAX_LEN, exactly three non-empty segments, strict
 *     base64url (no padding, canonical); an unsigned "header.payload."
 *     whose header says alg "none" is reported as OPC_JWT_ALG_NONE;
 *  2. header: strict JSON object (no duplicate or case-variant keys);
 *     alg exactly "ES256"; typ "JWT"; none of jku, x5u, x5c, jwk, crit, zip;
 *     kid present and pinned;
 *  3. signature: 64 bytes (a DER signature is named as such), 1 <= r,s < n,
 *     s in the low-S form (s <= (n - 1) / 2: (r, n - s) would verify too,
 *     and a token has one spelling), ECDSA verify == 1;
 *  4. payload (only after the signature passed): strict JSON object;
 *     claims of the right types; aud contains the expected audience; sub,
 *     auuid as expected; iat not in the future and nbf <= now (leeway);
 *     exp, when present, > now - leeway; numbers integral and < 2^53.
 *
 * The registry check (jti active) and per-vault authorization are the
 * caller's (lib/view).
 */
#ifndef OPC_CRYPTO_JWT_H
#define OPC_CRYPTO_JWT_H

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

#define OPC_JWT_MAX_LEN 8192
/* Clock skew allowed on exp, nbf and iat by default (the api's setting,
 * opc_api_set_jwt_leeway_s, goes up to OPC_JWT_LEEWAY_MAX_S). */
#define OPC_JWT_LEEWAY_S 5
#define OPC_JWT_LEEWAY_MAX_S 300
#define OPC_JWT_AUDIENCE "com.1password.connect"
#define OPC_JWT_ISSUER "com.1password.b5"
#define OPC_JWT_MAX_VAULTS 256

/* ACL bits in 1password.com/vts entries. */
#define OPC_ACL_READ 0x1u
#define OPC_ACL_WRITE 0x2u

/*
 * Features of 1password.com/fts that the server acts on (other strings are
 * kept out of the claims and ignored, as 1Password's "vaultaccess" is).
 * OPC_JWT_FT_ACTIVITY_LOG: "activitylog", GET /v1/activity shows the whole
 * log, every token's requests unredacted (docs/connect-api.md); without it
 * a token sees its own requests and those on vaults it can read.
 */
#define OPC_JWT_FEATURE_ACTIVITY_LOG "activitylog"
#define OPC_JWT_FT_ACTIVITY_LOG 0x1u

typedef enum opc__jwt_reason {
    OPC_JWT_OK = 0,
    OPC_JWT_TOO_LONG,          /* over OPC_JWT_MAX_LEN */
    OPC_JWT_SEGMENTS,          /* not three non-empty segments */
    OPC_JWT_BASE64,            /* a segment is not strict base64url */
    OPC_JWT_HEADER_JSON,       /* header is not a JSON object */
    OPC_JWT_HEADER_DUPLICATE,  /* duplicate or case-variant header key */
    OPC_JWT_ALG_NONE,          /* alg "none" (any case) */
    OPC_JWT_ALG_HMAC,          /* alg HS256/HS384/HS512 (any case) */
    OPC_JWT_ALG_CASE,          /* alg is ES256 in another letter case */
    OPC_JWT_ALG_UNSUPPORTED,   /* any other alg, or alg missing/not a string */
    OPC_JWT_TYP,               /* typ missing or not "JWT" */
    OPC_JWT_FORBIDDEN_HEADER,  /* jku, x5u, x5c, jwk, crit or zip present */
    OPC_JWT_KID_MISSING,       /* kid missing or not a string */
    OPC_JWT_KID_UNKNOWN,       /* kid not among the pinned keys */
    OPC_JWT_SIG_DER,           /* signature is DER, not raw r||s */
    OPC_JWT_SIG_LENGTH,        /* signature not 64 bytes */
    OPC_JWT_SIG_R_ZERO,
    OPC_JWT_SIG_S_ZERO,
    OPC_JWT_SIG_R_RANGE,       /* r >= n */
    OPC_JWT_SIG_S_RANGE,       /* s >= n */
    OPC_JWT_SIG_HIGH_S,        /* s > (n - 1) / 2: the high-S twin of a signature */
    OPC_JWT_SIG_INVALID,       /* the signature does not verify */
    OPC_JWT_PAYLOAD_JSON,      /* payload is not a JSON object */
    OPC_JWT_PAYLOAD_DUPLICATE, /* duplicate or case-variant claim key */
    OPC_JWT_CLAIM_TYPE,        /* a claim has the wrong type or range */
    OPC_JWT_CLAIM_MISSING,     /* a required claim is absent */
    OPC_JWT_AUD,               /* audience does not match */
    OPC_JWT_SUB,               /* subject is not this server */
    OPC_JWT_AUUID,             /* account is not this account */
    OPC_JWT_EXPIRED,           /* exp passed */
    OPC_JWT_NOT_YET_VALID,     /* nbf in the future */
    OPC_JWT_IAT_FUTURE,        /* iat in the future */
    OPC_JWT_REASON_COUNT
} opc__jwt_reason;

/* A short stable name for a reason, e.g. "alg_none" (for logs and tests). */
const char *opc__jwt_reason_name(opc__jwt_reason r);

/* A vault scope from 1password.com/vts. */
typedef struct opc__jwt_vault {
    char vault[27];   /* 26-char id, lower-cased */
    unsigned acl;     /* OPC_ACL_* bits */
} opc__jwt_vault;

/* The claims of a verified Connect token. */
typedef struct opc__jwt_claims {
    char kid[OPC_KID_MAX + 1];
    char jti[65];
    char sub[65];
    char auuid[65];
    char iss[129];
    int64_t iat;       /* 0 when absent */
    int64_t nbf;       /* 0 when absent */
    int64_t exp;       /* 0 when absent (no expiry) */
    bool has_exp;
    uint8_t token_secret[32]; /* 1password.com/token, decoded; wipe after use */
    bool has_token_secret;
    unsigned features; /* OPC_JWT_FT_* bits of 1password.com/fts */
    size_t n_vaults;
    opc__jwt_vault vaults[OPC_JWT_MAX_VAULTS];
    uint8_t sig_hash[32]; /* SHA-256 of the signature segment (its text) */
} opc__jwt_claims;

/* What the verifier expects. NULL strings are not checked. */
typedef struct opc__jwt_expect {
    const opc__key *const *keys; /* pinned issuer keys (EC public, VERIFY) */
    size_t n_keys;
    const char *audience;        /* usually OPC_JWT_AUDIENCE */
    const char *sub;             /* this server's id */
    const char *auuid;           /* this account's id */
    int64_t now;                 /* Unix seconds */
    int64_t leeway;              /* seconds (the api's: OPC_JWT_LEEWAY_S by default) */
} opc__jwt_expect;

/* Verify token[0..len) as above and fill *claims (wiped on failure). */
opc_err opc__jwt_verify(const char *token, size_t len, const opc__jwt_expect *expect,
                        opc__jwt_claims *claims, opc__ebuf *eb);

/*
 * Sign: build the compact JWS for header_json and payload_json (as given,
 * no re-serialisation) with an EC private key. *out is opc__malloc'ed.
 */
opc_err opc__jws_sign_es256(const opc__key *k, const char *header_json, const char *payload_json,
                            char **out);

#endif
