/*
 * fuzz/fuzz_srp.h - the fixed SRP exchange shared by fuzz/fuzz_srp.c and the
 * seeds fuzz/gen_seeds.c writes for it: a fixed identity, salt and x (test
 * values, secrets of nothing) and, through the test hooks of
 * crypto/srp_hooks.h, fixed a and b, so that each run is deterministic and a
 * seed can carry the honest A and M1 (or B and M2) of that exchange.
 *
 * An input of fuzz_srp:
 *
 *   byte 0      bit 0: group (0: 4096, 1: 3072); bit 1: side (0: server, 1: client)
 *   bytes 1..2  L, big-endian: the length of the public value (A or B)
 *   L bytes     A (server side) or B (client side); fewer if the input ends
 *   the rest    M1 (server side) or M2 (client side)
 */
#ifndef OPC_FUZZ_SRP_H
#define OPC_FUZZ_SRP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "crypto/srp.h"
#include "crypto/srp_hooks.h"

#define FUZZ_SRP_I "fuzz@example.com"
#define FUZZ_SRP_SIDE_CLIENT 2
#define FUZZ_SRP_GROUP_3072 1

static const uint8_t fuzz_srp_salt[16] = {0x5a, 0x17, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
static const uint8_t fuzz_srp_x[32] = {
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
    0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0};
static const uint8_t fuzz_srp_a[32] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
static const uint8_t fuzz_srp_b[32] = {
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf};

/* The honest exchange in one group. */
typedef struct fuzz_srp_ref {
    const opc__srp_group *g;
    size_t len;
    size_t hlen;
    uint8_t v[OPC_SRP_MAX_LEN];
    uint8_t A[OPC_SRP_MAX_LEN];
    uint8_t B[OPC_SRP_MAX_LEN];
    uint8_t M1[OPC_SRP_MAX_HASH_LEN];
    uint8_t M2[OPC_SRP_MAX_HASH_LEN];
    uint8_t K[OPC_SRP_MAX_HASH_LEN];
} fuzz_srp_ref;

static inline opc__srp_server *fuzz_srp_server(const fuzz_srp_ref *r, uint8_t *B)
{
    opc__srp_server *s = NULL;
    if (opc__srp_server_start_fixed(r->g, FUZZ_SRP_I, strlen(FUZZ_SRP_I), fuzz_srp_salt,
                                    sizeof fuzz_srp_salt, r->v, r->len, fuzz_srp_b,
                                    sizeof fuzz_srp_b, B, r->len, &s, NULL) != OPC_OK) {
        return NULL;
    }
    return s;
}

static inline opc__srp_client *fuzz_srp_client(const fuzz_srp_ref *r, uint8_t *A)
{
    opc__srp_client *c = NULL;
    if (opc__srp_client_start_fixed(r->g, fuzz_srp_a, sizeof fuzz_srp_a, A, r->len, &c, NULL) !=
        OPC_OK) {
        return NULL;
    }
    return c;
}

/* Run the honest exchange of group `bits` into *r; false if any step fails. */
static inline bool fuzz_srp_reference(unsigned bits, fuzz_srp_ref *r)
{
    memset(r, 0, sizeof *r);
    r->g = opc__srp_group_get(bits);
    if (r->g == NULL) {
        return false;
    }
    r->len = opc__srp_group_len(r->g);
    r->hlen = opc__srp_hash_len(r->g);
    uint8_t Kc[OPC_SRP_MAX_HASH_LEN];
    if (opc__srp_verifier(r->g, fuzz_srp_x, sizeof fuzz_srp_x, r->v, r->len, NULL) != OPC_OK) {
        return false;
    }
    opc__srp_client *c = fuzz_srp_client(r, r->A);
    opc__srp_server *s = fuzz_srp_server(r, r->B);
    bool ok = c != NULL && s != NULL &&
              opc__srp_client_finish(c, FUZZ_SRP_I, strlen(FUZZ_SRP_I), fuzz_srp_salt,
                                     sizeof fuzz_srp_salt, fuzz_srp_x, sizeof fuzz_srp_x, r->B,
                                     r->len, r->M1, r->hlen, NULL) == OPC_OK &&
              opc__srp_server_verify(s, r->A, r->len, r->M1, r->hlen, r->M2, r->hlen, r->K, r->hlen,
                                     NULL) == OPC_OK &&
              opc__srp_client_verify(c, r->M2, r->hlen, Kc, r->hlen, NULL) == OPC_OK &&
              memcmp(Kc, r->K, r->hlen) == 0;
    opc__srp_client_free(c);
    opc__srp_server_free(s);
    return ok;
}

#endif
