/*
 * crypto/srp_hooks.h - TEST HOOKS of crypto/srp.c (internal, not exported):
 * for the RFC 5054 appendix B known-answer test and deterministic fuzzing
 * only. Production code never includes this header (tools/check-banned
 * refuses it anywhere in lib/ but srp.c, and in daemons/ and tools/): it is
 * the only way to reach the 1024-bit group, SHA-1 and fixed a / b.
 */
#ifndef OPC_CRYPTO_SRP_HOOKS_H
#define OPC_CRYPTO_SRP_HOOKS_H

#include "crypto/srp.h"

/* TEST HOOK: RFC 5054 appendix A's 1024-bit group (g = 2) with SHA-1. */
const opc__srp_group *opc__srp_group_rfc5054_test(void);

/* TEST HOOK: opc__srp_client_start with the given a (1..64 bytes, nonzero). */
opc_err opc__srp_client_start_fixed(const opc__srp_group *g, const uint8_t *a, size_t a_len,
                                    uint8_t *A, size_t A_len, opc__srp_client **out, opc__ebuf *eb);
/* TEST HOOK: opc__srp_server_start with the given b (1..64 bytes, nonzero). */
opc_err opc__srp_server_start_fixed(const opc__srp_group *g, const void *I, size_t I_len,
                                    const uint8_t *salt, size_t salt_len, const uint8_t *v,
                                    size_t v_len, const uint8_t *b, size_t b_len, uint8_t *B,
                                    size_t B_len, opc__srp_server **out, opc__ebuf *eb);

/* TEST HOOK: k into k_out[hash length]. */
opc_err opc__srp_test_k(const opc__srp_group *g, uint8_t *k_out, size_t k_len);
/* TEST HOOK: u of A and B (|N| bytes each) into u_out[hash length]. */
opc_err opc__srp_test_u(const opc__srp_group *g, const uint8_t *A, const uint8_t *B, uint8_t *u_out,
                        size_t u_len);
/*
 * TEST HOOK: the premaster secret S (|N| bytes) each side computes, by the
 * same code the exchange runs: the client's from (a, x, B), the server's
 * from (b, v, A). A, B and v are |N| bytes; a, b and x 1..64 bytes.
 */
opc_err opc__srp_test_client_S(const opc__srp_group *g, const uint8_t *a, size_t a_len,
                               const uint8_t *x, size_t x_len, const uint8_t *B, uint8_t *S_out,
                               opc__ebuf *eb);
opc_err opc__srp_test_server_S(const opc__srp_group *g, const uint8_t *b, size_t b_len,
                               const uint8_t *v, const uint8_t *A, uint8_t *S_out, opc__ebuf *eb);

#endif
