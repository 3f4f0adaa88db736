/*
 * SRP-6a with attacker-controlled public values and proofs (input layout in
 * fuzz_srp.h): the server side takes A and M1, the client side B and M2, in
 * the 4096- and 3072-bit groups, with the fixed a and b of fuzz_srp.h so
 * that runs are deterministic. Aborts when
 *  - a side accepts anything but the honest exchange's values (the fuzzer
 *    does not know x, so any other accepted proof would be a forgery), or
 *    refuses the honest values;
 *  - an accepted exchange gives another K or M2 than the honest one;
 *  - a refusal writes M2 or K, or a refusal's code is not the documented one
 *    for the input's shape (PARSE for a length, RANGE for a value, SIGNATURE
 *    for a proof).
 */
#include "internal.h"

#include <openssl/bn.h>

#include "fuzz_common.h"
#include "fuzz_srp.h"

static fuzz_srp_ref refs[2];               /* [0]: 4096, [1]: 3072 */
static uint8_t primes[2][OPC_SRP_MAX_LEN]; /* their N, from OpenSSL directly */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_library();
    if (!fuzz_srp_reference(4096, &refs[0]) || !fuzz_srp_reference(3072, &refs[1])) {
        abort();
    }
    BIGNUM *n4096 = BN_get_rfc3526_prime_4096(NULL);
    BIGNUM *n3072 = BN_get_rfc3526_prime_3072(NULL);
    if (n4096 == NULL || n3072 == NULL || BN_bn2binpad(n4096, primes[0], 512) != 512 ||
        BN_bn2binpad(n3072, primes[1], 384) != 384) {
        abort();
    }
    BN_free(n4096);
    BN_free(n3072);
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/* Is pub[len] a value a side must refuse as out of range (0, or not below N)? */
static bool out_of_range(const uint8_t *pub, size_t len, const uint8_t *N)
{
    return all_zero(pub, len) || memcmp(pub, N, len) >= 0;
}

/* The outcome the server must report for (A, M1): the lengths first (PARSE),
 * then A's value (RANGE), then the proof (SIGNATURE unless honest). u == 0
 * (RANGE) is left out: reaching it needs a SHA-256 preimage. */
static opc_err server_expected(const fuzz_srp_ref *r, const uint8_t *N, const uint8_t *A,
                               size_t A_len, const uint8_t *M1, size_t M1_len)
{
    if (M1_len != r->hlen || A_len != r->len) {
        return OPC_ERR_PARSE;
    }
    if (out_of_range(A, r->len, N)) {
        return OPC_ERR_RANGE;
    }
    bool honest = memcmp(A, r->A, r->len) == 0 && memcmp(M1, r->M1, r->hlen) == 0;
    return honest ? OPC_OK : OPC_ERR_SIGNATURE;
}

static void server_side(const fuzz_srp_ref *r, const uint8_t *N, const uint8_t *A, size_t A_len,
                        const uint8_t *M1, size_t M1_len)
{
    uint8_t B[OPC_SRP_MAX_LEN];
    uint8_t M2[OPC_SRP_MAX_HASH_LEN] = {0};
    uint8_t K[OPC_SRP_MAX_HASH_LEN] = {0};
    opc__srp_server *s = fuzz_srp_server(r, B);
    if (s == NULL || memcmp(B, r->B, r->len) != 0) {
        abort();
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__srp_server_verify(s, A_len == 0 ? NULL : A, A_len, M1_len == 0 ? NULL : M1,
                                        M1_len, M2, r->hlen, K, r->hlen, &eb);
    opc_err want = server_expected(r, N, A, A_len, M1, M1_len);
    if (rc != want) {
        abort();
    }
    if (rc == OPC_OK) {
        if (memcmp(M2, r->M2, r->hlen) != 0 || memcmp(K, r->K, r->hlen) != 0) {
            abort();
        }
    } else if (!all_zero(M2, sizeof M2) || !all_zero(K, sizeof K) || eb.msg[0] == '\0') {
        abort();
    }
    /* Single use: a second attempt on the same b is refused. */
    if (opc__srp_server_verify(s, r->A, r->len, r->M1, r->hlen, M2, r->hlen, K, r->hlen, NULL) !=
        OPC_ERR_INVALID_ARG) {
        abort();
    }
    opc__srp_server_free(s);
}

static void client_side(const fuzz_srp_ref *r, const uint8_t *N, const uint8_t *B, size_t B_len,
                        const uint8_t *M2, size_t M2_len)
{
    uint8_t A[OPC_SRP_MAX_LEN];
    uint8_t M1[OPC_SRP_MAX_HASH_LEN] = {0};
    uint8_t K[OPC_SRP_MAX_HASH_LEN] = {0};
    opc__srp_client *c = fuzz_srp_client(r, A);
    if (c == NULL || memcmp(A, r->A, r->len) != 0) {
        abort();
    }
    opc_err rc = opc__srp_client_finish(c, FUZZ_SRP_I, strlen(FUZZ_SRP_I), fuzz_srp_salt,
                                        sizeof fuzz_srp_salt, fuzz_srp_x, sizeof fuzz_srp_x,
                                        B_len == 0 ? NULL : B, B_len, M1, r->hlen, NULL);
    bool B_ok = B_len == r->len && !out_of_range(B, r->len, N);
    if ((rc == OPC_OK) != B_ok) {
        abort();
    }
    if (rc != OPC_OK) {
        if (rc != (B_len == r->len ? OPC_ERR_RANGE : OPC_ERR_PARSE) || !all_zero(M1, sizeof M1)) {
            abort();
        }
        opc__srp_client_free(c);
        return;
    }
    /* M1 of the honest B is the honest M1; the client's proof never depends on M2. */
    bool honest_B = memcmp(B, r->B, r->len) == 0;
    if (honest_B != (memcmp(M1, r->M1, r->hlen) == 0)) {
        abort();
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    rc = opc__srp_client_verify(c, M2_len == 0 ? NULL : M2, M2_len, K, r->hlen, &eb);
    opc_err want = M2_len != r->hlen                             ? OPC_ERR_PARSE
                   : honest_B && memcmp(M2, r->M2, r->hlen) == 0 ? OPC_OK
                                                                 : OPC_ERR_SIGNATURE;
    if (rc != want) {
        abort();
    }
    if (rc == OPC_OK ? memcmp(K, r->K, r->hlen) != 0 : !all_zero(K, sizeof K)) {
        abort();
    }
    opc__srp_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 2 * OPC_SRP_MAX_LEN + 3) {
        return 0;
    }
    const size_t gi = data[0] & FUZZ_SRP_GROUP_3072;
    const fuzz_srp_ref *r = &refs[gi];
    const uint8_t *N = primes[gi];
    bool client = (data[0] & FUZZ_SRP_SIDE_CLIENT) != 0;
    size_t L = ((size_t)data[1] << 8) | data[2];
    size_t rest = size - 3;
    if (L > rest) {
        L = rest;
    }
    const uint8_t *pub = data + 3;
    const uint8_t *proof = pub + L;
    size_t proof_len = rest - L;

    if (client) {
        client_side(r, N, pub, L, proof, proof_len);
    } else {
        server_side(r, N, pub, L, proof, proof_len);
    }
    return 0;
}
