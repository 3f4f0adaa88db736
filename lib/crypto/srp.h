/*
 * crypto/srp.h - SRP-6a (RFC 5054) for the owner's sign-in to the account
 * server (docs/protocol.md, "Owner sign-in (SRP-6a)"), on OpenSSL's BIGNUM
 * and EVP digests (OpenSSL 3's SRP_* functions are deprecated; none is used).
 *
 * Groups: RFC 5054 appendix A, 3072-bit (g = 5) and 4096-bit (g = 5), the
 * primes of RFC 3526 (taken from OpenSSL's BN_get_rfc3526_prime_*). Both
 * hash with SHA-256. Production uses OPC_SRP_GROUP_BITS (4096, the group
 * 2SKD's OPC_2SKD_LABEL_SRP "SRPg-4096" names). The RFC's 1024-bit group
 * with SHA-1 exists only behind a test hook (crypto/srp_hooks.h): no
 * function here can return it.
 *
 * H is the group's hash, PAD(z) the big-endian encoding of z in |N| bytes,
 * I the identity, s the salt, x the private key (the caller derives it:
 * opc__2skd_srp_x() for the owner):
 *
 *   k  = H(N | PAD(g))            v = g^x                u = H(PAD(A) | PAD(B))
 *   client: a random 256 bits,    A = g^a,               S = (B - k * g^x)^(a + u * x)
 *   server: b random 256 bits,    B = k * v + g^b,       S = (A * v^u)^b
 *   K  = H(PAD(S))
 *   M1 = H((H(N) xor H(g)) | H(I) | s | PAD(A) | PAD(B) | K)
 *   M2 = H(PAD(A) | M1 | K)
 *
 * (all mod N; H(N) and H(g) hash the minimal big-endian encodings, as in
 * RFC 2945). A, B and v travel as exactly |N| bytes (opc__srp_group_len);
 * M1, M2 and K are opc__srp_hash_len bytes. A peer value of another length
 * is OPC_ERR_PARSE; A or B that is 0 or not below N (so A % N == 0 and
 * B % N == 0 in particular), or u == 0, is OPC_ERR_RANGE; a proof that does
 * not match is OPC_ERR_SIGNATURE (compared with CRYPTO_memcmp). Wrong sizes
 * of the caller's own buffers are OPC_ERR_INVALID_ARG.
 *
 * Each side's state is single use: after finish/verify (failed or not) it
 * refuses further calls (OPC_ERR_INVALID_ARG) and only free remains. The
 * client learns K only once the server's M2 has verified. The secrets (a,
 * b, x, S, K, and the copies of v) are wiped when no longer needed
 * (BN_clear_free, OPENSSL_cleanse); free wipes the rest.
 */
#ifndef OPC_CRYPTO_SRP_H
#define OPC_CRYPTO_SRP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "internal.h"

#define OPC_SRP_GROUP_BITS 4096u /* production */
#define OPC_SRP_MAX_LEN 512      /* |N| of the largest group, bytes */
#define OPC_SRP_MAX_HASH_LEN 32  /* SHA-256 */
#define OPC_SRP_KEY_LEN 32       /* K, M1, M2 with the production groups */
#define OPC_SRP_X_MAX_LEN 64     /* x: 1..64 bytes, big-endian */
#define OPC_SRP_SALT_MAX_LEN 64  /* s: 1..64 bytes */

typedef struct opc__srp_group opc__srp_group;
typedef struct opc__srp_client opc__srp_client;
typedef struct opc__srp_server opc__srp_server;

/* The group of `bits` (3072 or 4096, SHA-256); NULL for any other size. */
const opc__srp_group *opc__srp_group_get(unsigned bits);
/* |N| in bytes: the length of A, B and v. */
size_t opc__srp_group_len(const opc__srp_group *g);
/* The hash's output length: the length of K, M1 and M2. */
size_t opc__srp_hash_len(const opc__srp_group *g);

/* v = g^x, into v[v_len] with v_len == opc__srp_group_len(g). x: 1..64 bytes. */
opc_err opc__srp_verifier(const opc__srp_group *g, const uint8_t *x, size_t x_len, uint8_t *v,
                          size_t v_len, opc__ebuf *eb);

/* Client, step 1: a fresh a, and A into A[A_len] (A_len == |N|). */
opc_err opc__srp_client_start(const opc__srp_group *g, uint8_t *A, size_t A_len,
                              opc__srp_client **out, opc__ebuf *eb);
/*
 * Client, step 2: with the server's salt and B, and x, compute S and K and
 * write the proof M1 (M1_len == hash length). The identity I and salt must
 * be those the server has (they enter M1).
 */
opc_err opc__srp_client_finish(opc__srp_client *c, const void *I, size_t I_len, const uint8_t *salt,
                               size_t salt_len, const uint8_t *x, size_t x_len, const uint8_t *B,
                               size_t B_len, uint8_t *M1, size_t M1_len, opc__ebuf *eb);
/* Client, step 3: check the server's M2; only then write K (K_len == hash length). */
opc_err opc__srp_client_verify(opc__srp_client *c, const uint8_t *M2, size_t M2_len, uint8_t *K,
                               size_t K_len, opc__ebuf *eb);
/* Wipe and free; NULL is a no-op. */
void opc__srp_client_free(opc__srp_client *c);

/*
 * Server, step 1: for the stored (I, salt, v), a fresh b and B into B[B_len]
 * (B_len == |N|). v must be |N| bytes and a value in 1..N-1 (OPC_ERR_INVALID_ARG
 * otherwise: a stored verifier is the caller's data).
 */
opc_err opc__srp_server_start(const opc__srp_group *g, const void *I, size_t I_len,
                              const uint8_t *salt, size_t salt_len, const uint8_t *v, size_t v_len,
                              uint8_t *B, size_t B_len, opc__srp_server **out, opc__ebuf *eb);
/*
 * Server, step 2: with the client's A and M1 (both attacker-controlled),
 * compute S and K and check M1; only when it matches write M2 and K
 * (each of the hash's length). One call per state.
 */
opc_err opc__srp_server_verify(opc__srp_server *s, const uint8_t *A, size_t A_len,
                               const uint8_t *M1, size_t M1_len, uint8_t *M2, size_t M2_len,
                               uint8_t *K, size_t K_len, opc__ebuf *eb);
/* Wipe and free; NULL is a no-op. */
void opc__srp_server_free(opc__srp_server *s);

/*
 * A server state between start and verify as bytes, and back: for a
 * sign-in whose verify may reach another process (several account servers
 * on one database, docs/postgres.md). The bytes hold the secret b and the
 * verifier: the caller seals them (AEAD) before they leave the process and
 * wipes them (opc__secret_free(*out, *out_len)). Export refuses a used
 * state; import checks the shape (group, lengths, v and b in range) and
 * gives a fresh, unused state (OPC_ERR_PARSE for bytes of another shape).
 */
#define OPC_SRP_STATE_MAX_LEN                                                                      \
    (4 + OPC_SRP_SALT_MAX_LEN + OPC_SRP_MAX_HASH_LEN + OPC_SRP_X_MAX_LEN + 2 * OPC_SRP_MAX_LEN)
opc_err opc__srp_server_export(const opc__srp_server *s, uint8_t **out, size_t *out_len,
                               opc__ebuf *eb);
opc_err opc__srp_server_import(const uint8_t *in, size_t len, opc__srp_server **out, opc__ebuf *eb);

#endif
