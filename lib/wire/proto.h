/*
 * wire/proto.h - the account protocol's messages besides the rows
 * (wire/rows.h): the Connect-server session handshake, the MACs of
 * requests and answers, the error body and the page envelopes, with ONE
 * encoder and ONE strict decoder each, used by both ends: the client in
 * lib/upstream/https.c and the server in lib/accountd. docs/protocol.md
 * describes every message; this header is its code.
 *
 * Decoders reject a message that is not an object, lacks a member or has
 * one of the wrong type or range: OPC_ERR_PARSE, "malformed <message>:
 * \"<member>\" ..." (names only, never a value). Unknown members are
 * ignored. Decoded strings are copied into the fixed fields below.
 */
#ifndef OPC_WIRE_PROTO_H
#define OPC_WIRE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/id.h"
#include "crypto/ecdh.h"
#include "crypto/key.h"
#include "internal.h"

/* The protocol's major version (path prefix /v1, header OPC-Protocol). */
#define OPC_PROTO_VERSION 1
#define OPC_PROTO_HEADER "OPC-Protocol"
#define OPC_PROTO_COUNTER_HEADER "OPC-Counter"
#define OPC_PROTO_MAC_HEADER "OPC-MAC"
#define OPC_PROTO_AUTH_SCHEME "OPC-Session"
/* The replay window of a handshake's timestamp, either side of now (ms). */
#define OPC_PROTO_SKEW_MS 120000
/* A session's lifetime (s) and idle limit (s). */
#define OPC_PROTO_SESSION_TTL_S 600
#define OPC_PROTO_SESSION_IDLE_S 120
/* Sizes of the b64url texts: a 16-byte nonce or session id, a 65-byte
 * point, a 64-byte signature, a 32-byte hash, MAC or thumbprint. */
#define OPC_PROTO_NONCE_B64 22
#define OPC_PROTO_POINT_B64 87
#define OPC_PROTO_SIG_B64 86
#define OPC_PROTO_HASH_B64 43
/* Largest request body the server reads (an item write) and largest answer
 * the client accepts (a page of up to 10,000 rows). */
#define OPC_PROTO_MAX_REQUEST ((size_t)4 * 1024 * 1024)
#define OPC_PROTO_MAX_ANSWER ((size_t)64 * 1024 * 1024)
/*
 * Largest body of POST /v1/owner/rows/batch, read only for a live owner
 * session (docs/protocol.md, "On the wire: the owner's store protocol over
 * the network"). The largest batch stores a whole document in one go: 64 MiB
 * (OPC_ACCOUNT_MAX_FILE_SIZE) in chunks of 64 KiB (OPC_FILE_CHUNK_SIZE) is
 * 1,024 chunks; a sealed chunk is 65,536 + 16 (GCM tag) = 65,552 bytes,
 * 87,403 characters of base64url; with its step's JSON ({"stmt":
 * "file.chunk_insert","args":[item id, file id, index, chunk],"expect":1},
 * about 100 bytes) 1,024 chunks are about 89.6 MB = 85.5 MiB. 96 MiB
 * leaves 10.5 MiB for the batch's statements without bytes (the item row,
 * its change, the vault's touch).
 */
#define OPC_PROTO_MAX_OWNER_BATCH ((size_t)96 * 1024 * 1024)

/* ---- the session handshake (POST /v1/connect/session) ---- */

typedef struct opc__proto_hello {
    char account[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1];
    int64_t ts_ms;                          /* Unix ms */
    char nonce[OPC_PROTO_NONCE_B64 + 1];    /* b64url of 16 bytes */
    char eph[OPC_PROTO_POINT_B64 + 1];      /* b64url of the 65-byte point */
    char sig[OPC_PROTO_SIG_B64 + 1];        /* b64url r||s over T1 */
} opc__proto_hello;

typedef struct opc__proto_welcome {
    char session[OPC_PROTO_NONCE_B64 + 1]; /* b64url of 16 bytes */
    int64_t expires;                       /* Unix s */
    char eph[OPC_PROTO_POINT_B64 + 1];
    opc__key *key;                         /* the server key's public JWK (owned) */
    char sig[OPC_PROTO_SIG_B64 + 1];       /* b64url r||s over T2 */
} opc__proto_welcome;

