/*
 * crypto/key.h - key objects and JWK (RFC 7517/7518) import and export.
 *
 * A key knows its type, whether it holds private material, its kid and the
 * operations it may be used for (JWK key_ops). Every operation checks the
 * key's type and key_ops first: a key imported with ["verify"] never signs,
 * a public key never decrypts.
 */
#ifndef OPC_CRYPTO_KEY_H
#define OPC_CRYPTO_KEY_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

typedef enum opc__kty {
    OPC_KTY_OCT = 1, /* 32-byte AES-256-GCM key */
    OPC_KTY_EC = 2,  /* P-256 */
    OPC_KTY_RSA = 3  /* RSA >= 2048, e = 65537 */
} opc__kty;

/* key_ops bits (JWK names in comments). */
#define OPC_KEYOP_ENCRYPT 0x01u    /* "encrypt" */
#define OPC_KEYOP_DECRYPT 0x02u    /* "decrypt" */
#define OPC_KEYOP_SIGN 0x04u       /* "sign" */
#define OPC_KEYOP_VERIFY 0x08u     /* "verify" */
#define OPC_KEYOP_WRAP 0x10u       /* "wrapKey" */
#define OPC_KEYOP_UNWRAP 0x20u     /* "unwrapKey" */
#define OPC_KEYOP_ALL 0x3fu
/* "deriveBits": ECDH (crypto/ecdh.h). An EC key has it only when asked for
 * by name (generation or key_ops); OPC_KEYOP_ALL does not include it. A
 * public key may carry it (the peer of a derive) but never derives. */
#define OPC_KEYOP_DERIVE 0x40u

#define OPC_KID_MAX 64

typedef struct opc__key opc__key; /* opaque; defined in key.c */

/* Generation. kid may be NULL (empty). ops: OPC_KEYOP_* allowed. */
opc_err opc__key_generate_oct(const char *kid, unsigned ops, opc__key **out);
opc_err opc__key_generate_ec(const char *kid, unsigned ops, opc__key **out);
opc_err opc__key_generate_rsa(const char *kid, unsigned ops, opc__key **out);

/* An oct key from 32 raw bytes (copied). */
opc_err opc__key_from_oct(const uint8_t *k, size_t len, const char *kid, unsigned ops,
                          opc__key **out);

/* A public EC key from the 65-byte uncompressed SEC1 point (0x04 || X || Y):
 * any other length, the point at infinity or a point off P-256 is
 * OPC_ERR_KEY. ops: a non-empty subset of verify and derive. */
opc_err opc__key_from_ec_point(const uint8_t *point, size_t len, const char *kid, unsigned ops,
                               opc__key **out, opc__ebuf *eb);

/* A new key holding only the public half (EC/RSA), with ops limited to
 * verify/encrypt/wrap. */
opc_err opc__key_public(const opc__key *k, opc__key **out);

void opc__key_free(opc__key *k); /* wipes; NULL ok */

opc__kty opc__key_type(const opc__key *k);
bool opc__key_is_private(const opc__key *k);
const char *opc__key_kid(const opc__key *k); /* never NULL ("" when none) */
unsigned opc__key_ops(const opc__key *k);
/* OPC_OK if k has type kty and allows op; else OPC_ERR_KEY with a message. */
opc_err opc__key_check(const opc__key *k, opc__kty kty, unsigned op, opc__ebuf *eb);
/* Raw bytes of an oct key (32), NULL for other types. */
const uint8_t *opc__key_oct(const opc__key *k);
/* The OpenSSL EVP_PKEY of an EC or RSA key (borrowed), NULL for oct. Typed
 * void * so that this header does not pull in OpenSSL. */
void *opc__key_pkey(const opc__key *k);

/* Import flags. */
#define OPC_JWK_REQUIRE_PRIVATE 0x1u /* fail unless private parts are present */
#define OPC_JWK_PUBLIC_ONLY 0x2u     /* fail if private parts are present */
/*
 * The JWK was just decrypted from an authenticated envelope under a key of
 * the same owner (the owner's keyset): its integrity is the envelope's tag,
 * and it was made by opc__key_generate_*. The structural checks stay
 * (members, sizes, e = 65537, n >= 2048 bits, the point on P-256, d in
 * range); the costly proofs of consistency are skipped: RSA's public check
 * (small factors of n) and pairwise check (p and q prime, n = pq: ~40 ms
 * for a 2048-bit key), EC's pairwise check (d·G = (x, y)). The caller
 * compares the public half with the stored public key. Never for a key
 * from the network or a file that no envelope authenticates.
 */
#define OPC_JWK_SEALED 0x4u

/*
 * Import a JWK object. Strict: members of the right JSON types, base64url
 * without padding, exact sizes (oct k = 32 bytes; EC x, y, d = 32 bytes and
 * the point on P-256; RSA n >= 2048 bits without leading zero, e = 65537,
 * all CRT members for a private key), known kty/crv/alg, key_ops of known
 * names without repeats, consistent with kty. Missing key_ops allows every
 * op the key type supports. alg, when present, must fit: "A256GCM" (oct),
 * "ES256" (EC), "RSA-OAEP-256" (RSA).
 */
opc_err opc__jwk_import(const cJSON *jwk, unsigned flags, opc__key **out, opc__ebuf *eb);
/* Parse JSON text (strict, see core/json.h) and import. */
opc_err opc__jwk_parse(const char *json, size_t len, unsigned flags, opc__key **out,
                       opc__ebuf *eb);

/*
 * Export as a JWK object: kty, kid (if set), alg, key_ops, ext:true and the
 * key members; private members only with include_private. Delete the result
 * with opc__json_delete_secret() when it holds private parts.
 */
opc_err opc__jwk_export(const opc__key *k, bool include_private, cJSON **out);

/*
 * out = HKDF-SHA256(ikm = the EC private key's scalar d, as its JWK spells
 * it, salt, info): a key of this key's holder alone, for local sealing
 * (the cache's row MACs, the account server's shared state). salt may be
 * NULL with salt_len 0. OPC_ERR_KEY without a private EC scalar.
 */
opc_err opc__key_derive(const opc__key *k, const void *salt, size_t salt_len, const char *info,
                        uint8_t *out, size_t out_len);

/* The canonical public JWK of RFC 7638 §3.2 (EC: {"crv","kty","x","y"};
 * RSA: {"e","kty","n"}), a new string (opc__free). */
opc_err opc__jwk_canonical(const opc__key *k, char **out);
/* RFC 7638 JWK thumbprint: base64url(SHA-256(canonical JWK)), 43 characters. */
#define OPC_JWK_THUMBPRINT_LEN 43
opc_err opc__jwk_thumbprint(const opc__key *k, char out[OPC_JWK_THUMBPRINT_LEN + 1]);

/* Constant-time equality of two keys' public material (oct: the key):
 * *equal, or OPC_ERR_NOMEM when it could not be compared (keys of other
 * types, or a NULL key, are simply not equal). */
opc_err opc__key_compare_public(const opc__key *a, const opc__key *b, bool *equal);
/* The same as a bool: false also when it could not be compared. */
bool opc__key_equal_public(const opc__key *a, const opc__key *b);

#endif
