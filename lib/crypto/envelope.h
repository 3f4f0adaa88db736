/*
 * crypto/envelope.h - 1Password's ciphertext envelope.
 *
 *   {"kid": <key id>, "enc": "A256GCM", "cty": "b5+jwk+json",
 *    "iv": b64url(12 bytes), "data": b64url(ciphertext || 16-byte tag)}
 *
 * base64url without padding. The AAD is never stored: both sides rebuild it
 * from context (vault id, item id, part, key version...), so a ciphertext
 * moved to another place fails to decrypt.
 */
#ifndef OPC_CRYPTO_ENVELOPE_H
#define OPC_CRYPTO_ENVELOPE_H

#include <cjson/cJSON.h>

#include <opconnect/secret.h>

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

#define OPC_ENVELOPE_ENC "A256GCM"
#define OPC_ENVELOPE_CTY "b5+jwk+json"
/* Largest plaintext an envelope may carry (16 MiB). */
#define OPC_ENVELOPE_MAX_PLAINTEXT (16u * 1024u * 1024u)

/* Seal pt under an oct key (needs ENCRYPT) with a fresh random IV. The kid
 * is the key's kid. *out is a new cJSON object. */
opc_err opc__envelope_seal(const opc__key *k, const void *aad, size_t aad_len, const void *pt,
                           size_t pt_len, cJSON **out);

/*
 * Open an envelope object. Strict: exactly the five members, all strings;
 * enc and cty as above; kid equal to the key's kid; iv 12 bytes; data at
 * least 16 bytes. Errors: OPC_ERR_PARSE (shape), OPC_ERR_TOO_LARGE (data
 * over OPC_ENVELOPE_MAX_PLAINTEXT + tag), OPC_ERR_KEY (kid or key
 * mismatch), OPC_ERR_DECRYPT (tag). On success *out holds the plaintext.
 */
opc_err opc__envelope_open(const cJSON *env, const opc__key *k, const void *aad, size_t aad_len,
                           opc_secret **out, opc__ebuf *eb);

/*
 * Check an envelope without a key, for a party that stores ciphertext it
 * cannot open (the account server): the same checks as opc__envelope_open
 * up to the decryption (members, enc, cty, a 12-byte iv, data of at least
 * the tag and within the limit, both unpadded base64url), and kid equal to
 * `kid` unless kid is NULL. Errors: OPC_ERR_PARSE, OPC_ERR_TOO_LARGE,
 * OPC_ERR_KEY (kid), OPC_ERR_NOMEM, OPC_ERR_INVALID_ARG.
 */
opc_err opc__envelope_check(const cJSON *env, const char *kid, opc__ebuf *eb);

#endif