/* The keys of a session: k_req MACs requests, k_res answers. */
typedef struct opc__proto_keys {
    uint8_t k_req[32];
    uint8_t k_res[32];
} opc__proto_keys;

/* The client's side: a hello signed by the device key (ts_ms = now),
 * with a fresh ephemeral key (*eph_priv, opc__key_free). */
opc_err opc__proto_hello_make(const char *account, const char *server, const opc__key *device_key,
                              int64_t now_ms, opc__proto_hello *out, opc__key **eph_priv,
                              opc__ebuf *eb);
opc_err opc__proto_hello_encode(const opc__proto_hello *h, cJSON **out);
opc_err opc__proto_hello_decode(const cJSON *j, opc__proto_hello *out, opc__ebuf *eb);
/* The server's checks of a hello, but for the nonce's freshness (the caller
 * keeps the seen-nonce set): ts within OPC_PROTO_SKEW_MS of now_ms
 * (OPC_ERR_RANGE), the signature under device_pub (OPC_ERR_SIGNATURE). */
opc_err opc__proto_hello_verify(const opc__proto_hello *h, const opc__key *device_pub,
                                int64_t now_ms, opc__ebuf *eb);

/* The server's side: answer a verified hello. Makes the ephemeral key,
 * the session id and the keys, signs T2 with server_key (private). */
opc_err opc__proto_welcome_make(const opc__proto_hello *h, const opc__key *server_key,
                                int64_t expires, opc__proto_welcome *out, opc__proto_keys *keys,
                                opc__ebuf *eb);
opc_err opc__proto_welcome_encode(const opc__proto_welcome *w, cJSON **out);
opc_err opc__proto_welcome_decode(const cJSON *j, opc__proto_welcome *out, opc__ebuf *eb);
/* The client's checks of a welcome: the key's thumbprint is pin
 * (OPC_ERR_SIGNATURE, "the account server's key is not the one the
 * credentials pin"), the signature over T2 (OPC_ERR_SIGNATURE); then the
 * keys from its ephemeral private key. */
opc_err opc__proto_welcome_verify(const opc__proto_hello *h, const opc__proto_welcome *w,
                                  const char *pin, const opc__key *eph_priv,
                                  opc__proto_keys *keys, opc__ebuf *eb);
/* Release the welcome's key. */
void opc__proto_welcome_clear(opc__proto_welcome *w);

/*
 * The keys of a session, Connect's or the owner's: K = HKDF-SHA256(ikm,
 * salt = SHA-256(transcript), info, 64 bytes); k_req = K[0..32), k_res =
 * K[32..64). info is OPC_PROTO_KEYS_INFO_CONNECT (ikm: the ECDH secret,
 * transcript T2) or OPC_PROTO_KEYS_INFO_OWNER (ikm: the SRP K, transcript
 * opc__proto_owner_transcript).
 */
#define OPC_PROTO_KEYS_INFO_CONNECT "opconnect/session-keys/v1"
#define OPC_PROTO_KEYS_INFO_OWNER "opconnect/owner-session-keys/v1"
opc_err opc__proto_session_keys(const uint8_t *ikm, size_t ikm_len, const char *transcript,
                                size_t transcript_len, const char *info, opc__proto_keys *keys);

/* The pin of a public key: its RFC 7638 thumbprint (b64url, 43 chars). */
opc_err opc__proto_pin(const opc__key *k, char out[OPC_PROTO_HASH_B64 + 1]);

/* ---- MACs (docs/protocol.md, "Signed requests and answers") ---- */

/* b64url(HMAC(k_req, "req" LF sid LF n LF method LF target LF b64url(SHA-256(body)))). */
opc_err opc__proto_mac_request(const opc__proto_keys *k, const char *sid, uint64_t counter,
                               const char *method, const char *target, const void *body,
                               size_t body_len, char out[OPC_PROTO_HASH_B64 + 1]);
/* b64url(HMAC(k_res, "res" LF sid LF n LF status LF b64url(SHA-256(body)))). */
opc_err opc__proto_mac_answer(const opc__proto_keys *k, const char *sid, uint64_t counter,
                              int status, const void *body, size_t body_len,
                              char out[OPC_PROTO_HASH_B64 + 1]);
/* Constant-time comparison of two MAC texts (false for a NULL or a length
 * other than OPC_PROTO_HASH_B64). */
