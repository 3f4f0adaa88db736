/*
 * crypto/ecdh.h - ephemeral ECDH on P-256, for the account protocol's
 * session handshake (docs/protocol.md).
 *
 * Public points travel as the 65-byte uncompressed SEC1 encoding
 * (0x04 || X || Y); a point that is not on the curve, the point at
 * infinity, or any other length is refused (OPC_ERR_KEY).
 */
#ifndef OPC_CRYPTO_ECDH_H
#define OPC_CRYPTO_ECDH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

#define OPC_ECDH_POINT_LEN 65
#define OPC_ECDH_SECRET_LEN 32

/* A fresh ephemeral P-256 key pair (kid "", ops: derive) and its public point. */
opc_err opc__ecdh_generate(opc__key **out, uint8_t pub[OPC_ECDH_POINT_LEN]);
/* The shared secret (the x coordinate) of our private key and the peer's point. */
opc_err opc__ecdh_derive(const opc__key *priv, const uint8_t *peer, size_t peer_len,
                         uint8_t secret[OPC_ECDH_SECRET_LEN], opc__ebuf *eb);
/* The public point of an EC key (private or public). */
opc_err opc__ecdh_point(const opc__key *k, uint8_t pub[OPC_ECDH_POINT_LEN]);

#endif