bool opc__proto_mac_equal(const char *a, const char *b);

/* ---- errors ---- */

/* The HTTP status and wire code of an opc_err (OPC_OK: 200, NULL code). */
int opc__proto_status(opc_err rc, const char **code, const char **detail);
/* {"error":{"code","message"[,"detail"]}} for rc with message msg. */
opc_err opc__proto_error_encode(opc_err rc, const char *msg, cJSON **out);
/* The opc_err of an error answer (status and body; a body that is not an
 * error object maps by status alone). The message goes to eb. */
opc_err opc__proto_error_decode(int status, const cJSON *body, opc__ebuf *eb);

/* ---- pages ---- */

/* {"changes":[...],"next":N}: *changes is detached from j (cJSON_Delete). */
opc_err opc__proto_changes_encode(cJSON *changes, int64_t next, cJSON **out);
opc_err opc__proto_changes_decode(cJSON *j, cJSON **changes, int64_t *next, opc__ebuf *eb);
/* {"<member>":[...]} with member "items" or "chunks"; encode takes
 * ownership of arr; decode detaches it. */
opc_err opc__proto_page_encode(const char *member, cJSON *arr, cJSON **out);
opc_err opc__proto_page_decode(cJSON *j, const char *member, cJSON **arr, opc__ebuf *eb);
/* {"item":row,"vault":row} of a write; encode takes both, decode detaches both. */
opc_err opc__proto_write_result_encode(cJSON *item, cJSON *vault, cJSON **out);
opc_err opc__proto_write_result_decode(cJSON *j, cJSON **item, cJSON **vault, opc__ebuf *eb);

/* ---- the owner's sign-up and sign-in (docs/protocol.md, "Owner sign-in") ---- */

#define OPC_PROTO_SRP_SALT_LEN 16    /* the SRP salt and the 2SKD salt */
#define OPC_PROTO_SRP_LEN 512        /* A, B and v: |N| of the 4096-bit group */
#define OPC_PROTO_SRP_PROOF_LEN 32   /* M1, M2, K */
#define OPC_PROTO_SRP_B64 683        /* b64url of 512 bytes */
#define OPC_PROTO_OWNER_IDLE_S 1800  /* an owner session's idle limit */
#define OPC_PROTO_OWNER_TTL_S 43200  /* and its lifetime */
#define OPC_PROTO_OWNER_PENDING_S 60 /* how long a started sign-in waits for its proof */
#define OPC_PROTO_MAX_EMAIL 254
/* Largest text of an envelope or a public JWK in the account row. */
#define OPC_PROTO_MAX_KEY_TEXT 16384
/* Largest sign-up, sign-in or account message. */
#define OPC_PROTO_MAX_OWNER_MSG 65536

/*
 * The account row: everything the server keeps of the owner's keyset,
 * ciphertext and public keys only (the envelopes and JWKs as their JSON
 * texts). kdf_alg is "PBES2g-HS256". The strings are owned
 * (opc__proto_account_clear).
 */
typedef struct opc__proto_account {
    char id[OPC_ID_LEN + 1];
    char email[OPC_PROTO_MAX_EMAIL + 1];
    char skid[8];
    char kdf_alg[16];
    uint8_t kdf_salt[OPC_PROTO_SRP_SALT_LEN];
    uint32_t iterations;
    char keyset_id[OPC_ID_LEN + 1];
    char issuer_kid[OPC_ID_LEN + 1];
    char *enc_sym_key;
    char *pub_key;
    char *enc_pri_key;
    char *spub_key;
    char *enc_spri_key;
    /* GET /v1/owner/account only: the account server's key pin (the RFC 7638
     * thumbprint of its public key, opc__proto_pin: what `--print-pin`
     * prints), for `op connect server create` to default the upstream pin;
     * "" in the sign-up's row. */
    char server_pin[OPC_PROTO_HASH_B64 + 1];
} opc__proto_account;

void opc__proto_account_clear(opc__proto_account *a);
/* {"id","email","skid","kdf":{"alg","salt","iterations"},"keysetId",
 *  "encSymKey","pubKey","encPriKey","issuerKid","spubKey","encSpriKey"
 *  [,"serverPin"]}: serverPin when server_pin is not "" (it must then be
 *  43 b64url characters of 32 bytes, else OPC_ERR_INVALID_ARG). */
opc_err opc__proto_account_encode(const opc__proto_account *a, cJSON **out);
/* The answer of GET /v1/owner/account. Strict: ids valid, email lower-case
 * name@host, skid 6 characters, the salt 16 bytes, iterations 1..10^8, each
 * text at most OPC_PROTO_MAX_KEY_TEXT bytes (the texts are not parsed
 * here), serverPin required: b64url of 32 bytes. (The sign-up's row is
 * decoded by opc__proto_signup_decode, without serverPin.) */
opc_err opc__proto_account_decode(const cJSON *j, opc__proto_account *out, opc__ebuf *eb);

/* POST /v1/owner/signup: the account row, the issuer key row and the SRP
 * salt and verifier: {"v":1,"account":{...},"issuerKey":{"kid","jwk"},
 * "srp":{"salt","verifier"}}. The issuer key row must be the account's
 * (kid issuerKid, jwk spubKey): the decoder checks it. */
typedef struct opc__proto_signup {
    opc__proto_account account;
    uint8_t srp_salt[OPC_PROTO_SRP_SALT_LEN];
    uint8_t verifier[OPC_PROTO_SRP_LEN];
} opc__proto_signup;

opc_err opc__proto_signup_encode(const opc__proto_signup *s, cJSON **out);
opc_err opc__proto_signup_decode(const cJSON *j, opc__proto_signup *out, opc__ebuf *eb);
void opc__proto_signup_clear(opc__proto_signup *s);

/* POST /v1/owner/auth/start {"v":1,"email","A"} */
typedef struct opc__proto_auth_start {
    char email[OPC_PROTO_MAX_EMAIL + 1];
    uint8_t A[OPC_PROTO_SRP_LEN];
} opc__proto_auth_start;
opc_err opc__proto_auth_start_encode(const opc__proto_auth_start *m, cJSON **out);
opc_err opc__proto_auth_start_decode(const cJSON *j, opc__proto_auth_start *out, opc__ebuf *eb);

/* Its answer: {"v":1,"id","srp":{"salt"},"kdf":{"alg","salt","iterations"},"B"}. */
typedef struct opc__proto_auth_challenge {
    char id[OPC_PROTO_NONCE_B64 + 1]; /* the pending sign-in */
    uint8_t srp_salt[OPC_PROTO_SRP_SALT_LEN];
    uint8_t kdf_salt[OPC_PROTO_SRP_SALT_LEN];
    uint32_t iterations;
    uint8_t B[OPC_PROTO_SRP_LEN];
} opc__proto_auth_challenge;
opc_err opc__proto_auth_challenge_encode(const opc__proto_auth_challenge *m, cJSON **out);
opc_err opc__proto_auth_challenge_decode(const cJSON *j, opc__proto_auth_challenge *out,
                                         opc__ebuf *eb);

/* POST /v1/owner/auth/verify {"v":1,"id","M1"} */
typedef struct opc__proto_auth_verify {
    char id[OPC_PROTO_NONCE_B64 + 1];
    uint8_t M1[OPC_PROTO_SRP_PROOF_LEN];
} opc__proto_auth_verify;
opc_err opc__proto_auth_verify_encode(const opc__proto_auth_verify *m, cJSON **out);
opc_err opc__proto_auth_verify_decode(const cJSON *j, opc__proto_auth_verify *out, opc__ebuf *eb);

/* Its answer: {"v":1,"M2","account","session","expires","idle"}. */
typedef struct opc__proto_auth_session {
    uint8_t M2[OPC_PROTO_SRP_PROOF_LEN];
    char account[OPC_ID_LEN + 1];
    char session[OPC_PROTO_NONCE_B64 + 1];
    int64_t expires; /* Unix s */
    int64_t idle_s;
} opc__proto_auth_session;
opc_err opc__proto_auth_session_encode(const opc__proto_auth_session *m, cJSON **out);
opc_err opc__proto_auth_session_decode(const cJSON *j, opc__proto_auth_session *out, opc__ebuf *eb);

/*
 * The transcript an owner session's keys are bound to:
 * "opconnect/owner-session/v1" LF pending id LF account LF sid LF expires
 * (a new string in *out, opc__free).
 */
opc_err opc__proto_owner_transcript(const char *pending_id, const char *account, const char *sid,
                                    int64_t expires, char **out, size_t *out_len);

#endif
